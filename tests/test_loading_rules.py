"""What is loaded is what was written: one rule for which bundles are candidates (finished ones;
`latest`, full ids and unique prefixes), bundles checked part against part, damaged checkpoint
pieces retrained, a damaged run.json refused clearly, files written with the user's umask."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from competition import atomic
from competition.bundle import load_bundle
from competition.cli import app
from competition.errors import CompError
from competition.runids import resolve_bundle, resolve_partial
from tests.conftest import sets_args
from tests.runs_support import all_runs, flat

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(hp_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One finished mlp+ridge run (umask 022): its workspace and run id, trained once per module."""
    root = tmp_path_factory.mktemp("trained_ws")
    old_cwd, old_mask = os.getcwd(), os.umask(0o022)
    os.chdir(root)
    try:
        result = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--model", "mlp,ridge",
                                     *sets_args()])
        assert result.exit_code == 0, result.output
    finally:
        os.chdir(old_cwd)
        os.umask(old_mask)
    yield root, result.output.split("run id:")[1].split()[0]


def copy_models(trained: tuple[Path, str], workspace: Path) -> Path:
    """The trained bundle copied into `workspace`; returns its folder."""
    root, run_id = trained
    shutil.copytree(root / "models", workspace / "models")
    return workspace / "models" / "house-prices" / run_id


def predict(hp_data_dir: Path, run: str) -> tuple[int, str]:
    result = runner.invoke(app, ["predict", "house-prices", "--run", run, "--data-dir", str(hp_data_dir),
                                 "--out", "out.csv"])
    return result.exit_code, flat(result.output)


def test_files_get_the_users_umask_not_0600(trained: tuple[Path, str]) -> None:
    root, run_id = trained
    submission = root / "submissions" / "house-prices" / f"{run_id}.csv"
    bundle = root / "models" / "house-prices" / run_id
    assert stat.S_IMODE(submission.stat().st_mode) == 0o644
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o755
    for path in [bundle / "bundle.json", bundle / "mlp" / "cv" / "mlp_weights.safetensors", bundle / "oof.csv"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_atomic_writes_follow_another_umask_and_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    old = os.umask(0o027)
    try:
        atomic.write_text(tmp_path / "a.csv", "x\n")
        with atomic.folder(tmp_path / "bundle") as tmp:
            (tmp / "one.json").write_text("{}")
            (tmp / "sub").mkdir()
            (tmp / "sub" / "two.txt").write_text("2")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "bundle").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "bundle" / "sub" / "two.txt").stat().st_mode) == 0o640
    # a.csv + its folder; one.json, two.txt, sub/, the temp folder and the parent after the rename
    assert len(synced) >= 7


def test_latest_skips_a_half_written_bundle_and_a_prefix_finds_the_run(
    trained: tuple[Path, str], workspace: Path, hp_data_dir: Path
) -> None:
    bundle = copy_models(trained, workspace)
    run_id = bundle.name
    models = bundle.parent
    # A newer, still-being-written bundle of another run: a hidden temp folder with a bundle.json.
    half = models / ".ffff0000aaaa.xyz.tmp"
    shutil.copytree(bundle, half)
    (half / "bundle.json").write_text((bundle / "bundle.json").read_text().replace(run_id, "ffff0000aaaa"))
    os.utime(half / "bundle.json", (2e9, 2e9))
    assert resolve_bundle(models, "latest") == bundle
    assert resolve_bundle(models, run_id[:12]) == bundle
    code, out = predict(hp_data_dir, run_id[:8])
    assert code == 0, out
    assert (workspace / "out.csv").read_bytes() == (trained[0] / "submissions" / "house-prices"
                                                    / f"{run_id}.csv").read_bytes()


def test_an_ambiguous_prefix_lists_the_matches(trained: tuple[Path, str], workspace: Path, hp_data_dir: Path) -> None:
    bundle = copy_models(trained, workspace)
    twin = bundle.parent / (bundle.name[:4] + "0" * (len(bundle.name) - 4))
    shutil.copytree(bundle, twin)
    code, out = predict(hp_data_dir, bundle.name[:4])
    assert code == 2 and "ambiguous" in out and bundle.name in out and twin.name in out
    # --from-run and blend take the same prefixes through the same function
    code2 = runner.invoke(app, ["blend", "house-prices", bundle.name[:4], bundle.name])
    assert code2.exit_code == 2 and "ambiguous" in flat(code2.output)


def test_resume_takes_a_prefix_and_refuses_an_ambiguous_one(tmp_path: Path) -> None:
    models = tmp_path / "models"
    for rid in ("abc123", "abd456"):
        (models / ".partial" / rid).mkdir(parents=True)
        (models / ".partial" / rid / "run.json").write_text("{}")
    assert resolve_partial(models, "abc") == "abc123"
    with pytest.raises(CompError, match="Run abc123 has not finished"):  # not 'Unknown run id'
        resolve_bundle(models, "abc")
    with pytest.raises(CompError, match=r"ambiguous.*abc123, abd456"):
        resolve_partial(models, "ab")
    with pytest.raises(CompError, match="Nothing to resume"):
        resolve_partial(models, "zz")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("drop_member", "lists 5 members but"),
        ("drop_run_id", "it has no 'run_id'"),
        ("bad_config", "its config cannot be read"),
        ("drop_features", "fold_1.json is missing"),
    ],
)
def test_a_damaged_bundle_is_refused_naming_the_file(
    trained: tuple[Path, str], workspace: Path, hp_data_dir: Path, damage: str, expected: str
) -> None:
    bundle = copy_models(trained, workspace)
    path = bundle / "bundle.json"
    meta = json.loads(path.read_text())
    if damage == "drop_member":
        meta["families"][0]["members"].pop()
    elif damage == "drop_run_id":
        del meta["run_id"]
    elif damage == "bad_config":
        meta["config"] = {"mlp": {"hidden": "wide"}}
    else:
        (bundle / "features" / "fold_1.json").unlink()
    path.write_text(json.dumps(meta))
    with pytest.raises(CompError, match=expected):
        load_bundle(bundle)
    code, out = predict(hp_data_dir, "latest")
    assert code == 2 and expected in out and "Traceback" not in out


def interrupt_in_second_ridge_fold(monkeypatch: pytest.MonkeyPatch, hp_data_dir: Path, workspace: Path) -> str:
    from competition import devices
    from competition.models import linear_family

    # One core: ridge trains after the MLP (not beside it), so the MLP's piece is saved by then.
    monkeypatch.setattr(devices, "cpu_cores", lambda: 1)
    real_fit = linear_family.LinearFamily.fit
    calls = {"n": 0}

    def fit_then_stop(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(linear_family.LinearFamily, "fit", fit_then_stop)
    out = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--model", "mlp,ridge",
                              *sets_args()])
    assert out.exit_code == 130, out.output
    monkeypatch.setattr(linear_family.LinearFamily, "fit", real_fit)
    return next(r for r in all_runs(workspace) if r.data.tags.get("comp_kind") == "train").info.run_id


def test_damaged_checkpoint_pieces_are_retrained_and_a_damaged_run_json_is_refused(
    workspace: Path, hp_data_dir: Path, monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str]
) -> None:
    run_id = interrupt_in_second_ridge_fold(monkeypatch, hp_data_dir, workspace)
    folder = workspace / "models" / "house-prices" / ".partial" / run_id
    run_json = folder / "run.json"
    good = run_json.read_text()
    run_json.write_text(good[: len(good) // 2])  # truncated
    refused = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--resume", run_id])
    text = flat(refused.output)
    assert refused.exit_code == 2 and f"{run_json} is damaged" in text and "Traceback" not in text
    assert {r.info.status for r in all_runs(workspace)} == {"KILLED"}  # not flipped to FAILED

    run_json.write_text(good)
    (folder / "ridge-cv-fold-0" / "piece.json").write_text("")  # empty
    weights = folder / "mlp-cv-fold-0-1-2" / "model" / "mlp_weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])  # a bad safetensors file
    done = runner.invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--resume", run_id])
    text = flat(done.output)
    assert done.exit_code == 0, text
    assert "ridge-cv-fold-0 is damaged" in text and "mlp-cv-fold-0-1-2 is damaged" in text
    assert "training it again" in text
    # retrained pieces give exactly the uninterrupted run's submission (same config and data)
    reference = trained[0] / "submissions" / "house-prices" / f"{trained[1]}.csv"
    assert (workspace / "submissions" / "house-prices" / f"{run_id}.csv").read_bytes() == reference.read_bytes()
