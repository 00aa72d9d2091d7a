"""Environment failures get a clear one-line message and exit code 3 (bad input keeps 2): a damaged
MLflow store, a model too large for memory, a tracking server that refuses or never answers, disk
full while writing the submission or copying to MLflow, and a read-only workspace (where
`comp runs`, which only reads, works). Disk full and read-only use small real tmpfs mounts."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from competition.cli import app
from competition.errors import EXIT_ENVIRONMENT
from competition.resources import BYTES_PER_PARAM, mlp_memory
from tests.conftest import sets_args
from tests.runs_support import all_runs, flat

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, flat(result.output)


@contextlib.contextmanager
def small_fs(path: Path, size: str = "256k") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `path` for the block; skipped only where mounting is not
    permitted and CI is not set (CI must be able to run it)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs for the disk tests: {done.stderr.strip()}")
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> None:
    """Write until the file system is full."""
    with open(folder / "filler", "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    with contextlib.suppress(OSError):
        os.sync()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_mlflow_store_is_named_in_one_line(workspace: Path, hp_data_dir: Path, damage: str) -> None:
    db = workspace / "mlflow_runs" / "mlflow.db"
    db.parent.mkdir()
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    else:
        MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    code, out = invoke("runs", "house-prices")
    assert code == EXIT_ENVIRONMENT, out
    assert out.startswith(f"Error: The MLflow store {db} is damaged") and "Traceback" not in out
    code, out = invoke("train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args())
    assert code == EXIT_ENVIRONMENT and f"{db} is damaged" in out, out


def test_memory_estimate_counts_weights_optimizer_and_best_copy() -> None:
    est = mlp_memory(width=10, hidden=4, depth=2, members=3, batch_size=8, n_folds=1, n_rows=100)
    per_member = 10 * 4 + 4 + (4 * 4 + 4) + 4 + 1  # input layer, one hidden-to-hidden layer, output layer
    assert est.parameters == 3 * per_member
    assert est.bytes == 3 * per_member * BYTES_PER_PARAM + 3 * 8 * 4 * 2 * 3 * 4 + 100 * 10 * 4


def test_a_model_too_large_for_memory_is_refused_before_training(workspace: Path, hp_data_dir: Path) -> None:
    start = time.perf_counter()
    code, out = invoke("train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args("mlp.hidden=100000"))
    assert code == EXIT_ENVIRONMENT, out
    assert "The MLP would need at least" in out and "is available" in out and "mlp.hidden=100000" in out
    assert time.perf_counter() - start < 60
    assert not all_runs(workspace) and not (workspace / "models").exists()


def test_a_tracking_server_that_refuses_is_reported_quickly(workspace: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    code, out = invoke("runs", "house-prices", "--tracking-uri", uri)
    assert code == EXIT_ENVIRONMENT, out
    assert f"contacting {uri} ..." in out and f"Cannot reach the MLflow tracking server {uri}" in out


def test_a_tracking_server_that_never_answers_times_out(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMP_TRACKING_TIMEOUT_SECONDS", "1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)  # accepts the connection in the kernel, never answers
        uri = f"http://127.0.0.1:{s.getsockname()[1]}"
        start = time.perf_counter()
        code, out = invoke("train", "house-prices", "--data-dir", str(hp_data_dir), "--tracking-uri", uri,
                           *sets_args())
        waited = time.perf_counter() - start
    assert code == EXIT_ENVIRONMENT, out
    assert f"contacting {uri} ..." in out and "did not answer within 1 s" in out
    assert waited < 60
    assert not (workspace / "models").exists()


@pytest.mark.parametrize(
    ("folder", "doing"),
    [("submissions", "write the submission"), ("mlflow_runs/artifacts", "copy the run's files to the MLflow store")],
)
def test_disk_full_while_writing_ends_the_run_failed_with_a_clear_message(
    workspace: Path, hp_data_dir: Path, folder: str, doing: str
) -> None:
    with small_fs(workspace / folder) as mount:
        fill(mount)
        code, out = invoke("train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args())
    assert code == EXIT_ENVIRONMENT, out
    assert f"Could not {doing}" in out and "no space left on the device" in out and "Traceback" not in out
    runs = all_runs(workspace)
    assert runs and {r.info.status for r in runs} == {"FAILED"}


STORE_WITH_ONE_RUN = """
import sys
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
exp = client.create_experiment("house-prices")
run = client.create_run(exp, run_name="kept", tags={"comp_kind": "train"})
client.set_terminated(run.info.run_id, "FINISHED")
"""


def test_runs_works_in_a_read_only_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ro"
    with small_fs(ws, "16m"):
        db = ws / "mlflow_runs" / "mlflow.db"
        db.parent.mkdir()
        # in a child process, so that no open sqlite handle keeps the file system busy
        subprocess.run([sys.executable, "-c", STORE_WITH_ONE_RUN, f"sqlite:///{db}"], check=True, timeout=120)
        subprocess.run(["mount", "-o", "remount,ro", str(ws)], check=True)
        monkeypatch.chdir(ws)
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = runner.invoke(app, ["runs", "house-prices", "--format", "json"])
        monkeypatch.chdir(tmp_path)
    assert result.exit_code == 0, result.output
    assert '"name": "kept"' in result.output
