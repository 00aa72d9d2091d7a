"""What every diagnostic returns (a `Section`) and the small helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import stats

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
    """Paired per-fold comparison of two settings, b minus a, on validation log-RMSE, with the corrected
    resampled t-test of Nadeau & Bengio (see `corrected_paired_t`)."""

    diff: float
    """Difference of the pooled out-of-fold scores (b - a), as `comp train` scores."""
    t: float
    """Corrected paired t statistic of the per-fold differences."""
    df: int
    """Degrees of freedom: folds (all repeats) minus one."""
    p: float
    """Two-sided p-value (Student t with `df` degrees of freedom); 1.0 when there is nothing to test."""
    n_folds: int

    def decided(self, alpha: float) -> bool:
        """Whether the gap is beyond fold noise at level `alpha`."""
        return self.p < alpha

    def describe(self) -> str:
        """'corrected paired t = 2.10, p = 0.17 over 3 folds (2 degrees of freedom)'."""
        return (f"corrected paired t = {self.t:.2f}, p = {self.p:.2g} over {self.n_folds} folds "
                f"({self.df} degree{'s' if self.df != 1 else ''} of freedom)")


def corrected_paired_t(d: np.ndarray, test_train_ratio: float) -> tuple[float, int, float]:
    """(t, degrees of freedom, two-sided p) of the corrected resampled t-test on per-fold differences `d`.

    Nadeau, C. and Bengio, Y. (2003), "Inference for the Generalization Error", Machine Learning 52,
    239-281: when the J folds' training sets overlap, the per-fold differences are correlated and the
    plain paired t-test (variance s²/J) is far too liberal. Their corrected variance is
    (1/J + n_test/n_train) · s², with s² the sample variance of `d` (ddof 1) and n_test/n_train the ratio
    of validation to training rows per fold (1/(k-1) for k-fold; Bouckaert and Frank (2004) use it the
    same way for repeated k-fold). The statistic has J - 1 degrees of freedom; the p-value is scipy's
    Student t survival function. Zero variance gives t = ±inf (p = 0) unless the mean is 0 (p = 1)."""
    d = np.asarray(d, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 2:
        return float("nan"), 0, 1.0
    mean, var = float(d.mean()), float(d.var(ddof=1))
    if var == 0.0:
        return (0.0, n - 1, 1.0) if mean == 0.0 else (float(np.copysign(np.inf, mean)), n - 1, 0.0)
    t = mean / np.sqrt((1.0 / n + test_train_ratio) * var)
    return float(t), n - 1, float(2.0 * stats.t.sf(abs(t), df=n - 1))


def judge(gap: Gap, reference: float, alpha: float, min_gain: float) -> Literal["negligible", "noise", "real"]:
    """Whether a gap matters: too small to care about, not beyond fold noise (p >= alpha), or real."""
    if abs(gap.diff) < min_gain * reference:
        return "negligible"
    return "real" if gap.decided(alpha) else "noise"


def test_train_ratio(result: VariantResult) -> float:
    """Mean validation-to-training row ratio over the folds a result was scored on."""
    ratios = {m.fold: len(m.valid_idx) / max(len(m.train_idx), 1) for m in result.members}
    return float(np.mean(list(ratios.values()))) if ratios else 0.0


def paired_gap(a: VariantResult, b: VariantResult) -> Gap:
    """Folds are shared, so fold-to-fold difficulty cancels; the corrected paired t-test of the per-fold
    differences says whether a gap is more than training noise."""
    d = np.asarray(b.fold_valid) - np.asarray(a.fold_valid)
    t, df, p = corrected_paired_t(d, test_train_ratio(a))
    return Gap(diff=float(b.oof_valid - a.oof_valid), t=t, df=df, p=p, n_folds=len(d))


def undecided_hint(gap: Gap, settings_repeats: int, split: str) -> str:
    """What to run when the folds cannot decide: repeated shuffled k-fold (more degrees of freedom)."""
    if split != "kfold":
        return ""
    k = gap.n_folds // max(settings_repeats, 1)
    repeats = max(3, settings_repeats * 2)
    return (f" To decide, repeat the cross-validation: --set diagnose.repeats={repeats} "
            f"({repeats} × {k} folds, {repeats * k - 1} degrees of freedom).")


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
