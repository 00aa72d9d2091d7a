"""`comp tune` on one machine: search spaces, the study fingerprint, the best config reproduced by
`comp train --config`, MLP populations equal to trials trained alone, bad input."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from competition.cli import app
from competition.competitions import get_spec
from competition.errors import CompError
from competition.tune.space import DEFAULT_SPACES, load_space

from .conftest import sets_args

runner = CliRunner()


def _space(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def test_default_spaces_name_real_settings() -> None:
    from competition.config import RunConfig

    known = RunConfig().flat()
    for family, params in DEFAULT_SPACES.items():
        space = load_space(family, None)
        assert space.keys() == [p.key for p in params]
        assert all(p.key in known for p in params), family


def test_the_baseline_is_the_configs_values_the_space_can_draw() -> None:
    from competition.config import build_config
    from competition.tune.space import Param

    assert Param("a.b", 1, 5).contains(3) and not Param("a.b", 1, 5).contains(2.5)  # an int range
    assert Param("a.b", 0.1, 1.0).contains(0.1) and not Param("a.b", 0.1, 1.0).contains(1.5)
    assert Param("a.b", choices=(64, 128)).contains(128) and not Param("a.b", choices=(64, 128)).contains(96)
    space = load_space("mlp", None)
    config = build_config({"mlp.hidden": 96, "mlp.lr": 1e-3})  # 96 is not among the hidden choices
    baseline = space.baseline(config)
    assert baseline["mlp.lr"] == 1e-3 and baseline["mlp.depth"] == config.mlp.depth
    assert "mlp.hidden" not in baseline  # left to the sampler
    assert set(baseline) == set(space.keys()) - {"mlp.hidden"}


def test_every_competitions_defaults_are_trial_0_of_every_familys_space(tmp_path: Path) -> None:
    """So trial 0 of any study is the competition's own default configuration, not a sampled
    neighbour of it (LightGBM's lambda_l1 default 0 through its `zero` option); a space file still
    overrides the competition's ranges."""
    from competition.competitions import all_specs
    from competition.config import build_config

    for name, spec in all_specs().items():
        config = build_config(spec.config_defaults)
        for family in DEFAULT_SPACES:
            space = load_space(family, None, spec.search_ranges)
            searched = set(space.keys())
            expected = {k: v for k, v in config.flat().items() if k in searched}
            assert space.settings(space.baseline(config)) == expected, (name, family)
    ca = get_spec("california-house-prices")
    params = {p.key: p for p in load_space("mlp", None, ca.search_ranges).params}
    assert params["mlp.batch_size"].choices == (256, 512, 1024)
    assert (params["mlp.patience"].low, params["mlp.patience"].high) == (4, 20)
    path = _space(tmp_path, "[mlp]\nbatch_size = { choices = [128] }\n")
    params = {p.key: p for p in load_space("mlp", path, ca.search_ranges).params}
    assert params["mlp.batch_size"].choices == (128,) and params["mlp.patience"].high == 20
    with pytest.raises(CompError, match=r"mlp\.batchsize"):  # a misspelt competition range is named, not skipped
        load_space("mlp", None, {"mlp.batchsize": {"choices": [512]}})


def test_a_zero_range_draws_exactly_zero_or_its_log_range_and_round_trips() -> None:
    """LightGBM's lambda_l1: a yes/no Optuna parameter `lightgbm.lambda_l1=0`, then the log range
    only when no (conditional); enqueued values and TPE's draws map back to the setting."""
    import optuna

    from competition.config import build_config

    param = {p.key: p for p in load_space("lightgbm", None).params}["lightgbm.lambda_l1"]
    assert param.zero and param.contains(0.0) and param.contains(0.5) and not param.contains(20.0)
    assert param.describe() == "lightgbm.lambda_l1 in 0 or [0.0001, 10.0] log"
    assert param.drawn(0.0) == {"lightgbm.lambda_l1=0": True}
    assert param.drawn(0.5) == {"lightgbm.lambda_l1=0": False, "lightgbm.lambda_l1": 0.5}
    space = load_space("lightgbm", None)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    study.enqueue_trial(space.baseline(build_config({})))
    study.enqueue_trial(space.baseline(build_config({"lightgbm.lambda_l1": 0.3})))
    drawn = []
    for _ in range(30):
        trial = study.ask()
        settings = space.draw(trial)
        assert space.settings(trial.params) == settings
        assert ("lightgbm.lambda_l1" in trial.params) == (settings["lightgbm.lambda_l1"] != 0.0)
        drawn.append(settings["lightgbm.lambda_l1"])
        study.tell(trial, settings["lightgbm.num_leaves"] + settings["lightgbm.lambda_l1"])
    assert drawn[:2] == [0.0, 0.3]  # the enqueued trials, exactly
    assert 0.0 in drawn[2:] and any(1e-4 <= v <= 10 for v in drawn[2:])


def test_space_file_zero_option(tmp_path: Path) -> None:
    path = _space(tmp_path, "[mlp]\nweight_decay = { low = 1e-3, high = 1.0, log = true, zero = true }\n")
    param = {p.key: p for p in load_space("mlp", path).params}["mlp.weight_decay"]
    assert param.zero and (param.low, param.high) == (1e-3, 1.0)
    for text, message in [
        ("[mlp]\nweight_decay = { low = 1e-3, high = 1.0, zero = true }\n", r"zero is for log-scaled ranges"),
        ("[mlp]\npatience = { low = 5, high = 20, log = true, zero = true }\n", r"zero is for float ranges only"),
        ("[mlp]\nweight_decay = { low = 1e-3, high = 1.0, log = true, zero = 1 }\n", r"zero must be true or false"),
        ("[mlp]\nlr = { low = 1e-4, high = 1e-2, log = true, zero = true }\n", r"mlp\.lr"),  # lr 0 is refused
    ]:
        with pytest.raises(CompError, match=message):
            load_space("mlp", _space(tmp_path, text))


def test_space_file_overrides_and_pins(tmp_path: Path) -> None:
    path = _space(tmp_path, "[mlp]\nlr = { low = 1e-4, high = 1e-3, log = true }\nhidden = { choices = [32, 64] }\n"
                            "depth = 2\n")
    space = load_space("mlp", path)
    params = {p.key: p for p in space.params}
    assert (params["mlp.lr"].low, params["mlp.lr"].high, params["mlp.lr"].log) == (1e-4, 1e-3, True)
    assert params["mlp.hidden"].choices == (32, 64)
    assert "mlp.depth" not in params and space.fixed == {"mlp.depth": 2}
    assert [p.key for p in space.population_params()] == ["mlp.hidden", "mlp.batch_size"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mlp]\nlearning_rate = { low = 0.1, high = 0.2 }\n", "unknown setting 'mlp.learning_rate'"),
        ("[mlp]\nlr = { low = 0.01, high = 0.01 }\n", "mlp.lr has an empty range"),
        ("[mlp]\nlr = { low = 0.02, high = 0.01 }\n", "empty range"),
        ("[mlp]\nhidden = { choices = [] }\n", "empty list of choices"),
        ("[mlp]\nlr = { low = 0.0, high = 0.01, log = true }\n", "mlp.lr must be greater than 0"),
        ("[mlp]\ndepth = { low = 1.5, high = 3 }\n", "whole-number setting"),
        ("[mlp]\nlr = { low = 1e-4, high = 1e-3, scale = 2 }\n", "unknown field(s) scale"),
        ("[run]\nfolds = { low = 3, high = 5 }\n", "cannot be searched"),
        ("[mlp]\nhidden = { choices = [32, \"wide\"] }\n", "mlp.hidden expects a whole number"),
    ],
)
def test_bad_space_file_is_refused_with_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CompError) as err:
        load_space("mlp", _space(tmp_path, text))
    assert message in str(err.value)
    assert str(tmp_path / "space.toml") in str(err.value)


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow sqlite store for these tests, created once (a new store's migrations take seconds)."""
    from competition.tracking import client

    uri = f"sqlite:///{tmp_path_factory.mktemp('tune_mlflow') / 'mlflow.db'}"
    client(uri)
    return uri


@pytest.fixture()
def tracked(workspace: Path, mlflow_db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)
    return workspace


def _tune(data_dir: Path, *args: str, competition: str = "house-prices") -> tuple[int, str]:
    result = runner.invoke(app, ["tune", competition, "--data-dir", str(data_dir), *args, *sets_args()])
    return result.exit_code, " ".join(result.output.split())  # rich wraps at the test console's width


def test_best_config_reproduces_and_study_continues(hp_data_dir: Path, tracked: Path) -> None:
    code, out = _tune(hp_data_dir, "--model", "lasso", "--trials", "3", "--rescore-seeds", "1")
    assert code == 0, out
    best = float(re.search(r"search OOF log-RMSE (\d\.\d+)", out).group(1))
    path = Path(re.search(r"best config: (\S+)", out).group(1))
    assert path.is_file() and "reproduces the trial's OOF bit for bit" in out
    assert re.search(r"re-scored on 1 fresh fold seeds: best \d\.\d+, default \d\.\d+", out)

    train = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--config", str(path)])
    assert train.exit_code == 0, train.output
    oof = float(re.search(r"OOF log-RMSE (\d\.\d+)", " ".join(train.output.split())).group(1))
    assert oof == pytest.approx(best, abs=1e-5)  # printed to 5 digits; the bundle check is bit for bit

    import optuna

    storage = f"sqlite:///{tracked / 'studies' / 'optuna.db'}"
    study = optuna.load_study(study_name="house-prices-lasso", storage=storage)
    assert len(study.trials) == 3
    # trial 0 is the configuration without the search (the competition's default alpha), so the
    # best is never worse than it on the search's folds, and the output says what it scored
    from competition.config import build_config
    from competition.tune.study import BASELINE_ATTR

    first = min(study.trials, key=lambda t: t.number)
    assert first.user_attrs.get(BASELINE_ATTR) is True and first.state.name == "COMPLETE"
    default_alpha = build_config(get_spec("house-prices").config_defaults).linear.lasso_alpha
    assert first.params == {"linear.lasso_alpha": default_alpha}
    assert sum(bool(t.user_attrs.get(BASELINE_ATTR)) for t in study.trials) == 1
    shown = re.search(r"default configuration: trial 0, search OOF log-RMSE (\d\.\d+)", out)
    assert shown and float(shown.group(1)) == pytest.approx(first.value, abs=1e-5) and best <= first.value + 1e-5
    run_id = study.user_attrs[next(k for k in study.user_attrs if k.startswith("best_run:"))]
    assert (tracked / "models" / "house-prices" / run_id).is_dir()  # the bundle predict/blend take

    import json

    listed = runner.invoke(app, ["runs", "house-prices", "--format", "json", "--limit", "500"])
    rows = [r for r in json.loads(listed.output) if r["kind"] == "tune" and r["study"]["name"] == "house-prices-lasso"]
    assert rows and rows[0]["oof"] == pytest.approx(best, abs=1e-5) and rows[0]["study"]["best_run_id"] == run_id
    assert set(rows[0]["params"]) == {"linear.lasso_alpha"}
    best_row = next(r for r in json.loads(listed.output) if r["run_id"] == run_id)
    assert set(best_row["params"]) == {"run.split", "run.folds", "run.seeds", "linear.lasso_alpha"}  # no MLP width

    code, out = _tune(hp_data_dir, "--model", "lasso", "--trials", "5", "--rescore-seeds", "0", "--no-keep-best")
    assert code == 0, out
    study = optuna.load_study(study_name="house-prices-lasso", storage=storage)
    assert len(study.trials) == 5 and {t.number for t in study.trials} == set(range(5))
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)


def test_study_name_with_quotes_works(hp_data_dir: Path, tracked: Path) -> None:
    """A --study name is the user's text: quotes in it must not reach MLflow's filter syntax."""
    code, out = _tune(hp_data_dir, "--model", "lasso", "--study", "Bob's \"quick\" one", "--trials", "1",
                      "--rescore-seeds", "0", "--no-keep-best")
    assert code == 0, out
    assert "1 complete" in out


@pytest.mark.parametrize("name", ["../escape", "a/b", "back\\slash", "..", "optuna.db", " ", "x" * 101, "tab\there"])
def test_a_study_name_that_cannot_be_its_folder_is_refused(
    hp_data_dir: Path, tracked: Path, workspace: Path, name: str
) -> None:
    code, out = _tune(hp_data_dir, "--model", "lasso", "--study", name, "--trials", "1", "--rescore-seeds", "0")
    assert code == 2, out
    assert "cannot be used" in out and "studies/<name>" in out and "Traceback" not in out
    assert not (workspace / "studies").exists() and not (workspace / "escape").exists()


def test_study_for_other_data_is_refused(hp_data_dir: Path, tracked: Path, tmp_path: Path) -> None:
    from competition.synthetic import house_prices

    code, out = _tune(hp_data_dir, "--model", "ridge", "--trials", "1", "--rescore-seeds", "0", "--no-keep-best")
    assert code == 0, out
    other = tmp_path / "other"
    house_prices.write(other, 240, 120, seed=4)
    code, out = _tune(other, "--model", "ridge", "--trials", "2", "--rescore-seeds", "0", "--no-keep-best")
    assert code == 2
    assert "was made for other data" in out and "--study NAME" in out
    code, out = _tune(hp_data_dir, "--model", "ridge", "--trials", "2", "--set", "run.fold_seed=9",
                      "--rescore-seeds", "0", "--no-keep-best")
    assert code == 2 and "was made for other folds" in out


def test_unreachable_storage_fails_fast_and_clearly(hp_data_dir: Path, workspace: Path) -> None:
    start = time.monotonic()
    code, out = _tune(hp_data_dir, "--model", "ridge", "--storage", "postgresql://comp:secret@192.0.2.1:5432/optuna")
    assert time.monotonic() - start < 30
    assert code == 2 and "Could not reach the study storage postgresql+psycopg://comp:***@192.0.2.1" in out
    assert "secret" not in out and "Traceback" not in out
    code, out = _tune(hp_data_dir, "--model", "ridge", "--storage", "sqlite:////no/such/folder/optuna.db")
    assert code == 2 and "Study storage folder does not exist" in out


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_an_interrupt_inside_a_storage_write_arrives_when_the_write_ends(tmp_path: Path) -> None:
    """Ctrl-C delivered in the middle of a storage write (inside SQLAlchemy, as the trial row is
    inserted) arrives when the storage call returns: the trial is stored whole, the interrupt is
    not lost, and the clean-up's FAIL is written at once. Cut into the session, it once left
    SQLite's lock with an abandoned connection, so the clean-up waited 60 s, failed, and left the
    trial RUNNING (a CI failure of test_ctrl_c_ends_cleanly_and_the_study_continues)."""
    import signal

    import optuna
    import sqlalchemy
    from optuna.trial import TrialState

    from competition.tune.study import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    study = optuna.create_study(study_name="s", storage=storage)
    fired: list[str] = []

    def interrupt(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not fired and statement.lstrip().upper().startswith("INSERT INTO TRIALS"):
            fired.append(statement)
            signal.raise_signal(signal.SIGINT)  # delivered to this thread now: inside SQLAlchemy

    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    sqlalchemy.event.listen(storage.engine, "before_cursor_execute", interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            study.ask()
    finally:
        sqlalchemy.event.remove(storage.engine, "before_cursor_execute", interrupt)
        signal.signal(signal.SIGINT, inherited)
    assert fired
    [trial] = study.get_trials()
    assert trial.state == TrialState.RUNNING
    start = time.monotonic()
    study.tell(trial.number, state=TrialState.FAIL)
    assert time.monotonic() - start < 5
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL]


def test_bad_space_file_from_the_command_line(hp_data_dir: Path, workspace: Path, tmp_path: Path) -> None:
    path = _space(tmp_path, "[lightgbm]\nnum_leafs = { low = 4, high = 8 }\n")
    code, out = _tune(hp_data_dir, "--model", "lightgbm", "--space", str(path))
    assert code == 2 and "unknown setting 'lightgbm.num_leafs'" in out and "lightgbm.num_leaves" in out


class _Trial:
    """Stands in for an Optuna trial in a population run without a study: never pruned."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, float]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return False


def test_population_trials_equal_trials_trained_alone(hp_data_dir: Path) -> None:
    """K trials trained as one batched network score exactly as each trained on its own, with its
    own lr, weight decay, dropout and patience (per-member patience included)."""
    from competition.competitions import get_spec
    from competition.config import build_config
    from competition.data import load_competition
    from competition.tune.context import build_context
    from competition.tune.evaluate import evaluate_population
    from competition.tune.runner import pin_resolved

    spec = get_spec("house-prices")
    data = load_competition(spec, hp_data_dir)
    shared = {"run.model": "mlp", "run.folds": 3, "run.seeds": 2, "mlp.hidden": 16, "mlp.epochs": 25}
    base = pin_resolved(build_config(spec.config_defaults, shared), "cpu")
    ctx = build_context(spec, data, base, "cpu")
    own = [
        {"mlp.lr": 1e-3, "mlp.weight_decay": 0.1, "mlp.dropout": 0.0, "mlp.patience": 3},
        {"mlp.lr": 3e-3, "mlp.weight_decay": 1.0, "mlp.dropout": 0.2, "mlp.patience": 8},
        {"mlp.lr": 5e-4, "mlp.weight_decay": 3.0, "mlp.dropout": 0.4, "mlp.patience": 25},
    ]
    configs = [pin_resolved(build_config(spec.config_defaults, shared, o), "cpu") for o in own]
    together = evaluate_population(ctx, configs, [_Trial() for _ in configs], report_every=5)
    alone = [evaluate_population(ctx, [c], [_Trial()], report_every=5)[0] for c in configs]
    for a, b in zip(together, alone, strict=True):
        assert a.oof_digest == b.oof_digest and a.oof_score == b.oof_score
        assert a.intermediate == b.intermediate and len(a.intermediate) == 5
    assert len({o.oof_digest for o in together}) == 3
    assert not np.isnan([o.oof_score for o in together]).any()


def test_population_pruning_stops_members_early(hp_data_dir: Path) -> None:
    from competition.competitions import get_spec
    from competition.config import build_config
    from competition.data import load_competition
    from competition.tune.context import build_context
    from competition.tune.evaluate import evaluate_population
    from competition.tune.runner import pin_resolved

    class PruneAt10(_Trial):
        def should_prune(self) -> bool:
            return self.reports[-1][0] >= 10

    spec = get_spec("house-prices")
    data = load_competition(spec, hp_data_dir)
    shared = {"run.model": "mlp", "run.folds": 3, "run.seeds": 1, "mlp.hidden": 16, "mlp.epochs": 40,
              "mlp.patience": 40}
    config = pin_resolved(build_config(spec.config_defaults, shared), "cpu")
    ctx = build_context(spec, data, config, "cpu")
    kept, pruned = evaluate_population(ctx, [config, config], [_Trial(), PruneAt10()], report_every=5)
    assert pruned.pruned and np.isnan(pruned.oof_score) and [s for s, _ in pruned.intermediate] == [5, 10]
    assert not kept.pruned and [s for s, _ in kept.intermediate] == [5, 10, 15, 20, 25, 30, 35, 40]


def test_the_latest_block_is_scored_as_a_submission_without_reading_its_prices(ca_data_dir: Path) -> None:
    """A time-ordered study's held-out block is predicted as `comp train` predicts a test set (CV
    and refit on the earlier rows): with the block's prices scrambled, the predictions are the same
    bits. A plain holdout split early-stops on the block, so its predictions change (the check
    has teeth)."""
    import dataclasses

    import polars as pl

    from competition.config import build_config, parse_sets
    from competition.data import load_competition
    from competition.training import run_training
    from competition.tune.rescore import latest_block, latest_block_log_predictions

    from .conftest import FAST_SETS

    spec = get_spec("california-house-prices")
    data = load_competition(spec, ca_data_dir)
    config = build_config(spec.config_defaults, parse_sets(FAST_SETS),
                          {"run.model": "lightgbm", "run.seeds": 1, "run.threads": 1})
    earlier, block = latest_block(data, 0.2)
    ids = data.train[spec.time_order_column].to_numpy()
    assert len(block) == 80 and ids[block].min() > ids[earlier].max()
    factor = np.ones(data.train.height)
    factor[block] = np.exp(np.random.default_rng(0).normal(2.0, 1.0, len(block)))  # dearer, and noisy
    target = spec.target_column
    scrambled = dataclasses.replace(data, train=data.train.with_columns(pl.col(target) * pl.Series(factor)))

    pred = latest_block_log_predictions(data, config, 0.2, "cpu")
    assert pred.shape == (len(block),) and np.isfinite(pred).all()
    assert np.array_equal(pred, latest_block_log_predictions(scrambled, config, 0.2, "cpu"))

    run = dataclasses.replace(config.run, split="holdout", holdout_share=0.2, refit_full="false")
    holdout = dataclasses.replace(config, run=run)
    seen, seen_scrambled = (run_training(d, holdout, "cpu").oof_log[block] for d in (data, scrambled))
    assert not np.array_equal(seen, seen_scrambled)


def test_a_time_ordered_study_rescores_on_the_latest_block(ca_data_dir: Path, tracked: Path) -> None:
    """`comp tune` on a time-ordered competition holds the latest block out of the search and
    reports both configurations' log-RMSE there, as `latest_block_log_predictions` makes them."""
    from competition.config import build_config, parse_sets
    from competition.data import load_competition
    from competition.metrics import log_rmse_from_logs
    from competition.tune.rescore import latest_block, latest_block_log_predictions

    from .conftest import FAST_SETS

    code, out = _tune(ca_data_dir, "--model", "ridge", "--trials", "2", "--rescore-seeds", "1", "--no-keep-best",
                      "--set", "run.threads=1", competition="california-house-prices")
    assert code == 0, out
    shown = re.search(r"re-scored on the latest block held out of the search: best (\d\.\d+), default (\d\.\d+)", out)
    assert shown, out
    spec = get_spec("california-house-prices")
    data = load_competition(spec, ca_data_dir)
    default = build_config(spec.config_defaults, parse_sets([*FAST_SETS, "run.threads=1"]), {"run.model": "ridge"})
    share = default.run.holdout_share  # what the study held out (run.exclude_latest)
    _, block = latest_block(data, share)
    expected = log_rmse_from_logs(latest_block_log_predictions(data, default, share, "cpu"), data.y_log[block])
    assert float(shown.group(2)) == pytest.approx(expected, abs=1e-5)
