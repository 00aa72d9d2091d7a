"""`comp runs` tells a live RUNNING run from a dead one: by the run lock on this machine, else by
the heartbeat the run sends to the tracking server (seen from any machine)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from mlflow.tracking import MlflowClient
from rich.console import Console
from typer.testing import CliRunner

from competition.cli import app
from competition.liveness import HEARTBEAT_TAG, INTERVAL_TAG, Heartbeat, RunLock, classify
from competition.runs_table import render

runner = CliRunner()


def make_run(client: MlflowClient, exp: str, name: str, tags: dict[str, str]) -> str:
    run = client.create_run(exp, run_name=name, tags={"comp_kind": "train", **tags})
    return run.info.run_id


def test_runs_shows_live_dead_stale_and_unknown(workspace: Path) -> None:
    db = workspace / "mlflow_runs" / "mlflow.db"
    db.parent.mkdir()
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.create_experiment("house-prices")
    now = time.time()
    make_run(client, exp, "fresh", {HEARTBEAT_TAG: f"{now - 20:.0f}", INTERVAL_TAG: "30"})
    make_run(client, exp, "stale", {HEARTBEAT_TAG: f"{now - 600:.0f}", INTERVAL_TAG: "30"})
    make_run(client, exp, "silent", {})
    locked = make_run(client, exp, "locked", {HEARTBEAT_TAG: f"{now - 600:.0f}"})
    died = make_run(client, exp, "died", {HEARTBEAT_TAG: f"{now - 5:.0f}"})
    done = make_run(client, exp, "done", {})
    client.set_terminated(done, "FINISHED")
    partial = workspace / "models" / "house-prices" / ".partial"
    RunLock(partial / died, died).acquire()  # then released by hand: like a process that ended
    (partial / died / "lock").touch()
    with RunLock(partial / locked, locked):
        out = runner.invoke(app, ["runs", "house-prices", "--format", "json"])
        table = runner.invoke(app, ["runs", "house-prices"])
    assert table.exit_code == 0, table.output
    assert out.exit_code == 0, out.output
    state = {r["name"]: r["liveness"] for r in json.loads(out.output)}
    assert state == {"fresh": "live", "stale": "stale", "silent": "unknown", "locked": "live", "died": "dead",
                     "done": None}
    wide = Console(file=io.StringIO(), width=250)
    render(json.loads(out.output), wide, "house-prices")
    shown = wide.file.getvalue()
    assert "RUNNING (stale)" in shown and "RUNNING (dead)" in shown and "RUNNING (live)" in shown


def test_classify_uses_the_writers_interval() -> None:
    tags = {HEARTBEAT_TAG: "1000", INTERVAL_TAG: "5"}
    assert classify("RUNNING", tags, "absent", now=1019).state == "live"
    assert classify("RUNNING", tags, "absent", now=1021).state == "stale"
    assert classify("FINISHED", tags, "absent", now=1021).state == ""


class CountingClient:
    def __init__(self) -> None:
        self.beats: list[str] = []

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        if key == HEARTBEAT_TAG:
            self.beats.append(value)


def test_heartbeat_beats_until_stopped() -> None:
    fake = CountingClient()
    with Heartbeat(fake, "run", interval=0.05):
        time.sleep(0.4)
    n = len(fake.beats)
    time.sleep(0.15)
    assert n >= 3 and len(fake.beats) == n  # beats while running, none after stop
