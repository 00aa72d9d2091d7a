"""Every way a run ends is recorded truly: SIGTERM/SIGHUP like Ctrl-C, nested runs end with their
parent, the message matches the disk and gives the resume command, kill -9 then --resume leaves
nothing RUNNING, and a second --resume of a live run is refused."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from competition.cli import app
from competition.liveness import RunLock
from tests.conftest import sets_args
from tests.runs_support import all_runs, flat, run_stopping_child

runner = CliRunner()


def resume_args(output: str) -> list[str]:
    """The arguments of the printed `Resume with: comp train ...` command."""
    line = next(ln for ln in output.splitlines() if "Resume with:" in ln)
    words = shlex.split(line.split("Resume with:", 1)[1])
    assert words[:2] == ["comp", "train"]
    return words[2:]


def test_sigterm_ends_the_run_like_ctrl_c_and_the_printed_command_resumes_it(
    workspace: Path, hp_data_dir: Path
) -> None:
    proc = run_stopping_child("TERM", workspace, ["train", "house-prices", "--data-dir", str(hp_data_dir),
                                                  *sets_args()])
    out = flat(proc.stdout + proc.stderr)
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "Traceback" not in out
    runs = [r for r in all_runs(workspace) if r.data.tags.get("comp_kind") == "train"]
    assert len(runs) == 1 and runs[0].info.status == "KILLED"
    run_id = runs[0].info.run_id
    assert f"Interrupted (SIGTERM): run {run_id} is marked KILLED" in out
    assert "No bundle or submission written." in out
    assert (workspace / "models" / "house-prices" / ".partial" / run_id / "run.json").exists()
    args = resume_args(proc.stderr)
    assert args == ["house-prices", "--resume", run_id, "--data-dir", str(hp_data_dir)]
    done = runner.invoke(app, ["train", *args])
    assert done.exit_code == 0, done.output
    assert all(r.info.status == "FINISHED" for r in all_runs(workspace))


def test_sighup_ends_the_run_like_ctrl_c_and_handlers_are_restored(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from competition.models import mlp_family

    def hang_up(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGHUP)  # as a closed ssh session does
        time.sleep(30)

    monkeypatch.setattr(mlp_family, "train_members", hang_up)
    before = signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGTERM)
    result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args()])
    assert result.exit_code == 128 + signal.SIGHUP, result.output
    assert (signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGTERM)) == before
    run = next(r for r in all_runs(workspace) if r.data.tags.get("comp_kind") == "train")
    assert run.info.status == "KILLED"
    assert f"Interrupted (SIGHUP): run {run.info.run_id} is marked KILLED" in flat(result.output)


def test_ctrl_c_after_the_files_are_written_says_so_and_ends_every_nested_run(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from competition import run as run_module

    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # inside the first fold run, after bundle and submission

    monkeypatch.setattr(run_module, "learning_curve", stop)
    result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args()])
    out = flat(result.output)
    assert result.exit_code == 130, out
    runs = all_runs(workspace)
    parent = next(r for r in runs if r.data.tags.get("comp_kind") == "train")
    run_id = parent.info.run_id
    bundle = workspace / "models" / "house-prices" / run_id
    submission = workspace / "submissions" / "house-prices" / f"{run_id}.csv"
    assert (bundle / "bundle.json").exists() and submission.exists()
    assert f"Already written: bundle {bundle}, submission {submission}" in out
    assert "no bundle or submission written" not in out.lower()
    assert f"comp train house-prices --resume {run_id} --data-dir {hp_data_dir}" in out
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run_id]
    assert children, "the fold run was started before the interruption"
    assert {r.info.status for r in runs} == {"KILLED"}


def test_kill_9_then_resume_by_prefix_leaves_nothing_running(workspace: Path, hp_data_dir: Path) -> None:
    proc = run_stopping_child("KILL", workspace, ["train", "house-prices", "--data-dir", str(hp_data_dir),
                                                  *sets_args()])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    runs = all_runs(workspace)
    parent = next(r for r in runs if r.data.tags.get("comp_kind") == "train")
    run_id = parent.info.run_id
    stale_fold = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run_id]
    assert [r.info.status for r in stale_fold] == ["RUNNING"] and parent.info.status == "RUNNING"

    listed = runner.invoke(app, ["runs", "house-prices", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    row = next(r for r in json.loads(listed.output) if r["run_id"] == run_id)
    assert row["status"] == "RUNNING" and row["liveness"] == "dead"  # its lock is free: the process died

    resumed = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--resume", run_id[:12]])
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.split("run id:")[1].split()[0] == run_id
    after = {r.info.run_id: r.info.status for r in all_runs(workspace)}
    assert "RUNNING" not in after.values()
    assert after[run_id] == "FINISHED" and after[stale_fold[0].info.run_id] == "KILLED"


def test_a_second_resume_of_a_run_in_progress_is_refused(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from competition.models import mlp_family

    real = mlp_family.train_members

    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mlp_family, "train_members", stop)
    first = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), *sets_args()])
    assert first.exit_code == 130
    run_id = next(r for r in all_runs(workspace) if r.data.tags.get("comp_kind") == "train").info.run_id
    monkeypatch.setattr(mlp_family, "train_members", real)
    folder = workspace / "models" / "house-prices" / ".partial" / run_id
    with RunLock(folder, run_id):  # another process is training it (a separate open file: flock conflicts)
        second = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--resume", run_id])
        assert second.exit_code == 2, second.output
        assert "is being trained right now" in flat(second.output)
    status = {r.info.run_id: r.info.status for r in all_runs(workspace)}
    assert status[run_id] == "KILLED"  # the refused resume did not touch the run
    third = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--resume", run_id])
    assert third.exit_code == 0, third.output


def test_an_interrupt_inside_a_deferred_block_arrives_when_the_block_ends() -> None:
    """`deferred_interrupts`: Ctrl-C or SIGTERM in the block is held back, then raised as usual."""
    from competition.signals import Terminated, deferred_interrupts, interrupts_as_keyboard

    # Python's own Ctrl-C handler whatever the test worker inherited; raise_signal delivers the
    # signal to this (the main) thread at once, so no other thread or timing decides where it lands.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        steps: list[str] = []
        with pytest.raises(KeyboardInterrupt), deferred_interrupts():
            signal.raise_signal(signal.SIGINT)
            steps.append("block finished")
        assert steps == ["block finished"]
        with interrupts_as_keyboard(), pytest.raises(Terminated), deferred_interrupts():
            signal.raise_signal(signal.SIGTERM)
            steps.append("again")
        assert steps == ["block finished", "again"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_an_interrupt_swallowed_by_a_destructor_is_sent_again() -> None:
    """Python drops an exception raised in `__del__` or a weakref callback ("Exception ignored
    in ..."); inside `interrupts_as_keyboard` a Ctrl-C or SIGTERM that lands there arrives again in
    ordinary code instead of being lost (a fuzz of interrupted `comp train` runs lost 1 in 30)."""
    from competition.signals import Terminated, interrupts_as_keyboard

    class InterruptedWhileCollected:
        def __init__(self, signum: int) -> None:
            self.signum = signum

        def __del__(self) -> None:
            signal.raise_signal(self.signum)  # the handler runs here, inside the destructor

    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    hook = sys.unraisablehook
    try:
        for signum, raised in ((signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)):
            steps: list[str] = []
            with interrupts_as_keyboard(), pytest.raises(raised):
                InterruptedWhileCollected(signum)  # collected at once: its destructor swallows the interrupt
                steps.append("destructor done")
                time.sleep(5)  # the interrupt, sent again, ends this sleep
                steps.append("not interrupted")
            assert steps == ["destructor done"]
        assert sys.unraisablehook is hook
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_an_interrupt_before_a_command_runs_exits_quietly_with_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The `comp` script's entry point (pyproject) ends a Ctrl-C or SIGTERM that arrives while the
    command line is imported or its commands are built with 130/143 and one line, no traceback."""
    import tomllib

    import competition.cli
    from competition.__main__ import main
    from competition.signals import Terminated

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["comp"] == "competition.__main__:main"
    for exc, code, name in ((KeyboardInterrupt(), 130, "SIGINT"), (Terminated(signal.SIGTERM), 143, "SIGTERM")):
        def interrupted(exc: BaseException = exc) -> None:
            raise exc

        monkeypatch.setattr(competition.cli, "app", interrupted)
        with pytest.raises(SystemExit) as ended:
            main()
        assert ended.value.code == code
        assert capsys.readouterr().err == f"comp: interrupted ({name}).\n"
