"""`comp tune` with several workers against real servers: a PostgreSQL cluster (Debian's packages, on
loopback, started here in a temporary folder) holds the study, a real `mlflow server` the runs.

With CI=true a missing PostgreSQL fails the tests instead of skipping them (`.ci/run` installs it)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from competition.ui_server import stop_group

# Ctrl-C's default handling, as in a terminal: a test run started in the background (`pytest &` in a
# script) passes on SIGINT ignored, and a worker that ignores it would never see the test's Ctrl-C.
COMP = [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from competition.cli import app; app()"]
FAST = ["--set", "run.folds=3", "--set", "run.seeds=2", "--set", "run.threads=1", "--rescore-seeds", "0",
        "--no-keep-best"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing; CI must install it (.ci/run)")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A private PostgreSQL cluster on 127.0.0.1 (trust auth), stopped at the end; yields a server URL
    without a database name."""
    bindir = _pg_bin()
    if bindir is None:
        _missing("PostgreSQL (initdb)")
    import tempfile

    # Not under pytest's temp root: that is private to the user running pytest.
    folder = Path(tempfile.mkdtemp(prefix="comp-test-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the packages' postgres user
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                    "-E", "UTF8"], check=True, capture_output=True)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=50"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w",
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _new_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on loopback (sqlite backend, proxied artifacts)."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job-runner processes
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mlflow server did not start: {(folder / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    try:
        yield url
    finally:
        stop_group(proc, grace=30)
        log.close()


def _worker(data_dir: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*COMP, "tune", "house-prices", "--data-dir", str(data_dir), *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_two_workers_share_one_study(postgres: str, mlflow_server: str, hp_data_dir: Path, tmp_path: Path) -> None:
    """Started at the same moment on one study: no race creating it, distinct trial numbers, every trial
    finished, the budget met exactly, and every trial a nested MLflow run under the one study run."""
    import optuna
    from mlflow.tracking import MlflowClient

    storage = _new_database(postgres, "two_workers")
    args = ["--model", "ridge", "--trials", "10", "--study", "shared", "--storage", storage,
            "--tracking-uri", mlflow_server, *FAST]
    workers = [_worker(hp_data_dir, tmp_path, *args) for _ in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    study = optuna.load_study(study_name="shared", storage=storage.replace("postgresql://", "postgresql+psycopg://"))
    trials = [t for t in study.get_trials() if not t.user_attrs.get("surplus")]
    # (a trial asked by both workers when one was left is given back unscored, FAIL + "surplus")
    assert len({t.number for t in study.get_trials()}) == len(study.get_trials())
    assert len(trials) == 10 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers took trials

    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("house-prices")
    runs = client.search_runs([exp.experiment_id], "tags.study = 'shared' and tags.comp_kind = 'tune-trial'")
    assert sorted(int(r.data.tags["trial_number"]) for r in runs) == sorted(t.number for t in trials)
    parents = {r.data.tags["mlflow.parentRunId"] for r in runs}
    assert len(parents) == 1
    study_run = client.get_run(parents.pop())
    assert study_run.data.tags["comp_kind"] == "tune"
    assert study_run.data.metrics["best_oof_log_rmse"] == pytest.approx(study.best_value)
    assert {a.path for a in client.list_artifacts(study_run.info.run_id, "plots")} >= {"plots/optimization_history.png"}


def test_killed_worker_trial_is_failed_and_retried(postgres: str, hp_data_dir: Path, tmp_path: Path) -> None:
    """SIGKILL a worker mid-trial: its heartbeats stop, the next worker fails that trial and retries it,
    and the study still completes its budget; nothing stays RUNNING."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    storage = _new_database(postgres, "killed")
    env = {"COMP_TUNE_HEARTBEAT_S": "1"}  # a trial without heartbeat for 4 s is stale
    args = ["--model", "mlp", "--population", "1", "--trials", "2", "--study", "killed", "--storage", storage,
            "--set", "mlp.hidden=16", "--set", "mlp.epochs=60", "--set", "mlp.patience=60", *FAST]
    url = optuna.storages.RDBStorage(storage.replace("postgresql://", "postgresql+psycopg://"))
    victim = _worker(hp_data_dir, tmp_path, *args, env=env)
    deadline = time.monotonic() + 300
    running = []
    while not running:
        assert victim.poll() is None and time.monotonic() < deadline, "the first worker never started a trial"
        time.sleep(0.3)
        try:
            study = optuna.load_study(study_name="killed", storage=url)
        except KeyError:
            continue
        running = [t.number for t in study.get_trials() if t.state.name == "RUNNING"]
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    survivor = _worker(hp_data_dir, tmp_path, *args, env=env)
    out = survivor.communicate(timeout=600)[0]
    assert survivor.returncode == 0, out
    trials = optuna.load_study(study_name="killed", storage=url).get_trials()
    states = {t.number: t.state.name for t in trials}
    assert "RUNNING" not in states.values()
    assert states[running[0]] == "FAIL"
    assert sum(s in ("COMPLETE", "PRUNED") for s in states.values()) == 2
    assert running[0] in [RetryHeartbeatStaleTrialCallback.retried_trial_number(t) for t in trials]


def test_unknown_database_is_a_clear_error(postgres: str, hp_data_dir: Path, tmp_path: Path) -> None:
    worker = _worker(hp_data_dir, tmp_path, "--model", "ridge", "--storage", f"{postgres}/no_such_db", *FAST)
    out = worker.communicate(timeout=600)[0]
    assert worker.returncode == 2 and "Could not reach the study storage" in out and "no_such_db" in out
    assert "Traceback" not in out


def _wait_for_running(study_name: str, url: str, proc: subprocess.Popen, timeout: float = 300) -> list[int]:
    import optuna

    from competition.tune.study import open_storage

    deadline = time.monotonic() + timeout
    storage = None
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "the worker never started a trial"
        time.sleep(0.3)
        if storage is None:
            if not Path(url.removeprefix("sqlite:///")).parent.is_dir():
                continue
            storage = open_storage(url)  # under the same file lock as the worker's schema creation
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            continue
        running = [t.number for t in study.get_trials() if t.state.name == "RUNNING"]
        if running:
            return running


def test_ctrl_c_ends_cleanly_and_the_study_continues(hp_data_dir: Path, tmp_path: Path) -> None:
    """SIGINT mid-trial (the default embedded storage): exit 130, the trial marked FAIL (not RUNNING),
    and the same command afterwards finishes the study's budget."""
    import optuna

    args = ["--model", "mlp", "--population", "2", "--trials", "2", "--set", "mlp.hidden=16",
            "--set", "mlp.epochs=60", "--set", "mlp.patience=60", *FAST]
    url = f"sqlite:///{tmp_path / 'studies' / 'optuna.db'}"
    worker = _worker(hp_data_dir, tmp_path, *args)
    running = _wait_for_running("house-prices-mlp", url, worker)
    worker.send_signal(signal.SIGINT)
    out = worker.communicate(timeout=600)[0]
    assert worker.returncode == 130, out
    assert "run the same command again to continue the study" in " ".join(out.split())
    states = {t.number: t.state.name for t in optuna.load_study(study_name="house-prices-mlp", storage=url).trials}
    assert "RUNNING" not in states.values() and all(states[n] == "FAIL" for n in running)

    again = _worker(hp_data_dir, tmp_path, *args)
    out = again.communicate(timeout=600)[0]
    assert again.returncode == 0, out
    trials = optuna.load_study(study_name="house-prices-mlp", storage=url).trials
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 2
