"""MLflow tracking: an experiment per competition, a parent run per command, nested fold runs.

Default store: sqlite under the workspace's mlflow_runs/ with artifacts beside it (the plain
folder store is deprecated in MLflow 3). Metrics go in batches (`log_batch`), never one call
per value, because single writes to sqlite dominate a short run otherwise.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from competition.errors import EnvironmentFailure, environment_failure
from competition.paths import Workspace

SECRET_MARKERS = ("key", "token", "secret", "password", "credential")


def resolve_tracking_uri(uri: str | None, workspace: Workspace) -> str:
    if uri:
        return uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    with contextlib.suppress(OSError):  # a read-only workspace can still be read
        workspace.mlflow_dir.mkdir(parents=True, exist_ok=True)
    return workspace.default_tracking_uri


_READY: set[str] = set()

DAMAGE_MARKERS = ("file is not a database", "malformed", "not a database", "no such table", "alembic", "migrat",
                  "revision", "out-of-date database schema", "database disk image")


def reachability_timeout() -> float:
    """Seconds to wait for a tracking server: COMP_TRACKING_TIMEOUT_SECONDS, default 10."""
    try:
        return max(0.1, float(os.environ.get("COMP_TRACKING_TIMEOUT_SECONDS", "10")))
    except ValueError:
        return 10.0


def check_reachable(uri: str, timeout: float | None = None) -> None:
    """For an http(s) tracking URI: one GET of `<uri>/health` with a short timeout, announced by a
    `contacting <uri> ...` line on stderr. Any HTTP answer (even an error status) counts as
    reachable; a refused connection, a DNS failure or no answer in time raises EnvironmentFailure.
    Other URIs (sqlite, databricks, ...) are not checked."""
    if not uri.lower().startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    timeout = reachability_timeout() if timeout is None else timeout
    print(f"contacting {uri} ...", file=sys.stderr, flush=True)
    silent = EnvironmentFailure(
        f"The MLflow tracking server {uri} did not answer within {timeout:g} s; check that it is running and "
        "reachable, or use another --tracking-uri."
    )
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered
    except TimeoutError as exc:
        raise silent from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise silent from exc
        raise EnvironmentFailure(
            f"Cannot reach the MLflow tracking server {uri} ({reason}); check that it is running and the "
            "address, or use another --tracking-uri."
        ) from exc


def store_failure(uri: str, exc: BaseException) -> EnvironmentFailure | None:
    """An EnvironmentFailure naming the sqlite file when `exc` says the store is damaged, full or
    read-only; None for other errors."""
    text = str(exc)
    low = text.lower()
    path = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else uri
    first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)[:200]
    if "disk is full" in low or "no space left" in low:
        return EnvironmentFailure(f"The MLflow store {path} cannot be written: the disk is full ({first}).")
    if "readonly database" in low or "read-only" in low:
        return EnvironmentFailure(f"The MLflow store {path} is read-only ({first}); this command needs to write it.")
    if any(marker in low for marker in DAMAGE_MARKERS):
        return EnvironmentFailure(
            f"The MLflow store {path} is damaged or not an MLflow database ({first}). Move it away (runs in it "
            "are lost to comp) or restore it from a backup; a new store is created on the next run."
        )
    return None


def client(uri: str) -> Any:
    """An MlflowClient whose store is created/migrated under a file lock.

    MLflow builds and migrates a new sqlite store on first use; two `comp` processes doing that
    at once on the same file fail ("duplicate column"), so the first use is serialized. In a
    read-only workspace the lock cannot be taken and is skipped (nothing is created there).
    Raises EnvironmentFailure for a damaged sqlite store or an unreachable tracking server."""
    from mlflow.tracking import MlflowClient

    if uri in _READY:
        return MlflowClient(tracking_uri=uri)
    if not uri.startswith("sqlite:///"):
        check_reachable(uri)
        _READY.add(uri)
        return MlflowClient(tracking_uri=uri)
    import fcntl

    db = Path(uri.removeprefix("sqlite:///"))
    lock_path = Path(str(db) + ".lock")
    lock = None
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "a")  # noqa: SIM115
    except OSError as exc:
        if not db.exists():
            raise environment_failure(exc, f"create the MLflow store {db}") from exc
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        mlflow_client = MlflowClient(tracking_uri=uri)
        mlflow_client.search_experiments(max_results=1)
    except Exception as exc:
        failure = store_failure(uri, exc)
        if failure is None:
            raise
        raise failure from None
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
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
    """Thin wrapper over MlflowClient for one parent run and its nested runs.

    Nested runs started with `start(..., parent_id=...)` and not yet ended are remembered, so
    when the parent ends on an error or interruption they end with it (never left RUNNING)."""

    def __init__(self, uri: str, experiment: str, workspace: Workspace) -> None:
        self.uri = uri
        self.client = client(uri)
        self.experiment_id = experiment_id(self.client, experiment, workspace, uri)
        self.open_children: dict[str, str] = {}
        """nested run id -> parent run id, for nested runs still RUNNING."""

    def start(self, run_name: str | None, tags: dict[str, str], parent_id: str | None = None) -> str:
        all_tags = {k: str(v) for k, v in tags.items()}
        if parent_id:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=all_tags)
        if parent_id:
            self.open_children[run.info.run_id] = parent_id
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
        self.open_children.pop(run_id, None)

    def end_quietly(self, run_id: str, status: str) -> bool:
        """End a run and its open nested runs on the way out of an error; a store that cannot be
        written (disk full, server gone) is reported on stderr instead of hiding the first error."""
        ok = True
        for child, parent in list(self.open_children.items()):
            if parent == run_id:
                ok = self._try_end(child, status) and ok
        return self._try_end(run_id, status) and ok

    def _try_end(self, run_id: str, status: str) -> bool:
        try:
            self.end(run_id, status)
            return True
        except Exception as exc:
            print(f"Warning: could not mark MLflow run {run_id} {status} ({str(exc).splitlines()[0][:200]}); "
                  "`comp runs` will show it as RUNNING (dead or stale).", file=sys.stderr)
            return False

    def end_stale_children(self, parent_id: str, status: str = "KILLED") -> list[str]:
        """End nested runs of `parent_id` still RUNNING from an earlier, dead process (before a
        resume); returns their ids."""
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and attributes.status = 'RUNNING'",
            max_results=1000,
        )
        stale = [r.info.run_id for r in found]
        for run_id in stale:
            self.client.set_terminated(run_id, status=status)
        return stale

    @contextlib.contextmanager
    def closing(self, run_id: str) -> Iterator[RunStatus]:
        """End the run with its status (FINISHED unless the block sets another), KILLED on Ctrl-C
        (or SIGTERM/SIGHUP inside `signals.interrupts_as_keyboard`), FAILED on any error; its
        open nested runs end with it. A run is never left RUNNING unless the store itself
        cannot be written, which is then said on stderr."""
        outcome = RunStatus()
        try:
            yield outcome
        except KeyboardInterrupt:
            self.end_quietly(run_id, "KILLED")
            raise
        except BaseException:
            self.end_quietly(run_id, "FAILED")
            raise
        self.end(run_id, outcome.status)
