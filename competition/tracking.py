"""MLflow tracking: an experiment per competition, a parent run per command, nested fold runs.

Default store: sqlite under the workspace's mlflow_runs/ with artifacts beside it (the plain
folder store is deprecated in MLflow 3). Metrics go in batches (`log_batch`), never one call
per value, because single writes to sqlite dominate a short run otherwise.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from competition.paths import Workspace

SECRET_MARKERS = ("key", "token", "secret", "password", "credential")


def resolve_tracking_uri(uri: str | None, workspace: Workspace) -> str:
    if uri:
        return uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    workspace.mlflow_dir.mkdir(parents=True, exist_ok=True)
    return workspace.default_tracking_uri


_READY: set[str] = set()


def client(uri: str) -> Any:
    """An MlflowClient whose store is created/migrated under a file lock.

    MLflow builds and migrates a new sqlite store on first use; two `comp` processes doing that
    at once on the same file fail ("duplicate column"), so the first use is serialized."""
    from mlflow.tracking import MlflowClient

    if uri in _READY or not uri.startswith("sqlite:///"):
        return MlflowClient(tracking_uri=uri)
    import fcntl

    lock_path = Path(uri.removeprefix("sqlite:///") + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            mlflow_client = MlflowClient(tracking_uri=uri)
            mlflow_client.search_experiments(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _READY.add(uri)
    return mlflow_client


def experiment_id(mlflow_client: Any, name: str, workspace: Workspace, uri: str) -> str:
    """Get or create the competition's experiment (in the main process, before any parallel work)."""
    exp = mlflow_client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if uri.startswith("sqlite:"):
        workspace.artifact_root.mkdir(parents=True, exist_ok=True)
        location = workspace.artifact_root.as_uri()
    try:
        return mlflow_client.create_experiment(name, artifact_location=location)
    except Exception:
        exp = mlflow_client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def is_secret(key: str) -> bool:
    low = key.lower()
    return any(marker in low for marker in SECRET_MARKERS)


def git_commit(cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=cwd or Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class RunStatus:
    """How a run inside `RunLogger.closing` ends when its block completes."""

    status: str = "FINISHED"


class RunLogger:
    """Thin wrapper over MlflowClient for one parent run and its nested runs."""

    def __init__(self, uri: str, experiment: str, workspace: Workspace) -> None:
        self.uri = uri
        self.client = client(uri)
        self.experiment_id = experiment_id(self.client, experiment, workspace, uri)

    def start(self, run_name: str | None, tags: dict[str, str], parent_id: str | None = None) -> str:
        all_tags = {k: str(v) for k, v in tags.items()}
        if parent_id:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=all_tags)
        return run.info.run_id

    def params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in params.items() if not is_secret(k)]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def metrics(self, run_id: str, values: dict[str, float], step: int = 0) -> None:
        self.metric_series(run_id, ((k, v, step) for k, v in values.items()))

    def metric_series(self, run_id: str, points: Iterable[tuple[str, float, int]]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, int(s)) for k, v, s in points]
        for i in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[i : i + 1000])

    def tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def artifacts(self, run_id: str, folder: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(folder), artifact_path)

    def artifact(self, run_id: str, file: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(file), artifact_path)

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    @contextlib.contextmanager
    def closing(self, run_id: str) -> Iterator[RunStatus]:
        """End the run with its status (FINISHED unless the block sets another), KILLED on Ctrl-C,
        FAILED on any error: a run is never left RUNNING."""
        outcome = RunStatus()
        try:
            yield outcome
        except KeyboardInterrupt:
            self.end(run_id, "KILLED")
            raise
        except BaseException:
            self.end(run_id, "FAILED")
            raise
        self.end(run_id, outcome.status)
