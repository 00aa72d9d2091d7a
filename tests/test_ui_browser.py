"""`comp ui` in a real browser: headless Chromium renders the experiment's runs page and a run's
page, and a competitor finds there what they came for (the run's name and its OOF score).

Skipped without /usr/bin/chromium only outside CI; with CI=true a missing browser fails
(`.ci/run` installs Debian's chromium)."""

from __future__ import annotations

import contextlib
import html
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from competition.cli import app
from competition.ui_server import stop_group
from tests.conftest import sets_args

CHROMIUM = Path("/usr/bin/chromium")


def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {CHROMIUM} is missing: .ci/run installs Debian's chromium package.")
    pytest.skip(f"no {CHROMIUM} (install Debian's chromium package to run this test)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_text(browser: Path, url: str, profile: Path) -> str:
    """The visible text of `url` after its scripts ran, from Chromium's serialized DOM."""
    out = subprocess.run(
        [str(browser), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--window-size=1600,1000", "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", out.stdout, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


def test_ui_pages_show_run_name_and_oof_score(workspace: Path, hp_data_dir: Path, tmp_path: Path) -> None:
    browser = chromium()
    out = CliRunner().invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--model", "mlp",
                                   *sets_args()])
    assert out.exit_code == 0, out.output
    run_id = next(line.split()[-1] for line in out.output.splitlines() if line.startswith("run id:"))
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    oof = f"{client.get_run(run_id).data.metrics['oof_log_rmse']:.5f}"
    name = f"OOF {oof} · mlp · kfold3 · 240 rows"
    assert client.get_run(run_id).info.run_name == name
    experiment = client.get_experiment_by_name("house-prices").experiment_id

    port = free_port()
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PATH": path}
    log = tmp_path / "ui.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-c", "from competition.cli import app; app()", "ui", "--port", str(port)],
            cwd=workspace, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # MLflow's server takes 10-25 s to answer on a quiet machine
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{base}/health", timeout=2).status == 200:
                    break
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "comp ui did not answer /health within 240 s"
            time.sleep(0.5)
        runs_page = page_text(browser, f"{base}/#/experiments/{experiment}/runs", tmp_path / "profile1")
        assert name in runs_page, runs_page[:3000]
        assert "house-prices/train.csv" in runs_page  # the Dataset column
        run_page = page_text(browser, f"{base}/#/experiments/{experiment}/runs/{run_id}", tmp_path / "profile2")
        assert name in run_page, run_page[:3000]
        assert f"OOF log-RMSE {oof}" in run_page  # the description
        assert "oof_log_rmse" in run_page and "comp train" in run_page  # metrics and Source
    finally:
        stop_group(server, grace=20)  # also the workers left in the group after the parent exited
