"""Ctrl-C or a crash during training: the MLflow run is marked KILLED/FAILED, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from competition.cli import app
from competition.models import mlp_family
from tests.conftest import sets_args

runner = CliRunner()


def runs_of(workspace: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("house-prices")
    return [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("comp_kind") == "train"]


def no_outputs(workspace: Path) -> bool:
    """No bundle and no submission; only the resume checkpoints under models/<comp>/.partial/."""
    models = list((workspace / "models").rglob("*")) if (workspace / "models").exists() else []
    bundles = [p for p in models if p.is_file() and ".partial" not in p.parts]
    subs = list((workspace / "submissions").rglob("*.csv")) if (workspace / "submissions").exists() else []
    return not bundles and not subs


@pytest.mark.parametrize(("error", "status", "code"), [(KeyboardInterrupt, "KILLED", 130), (RuntimeError, "FAILED", 1)])
def test_interrupted_training_marks_the_run_and_writes_nothing(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch, error: type, status: str, code: int
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise error("stopped in the middle of training")

    monkeypatch.setattr(mlp_family, "train_members", boom)
    result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args()])
    assert result.exit_code == code
    runs = runs_of(workspace)
    assert len(runs) == 1 and runs[0].info.status == status
    assert no_outputs(workspace)


def test_interrupted_bundle_write_leaves_no_partial_bundle(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from competition import run as run_module

    def half_then_crash(result: object, folder: Path, *args: object) -> None:
        (folder / "bundle.json").write_text("{half")
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "save_bundle", half_then_crash)
    result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args()])
    assert result.exit_code == 130
    assert runs_of(workspace)[0].info.status == "KILLED"
    assert no_outputs(workspace)


def test_from_run_reproduces_a_run_bit_for_bit(workspace: Path, hp_data_dir: Path) -> None:
    first = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args("mlp.hidden=24")])
    assert first.exit_code == 0, first.output
    run_id = first.output.split("run id:")[1].split()[0]
    again = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--from-run", run_id])
    assert again.exit_code == 0, again.output
    rerun_id = again.output.split("run id:")[1].split()[0]
    subs = workspace / "submissions" / "house-prices"
    assert (subs / f"{run_id}.csv").read_bytes() == (subs / f"{rerun_id}.csv").read_bytes()


def test_impossible_folds_are_refused_before_any_run_is_recorded(workspace: Path, hp_data_dir: Path) -> None:
    result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--folds", "200"])
    assert result.exit_code == 2 and "too many" in result.output
    db = workspace / "mlflow_runs" / "mlflow.db"
    assert not db.exists() or not [r for r in runs_of_any(workspace)]


def runs_of_any(workspace: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("house-prices")
    return [] if exp is None else client.search_runs([exp.experiment_id])
