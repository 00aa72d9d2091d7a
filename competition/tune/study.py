"""The Optuna study behind `comp tune`: storage, create-or-load, and the fingerprint that keeps workers honest.

Storage. The default is an SQLite file inside the workspace (`studies/optuna.db`), opened through
Optuna's RDBStorage. Why not JournalStorage's file backend: in Optuna 5 only RDB storages
implement heartbeats (`optuna.storages._heartbeat.BaseHeartbeat`), and heartbeats are what lets a
trial of a killed worker be failed and retried instead of staying RUNNING forever. SQLite's
"database is locked" between processes is avoided with a long busy timeout (60 s: writers wait
for each other instead of failing) and by creating the schema under a file lock (two processes
creating the tables at once otherwise fail). Any other URL Optuna accepts works the same
(`postgresql://...` for workers on many machines; a plain `postgresql://` is sent to psycopg 3).
Every storage call runs to its end before a Ctrl-C or SIGTERM is delivered (`shielded_storage_class`):
an interrupt inside SQLAlchemy could leave a connection holding SQLite's write lock, and the
clean-up that marks the interrupted trials FAIL then waited out the busy timeout and failed.

Fingerprint. The study's user attributes record the competition, the family, the data digest,
the split and its fingerprint, the fixed settings and the search space. A worker whose data,
folds or settings differ is refused with a message naming what differs.
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import os
import time
import warnings
from pathlib import Path
from typing import Any

from competition.errors import CompError
from competition.paths import Workspace
from competition.signals import deferred_interrupts

HEARTBEAT_S = max(1, int(os.environ.get("COMP_TUNE_HEARTBEAT_S", "5")))
"""Seconds between a running trial's heartbeats (environment COMP_TUNE_HEARTBEAT_S, default 5)."""
GRACE_S = 4 * HEARTBEAT_S
"""A RUNNING trial without a heartbeat for this long belongs to a dead worker: it is failed and retried."""
CONNECT_TIMEOUT_S = 10


STUDY_NAME_MAX = 100


def check_study_name(name: str) -> None:
    """Refuse a study name that cannot be the folder `studies/<name>` its best configurations go to:
    empty, longer than `STUDY_NAME_MAX` characters, `.` or `..`, the storage file's own name, or
    holding a slash, a backslash or a control character. Any other text works (spaces, quotes).

    Raises CompError naming the rule."""
    problem = None
    if not name.strip():
        problem = "it is empty"
    elif len(name) > STUDY_NAME_MAX:
        problem = f"it is {len(name)} characters long (at most {STUDY_NAME_MAX})"
    elif name in (".", "..", "optuna.db"):
        problem = "that name is taken by the folder itself or its study database"
    elif any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "it holds a slash, a backslash or a control character"
    if problem is not None:
        raise CompError(
            f"--study {name!r} cannot be used: {problem}. The name is also the folder studies/<name> "
            "where the best configuration is written; use letters, digits, spaces, '-', '_' or '.'."
        )


def default_storage(workspace: Workspace) -> str:
    folder = workspace.root / "studies"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'optuna.db'}"


def _normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        try:
            import psycopg2  # noqa: F401  # SQLAlchemy's default PostgreSQL driver, when installed
        except ImportError:
            return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    if url.startswith("mysql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}


def redact(url: str) -> str:
    """The URL without its password (for messages and MLflow tags)."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


@functools.cache
def shielded_storage_class() -> type:
    """Optuna's RDBStorage with each of its methods run under `deferred_interrupts`: a Ctrl-C or
    SIGTERM that arrives during a storage call is delivered when the call returns, so no session
    is cut in two (a write half done, SQLite's lock kept by a connection the interrupt abandoned).
    Calls take milliseconds; a long wait (a busy timeout) delays the interrupt by that wait."""
    from optuna.storages import RDBStorage

    def shield(method: Any) -> Any:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with deferred_interrupts():
                return method(self, *args, **kwargs)

        return call

    methods = {
        name: shield(value)
        for name, value in vars(RDBStorage).items()
        if inspect.isfunction(value) and not name.startswith("__")
    }
    return type("ShieldedRDBStorage", (RDBStorage,), {**methods, "__module__": __name__})


def open_storage(url: str, retries: int = 5) -> Any:
    """An Optuna RDBStorage with heartbeats on, for `url`, whose calls an interrupt does not cut
    (`shielded_storage_class`); CompError when it cannot be reached.

    An unreachable server fails within about CONNECT_TIMEOUT_S seconds. Schema creation is
    retried (workers starting together race on it) and, for SQLite files, done under a file lock."""
    import optuna
    import sqlalchemy.exc
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    url = _normalize_url(url)
    with warnings.catch_warnings():  # heartbeats and their retry callback are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        kwargs = {
            "engine_kwargs": _engine_kwargs(url),
            "heartbeat_interval": HEARTBEAT_S,
            "grace_period": GRACE_S,
            "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=2),
        }
    lock = None
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.parent.is_dir():
            raise CompError(f"Study storage folder does not exist: {path.parent} (from --storage {url}).")
        lock = open(str(path) + ".lock", "w")  # noqa: SIM115  # held while the schema is created
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            for attempt in range(retries):
                try:
                    return shielded_storage_class()(url, **kwargs)
                except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                    if attempt == retries - 1:
                        raise
                    time.sleep(0.5 * (attempt + 1))  # another worker is creating the tables
    except sqlalchemy.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise CompError(f"Could not reach the study storage {redact(url)}: {reason}") from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise CompError(f"--storage {redact(url)} is not a storage URL Optuna can open: {exc}") from None
    except ImportError as exc:
        raise CompError(f"--storage {redact(url)} needs a database driver that is not installed: {exc}") from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as exc:
        raise CompError(f"Could not open the study storage {redact(url)}: {exc}") from None
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
    raise AssertionError("unreachable")


BASELINE_ATTR = "comp_baseline"
"""User attribute of the trial that runs the configuration a study starts from (see open_study)."""


def open_study(name: str, storage: Any, sampler: Any, pruner: Any, fingerprint: dict[str, Any],
               baseline: dict[str, Any] | None = None) -> Any:
    """Create the study or load it (workers starting at once both end up with the same one), then
    check or record its fingerprint. Raises CompError when the study was made for other data,
    folds or settings.

    The worker that records the fingerprint also queues `baseline` (the Optuna parameters that
    draw the searched settings' values without the search, `SearchSpace.baseline`: competition
    defaults, `--set` and the space file's fixed values) as the study's first trial, so the best
    trial is never worse than that configuration on the search's folds and every study shows what
    the search gained over it (Optuna's `enqueue_trial`; two workers that both queue it leave
    one, `skip_if_exists`)."""
    import optuna

    for attempt in range(5):
        try:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                sampler=sampler,
                pruner=pruner,
                direction="minimize",
                load_if_exists=True,
            )
            break
        except optuna.exceptions.DuplicatedStudyError:
            time.sleep(0.2 * (attempt + 1))
        except KeyError:  # created by another worker between Optuna's check and its read
            time.sleep(0.2 * (attempt + 1))
    else:
        raise CompError(f"Could not create or load study {name!r}.")
    stored = study.user_attrs
    if not stored.get("comp_fingerprint"):
        for key, value in fingerprint.items():
            study.set_user_attr(key, value)
        if baseline:
            study.enqueue_trial(baseline, user_attrs={BASELINE_ATTR: True}, skip_if_exists=True)
        study.set_user_attr("comp_fingerprint", True)
        stored = study.user_attrs
    check_fingerprint(name, stored, fingerprint)
    return study


_LABELS = {
    "competition": "competition",
    "family": "model family",
    "data_digest": "data (digest of train.csv/test.csv)",
    "split": "split",
    "split_fingerprint": "folds (split fingerprint)",
    "settings": "fixed settings",
    "space": "search space",
}


def check_fingerprint(name: str, stored: dict[str, Any], mine: dict[str, Any]) -> None:
    """Refuse to add trials to a study made for other data, folds or settings."""
    for key, label in _LABELS.items():
        if key in stored and stored[key] != mine.get(key):
            theirs, ours = stored[key], mine.get(key)
            if isinstance(theirs, dict) and isinstance(ours, dict):
                diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
                detail = f"they differ in {', '.join(diff[:6])}"
            else:
                detail = f"study: {str(theirs)[:40]}, this worker: {str(ours)[:40]}"
            raise CompError(
                f"Study {name!r} was made for other {label} ({detail}). Every trial of a study must use the same "
                "data, folds and settings: run with the study's files and options, or start a new study (--study NAME)."
            )
