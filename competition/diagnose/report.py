"""The Markdown report (verdicts first, then each section's plot and numbers) and a JSON twin."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from competition.diagnose.common import Section

BADGE = {"ok": "OK", "warn": "WARNING", "fail": "FAILED", "skip": "skipped"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def markdown(title: str, header: list[str], sections: list[Section], settings: dict[str, Any]) -> str:
    lines = [f"# {title}", "", *header, "", "## Verdicts", ""]
    for s in sections:
        lines.append(f"- **{s.title}** — {BADGE[s.status]}: {s.verdict}")
    for s in sections:
        lines += ["", f"## {s.title} ({BADGE[s.status]})", "", s.verdict, ""]
        lines += [f"![{s.title}]({p.name})" for p in s.plots]
        if s.plots:
            lines.append("")
        lines += s.body
        if s.seconds:
            lines += ["", f"_{s.seconds:.1f} s_"]
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def write(
    folder: Path,
    title: str,
    header: list[str],
    sections: list[Section],
    settings: dict[str, Any],
    extra: dict[str, Any],
) -> Path:
    """report.md and summary.json into `folder` (the plots are already there)."""
    path = folder / "report.md"
    path.write_text(markdown(title, header, sections, settings), encoding="utf-8")
    summary = {
        **extra,
        "sections": {
            s.key: {k: v for k, v in dataclasses.asdict(s).items() if k not in ("body", "plots")}
            | {"plots": [p.name for p in s.plots]}
            for s in sections
        },
        "settings": settings,
    }
    (folder / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2), encoding="utf-8")
    return path
