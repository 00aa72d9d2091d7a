"""What every diagnostic returns (a `Section`) and the small helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from competition.diagnose.context import VariantResult

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass
class Section:
    """One diagnostic's outcome: a one-line verdict, the numbers behind it, and its plots."""

    key: str
    title: str
    status: Status
    verdict: str
    """Plain-language reading, one or two sentences."""
    body: list[str] = field(default_factory=list)
    """Markdown lines: tables of numbers and notes."""
    plots: list[Path] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    """Numbers to log to MLflow (keys without the section prefix)."""
    data: dict = field(default_factory=dict)
    """Structured numbers for callers and tests (JSON-friendly)."""
    seconds: float = 0.0


@dataclass(frozen=True)
class Gap:
    """Paired per-fold comparison of two settings: b minus a, on validation log-RMSE."""

    diff: float
    se: float
    z: float

    def beyond(self, z_needed: float) -> bool:
        return abs(self.z) >= z_needed


def judge(gap: Gap, reference: float, z_needed: float, min_gain: float) -> Literal["negligible", "noise", "real"]:
    """Whether a gap matters: too small to care about, not beyond fold noise, or real."""
    if abs(gap.diff) < min_gain * reference:
        return "negligible"
    return "real" if gap.beyond(z_needed) else "noise"


def paired_gap(a: VariantResult, b: VariantResult) -> Gap:
    """Folds are shared, so fold-to-fold difficulty cancels; the spread of the per-fold
    differences says whether a gap is more than training noise."""
    d = np.asarray(b.fold_valid) - np.asarray(a.fold_valid)
    diff = float(b.oof_valid - a.oof_valid)
    se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    z = diff / se if se > 0 else (float("inf") if diff != 0 else 0.0)
    return Gap(diff=diff, se=se, z=z)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def f4(x: float) -> str:
    """Four decimals; tiny non-zero values (a memorized batch) in scientific notation instead of 0.0000."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.1e}" if 0 < abs(x) < 5e-5 else f"{x:.4f}"


def pct(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if abs(x) < 1e-4:
        return "<0.01%" if x >= 0 else "-<0.01%"
    return f"{100 * x:.2g}%" if abs(x) < 0.01 else f"{100 * x:.1f}%"


def fmt_value(x: float) -> str:
    """Compact hyper-parameter value: 0.0003 -> 3e-04, 128 -> 128, 0.3 -> 0.3."""
    if x == 0:
        return "0"
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.0e}" if abs(x) < 1e-2 else f"{x:g}"
