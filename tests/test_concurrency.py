"""Two `comp train` processes on one workspace and one sqlite store at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from tests.conftest import sets_args


def test_two_concurrent_trainings_both_finish_intact(workspace: Path, hp_data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from competition.cli import app; app()",
                "train",
                "house-prices",
                "--data-dir",
                str(hp_data_dir),
                "--run-name",
                name,
                *sets_args("run.threads=1"),
            ],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("first", "second")
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out
    run_ids = [out.split("run id:")[1].split()[0] for out in outputs]
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("house-prices")
    runs = client.search_runs([exp.experiment_id])
    parents = {r.info.run_id: r for r in runs if r.data.tags.get("comp_kind") == "train"}
    assert set(parents) == set(run_ids)
    for run_id in run_ids:
        assert parents[run_id].info.status == "FINISHED"
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run_id]
        # The default three-family blend: 3 families x 3 folds, each a nested fold run.
        assert len(children) == 9 and all(c.info.status == "FINISHED" for c in children)
        assert {"bundle", "plots", "submission"} <= {a.path for a in client.list_artifacts(run_id)}
        assert (workspace / "models" / "house-prices" / run_id / "bundle.json").exists()
    subs = [(workspace / "submissions" / "house-prices" / f"{r}.csv").read_bytes() for r in run_ids]
    assert subs[0] == subs[1]  # same config and seed: same predictions, no mixed-up artifacts
