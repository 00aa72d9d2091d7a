"""The command line's rough edges (issue 13): defaults in --help, lines scripts read never wrap,
`submit` checks before uploading, settings range-checked before any run, the no-token hint,
a torch-free `comp --help`, and the torch thread default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from competition.cli import app
from tests.conftest import sets_args

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

NO_DEFAULT = {"run_name", "resume", "from_run", "config_file", "set_", "message", "register"}
"""Options that are simply absent unless given (nothing is assumed in their place)."""


def squash(text: str) -> str:
    """Text without whitespace, so a help line wrapped anywhere (even after a hyphen) still matches."""
    return "".join(text.split())


def commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += commands(cmd, (*path, name))
        else:
            out.append(((*path, name), cmd))
    return out


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_ENABLE_ASYNC_LOGGING": "false", **extra}


# --- 1. --help shows every default ------------------------------------------------------------


def test_every_commands_help_shows_its_defaults() -> None:
    all_commands = commands(typer.main.get_command(app))
    assert len(all_commands) >= 10
    checked = 0
    for path, cmd in all_commands:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        shown = squash(result.output)
        for param in cmd.params:
            if param.name == "help" or getattr(param, "hidden", False):
                continue
            help_text = getattr(param, "help", "") or ""
            written = re.findall(r"\[default:[^\]]*\]", help_text)
            if written:  # a default stated in the help text (the option itself defaults to None)
                for text in written:
                    assert squash(text) in shown, (path, param.name, text, result.output)
            elif param.required:
                assert squash("[required]") in shown
            elif getattr(param, "is_flag", False) and getattr(param, "secondary_opts", None):
                flag = param.opts[0] if param.default else param.secondary_opts[0]  # --keep-best/--no-keep-best
                assert squash(f"[default: {flag.lstrip('-')}]") in shown, (path, param.name, result.output)
            elif param.default is not None:
                assert squash(f"[default: {param.default}]") in shown, (path, param.name, result.output)
            else:
                assert param.name in NO_DEFAULT, f"{' '.join(path)} --{param.name}: no default shown"
            checked += 1
    assert checked > 40
    # the square brackets of help texts survive (no markup swallows them)
    out = squash(runner.invoke(app, ["train", "--help"]).output)
    texts = ("[default: 5]", "[section] key = value", "[default: data/<competition>]", "california-house-prices: 2")
    for text in texts:
        assert squash(text) in out


# --- 2. lines scripts read never wrap ---------------------------------------------------------


def test_script_lines_are_whole_in_a_pipe_of_any_width(tmp_path: Path, hp_data_dir: Path) -> None:
    """`train` in a 40-column pipe, `predict` in an 80-column one, from a long path with brackets."""
    ws = tmp_path / ("a_workspace_folder_with_a_long_name_" * 3) / "[brackets] and spaces"
    ws.mkdir(parents=True)
    cmd = [sys.executable, "-m", "competition.cli", "train", "house-prices", "--data-dir", str(hp_data_dir)]
    cmd += sets_args("mlp.epochs=3", "run.folds=2", "run.seeds=1")
    proc = subprocess.run(cmd, cwd=ws, env=env(COLUMNS="40"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # MLflow's own INFO lines and artifact-download bar stay out of the terminal
    assert " INFO mlflow" not in proc.stderr and "Downloading artifacts" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    run_id = next(line for line in lines if line.startswith("run id: ")).split()[-1]
    assert re.fullmatch(r"[0-9a-f]{32}", run_id)
    expected = f"submission: {ws / 'submissions' / 'house-prices' / run_id}.csv"
    assert [line for line in lines if line.startswith("submission: ")] == [expected]
    assert len(expected) > 2 * 80  # long enough to have wrapped at either width
    assert re.search(r"OOF \d\.\d{5}$", next(line for line in lines if line.startswith("CV log-RMSE")))
    family = next(line for line in lines if line.strip().startswith("mlp"))
    assert re.search(r"OOF log-RMSE \d\.\d{5} .*\[cv-average, ", family)  # brackets kept, not taken as markup
    out = ws / "again [1].csv"
    cmd = [sys.executable, "-m", "competition.cli", "predict", "house-prices", "--run", run_id]
    cmd += ["--data-dir", str(hp_data_dir), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ws, env=env(COLUMNS="80"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"submission: {out}"]


# --- 3. submit checks the file before anything is uploaded ------------------------------------


@pytest.fixture()
def no_upload(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    from competition import kaggle_client

    calls: list[tuple] = []
    monkeypatch.setattr(kaggle_client, "api", lambda: calls.append(("api",)) or pytest.fail("api() called"))
    monkeypatch.setattr(kaggle_client, "submit", lambda *a: calls.append(("submit", *a)) or "ok")
    return calls


def good_submission(hp_data_dir: Path) -> pl.DataFrame:
    ids = pl.read_csv(hp_data_dir / "test.csv", infer_schema=False)["Id"].cast(pl.Int64)
    return pl.DataFrame({"Id": ids, "SalePrice": [180000.0] * len(ids)})


def test_submit_uploads_a_good_file(workspace: Path, hp_data_dir: Path, no_upload: list[tuple]) -> None:
    path = workspace / "good.csv"
    good_submission(hp_data_dir).write_csv(path)
    result = runner.invoke(app, ["submit", "house-prices", str(path), "-m", "ok", "--data-dir", str(hp_data_dir)])
    assert result.exit_code == 0, result.output
    assert no_upload == [("submit", "house-prices-advanced-regression-techniques", path, "ok")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(-5.0).otherwise("SalePrice")
                                  .alias("SalePrice")), ["SalePrice", "row 5", "-5.0"]),
        (lambda f: f.with_columns(pl.col("SalePrice").cast(pl.String))
         .with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("abc")).otherwise("SalePrice")
                       .alias("SalePrice")), ["'SalePrice'", "numbers", "row 2", "'abc'"]),
        (lambda f: f.head(99), ["one row per test Id (120 rows)", "got 99 rows", "missing"]),
        (lambda f: f.with_columns(pl.lit(float("inf")).alias("SalePrice")), ["non-finite"]),
        (lambda f: f.rename({"SalePrice": "Price"}), ["columns exactly ['Id', 'SalePrice']"]),
        (lambda f: pl.concat([f, f.head(1)]), ["duplicate Id"]),
        (lambda f: f.with_columns(pl.col("Id") + 10_000), ["not in the test file"]),
    ],
    ids=["negative", "text", "99-rows", "inf", "columns", "duplicate", "wrong-ids"],
)
def test_submit_refuses_a_bad_file_before_any_upload(
    workspace: Path, hp_data_dir: Path, no_upload: list[tuple], change, expected: list[str]
) -> None:
    path = workspace / "bad.csv"
    change(good_submission(hp_data_dir)).write_csv(path)
    result = runner.invoke(app, ["submit", "house-prices", str(path), "-m", "x", "--data-dir", str(hp_data_dir)])
    assert result.exit_code == 2, result.output
    assert no_upload == []
    assert str(path) in result.output and "Traceback" not in result.output
    for text in expected:
        assert text in result.output, (text, result.output)


# --- 4. settings range- and type-checked before any run or checkpoint folder ------------------


def no_run_was_started(ws: Path) -> None:
    assert not (ws / "models").exists(), list((ws / "models").rglob("*"))  # no .partial checkpoint folder
    db = ws / "mlflow_runs" / "mlflow.db"
    if db.exists():
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{db}")
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["--set", "mlp.dropout=1.5"], "mlp.dropout"),
        (["--set", "mlp.lr=0"], "mlp.lr"),
        (["--set", "lightgbm.feature_fraction=1.5"], "lightgbm.feature_fraction"),
        (["--set", "run.holdout_share=1"], "run.holdout_share"),
        (["--set", "mlp.precision=fp16"], "mlp.precision"),
        (["--set", "run.blend=max"], "run.blend"),
        (["--set", "mlp.activation=swish"], "mlp.activation"),
        (["--set", "mlp.hidden=2.5"], "mlp.hidden"),
        (["--model", "foo"], "run.model"),
        (["--model", "mlp,mlp"], "run.model"),
        (["--split", "random"], "run.split"),
        (["--seeds", "0"], "run.seeds"),
        (["--config", "bad.toml"], "linear.l1_ratio"),
    ],
)
def test_bad_setting_exits_2_naming_it_before_any_run(
    workspace: Path, hp_data_dir: Path, args: list[str], key: str
) -> None:
    (workspace / "bad.toml").write_text("[linear]\nl1_ratio = 2.0\n")
    result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), *args])
    assert result.exit_code == 2, result.output
    assert key in result.output and "Traceback" not in result.output
    no_run_was_started(workspace)


def test_diagnose_checks_settings_the_same_way(workspace: Path, hp_data_dir: Path) -> None:
    result = runner.invoke(app, ["diagnose", "house-prices", "--data-dir", str(hp_data_dir), "--set", "mlp.depth=0"])
    assert result.exit_code == 2, result.output
    assert "mlp.depth must be at least 1; got 0" in result.output
    no_run_was_started(workspace)


def test_every_setting_has_a_range_or_a_closed_type() -> None:
    import typing

    from competition.config import LIMITS, RunConfig, _field_types, build_config, check_setting, describe_allowed

    types = _field_types()
    assert set(LIMITS) <= set(types)
    for key, kind in types.items():
        assert key in LIMITS or kind is bool or typing.get_origin(kind) is typing.Literal, f"{key}: no range"
        assert describe_allowed(key)
    # every default is inside its own range, and every competition's defaults too
    from competition.competitions import all_specs

    for key, value in RunConfig().flat().items():
        assert check_setting(key, value) == value
    for spec in all_specs().values():
        build_config(spec.config_defaults)
    # the names lists match the code that uses them
    from competition.blend import METHODS
    from competition.config import BLEND_METHODS, SPLITS
    from competition.models import FAMILIES
    from competition.models.mlp import _ACTIVATIONS
    from competition.models.mlp_config import ACTIVATIONS

    assert BLEND_METHODS == METHODS and set(ACTIVATIONS) == set(_ACTIVATIONS)
    assert LIMITS["run.model"].names == FAMILIES and set(SPLITS) == {"auto", "kfold", "time", "holdout"}


def test_check_setting_edges() -> None:
    from competition.config import check_setting
    from competition.errors import CompError

    assert check_setting("mlp.dropout", "0") == 0.0
    assert check_setting("run.refit_full", "Yes") == "Yes"  # resolve_refit's spellings still pass
    assert check_setting("run.model", "mlp, lightgbm,lasso") == "mlp, lightgbm,lasso"
    for key, value, message in [
        ("mlp.dropout", 1.0, "mlp.dropout must be in [0, 1); got 1.0."),
        ("mlp.lr", -1e-3, "mlp.lr must be greater than 0"),
        ("run.folds", 0, "run.folds must be at least 1"),
        ("run.model", "", "run.model must be comma-separated from"),
        ("mlp.epochs", "ten", "mlp.epochs expects a whole number"),
        ("mlp.nope", 1, "Unknown setting 'mlp.nope'"),
    ]:
        with pytest.raises(CompError, match=re.escape(message)):
            check_setting(key, value)


# --- 5. without a Kaggle token, say how to train on files at hand ------------------------------


def no_kaggle_credentials(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def test_download_without_token_names_make_train_data_dir(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_kaggle_credentials(monkeypatch, tmp_path / "home")
    result = runner.invoke(app, ["data", "download", "house-prices"])
    assert result.exit_code == 2, result.output
    assert "make train DATA_DIR=/path/to/folder-with-train.csv" in result.output
    assert "KAGGLE_API_TOKEN" in result.output and "Traceback" not in result.output


def test_make_train_without_token_or_data_says_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Makefile's own path (its venv stubbed by the test interpreter, already 'installed')."""
    no_kaggle_credentials(monkeypatch, tmp_path / "home")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    comp = venv / "bin" / "comp"
    comp.write_text(f"#!/bin/sh\nexec {sys.executable} -m competition.cli \"$@\"\n")
    comp.chmod(0o755)
    installed = venv / "bin" / ".installed"
    installed.touch()
    stamp = (REPO / "pyproject.toml").stat().st_mtime + 10
    os.utime(installed, (stamp, stamp))
    proc = subprocess.run(
        ["make", "-s", "-C", str(REPO), "train", f"VENV={venv}", f"DATA_DIR={tmp_path / 'nothing'}"],
        env=env(HOME=str(tmp_path / "home"), KAGGLE_CONFIG_DIR=str(tmp_path / "home" / ".kaggle")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "make train DATA_DIR=/path/to/folder-with-train.csv" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


# --- 6. the CLI imports no heavy module until a command needs it ------------------------------

HEAVY = ("torch", "mlflow", "lightgbm", "sklearn", "scipy")


def test_cli_imports_no_heavy_module() -> None:
    """Importing the CLI, `comp` (usage, exit 2), `comp --help`, a command's --help, `comp config`
    and `comp competitions` (all in one interpreter, so the check is cumulative) import none of
    torch, mlflow, lightgbm, scikit-learn or scipy."""
    code = (
        "import sys\n"
        "from competition.cli import app\n"
        "for argv in ([], ['--help'], ['train', '--help'], ['config', 'house-prices'], ['competitions']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in ((0, None, 2) if argv == [] else (0, None)), (argv, exc.code)\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout[-500:]


# --- 8. one torch thread default for every command --------------------------------------------


def test_thread_default_is_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from competition import devices
    from competition.diagnose.settings import build_settings

    before = torch.get_num_threads()
    try:
        assert devices.resolve_device("cpu", 0) == "cpu" and torch.get_num_threads() == devices.DEFAULT_THREADS
        devices.resolve_device("cpu", 2)
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(devices, "DEFAULT_THREADS", 2)
        devices.resolve_device("cpu", 0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert build_settings({}, {}).threads == 0  # diagnose defers to devices.DEFAULT_THREADS


def test_a_saved_runs_config_loads_even_if_now_out_of_range() -> None:
    """Bundles written before a range existed still predict and resume; a new run from them is checked."""
    from competition.config import build_config, config_from_dict
    from competition.errors import CompError

    saved = {"mlp": {"dropout": 1.5}, "run": {"folds": 5}}
    assert config_from_dict(saved).mlp.dropout == 1.5
    with pytest.raises(CompError, match=r"mlp\.dropout must be in \[0, 1\)"):
        build_config({"mlp.dropout": 1.5})
    with pytest.raises(CompError, match=r"mlp\.dropout expects a finite number"):
        config_from_dict({"mlp": {"dropout": "high"}})
