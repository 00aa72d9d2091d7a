"""Helpers for the run-lifecycle tests: run `comp` in a child process that stops itself at a
chosen point (SIGTERM, SIGHUP, SIGKILL), and read the workspace's MLflow runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]

# argv[1] says how the child stops: TERM/HUP during MLP training, KILL while fold runs are logged
# (after the bundle and the submission are written).
STOPPING_CHILD = """
import os, signal, sys, time
from competition import run as run_module
from competition.models import mlp_family
mode = sys.argv[1]
if mode in ("TERM", "HUP"):
    def stop(*args, **kwargs):
        os.kill(os.getpid(), getattr(signal, "SIG" + mode))
        time.sleep(60)
    mlp_family.train_members = stop
else:
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    run_module.learning_curve = die
from competition.cli import app
sys.argv = ["comp", *sys.argv[2:]]
app()
"""


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_stopping_child(mode: str, workspace: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", STOPPING_CHILD, mode, *args],
        cwd=workspace, env=child_env(), capture_output=True, text=True, timeout=300,
    )


def store(workspace: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")


def all_runs(workspace: Path) -> list:
    client = store(workspace)
    exp = client.get_experiment_by_name("house-prices")
    return [] if exp is None else client.search_runs([exp.experiment_id], max_results=1000)


def flat(text: str) -> str:
    return " ".join(text.split())
