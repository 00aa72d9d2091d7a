"""train -> predict -> runs through the real CLI, real MLflow (temp sqlite) and synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from competition.cli import app
from tests.conftest import sets_args

runner = CliRunner()


def run_ok(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def train_predict_runs(data_dir: Path, competition: str, model: str, extra: list[str] | None = None) -> dict:
    out = run_ok(
        [
            "train",
            competition,
            "--data-dir",
            str(data_dir),
            "--model",
            model,
            "--run-name",
            "e2e",
            *sets_args(*(extra or [])),
        ]
    )
    run_id = out.split("run id:")[1].split()[0]
    sub_path = Path("submissions") / competition / f"{run_id}.csv"
    trained = pl.read_csv(sub_path)
    test = pl.read_csv(data_dir / "test.csv", infer_schema=False)
    assert trained.columns[0] == "Id" and trained.height == test.height
    assert trained["Id"].to_list() == test["Id"].cast(pl.Int64).to_list()
    assert (trained[trained.columns[1]] > 0).all()
    # predict from the bundle alone gives the same file, byte for byte
    run_ok(["predict", competition, "--run", run_id, "--data-dir", str(data_dir), "--out", "again.csv"])
    assert Path("again.csv").read_bytes() == sub_path.read_bytes()
    run_ok(["predict", competition, "--run", "latest", "--data-dir", str(data_dir), "--out", "latest.csv"])
    assert Path("latest.csv").read_bytes() == sub_path.read_bytes()
    rows = json.loads(run_ok(["runs", competition, "--format", "json"]))
    mine = [r for r in rows if r["run_id"] == run_id]
    assert mine and mine[0]["status"] == "FINISHED" and mine[0]["oof"] is not None
    # key params: the split's, then those of each family trained, and no other family's
    sections = {"linear" if f in ("ridge", "lasso", "elasticnet") else f for f in model.split(",")}
    assert {k.split(".")[0] for k in mine[0]["params"]} == {"run", *sections}
    bundle = json.loads((Path("models") / competition / run_id / "bundle.json").read_text())
    assert abs(bundle["oof_log_rmse"] - mine[0]["oof"]) < 1e-9
    return {"run_id": run_id, "bundle": bundle, "output": out}


def test_house_prices_mlp_end_to_end(workspace: Path, hp_data_dir: Path) -> None:
    info = train_predict_runs(hp_data_dir, "house-prices", "mlp")
    bundle = info["bundle"]
    assert bundle["split"] == "kfold" and bundle["n_folds"] == 3
    # the OOF score is computed from every training row, each validated exactly once
    oof = pl.read_csv(Path("models/house-prices") / info["run_id"] / "oof.csv")
    assert oof["fold"].min() == 0 and oof.height == 240
    rmse = float(np.sqrt(np.mean((oof["blend_log"] - oof["target_log"]).to_numpy() ** 2)))
    assert rmse == pytest.approx(bundle["oof_log_rmse"])
    # the model learned something: better than predicting the mean log price
    y = oof["target_log"].to_numpy()
    assert rmse < np.std(y)
    # tracking: parent + one nested run per fold with per-epoch curves
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("house-prices")
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.info.run_id == info["run_id"])
    for key in ("cv_mean_log_rmse", "cv_std_log_rmse", "oof_log_rmse"):
        assert key in parent.data.metrics
    for tag in ("competition", "model", "split", "git_commit", "data_digest", "device"):
        assert tag in parent.data.tags
    assert parent.data.params["mlp.hidden"] == "32"
    folds = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == info["run_id"]]
    assert len(folds) == 3
    history = client.get_metric_history(folds[0].info.run_id, "log_rmse/valid")
    assert len(history) >= 2 and [m.step for m in history] == list(range(len(history)))
    artifacts = {a.path for a in client.list_artifacts(info["run_id"])}
    assert {"bundle", "plots", "submission"} <= artifacts
    plots = [a.path for a in client.list_artifacts(info["run_id"], "plots")]
    assert any(p.endswith(".png") for p in plots)


def test_holdout_split(workspace: Path, hp_data_dir: Path) -> None:
    out = run_ok(["train", "house-prices", "--data-dir", str(hp_data_dir), "--split", "holdout", *sets_args()])
    assert "holdout, 1 folds, 48 validated rows" in out


def test_ui_starts_mlflow_on_the_workspace_store(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from competition import ui_server

    seen: list[list[str]] = []
    monkeypatch.setattr(ui_server, "serve", lambda cmd, *a, **kw: seen.append(cmd) or 0)
    result = runner.invoke(app, ["ui", "--port", "5999"])
    assert result.exit_code == 0, result.output
    cmd = seen[0]
    assert cmd[1:4] == ["-m", "mlflow", "ui"]
    assert cmd[cmd.index("--backend-store-uri") + 1] == f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}"
    assert cmd[cmd.index("--port") + 1] == "5999"


def test_data_info_config_and_competitions(workspace: Path, hp_data_dir: Path) -> None:
    out = run_ok(["data", "info", "house-prices", "--data-dir", str(hp_data_dir)])
    assert "train: 240 rows x 81 columns" in out and "SalePrice" in out and "LotFrontage" in out
    out = run_ok(["config", "house-prices"])
    assert "mlp.hidden" in out and "run.folds" in out
    out = run_ok(["competitions"])
    assert "house-prices" in out and "california-house-prices" in out


def test_submit_without_kaggle_credentials_says_how_to_set_them(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hp_data_dir: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    sub = workspace / "sub.csv"
    ids = pl.read_csv(hp_data_dir / "test.csv", infer_schema=False)["Id"]
    pl.DataFrame({"Id": ids.cast(pl.Int64), "SalePrice": [100000.0] * len(ids)}).write_csv(sub)  # a valid file
    result = runner.invoke(app, ["submit", "house-prices", str(sub), "-m", "try", "--data-dir", str(hp_data_dir)])
    assert result.exit_code == 2
    assert "KAGGLE_USERNAME" in result.output and "kaggle.json" in result.output
    assert "Traceback" not in result.output


def test_config_toml_round_trips() -> None:
    import dataclasses
    import tomllib

    from competition.config import build_config, load_toml, to_toml

    config = build_config({"mlp.hidden": 77, "run.model": "mlp,lasso", "run.drop_outliers": True})
    text = to_toml(config)
    flat = {f"{s}.{k}": v for s, vals in tomllib.loads(text).items() for k, v in vals.items()}
    assert build_config(flat) == config
    path = Path(__file__).parent / "_tmp_config.toml"
    try:
        path.write_text(text)
        assert build_config(load_toml(path)) == config
    finally:
        path.unlink()
    # quotes and backslashes in a text value are escaped (no valid setting holds one today)
    odd = dataclasses.replace(config, run=dataclasses.replace(config.run, model='mlp,"x"\\y'))
    parsed = tomllib.loads(to_toml(odd))
    assert parsed["run"]["model"] == 'mlp,"x"\\y'
