"""The report's PNGs. Every axis is labelled; parameter counts and batch sizes use log axes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from competition.diagnose.common import fmt_value

DPI = 110


def _plain_log_y(ax: plt.Axes) -> None:
    """Log y axis with decimal tick labels (0.12, not 1.2×10⁻¹): errors are read as plain numbers.

    Call after plotting: minor ticks are labelled only when the axis spans about one decade."""
    ax.set_yscale("log")
    fmt = ticker.FuncFormatter(lambda v, _: f"{v:.3g}")
    ax.yaxis.set_major_formatter(fmt)
    low, high = ax.get_ylim()
    if high / max(low, 1e-300) < 30:
        ax.yaxis.set_minor_formatter(fmt)
        ax.tick_params(axis="y", which="minor", labelsize=7)
    else:
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _count(v: float, _pos: int | None = None) -> str:
    """Parameter counts as 3k, 150k, 1.2M."""
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def curves(
    path: Path,
    title: str,
    valid: Sequence[Sequence[float]],
    train_eval: Sequence[Sequence[float]],
    best: Sequence[int],
    labels: Sequence[str],
) -> Path:
    """Left: train (evaluation mode) and validation log-RMSE per epoch per fold; right: their gap."""
    fig, (ax, gx) = plt.subplots(1, 2, figsize=(12, 4.4), dpi=DPI)
    for i, (v, t, b, label) in enumerate(zip(valid, train_eval, best, labels, strict=True)):
        c = f"C{i % 10}"
        ax.plot(np.arange(1, len(v) + 1), v, color=c, lw=1.8, label=f"{label} validation")
        if len(t):
            ax.plot(np.arange(1, len(t) + 1), t, color=c, lw=1.1, ls="--", label=f"{label} train")
        if 0 <= b < len(v):
            ax.axvline(b + 1, color=c, ls=":", lw=1)
            ax.scatter([b + 1], [v[b]], color=c, zorder=3, s=30, marker="o", edgecolor="black")
        n = min(len(v), len(t))
        if n:
            gap = np.asarray(v[:n]) - np.asarray(t[:n])
            gx.plot(np.arange(1, n + 1), gap, color=c, lw=1.5, label=label)
            if 0 <= b < n:
                gx.scatter([b + 1], [gap[b]], color=c, zorder=3, s=30, edgecolor="black")
                gx.axvline(b + 1, color=c, ls=":", lw=1)
    _plain_log_y(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("log-RMSE (log scale)")
    ax.set_title("train vs validation (dots/dotted lines: early stop)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    gx.axhline(0, color="grey", lw=0.8)
    gx.set_xlabel("epoch")
    gx.set_ylabel("validation − train log-RMSE")
    gx.set_title("generalization gap over time")
    gx.grid(alpha=0.3)
    gx.legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def capacity(
    path: Path,
    title: str,
    lines: dict[int, list[tuple[int, int, float, float]]],
    default: tuple[int, float],
    best: tuple[int, float],
) -> Path:
    """CV error against parameter count, one colour per depth: validation solid, train dashed.

    `lines`: depth -> [(width, params, train, valid)], `default`/`best`: (params, valid)."""
    fig, ax = plt.subplots(figsize=(8, 5), dpi=DPI)
    for i, (depth, pts) in enumerate(sorted(lines.items())):
        pts = sorted(pts, key=lambda p: p[1])
        c = f"C{i % 10}"
        params = [p[1] for p in pts]
        ax.plot(params, [p[3] for p in pts], color=c, marker="o", lw=1.8, label=f"depth {depth} validation")
        ax.plot(params, [p[2] for p in pts], color=c, marker=".", lw=1.1, ls="--", label=f"depth {depth} train")
        for w, p, _, v in pts:
            ax.annotate(f"w{w}", (p, v), textcoords="offset points", xytext=(3, 4), fontsize=7, color=c)
    ax.scatter([best[0]], [best[1]], s=260, facecolor="none", edgecolor="red", lw=2, zorder=4, label="minimum")
    ax.scatter([default[0]], [default[1]], s=140, marker="*", color="black", zorder=5, label="default")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_count))
    ax.xaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, p: ""))
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("CV log-RMSE")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def _zero_aware_positions(values: Sequence[float]) -> tuple[np.ndarray, bool]:
    """Positions on a log axis; a zero sits one step left of the smallest positive value."""
    vals = np.asarray(values, dtype=float)
    pos = vals[vals > 0]
    if len(pos) == 0 or (vals < 0).any():
        return vals, False
    if (vals == 0).any():
        steps = np.diff(np.log(np.sort(pos))) if len(pos) > 1 else np.array([np.log(10.0)])
        zero_at = pos.min() / np.exp(np.median(steps) if len(steps) else np.log(10.0))
        vals = np.where(vals == 0, zero_at, vals)
    return vals, True


def sweeps(path: Path, title: str, panels: list[dict]) -> Path:
    """One panel per knob: validation (solid) and train (dashed) CV log-RMSE against its value.

    Each panel: name, values, train, valid, valid_std, default, best, log (bool)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), dpi=DPI, squeeze=False)
    for ax, p in zip(axes[0], panels, strict=True):
        values = list(p["values"])
        if p["log"]:
            x, use_log = _zero_aware_positions(values)
        else:
            x, use_log = np.asarray(values, dtype=float), False
        order = np.argsort(x)
        x = x[order]
        valid = np.asarray(p["valid"])[order]
        train = np.asarray(p["train"])[order]
        std = np.asarray(p["valid_std"])[order]
        vals = [values[i] for i in order]
        ax.plot(x, valid, "o-", color="C0", lw=1.8, label="validation (CV)")
        ax.fill_between(x, valid - std, valid + std, color="C0", alpha=0.12, label="± fold std")
        ax.plot(x, train, ".--", color="C1", lw=1.1, label="train")
        d = vals.index(p["default"]) if p["default"] in vals else None
        b = vals.index(p["best"])
        ax.scatter([x[b]], [valid[b]], s=240, facecolor="none", edgecolor="red", lw=2, zorder=4, label="minimum")
        if d is not None:
            ax.axvline(x[d], color="black", ls=":", lw=1)
            ax.scatter([x[d]], [valid[d]], s=130, marker="*", color="black", zorder=5, label="default")
        if use_log:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(x)
        ax.set_xticklabels([fmt_value(v) for v in vals], fontsize=8)
        ax.set_xlabel(p["name"] + (" (log scale)" if use_log else ""))
        ax.set_ylabel("CV log-RMSE")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def random_labels(
    path: Path,
    title: str,
    series: list[tuple[str, Sequence[float], str, str]],
    levels: list[tuple[str, float, str]],
) -> Path:
    """Per-epoch curves (label, values, colour, linestyle) with constant-prediction levels."""
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=DPI)
    for label, values, color, ls in series:
        ax.plot(np.arange(1, len(values) + 1), values, color=color, ls=ls, lw=1.7, label=label)
    for label, level, color in levels:
        ax.axhline(level, color=color, ls=":", lw=1.3, label=label)
    _plain_log_y(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("log-RMSE on shuffled targets (log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _save(fig, path)


def sanity(
    path: Path,
    title: str,
    overfit: list[tuple[str, Sequence[float], float]],
    threshold: float,
    scores: list[tuple[str, float]],
) -> Path:
    """Left: one-batch overfit (RMSE / batch target std per epoch); right: model vs mean predictor."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=DPI)
    for i, (label, values, scale) in enumerate(overfit):
        ratio = np.maximum(np.asarray(values) / scale, 1e-7)  # an exact fit (0) would fall off a log axis
        ax.plot(np.arange(1, len(values) + 1), ratio, color=f"C{i}", lw=1.5, label=label)
    ax.axhline(threshold, color="red", ls="--", lw=1, label=f"pass below {threshold:g}")
    _plain_log_y(ax)
    ax.set_xlabel("epoch (one step on the same batch each)")
    ax.set_ylabel("RMSE / target std on the batch (log scale)")
    ax.set_title("overfit one small batch (no regularization)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    names = [s[0] for s in scores]
    vals = [s[1] for s in scores]
    bars = bx.bar(names, vals, color=["C0", "C7"][: len(vals)])
    for bar, v in zip(bars, vals, strict=True):
        bx.annotate(f"{v:.4f}", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
    bx.set_ylabel("CV log-RMSE")
    bx.set_title("pipeline vs predicting the training mean")
    bx.grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    return _save(fig, path)


def validation(path: Path, title: str, schemes: list[tuple[str, float, Sequence[float]]]) -> Path:
    """Per validation scheme: pooled OOF log-RMSE (diamond, labelled) and each fold's score (dots).

    Points, not bars: the differences of interest are a few percent, which bars from zero hide."""
    fig, ax = plt.subplots(figsize=(8, 4.6), dpi=DPI)
    for i, (_, oof, folds) in enumerate(schemes):
        c = f"C{i}"
        ax.scatter(np.full(len(folds), i), folds, color=c, s=22, alpha=0.7, zorder=3, label="fold" if i == 0 else None)
        ax.scatter(
            [i], [oof], color=c, marker="D", s=90, edgecolor="black", zorder=4, label="pooled OOF" if i == 0 else None
        )
        ax.annotate(f"{oof:.4f}", (i, oof), xytext=(10, -4), textcoords="offset points", fontsize=9)
    ax.set_xticks(range(len(schemes)))
    ax.set_xticklabels([s[0] for s in schemes], fontsize=8)
    ax.set_xlim(-0.5, len(schemes) - 0.2)
    ax.set_ylabel("CV log-RMSE")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    return _save(fig, path)
