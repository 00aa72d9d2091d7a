"""LightGBM and linear families: unit behaviour on tiny matrices, then the same CLI path as the MLP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from competition.config import build_config
from competition.models import get_family
from competition.models.base import FoldMatrices
from competition.models.mlp import Member
from tests.test_cli_end_to_end import run_ok, train_predict_runs


def toy_problem(n: int = 300, n_test: int = 50, folds: int = 3) -> tuple[FoldMatrices, np.ndarray, list[Member]]:
    """A smooth log target over 4 numeric columns and one 3-level one-hot block, identical per fold."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n + n_test, 4))
    level = rng.integers(0, 3, size=n + n_test)
    onehot = np.eye(3)[level]
    y = 12 + 0.3 * x[:, 0] - 0.2 * x[:, 1] ** 2 + 0.25 * level + 0.2 * rng.normal(size=n + n_test)
    mat = np.hstack([x, onehot]).astype(np.float32)
    names = ["a", "b", "c", "d", "kind=p", "kind=q", "kind=__other__"]
    mats = FoldMatrices(train=[mat[:n]] * folds, test=[mat[n:]] * folds, names=[names] * folds)
    order = np.arange(n)
    members = []
    for f in range(folds):
        valid = order[order % folds == f]
        train = order[order % folds != f]
        members += [Member(fold=f, seed=100 + s + f, train_idx=train, valid_idx=valid) for s in range(2)]
    return mats, y[:n], members


def fast_config(**sets: object) -> object:
    quick = {"lightgbm.max_rounds": 400, "lightgbm.early_stopping_rounds": 30, "lightgbm.learning_rate": 0.2}
    return build_config({**quick, **sets})


def test_lightgbm_seeds_sharing_a_fold_dataset_match_separate_fits() -> None:
    """Each fold's binned Dataset is built once for all its seeds: a member fit together with its
    fold-mates gives bit for bit what it gives fit alone (its own Dataset)."""
    mats, y, members = toy_problem()
    family = get_family("lightgbm")
    cfg = fast_config()
    together = family.fit(mats, y, members, cfg, "cpu")
    for j, m in enumerate(members):
        alone = family.fit(mats, y, [m], cfg, "cpu")
        np.testing.assert_array_equal(alone.test_pred[0], together.test_pred[j])
        np.testing.assert_array_equal(alone.valid_pred[0], together.valid_pred[j])
        assert alone.best_iteration[0] == together.best_iteration[j]


def test_lightgbm_family_early_stops_seeds_and_refits(tmp_path: Path) -> None:
    mats, y, members = toy_problem()
    family = get_family("lightgbm")
    cfg = fast_config()
    result = family.fit(mats, y, members, cfg, "cpu")
    # each member stops on its own validation rows, and the curves it logs are per iteration
    assert all(0 < b < 399 for b in result.best_iteration)
    for b, hist in zip(result.best_iteration, result.history, strict=True):
        assert len(hist["train"]) == len(hist["valid"]) > b
        assert hist["valid"][b] == pytest.approx(min(hist["valid"]))
    rmse = np.sqrt(
        np.mean((np.concatenate(result.valid_pred) - np.concatenate([y[m.valid_idx] for m in members])) ** 2)
    )
    assert rmse < 0.7 * np.std(y)  # noise alone is 0.4 of it
    # gain importances are keyed by feature name; the one-hot block appears as one categorical
    assert result.importance["a"] > 0 and "kind" in result.importance and "kind=p" not in result.importance
    # deterministic per seed: refitting the same members reproduces every prediction
    again = family.fit(mats, y, members, cfg, "cpu")
    np.testing.assert_array_equal(again.test_pred, result.test_pred)
    assert not np.array_equal(result.test_pred[0], result.test_pred[1])  # seeds differ within a fold
    # saved as LightGBM text (no pickle), reloaded with Booster(model_file=...), same numbers
    family.save(result, tmp_path)
    texts = sorted(tmp_path.glob("member_*.txt"))
    assert len(texts) == len(members) and texts[0].read_text().startswith("tree")
    import lightgbm as lgb

    assert lgb.Booster(model_file=str(texts[0])).num_trees() == result.best_iteration[0] + 1
    loaded = family.predict(tmp_path, mats.test, [{"fold": m.fold} for m in members], cfg, "cpu")
    np.testing.assert_array_equal(loaded, result.test_pred)
    # refit members (no validation rows) train exactly `epochs` rounds
    refit = [Member(fold=0, seed=7, train_idx=np.arange(len(y)), valid_idx=np.zeros(0, np.int64), epochs=37)]
    out = family.fit(FoldMatrices(mats.train[:1], mats.test[:1], mats.names[:1]), y, refit, cfg, "cpu")
    assert out.best_iteration.tolist() == [36] and len(out.history[0]["train"]) == 37 and not out.history[0]["valid"]


def test_take_reads_runs_of_columns_as_slices_and_other_columns_by_index() -> None:
    from competition.models.base import take

    x = np.arange(60, dtype=np.float32).reshape(10, 6)
    rows = np.array([7, 2, 5])
    for cols in ([1, 2, 3], [4], [0, 2, 5], [3, 2], [0, 1, 2, 3, 4, 5]):
        cols = np.array(cols)
        np.testing.assert_array_equal(take(x, rows, cols), x[rows][:, cols])
        np.testing.assert_array_equal(take(x, None, cols), x[:, cols])
    assert take(x, None, np.array([1, 2, 3])).base is not None  # a run of columns of every row: a view


def test_fold_categoricals_gathers_rows_and_codes_without_copying_the_rows_first() -> None:
    """Codes and remaining columns equal the plain recipe (gather the rows, drop the one-hot
    columns, argmax each block), and the peak allocation is about the result's own size."""
    import tracemalloc

    from competition.models.lightgbm_family import fold_categoricals

    rng = np.random.default_rng(5)
    n, width = 4000, 600  # 600 - 9 remaining columns: not a multiple of the 64-column block
    x = rng.normal(size=(n, width)).astype(np.float32)
    groups = [[10, 11, 12], [590, 591, 592, 593, 594, 595]]
    for cols in groups:
        x[:, cols] = np.eye(len(cols), dtype=np.float32)[rng.integers(0, len(cols), n)]
    rows = np.sort(rng.choice(n, 3000, replace=False))

    def plain(block: np.ndarray) -> np.ndarray:
        rest = np.delete(block, [j for cols in groups for j in cols], axis=1)
        codes = [np.argmax(block[:, cols], axis=1).astype(np.float32) for cols in groups]
        return np.column_stack([rest, *codes])

    np.testing.assert_array_equal(fold_categoricals(x, groups, rows), plain(x[rows]))
    np.testing.assert_array_equal(fold_categoricals(x, groups), plain(x))
    np.testing.assert_array_equal(fold_categoricals(x, [], rows), x[rows])
    assert fold_categoricals(x, []) is x
    tracemalloc.start()
    out = fold_categoricals(x, groups, rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out.dtype == np.float32 and peak < 1.3 * out.nbytes, (peak, out.nbytes)


def test_lightgbm_one_hot_inputs_without_native_categoricals() -> None:
    mats, y, members = toy_problem()
    result = get_family("lightgbm").fit(
        mats, y, members[:2], fast_config(**{"lightgbm.native_categorical": False}), "cpu"
    )
    assert "kind=p" in result.importance and "kind" not in result.importance


def test_lightgbm_linear_trees_save_and_reload(tmp_path: Path) -> None:
    """Linear leaves (House Prices' setting) fit, stay deterministic and reload from text exactly."""
    mats, y, members = toy_problem()
    family = get_family("lightgbm")
    cfg = fast_config(**{"lightgbm.linear_tree": True, "lightgbm.linear_lambda": 1.0})
    result = family.fit(mats, y, members[:2], cfg, "cpu")
    np.testing.assert_array_equal(family.fit(mats, y, members[:2], cfg, "cpu").test_pred, result.test_pred)
    family.save(result, tmp_path)
    assert "is_linear=1" in (tmp_path / "member_000.txt").read_text()
    loaded = family.predict(tmp_path, mats.test, [{"fold": m.fold} for m in members[:2]], cfg, "cpu")
    np.testing.assert_array_equal(loaded, result.test_pred)
    plain = family.fit(mats, y, members[:2], fast_config(), "cpu")
    assert not np.array_equal(plain.test_pred, result.test_pred)


def test_lightgbm_defaults_are_per_competition() -> None:
    """Each competition sizes LightGBM for its own tables; neither's settings leak into the other
    or into the generic defaults."""
    from competition.competitions import get_spec
    from competition.config import LightGBMConfig

    generic = LightGBMConfig()
    assert not generic.linear_tree and generic.learning_rate == 0.03 and generic.max_rounds == 5000
    hp = build_config(get_spec("house-prices").config_defaults).lightgbm
    assert hp.linear_tree and hp.linear_lambda == 1.0 and not hp.extra_trees and hp.min_data_in_leaf == 5
    assert hp.learning_rate == 0.03 and hp.max_rounds == 5000
    ca = build_config(get_spec("california-house-prices").config_defaults).lightgbm
    assert ca.linear_tree and ca.linear_lambda == 1.0 and ca.extra_trees and ca.min_data_in_leaf == 10
    assert ca.learning_rate == 0.1 and ca.max_rounds == 3000 and ca.early_stopping_rounds == 100


def test_linear_families_drop_outliers_on_their_own(hp_data_dir: Path) -> None:
    """linear.drop_outliers leaves the rule's rows out of lasso's training parts only; they stay
    validated and scored for every family, and run.drop_outliers still drops them everywhere."""
    import dataclasses

    from competition.competitions import get_spec
    from competition.data import load_competition
    from competition.errors import CompError
    from competition.training import drops_outliers, run_training

    spec = get_spec("house-prices")
    data = load_competition(spec, hp_data_dir)
    huge = pl.Series(np.arange(data.train.height) < 2)  # two huge, cheap houses, as in Ames
    train = data.train.with_columns(
        pl.when(huge).then(4500).otherwise(pl.col("GrLivArea")).alias("GrLivArea"),
        pl.when(huge).then(150000).otherwise(pl.col("SalePrice")).alias("SalePrice"),
    )
    data = dataclasses.replace(data, train=train)
    fast = {"run.folds": 3, "run.seeds": 1, "lightgbm.max_rounds": 60, "lightgbm.early_stopping_rounds": 20}
    config = build_config(spec.config_defaults, fast, {"run.model": "lightgbm,lasso"})
    assert config.linear.drop_outliers and not config.run.drop_outliers
    result = run_training(data, config, "cpu")
    by_name = {f.name: f for f in result.families}
    assert result.dropped_outliers == 2
    assert all(not np.isin([0, 1], m.train_idx).any() for m in by_name["lasso"].members)
    assert sum(np.isin([0, 1], m.train_idx).sum() for m in by_name["lightgbm"].members) == 4  # 2 rows x 2 folds
    assert all(np.isfinite(f.oof_log[:2]).all() for f in result.families) and result.validated.all()
    assert not drops_outliers("lasso", build_config({"linear.drop_outliers": False}))
    assert drops_outliers("mlp", build_config({"run.drop_outliers": True}))
    assert not drops_outliers("lightgbm", config) and drops_outliers("elasticnet", config)
    with pytest.raises(CompError, match=r"linear\.drop_outliers expects true or false"):
        build_config({"linear.drop_outliers": "sometimes"})


@pytest.mark.parametrize("kind", ["ridge", "lasso", "elasticnet"])
def test_linear_family_json_coefficients(kind: str, tmp_path: Path) -> None:
    mats, y, members = toy_problem()
    family = get_family(kind)
    cfg = build_config({})
    result = family.fit(mats, y, members, cfg, "cpu")
    family.save(result, tmp_path)
    saved = json.loads((tmp_path / "linear.json").read_text())
    assert saved["model"] == kind and len(saved["coef"]) == len(members) and len(saved["coef"][0]) == 7
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.joblib"))
    # prediction is exactly X @ coef + intercept
    m0 = members[0]
    manual = mats.test[0].astype(np.float64) @ np.array(saved["coef"][0]) + saved["intercept"][0]
    np.testing.assert_array_equal(result.test_pred[0], manual)
    np.testing.assert_array_equal(
        result.valid_pred[0],
        mats.train[0][m0.valid_idx].astype(np.float64) @ np.array(saved["coef"][0]) + saved["intercept"][0],
    )
    loaded = family.predict(tmp_path, mats.test, [{"fold": m.fold} for m in members], cfg, "cpu")
    np.testing.assert_array_equal(loaded, result.test_pred)
    # seeds of one fold share the deterministic fit; refit members ignore `epochs`
    np.testing.assert_array_equal(result.test_pred[0], result.test_pred[1])
    full = Member(fold=0, seed=1, train_idx=np.arange(len(y)), valid_idx=np.zeros(0, np.int64), epochs=3)
    other = Member(fold=0, seed=2, train_idx=np.arange(len(y)), valid_idx=np.zeros(0, np.int64), epochs=900)
    out = family.fit(mats, y, [full, other], cfg, "cpu")
    np.testing.assert_array_equal(out.test_pred[0], out.test_pred[1])
    assert out.valid_pred[0].size == 0


@pytest.mark.parametrize("kind", ["ridge", "lasso", "elasticnet"])
def test_linear_fit_holds_one_float64_copy_and_matches_scikit_learns_copying_fit(kind: str) -> None:
    """The family hands scikit-learn its own float64 rows (copy_X=False, Fortran order for
    coordinate descent): the coefficients are those of scikit-learn's default fit, which copies,
    and the fit's peak allocation is one float64 copy of the rows plus small change (a copying
    fit holds two, plus the float32 gather: over 2x)."""
    import tracemalloc

    from competition.models.linear_family import make_estimator

    rng = np.random.default_rng(3)
    n, width = 6000, 130  # width not a multiple of design_matrix's column block
    x = rng.normal(size=(n, width)).astype(np.float32)
    y = 12 + x[:, :6] @ rng.normal(size=6) * 0.1 + 0.05 * rng.normal(size=n)
    rows = np.flatnonzero(np.arange(n) % 4 != 0)
    member = Member(fold=0, seed=1, train_idx=rows, valid_idx=np.flatnonzero(np.arange(n) % 4 == 0))
    mats = FoldMatrices(train=[x], test=[x[:10]], names=[[f"c{j}" for j in range(width)]])
    cfg = build_config({})
    family = get_family(kind)
    family.fit(FoldMatrices(train=[x[:50]], test=[x[:5]], names=mats.names), y[:50],
               [Member(fold=0, seed=1, train_idx=np.arange(40), valid_idx=np.arange(40, 50))], cfg, "cpu")  # imports
    tracemalloc.start()
    result = family.fit(mats, y, [member], cfg, "cpu")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    one_copy = len(rows) * width * 8
    assert peak < 1.3 * one_copy, (peak, one_copy)
    plain = make_estimator(kind, cfg.linear).set_params(copy_X=True).fit(x[rows].astype(np.float64), y[rows])
    np.testing.assert_array_equal(result.extra["coef"][0], plain.coef_)
    assert result.extra["intercept"][0] == float(plain.intercept_)


def test_unknown_linear_kind_is_refused() -> None:
    from competition.errors import CompError
    from competition.models.linear_family import LinearFamily

    with pytest.raises(CompError, match="Unknown linear model"):
        LinearFamily("svr")


def mlflow_client(workspace: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")


def test_lightgbm_end_to_end(workspace: Path, hp_data_dir: Path) -> None:
    info = train_predict_runs(hp_data_dir, "house-prices", "lightgbm")
    run_id, bundle = info["run_id"], info["bundle"]
    fam = bundle["families"][0]
    assert fam["name"] == "lightgbm" and fam["prediction_path"] == "cv-average"
    folder = Path("models/house-prices") / run_id / "lightgbm" / "cv"
    assert len(list(folder.glob("member_*.txt"))) == len(fam["members"]) == 6  # 3 folds x 2 seeds
    assert not [p for p in Path("models").rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]
    oof = pl.read_csv(Path("models/house-prices") / run_id / "oof.csv")
    assert oof["lightgbm_log"].is_finite().all()
    rmse = float(np.sqrt(np.mean((oof["lightgbm_log"] - oof["target_log"]).to_numpy() ** 2)))
    assert rmse == pytest.approx(bundle["oof_log_rmse"]) and rmse < np.std(oof["target_log"].to_numpy())
    # MLflow: per-iteration curves on the fold runs, gain importance table + PNG on the parent
    client = mlflow_client(workspace)
    exp = client.get_experiment_by_name("house-prices")
    runs = client.search_runs([exp.experiment_id])
    folds = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run_id]
    assert len(folds) == 3
    history = client.get_metric_history(folds[0].info.run_id, "log_rmse/valid")
    assert len(history) >= 2 and [m.step for m in history] == list(range(len(history)))
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/importance_lightgbm.csv", "plots/importance_lightgbm.png"} <= plots
    table = Path(client.download_artifacts(run_id, "plots/importance_lightgbm.csv")).read_text().splitlines()
    assert table[0] == "feature,gain" and len(table) > 5
    parent = next(r for r in runs if r.info.run_id == run_id)
    assert parent.data.tags["prediction_path"] == "lightgbm:cv-average"


def test_ridge_end_to_end(workspace: Path, hp_data_dir: Path) -> None:
    info = train_predict_runs(hp_data_dir, "house-prices", "ridge")
    fam = info["bundle"]["families"][0]
    assert fam["name"] == "ridge"
    saved = json.loads((Path("models/house-prices") / info["run_id"] / "ridge" / "cv" / "linear.json").read_text())
    assert saved["model"] == "ridge" and len(saved["coef"]) == len(fam["members"])


def test_refit_full_lightgbm_and_linear(workspace: Path, hp_data_dir: Path) -> None:
    """--refit-full: LightGBM refits for the median CV-chosen rounds, ridge refits on all rows; both recorded."""
    info = train_predict_runs(hp_data_dir, "house-prices", "lightgbm,ridge", ["run.refit_full=true"])
    by_name = {f["name"]: f for f in info["bundle"]["families"]}
    lgb_fam = by_name["lightgbm"]
    assert lgb_fam["prediction_path"] == "refit-full" and by_name["ridge"]["prediction_path"] == "refit-full"
    rounds = int(np.median([m["best_iteration"] for m in lgb_fam["members"]])) + 1
    assert [m["iterations"] for m in lgb_fam["refit_members"]] == [rounds, rounds]
    folder = Path("models/house-prices") / info["run_id"]
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(folder / "lightgbm" / "refit" / "member_000.txt"))
    assert booster.num_trees() == rounds
    assert (folder / "features" / "refit.json").exists() and (folder / "ridge" / "refit" / "linear.json").exists()
    run = mlflow_client(workspace).get_run(info["run_id"])
    assert run.data.tags["prediction_path"] == "lightgbm:refit-full,ridge:refit-full"
    # the CLI switch maps onto run.refit_full
    out = run_ok(
        [
            "train",
            "house-prices",
            "--data-dir",
            str(hp_data_dir),
            "--model",
            "ridge",
            "--no-refit-full",
            "--split",
            "holdout",
        ]
    )
    run_id = out.split("run id:")[1].split()[0]
    bundle = json.loads((Path("models/house-prices") / run_id / "bundle.json").read_text())
    assert bundle["families"][0]["prediction_path"] == "cv-average"


def test_three_families_end_to_end(workspace: Path, hp_data_dir: Path) -> None:
    info = train_predict_runs(hp_data_dir, "house-prices", "mlp,lightgbm,lasso")
    bundle = info["bundle"]
    weights = bundle["blend_weights"]
    assert list(weights) == ["mlp", "lightgbm", "lasso"]
    assert sum(weights.values()) == pytest.approx(1.0) and min(weights.values()) >= 0
    oof = pl.read_csv(Path("models/house-prices") / info["run_id"] / "oof.csv")
    assert {"mlp_log", "lightgbm_log", "lasso_log", "blend_log"} <= set(oof.columns)
    blended = np.column_stack([oof[f"{n}_log"].to_numpy() for n in weights]) @ np.array(list(weights.values()))
    np.testing.assert_allclose(oof["blend_log"].to_numpy(), blended, rtol=0, atol=1e-12)
    # the blend is no worse than its best member on the rows its weights were fit on
    best = min(f["oof_log_rmse"] for f in bundle["families"])
    assert bundle["oof_log_rmse"] <= best * 1.02
    assert "blend weights:" in info["output"]


def test_long_curves_go_to_mlflow_thinned_with_their_best_and_last_step() -> None:
    from competition.run import CURVE_POINTS, curve_steps

    assert curve_steps(CURVE_POINTS, 7) == list(range(CURVE_POINTS))  # short curves whole
    steps = curve_steps(2000, 1234)
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 1999 and 1234 in steps
    assert set(range(0, 2000, 8)) <= set(steps) and len(steps) <= CURVE_POINTS + 2
