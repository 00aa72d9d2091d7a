"""`comp blend`: weights from OOF rows only, refusal of incompatible members, and the CLI path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from competition.blend import Member, blend_members
from competition.bundle import Bundle
from competition.cli import app
from competition.errors import CompError
from tests.conftest import sets_args
from tests.test_cli_end_to_end import run_ok

runner = CliRunner()
HP = "house-prices"


def toy_members(n: int = 200, n_test: int = 40) -> list[Member]:
    """Three members with different noise; rows 0..19 were never validated (fold -1)."""
    rng = np.random.default_rng(1)
    y = rng.normal(12, 0.4, size=n)
    fold = np.arange(n) % 4
    fold[:20] = -1
    out = []
    for i, noise in enumerate((0.05, 0.1, 0.3)):
        oof = y + rng.normal(0, noise, size=n)
        oof[:20] = np.nan if i == 0 else 99.0  # unvalidated rows: NaN or junk, never used
        out.append(
            Member(
                run_id=f"run{i}",
                bundle=Bundle(folder=Path("."), meta={}),
                ids=np.arange(1, n + 1),
                fold=fold,
                y_log=y,
                oof_log=oof,
                test_ids=np.arange(n + 1, n + n_test + 1),
                test_log=rng.normal(12, 0.4, size=n_test),
            )
        )
    return out


@pytest.mark.parametrize("method", ["mean", "nnls", "ridge"])
def test_weights_are_fit_on_oof_rows_only(method: str) -> None:
    members = toy_members()
    base = blend_members(members, method)
    assert sum(base.weights.values()) == pytest.approx(1.0)
    assert base.n_validated == 180
    # changing any member's test predictions cannot change the weights (only the test blend)
    changed = toy_members()
    changed[1].test_log = changed[1].test_log + 5.0
    changed[2].test_log = changed[2].test_log[::-1].copy()
    other = blend_members(changed, method)
    assert other.weights == base.weights
    assert not np.allclose(other.test_log, base.test_log)
    # nor can predictions on rows no member validated
    junk = toy_members()
    junk[1].oof_log[:20] = -50.0
    assert blend_members(junk, method).weights == base.weights
    # the blended OOF is the weighted sum on validated rows and NaN elsewhere
    assert np.isnan(base.oof_log[:20]).all() and np.isfinite(base.oof_log[20:]).all()
    # the cross-fitted score: each fold's rows blended with weights from the other folds' OOF rows
    from competition.ensemble import crossfit_blend_score

    matrix = np.column_stack([m.oof_log for m in members])
    fold = np.where(np.isfinite(base.oof_log), members[0].fold, -1)
    assert base.crossfit_score == pytest.approx(crossfit_blend_score(matrix, members[0].y_log, fold, method))
    if method == "nnls":
        assert base.weights["run0"] > base.weights["run2"]  # the least noisy member counts most
        assert base.oof_score <= min(m.oof_score for m in base.members) + 1e-9


def test_unknown_method_is_refused() -> None:
    with pytest.raises(CompError, match="Unknown blend method"):
        blend_members(toy_members(), "median")


def train_run(data_dir: Path, model: str, *extra: str) -> str:
    out = run_ok(["train", HP, "--data-dir", str(data_dir), "--model", model, *sets_args(*extra)])
    return out.split("run id:")[1].split()[0]


def fail_with(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


def test_blend_end_to_end(workspace: Path, hp_data_dir: Path) -> None:
    ridge = train_run(hp_data_dir, "ridge")
    gbm = train_run(hp_data_dir, "lightgbm")
    out = run_ok(["blend", HP, ridge, gbm[:10], "--method", "nnls", "--run-name", "b"])
    blend_id = out.split("run id:")[1].split()[0]
    sub_path = Path("submissions") / HP / f"{blend_id}.csv"
    test = pl.read_csv(hp_data_dir / "test.csv", infer_schema=False)
    sub = pl.read_csv(sub_path)
    assert sub.columns == ["Id", "SalePrice"] and sub["Id"].to_list() == test["Id"].cast(pl.Int64).to_list()
    # bundle: members, weights, and OOF/test files laid out like a train bundle
    folder = Path("models") / HP / blend_id
    meta = json.loads((folder / "bundle.json").read_text())
    assert meta["kind"] == "blend" and list(meta["blend_weights"]) == [ridge, gbm]
    assert meta["prediction_path"] == "blend"
    oof = pl.read_csv(folder / "oof.csv")
    y = oof["target_log"].to_numpy()
    w = np.array(list(meta["blend_weights"].values()))
    member_oof = np.column_stack([oof[f"{r}_log"].to_numpy() for r in (ridge, gbm)])
    np.testing.assert_allclose(oof["blend_log"].to_numpy(), member_oof @ w, rtol=0, atol=1e-12)
    assert float(np.sqrt(np.mean((oof["blend_log"].to_numpy() - y) ** 2))) == pytest.approx(meta["oof_log_rmse"])
    # the output reports the blended OOF next to each member's
    for m in meta["members"]:
        assert f"{m['oof_log_rmse']:.5f}" in out
    assert f"{meta['oof_log_rmse']:.5f}" in out
    # comp predict --run <blend> re-predicts the members and reproduces the submission byte for byte
    run_ok(["predict", HP, "--run", blend_id[:12], "--data-dir", str(hp_data_dir), "--out", "again.csv"])
    assert Path("again.csv").read_bytes() == sub_path.read_bytes()
    run_ok(["predict", HP, "--run", "latest", "--data-dir", str(hp_data_dir), "--out", "latest.csv"])
    assert Path("latest.csv").read_bytes() == sub_path.read_bytes()
    # MLflow: a blend run with the same metric names as train runs, listed by `comp runs`
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    run = client.get_run(blend_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["comp_kind"] == "blend" and run.data.tags["member_run_ids"] == f"{ridge},{gbm}"
    assert run.data.params["blend.method"] == "nnls" and run.data.params["blend.member.1"] == gbm
    for key in ("cv_mean_log_rmse", "cv_std_log_rmse", "oof_log_rmse", f"blend_weight.{ridge}"):
        assert key in run.data.metrics
    assert run.data.metrics["oof_log_rmse"] == pytest.approx(meta["oof_log_rmse"])
    crossfit = run.data.metrics["blend_crossfit_oof_log_rmse"]
    assert np.isfinite(crossfit) and f"{crossfit:.5f}" in out
    assert {a.path for a in client.list_artifacts(blend_id)} >= {"bundle", "submission"}
    rows = json.loads(run_ok(["runs", HP, "--format", "json"]))
    kinds = {r["run_id"]: r["kind"] for r in rows}
    assert kinds[blend_id] == "blend" and kinds[ridge] == "train" and kinds[gbm] == "train"
    table = run_ok(["runs", HP])
    assert "blend(" in table
    # editing a member's saved test predictions changes the blend's submission, never its weights
    test_csv = Path("models") / HP / gbm / "test_predictions.csv"
    frame = pl.read_csv(test_csv)
    frame.with_columns(pl.col("blend_log") + 0.5).write_csv(test_csv)
    out2 = run_ok(["blend", HP, ridge, gbm])
    meta2 = json.loads((Path("models") / HP / out2.split("run id:")[1].split()[0] / "bundle.json").read_text())
    assert meta2["blend_weights"] == meta["blend_weights"]
    # a blend whose member bundle is gone says which one
    shutil.rmtree(Path("models") / HP / ridge)
    msg = fail_with(["predict", HP, "--run", blend_id, "--data-dir", str(hp_data_dir), "--out", "x.csv"])
    assert ridge in msg and "missing" in msg


def test_blend_refuses_incompatible_members(workspace: Path, hp_data_dir: Path) -> None:
    a = train_run(hp_data_dir, "ridge")
    b = train_run(hp_data_dir, "ridge", "run.seed=7")  # other shuffled folds
    msg = fail_with(["blend", HP, a, b])
    assert "different validation folds" in msg and "split_fingerprint" in msg
    c = train_run(hp_data_dir, "ridge", "run.folds=4")
    assert "different validation folds" in fail_with(["blend", HP, a, c])
    # same folds but another data digest / competition: copies of `a` with one field changed
    models = Path("models") / HP
    for key, value, words in (
        ("data_digest", "0" * 64, "different training/test data"),
        ("competition", "california", "belongs to"),
    ):
        copy = models / f"copy{key}"
        shutil.copytree(models / a, copy)
        meta = json.loads((copy / "bundle.json").read_text())
        meta[key] = value
        meta["run_id"] = copy.name
        (copy / "bundle.json").write_text(json.dumps(meta))
        assert words in fail_with(["blend", HP, a, copy.name])
        shutil.rmtree(copy)
    assert "at least two" in fail_with(["blend", HP, a])
    assert "listed twice" in fail_with(["blend", HP, a, a[:8]])
    assert "Unknown blend method" in fail_with(["blend", HP, a, a, "--method", "median"])
    assert not (Path("submissions") / HP).exists() or len(list((Path("submissions") / HP).iterdir())) == 3


def test_crossfit_blend_weights_never_see_the_rows_they_score() -> None:
    from competition.ensemble import crossfit_blend_score, fit_blend_weights

    rng = np.random.default_rng(0)
    y = rng.normal(12, 0.4, 300)
    oof = np.column_stack([y + rng.normal(0, s, 300) for s in (0.1, 0.2, 0.3)])
    folds = np.repeat(np.arange(3), 100)
    score = crossfit_blend_score(oof, y, folds, "nnls")
    # by hand: fold 0's rows blended with weights fit on folds 1 and 2 only, and so on
    manual = np.concatenate(
        [oof[folds == f] @ fit_blend_weights(oof[folds != f], y[folds != f], "nnls") for f in range(3)]
    )
    assert score == pytest.approx(np.sqrt(np.mean((manual - y) ** 2)))
    # corrupting fold 0's targets changes fold 0's error but not the weights used on folds 1 and 2
    y_bad = y.copy()
    y_bad[folds == 0] += rng.normal(0, 1, 100)
    w1 = fit_blend_weights(oof[folds != 1], y[folds != 1], "nnls")
    assert not np.allclose(w1, fit_blend_weights(oof[folds != 1], y_bad[folds != 1], "nnls"))
    w0 = fit_blend_weights(oof[folds != 0], y[folds != 0], "nnls")
    assert np.array_equal(w0, fit_blend_weights(oof[folds != 0], y_bad[folds != 0], "nnls"))
    # fitting the weights on the scored rows themselves flatters the blend
    in_sample = oof @ fit_blend_weights(oof, y, "nnls")
    assert np.sqrt(np.mean((in_sample - y) ** 2)) <= score + 1e-12
