"""`comp train --resume`: an interrupted run continues from its last finished fold and ends
with exactly the result of an uninterrupted run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from competition import devices
from competition.cli import app
from competition.models import linear_family, mlp_family
from tests.conftest import sets_args

runner = CliRunner()
ARGS = ["--model", "mlp,ridge", *sets_args()]


def train(data_dir: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(data_dir), *ARGS, *extra])
    return result.exit_code, result.output


def reference_submission(workspace: Path, data_dir: Path) -> bytes:
    """The submission of an uninterrupted run (its file removed, so the next run's is the only one)."""
    code, out = train(data_dir)
    assert code == 0, out
    run_id = out.split("run id:")[1].split()[0]
    reference = (workspace / "submissions" / "house-prices" / f"{run_id}.csv").read_bytes()
    shutil.rmtree(workspace / "submissions")
    return reference


def test_resume_continues_from_the_last_finished_fold(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The reference: an uninterrupted run in its own workspace.
    reference = reference_submission(workspace, hp_data_dir)

    # Interrupt the second run while ridge trains its second fold. On one core the families train
    # one after another (ridge waits for the MLP's core), so the MLP family is done by then; the
    # reference above trained them side by side wherever there are two cores or more.
    monkeypatch.setattr(devices, "cpu_cores", lambda: 1)
    real_fit = linear_family.LinearFamily.fit
    calls = {"ridge": 0}

    def fit_then_stop(self, mats, y, members, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["ridge"] += 1
        if calls["ridge"] == 2:
            raise KeyboardInterrupt
        return real_fit(self, mats, y, members, *args, **kwargs)

    monkeypatch.setattr(linear_family.LinearFamily, "fit", fit_then_stop)
    code, out = train(hp_data_dir)
    assert code == 130
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("house-prices")
    killed = [r for r in client.search_runs([exp.experiment_id]) if r.info.status == "KILLED"]
    assert len(killed) == 1
    run_id = killed[0].info.run_id
    assert not (workspace / "submissions").exists()
    pieces = sorted(p.name for p in (workspace / "models" / "house-prices" / ".partial" / run_id).iterdir())
    assert pieces == ["lock", "mlp-cv-fold-0-1-2", "ridge-cv-fold-0", "run.json"]

    # Resume: the finished pieces are reused (the MLP is not trained again), the rest is trained.
    monkeypatch.setattr(linear_family.LinearFamily, "fit", real_fit)

    def no_mlp(*args: object, **kwargs: object) -> None:
        raise AssertionError("the MLP family finished before the interruption and must not train again")

    monkeypatch.setattr(mlp_family, "train_members", no_mlp)
    code, out = train(hp_data_dir, "--resume", run_id)
    assert code == 0, out
    assert out.split("run id:")[1].split()[0] == run_id
    assert (workspace / "submissions" / "house-prices" / f"{run_id}.csv").read_bytes() == reference
    assert client.get_run(run_id).info.status == "FINISHED"
    assert not (workspace / "models" / "house-prices" / ".partial" / run_id).exists()
    assert len([r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("comp_kind") == "train"]) == 2


def test_ctrl_c_while_families_train_side_by_side_stops_them_all_and_resumes_to_the_same_result(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On two cores ridge trains beside the MLP; Ctrl-C inside ridge's second fold stops the MLP at
    its next epoch, leaves no training thread behind, and `--resume` ends with the bytes of an
    uninterrupted run trained one family after another (one core)."""
    import threading

    monkeypatch.setattr(devices, "cpu_cores", lambda: 1)
    reference = reference_submission(workspace, hp_data_dir)

    monkeypatch.setattr(devices, "cpu_cores", lambda: 2)
    real_fit = linear_family.LinearFamily.fit
    real_train = mlp_family.train_members
    seen = {"ridge": 0, "mlp_epochs": 0}

    def fit_then_stop(self, mats, y, members, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen["ridge"] += 1
        if seen["ridge"] == 2:
            deadline = time.monotonic() + 60
            while seen["mlp_epochs"] == 0 and time.monotonic() < deadline:
                time.sleep(0.001)  # Ctrl-C once the MLP beside it is training
            raise KeyboardInterrupt
        return real_fit(self, mats, y, members, *args, **kwargs)

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        outer = kwargs["on_epoch"]

        def on_epoch(epoch: int, active: int) -> None:
            seen["mlp_epochs"] += 1
            outer(epoch, active)

        return real_train(*args, **{**kwargs, "on_epoch": on_epoch})

    monkeypatch.setattr(linear_family.LinearFamily, "fit", fit_then_stop)
    monkeypatch.setattr(mlp_family, "train_members", counted)
    code, out = train(hp_data_dir)
    assert code == 130, out
    assert not [t for t in threading.enumerate() if t.name.startswith("comp-")]  # every worker ended
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("house-prices")
    killed = [r for r in client.search_runs([exp.experiment_id]) if r.info.status == "KILLED"]
    assert len(killed) == 1
    run_id = killed[0].info.run_id
    pieces = sorted(p.name for p in (workspace / "models" / "house-prices" / ".partial" / run_id).iterdir())
    assert pieces == ["lock", "ridge-cv-fold-0", "run.json"]  # the MLP was stopped before it finished
    assert 0 < seen["mlp_epochs"] < int(dict(a.split("=") for a in sets_args()[1::2])["mlp.epochs"])

    monkeypatch.setattr(linear_family.LinearFamily, "fit", real_fit)
    monkeypatch.setattr(mlp_family, "train_members", real_train)
    code, out = train(hp_data_dir, "--resume", run_id)
    assert code == 0, out
    assert (workspace / "submissions" / "house-prices" / f"{run_id}.csv").read_bytes() == reference
    assert client.get_run(run_id).info.status == "FINISHED"


def test_resume_of_an_unknown_run_is_refused(workspace: Path, hp_data_dir: Path) -> None:
    code, out = train(hp_data_dir, "--resume", "feedface")
    assert code == 2 and "Nothing to resume" in out
