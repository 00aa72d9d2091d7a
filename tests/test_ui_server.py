"""`comp ui` on loopback: the server's whole process group stops on SIGTERM, and a server that
cannot start makes `comp ui` exit non-zero quickly. Every wait here is bounded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from competition.cli import app
from competition.ui_server import group_members, serve, stop_group

REPO = Path(__file__).resolve().parents[1]

FAKE_SERVER = textwrap.dedent(
    """
    # Like `mlflow ui`: a parent that forks a worker which serves /health, and leaves it behind
    # when the parent alone is terminated (the bug: workers outliving `comp ui`).
    import http.server, os, signal, subprocess, sys, time
    port = int(sys.argv[1])
    if sys.argv[2:] == ["worker"]:
        class Health(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(b"OK")
            def log_message(self, *args):
                pass
        http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
    elif sys.argv[2:] == ["exit"]:
        sys.exit(0)
    elif sys.argv[2:] == ["mute"]:
        time.sleep(600)
    else:
        subprocess.Popen([sys.executable, __file__, str(port), "worker"])
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
        time.sleep(600)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_sigterm_stops_the_whole_server_group(tmp_path: Path) -> None:
    fake = tmp_path / "fake_server.py"
    fake.write_text(FAKE_SERVER)
    port = free_port()
    code = (
        "import sys\n"
        "from competition.ui_server import serve\n"
        f"cmd = [sys.executable, {str(fake)!r}, '{port}']\n"
        f"sys.exit(serve(cmd, '127.0.0.1', {port}, start_timeout=60, on_ready=lambda: print('READY', flush=True)))\n"
    )
    ui = subprocess.Popen([sys.executable, "-c", code], env=env(), stdout=subprocess.PIPE, text=True)
    try:
        assert ui.stdout is not None
        assert ui.stdout.readline().strip() == "READY"  # bounded by start_timeout inside serve
        (server,) = children(ui.pid)
        members = group_members(server)
        assert len(members) == 2 and listening(port)  # the parent and its worker
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=30) == 0
        assert group_members(server) == []
        assert not listening(port)
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait(timeout=10)


def test_server_that_exits_or_never_answers_is_a_failure(tmp_path: Path) -> None:
    fake = tmp_path / "fake_server.py"
    fake.write_text(FAKE_SERVER)
    port = free_port()
    t0 = time.monotonic()
    assert serve([sys.executable, str(fake), str(port), "exit"], "127.0.0.1", port, start_timeout=60) == 3
    before = set(children(os.getpid()))  # servers of session fixtures this worker already started
    started: list[int] = []
    assert serve([sys.executable, str(fake), str(port), "mute"], "127.0.0.1", port, start_timeout=1.0,
                 on_status=lambda _m: started.extend(set(children(os.getpid())) - before)) == 3
    assert time.monotonic() - t0 < 30
    assert started and all(group_members(pid) == [] for pid in started)  # the mute server was stopped


def test_stop_group_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "print('up', flush=True); time.sleep(600)"],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    t0 = time.monotonic()
    stop_group(proc, grace=0.5)
    assert proc.returncode == -signal.SIGKILL and time.monotonic() - t0 < 10
    assert group_members(proc.pid) == []


def test_comp_ui_on_a_taken_port_exits_nonzero_at_once(workspace: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        t0 = time.monotonic()
        result = CliRunner().invoke(app, ["ui", "--port", str(port)])
        assert result.exit_code == 2, result.output
        assert time.monotonic() - t0 < 5
        assert f"127.0.0.1:{port}" in result.output and "--port" in result.output


def test_sigterm_to_comp_ui_stops_the_real_mlflow_server(workspace: Path) -> None:
    """The real `comp ui`/MLflow: SIGTERM once MLflow has forked its workers; nothing stays behind."""
    port = free_port()
    cmd = [sys.executable, "-m", "competition.cli", "ui", "--port", str(port)]
    ui = subprocess.Popen(cmd, cwd=workspace, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        wait_for(lambda: len(children(ui.pid)) == 1, 60, "comp ui to start mlflow")
        (server,) = children(ui.pid)
        wait_for(lambda: len(group_members(server)) >= 2, 180, "mlflow to fork its workers")
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=60) == 0
        assert group_members(server) == []
        assert not listening(port)
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait(timeout=10)
        if server is not None and group_members(server):
            os.killpg(server, signal.SIGKILL)
