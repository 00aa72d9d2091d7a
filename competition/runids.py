"""The one rule that turns what a user typed (`latest`, a full run id or a unique prefix) into a run.

Used by `comp train --resume` / `--from-run`, `comp predict --run`, `comp blend` (and any
Python caller): `resolve_bundle` for finished runs, `resolve_partial` for interrupted ones.

A finished bundle is a folder `models/<competition>/<run_id>/` holding `bundle.json`. Bundles
are written in a hidden temporary folder (`.<run_id>.*.tmp`) with `bundle.json` as the last
file, then renamed into place in one step, so a visible folder with `bundle.json` is complete.
Hidden folders (temporary bundles, `.partial/` checkpoints) are never candidates.
An interrupted run is a folder `models/<competition>/.partial/<run_id>/` holding `run.json`.
"""

from __future__ import annotations

from pathlib import Path

from competition.errors import CompError

LATEST = "latest"
PARTIAL = ".partial"


def finished_bundles(models_dir: Path) -> dict[str, Path]:
    """run id -> bundle folder, for every finished bundle under `models_dir`."""
    if not models_dir.is_dir():
        return {}
    return {
        p.name: p
        for p in models_dir.iterdir()
        if not p.name.startswith(".") and p.is_dir() and (p / "bundle.json").is_file()
    }


def interrupted_runs(models_dir: Path) -> dict[str, Path]:
    """run id -> checkpoint folder, for every interrupted run under `models_dir/.partial`."""
    root = models_dir / PARTIAL
    if not root.is_dir():
        return {}
    return {p.name: p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()
            and (p / "run.json").exists()}


def match(candidates: dict[str, Path], run: str, what: str, where: Path) -> str:
    """The one candidate id equal to `run`, else the one starting with it.

    Raises CompError for an empty reference, no match, or several matches (listing them)."""
    run = run.strip()
    if not run:
        raise CompError(f"Empty run id: give a run id, a unique prefix of one, or '{LATEST}'.")
    if run in candidates:
        return run
    matches = sorted(rid for rid in candidates if rid.startswith(run))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CompError(f"Unknown run id {run!r}: no {what} in {where} has that id or prefix. "
                        "`comp runs` lists the runs.")
    shown = ", ".join(matches[:10]) + (f" and {len(matches) - 10} more" if len(matches) > 10 else "")
    raise CompError(f"Run id prefix {run!r} is ambiguous: {len(matches)} {what}s in {where} start with it "
                    f"({shown}). Give more characters.")


def resolve_bundle(models_dir: Path, run: str) -> Path:
    """The finished bundle folder for `latest` (newest bundle.json), a run id, or a unique prefix.

    Raises CompError when there are no finished bundles, the id is unknown, or a prefix is ambiguous."""
    bundles = finished_bundles(models_dir)
    if run.strip() != LATEST:
        unfinished = [rid for rid in interrupted_runs(models_dir) if rid.startswith(run.strip()) and rid not in bundles]
        if unfinished and not any(rid.startswith(run.strip()) for rid in bundles):
            raise CompError(
                f"Run {unfinished[0]} has not finished: it has no bundle yet, only checkpoints in "
                f"{models_dir / PARTIAL / unfinished[0]}. Wait for it, or continue it with "
                f"`comp train {models_dir.name} --resume {unfinished[0]}` if it was interrupted."
            )
    if not bundles:
        raise CompError(f"No trained models in {models_dir}: run `comp train` first.")
    if run.strip() == LATEST:
        return max(bundles.values(), key=lambda p: (p / "bundle.json").stat().st_mtime)
    return bundles[match(bundles, run, "finished run", models_dir)]


def resolve_partial(models_dir: Path, run: str) -> str:
    """The full run id of an interrupted run (its checkpoint folder) from an id or unique prefix."""
    runs = interrupted_runs(models_dir)
    where = models_dir / PARTIAL
    if not runs:
        raise CompError(f"Nothing to resume for run {run!r}: no checkpoint in {where} "
                        "(the run finished, or never started here).")
    try:
        return match(runs, run, "interrupted run", where)
    except CompError as exc:
        if "ambiguous" in str(exc):
            raise
        raise CompError(f"Nothing to resume for run {run!r}: no checkpoint in {where} has that id or prefix "
                        f"(the run finished, or never started here). Resumable: {', '.join(sorted(runs))}.") from exc
