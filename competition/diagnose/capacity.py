"""Capacity: CV error against model size over a width × depth grid, to place the default on the
under-fitting (left of the minimum) or over-fitting (right) side."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from competition.diagnose import figures
from competition.diagnose.common import Section, f4, judge, paired_gap, pct, table, undecided_hint
from competition.diagnose.context import DiagnoseContext, Variant


def grid(ctx: DiagnoseContext) -> list[Variant]:
    """Every width × depth of the settings plus the default shape, other knobs at their defaults."""
    d = ctx.default
    points = [dataclasses.replace(d, hidden=w, depth=k) for k in ctx.settings.depths for w in ctx.settings.widths]
    return list(dict.fromkeys([*points, d]))


def plan(ctx: DiagnoseContext) -> tuple[list[Variant], list[Variant]]:
    return grid(ctx), []


def run(ctx: DiagnoseContext, out: Path) -> Section:
    variants = grid(ctx)
    results = ctx.evaluate(variants)
    n_in = ctx.matrices().n_features
    d = ctx.default
    points = sorted(
        ((v.n_params(n_in), v, results[v]) for v in variants), key=lambda p: (p[0], p[1].depth, p[1].hidden)
    )
    best_params, best_v, best_r = min(points, key=lambda p: p[2].oof_valid)
    default_r = results[d]
    default_params = d.n_params(n_in)
    gap = paired_gap(best_r, default_r)
    lines: dict[int, list[tuple[int, int, float, float]]] = {}
    rows = []
    for params, v, r in points:
        lines.setdefault(v.depth, []).append((v.hidden, params, r.train, r.oof_valid))
        mark = " (default)" if v == d else ""
        mark += " ← minimum" if v == best_v else ""
        rows.append(
            [
                f"{v.depth}×{v.hidden}{mark}",
                f"{params:,}",
                f4(r.train),
                f4(r.oof_valid),
                f4(float(r.fold_valid.std())),
                str(int(r.best_epoch.mean()) + 1),
            ]
        )
    plot = figures.capacity(
        out / "capacity.png",
        f"{ctx.spec.name} · CV error vs model size ({len(ctx.matrices().folds)} folds, {ctx.split})",
        lines,
        (default_params, default_r.oof_valid),
        (best_params, best_r.oof_valid),
    )
    valids = [p[2].oof_valid for p in points]
    spread = (max(valids) - min(valids)) / min(valids)
    alpha = ctx.settings.alpha
    if best_v == d:
        side = "at"
        verdict = (
            f"The default {d.depth}×{d.hidden} ({default_params:,} parameters) is the best size tried "
            f"(CV log-RMSE {default_r.oof_valid:.4f})."
        )
    else:
        side = "left" if default_params < best_params else "right"
        reading = (
            "under-fitting side: a larger network should help"
            if side == "left"
            else "over-fitting side: a smaller network should do as well or better"
        )
        verdict = (
            f"The minimum is {best_v.depth}×{best_v.hidden} ({best_params:,} parameters, CV {best_r.oof_valid:.4f}); "
            f"the default {d.depth}×{d.hidden} ({default_params:,}, CV {default_r.oof_valid:.4f}) sits {side} of it, "
            f"on the {reading}"
        )
        rel = gap.diff / best_r.oof_valid
        kind = judge(gap, best_r.oof_valid, alpha, ctx.settings.min_gain)
        if kind == "real":
            verdict += f" (the default is {gap.diff:.4f} worse: {gap.describe()}, below {alpha:g})."
        elif kind == "negligible":
            verdict += f" — but only {gap.diff:.4f} ({pct(rel)}) apart: the default is effectively at the minimum."
        else:
            verdict += (
                f" — the default is {gap.diff:.4f} ({pct(rel)}) worse, but {gap.describe()}: not beyond fold noise "
                f"at {alpha:g}, treat it as a hint." + undecided_hint(gap, ctx.settings.repeats, ctx.split)
            )
    if spread < 0.02:
        verdict += f" Size barely matters here: every setting is within {pct(spread)} of the best."
    train_drop = points[0][2].train - points[-1][2].train
    body = [
        f"Grid: widths {', '.join(map(str, ctx.settings.widths))} × depths {', '.join(map(str, ctx.settings.depths))}"
        f" (plus the default shape), all other settings at their defaults; {n_in} input features. "
        "Train = evaluation-mode error on the training rows at the early-stopping epoch.",
        "",
        *table(["depth×width", "parameters", "train", "validation (CV)", "fold std", "mean best epoch"], rows),
        "",
        f"From the smallest to the largest model training error changes by {-train_drop:+.4f} while validation "
        f"error changes by {points[-1][2].oof_valid - points[0][2].oof_valid:+.4f}.",
        "",
        f"Default vs minimum: {gap.describe()} (Nadeau & Bengio's corrected resampled t-test, which widens the "
        "variance for folds that share training rows; Machine Learning 52, 2003).",
    ]
    return Section(
        key="capacity",
        title="Capacity",
        status="ok",
        verdict=verdict,
        body=body,
        plots=[plot],
        metrics={
            "best_params": float(best_params),
            "best_valid": best_r.oof_valid,
            "default_params": float(default_params),
            "default_valid": default_r.oof_valid,
            "default_minus_best": gap.diff,
            "default_minus_best_t": gap.t,
            "default_minus_best_p": gap.p,
            "default_minus_best_df": float(gap.df),
        },
        data={
            "points": [
                {"hidden": v.hidden, "depth": v.depth, "params": p, "train": r.train, "valid": r.oof_valid}
                for p, v, r in points
            ],
            "best": {"hidden": best_v.hidden, "depth": best_v.depth, "params": best_params},
            "default_side": side,
        },
    )
