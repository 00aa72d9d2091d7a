"""Regularization: CV error against weight decay, dropout and batch size, the default marked.

Weight-decay and dropout values are per-member overrides of one batched call (same shape);
each batch size changes the steps per epoch, so it gets its own call."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from competition.diagnose import figures
from competition.diagnose.common import Gap, Section, f4, fmt_value, judge, paired_gap, pct, table, undecided_hint
from competition.diagnose.context import DiagnoseContext, Variant, VariantResult

KNOBS = (
    ("weight decay", "weight_decay", "weight_decays", True),
    ("dropout", "dropout", "dropouts", False),
    ("batch size", "batch_size", "batch_sizes", True),
)


def sweep(ctx: DiagnoseContext, attr: str, setting: str) -> list[Variant]:
    d = ctx.default
    values = sorted(set(getattr(ctx.settings, setting)) | {getattr(d, attr)})
    return [dataclasses.replace(d, **{attr: type(getattr(d, attr))(x)}) for x in values]


def plan(ctx: DiagnoseContext) -> tuple[list[Variant], list[Variant]]:
    return [v for _, attr, setting, _ in KNOBS for v in sweep(ctx, attr, setting)], []


def _reading(name: str, attr: str, d: Variant, best: Variant, gap: Gap, kind: str, reference: float, hint: str) -> str:
    dv, bv = getattr(d, attr), getattr(best, attr)
    if bv == dv:
        return f"{name}: the default {fmt_value(dv)} is the best value tried."
    more = bv > dv
    if attr == "batch_size":
        way = "larger batches (less gradient noise)" if more else "smaller batches (more gradient noise)"
    else:
        way = f"{'more' if more else 'less'} {name}"
    head = f"{name}: best {fmt_value(bv)} vs default {fmt_value(dv)}"
    size = f"{gap.diff:.4f} ({pct(gap.diff / reference)})"
    if kind == "negligible":
        return f"{head}, only {size} apart — no real difference."
    if kind == "noise":
        return f"{head}: {way} looks better by {size}, but within fold noise ({gap.describe()}).{hint}"
    return f"{head}: {way} helps, by {size}, beyond fold noise ({gap.describe()})."


def run(ctx: DiagnoseContext, out: Path) -> Section:
    d = ctx.default
    alpha = ctx.settings.alpha
    panels, readings, body, metrics, data = [], [], [], {}, {}
    status = "ok"
    default_r = ctx.evaluate([d])[d]
    for name, attr, setting, log in KNOBS:
        variants = sweep(ctx, attr, setting)
        results: dict[Variant, VariantResult] = ctx.evaluate(variants)
        best = min(variants, key=lambda v: results[v].oof_valid)
        gap = paired_gap(results[best], default_r)
        kind = judge(gap, results[best].oof_valid, alpha, ctx.settings.min_gain)
        hint = undecided_hint(gap, ctx.settings.repeats, ctx.split)
        readings.append(_reading(name, attr, d, best, gap, kind, results[best].oof_valid, hint))
        if best != d and kind == "real":
            status = "warn"
        values = [getattr(v, attr) for v in variants]
        panels.append(
            {
                "name": name,
                "values": values,
                "train": [results[v].train for v in variants],
                "valid": [results[v].oof_valid for v in variants],
                "valid_std": [float(np.std(results[v].fold_valid)) for v in variants],
                "default": getattr(d, attr),
                "best": getattr(best, attr),
                "log": log,
            }
        )
        rows = [
            [
                fmt_value(getattr(v, attr)) + (" (default)" if v == d else "") + (" ← minimum" if v == best else ""),
                f4(results[v].train),
                f4(results[v].oof_valid),
                f4(float(np.std(results[v].fold_valid))),
                str(int(results[v].best_epoch.mean()) + 1),
            ]
            for v in variants
        ]
        body += [f"### {name}", "", *table([name, "train", "validation (CV)", "fold std", "mean best epoch"], rows), ""]
        key = attr
        metrics[f"best_{key}"] = float(getattr(best, attr))
        metrics[f"best_{key}_valid"] = results[best].oof_valid
        metrics[f"default_{key}_minus_best"] = gap.diff
        metrics[f"default_{key}_minus_best_p"] = gap.p
        data[attr] = {
            "values": [float(x) for x in values],
            "valid": [results[v].oof_valid for v in variants],
            "train": [results[v].train for v in variants],
            "best": float(getattr(best, attr)),
            "default": float(getattr(d, attr)),
        }
    plot = figures.sweeps(
        out / "regularization.png",
        f"{ctx.spec.name} · CV error vs regularization ({len(ctx.matrices().folds)} folds, {ctx.split}; "
        f"star = default, ring = minimum)",
        panels,
    )
    intro = [
        f"Each knob is varied alone around the default ({d.depth}×{d.hidden}, weight decay {d.weight_decay:g}, "
        f"dropout {d.dropout:g}, batch {d.batch_size}). Weight decay is AdamW's decoupled decay "
        "(multiplied by the learning rate each step). A gap is beyond fold noise when Nadeau & Bengio's corrected "
        "resampled t-test of the per-fold gaps (Machine Learning 52, 2003: the variance is widened because folds "
        f"share training rows) gives p < {alpha:g}, with {len(ctx.matrices().folds) - 1} degrees of freedom "
        f"({len(ctx.matrices().folds)} folds); gaps under {pct(ctx.settings.min_gain)} of the error are called "
        "negligible.",
        "",
    ]
    return Section(
        key="regularization",
        title="Regularization",
        status=status,
        verdict=" ".join(readings),
        body=intro + body,
        plots=[plot],
        metrics=metrics,
        data=data,
    )
