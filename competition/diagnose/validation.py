"""Validation scheme: for a time-ordered competition, how much shuffled k-fold flatters the model
compared with forward-only time folds (the test set is later in time than every training row).

A third scheme — forward-only folds over a random order — has the time folds' exact training
sizes without the time order, so the gap splits into 'less training data' and 'time order'."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from competition.diagnose import figures
from competition.diagnose.common import Section, f4, pct, table
from competition.diagnose.context import RANDOM_BLOCKS, DiagnoseContext, Variant
from competition.metrics import log_rmse_from_logs

OPTIMISM_WARN = 0.05
"""A run configured for shuffled k-fold gets a warning when time order shows it this much optimistic."""


def applies(ctx: DiagnoseContext) -> bool:
    return ctx.order_key is not None


def plan(ctx: DiagnoseContext) -> tuple[list[Variant], list[Variant]]:
    return ([ctx.default], []) if applies(ctx) else ([], [])


def run(ctx: DiagnoseContext, out: Path) -> Section:
    if not applies(ctx):
        return Section(
            key="validation",
            title="Validation scheme",
            status="skip",
            verdict=(
                f"Skipped: {ctx.spec.name} has no time order (rows are exchangeable), so shuffled k-fold is the "
                "right scheme and there is no time-ordered CV to compare it with."
            ),
        )
    d = ctx.default
    shuffled = ctx.evaluate([d], split="kfold")[d]
    timed = ctx.evaluate([d], split="time")[d]
    blocks = ctx.evaluate([d], split=RANDOM_BLOCKS)[d]
    time_rows = np.isfinite(timed.oof)
    shuffled_same_rows = log_rmse_from_logs(shuffled.oof[time_rows], ctx.y_log[time_rows])
    optimism = timed.oof_valid - shuffled.oof_valid
    rel = optimism / timed.oof_valid
    from_order = timed.oof_valid - blocks.oof_valid
    from_size = blocks.oof_valid - shuffled.oof_valid
    n_train = {
        name: float(np.mean([len(f.train) for f in ctx.matrices(split).folds]))
        for name, split in (("kfold", "kfold"), ("time", "time"))
    }
    plot = figures.validation(
        out / "validation.png",
        f"{ctx.spec.name} · shuffled vs time-ordered CV (same model, {len(ctx.matrices('time').folds)} folds)",
        [
            ("shuffled k-fold", shuffled.oof_valid, shuffled.fold_valid),
            ("shuffled k-fold\n(time-validated rows)", shuffled_same_rows, []),
            ("forward folds,\nrandom order", blocks.oof_valid, blocks.fold_valid),
            ("forward folds,\ntime order", timed.oof_valid, timed.fold_valid),
        ],
    )
    if optimism > 0:
        verdict = (
            f"Shuffled k-fold is optimistic: it scores {shuffled.oof_valid:.4f} where time-ordered CV scores "
            f"{timed.oof_valid:.4f}, so it understates the error by {optimism:.4f} ({pct(rel)} of the honest "
            f"estimate). Split into causes: the time order itself accounts for {from_order:+.4f} and the forward "
            f"folds' smaller training parts (mean {n_train['time']:.0f} vs {n_train['kfold']:.0f} rows) for "
            f"{from_size:+.4f}. "
        )
        if from_order > 0.5 * optimism:
            verdict += (
                "Most of it is the time order: shuffled folds let the model learn from sales later than the ones "
                "it is scored on. Trust the time-ordered score for this competition."
            )
        else:
            verdict += (
                "Most of it is training-set size, not the time order (little drift to exploit here), but the "
                "test rows are later than every training row, so the time-ordered score is still the honest one."
            )
        if ctx.split == "kfold":
            verdict += " This run is configured for shuffled k-fold: switch to run.split=time."
    else:
        verdict = (
            f"Shuffled k-fold ({shuffled.oof_valid:.4f}) is not optimistic here: time-ordered CV scores "
            f"{timed.oof_valid:.4f} ({optimism:+.4f}); the time order adds {from_order:+.4f}."
        )
    rows = [
        [
            "shuffled k-fold",
            f4(shuffled.oof_valid),
            " ".join(f4(x) for x in shuffled.fold_valid),
            f"{n_train['kfold']:.0f}",
        ],
        ["shuffled k-fold, rows time folds validate", f4(shuffled_same_rows), "", ""],
        [
            "forward folds, random order",
            f4(blocks.oof_valid),
            " ".join(f4(x) for x in blocks.fold_valid),
            f"{n_train['time']:.0f}",
        ],
        [
            "forward folds, time order",
            f4(timed.oof_valid),
            " ".join(f4(x) for x in timed.fold_valid),
            f"{n_train['time']:.0f}",
        ],
    ]
    body = [
        f"Same default model and settings under each scheme; time order by `{ctx.spec.time_order_column}`.",
        "",
        *table(["scheme", "OOF log-RMSE", "per fold", "mean training rows"], rows),
    ]
    return Section(
        key="validation",
        title="Validation scheme",
        status="warn" if rel > OPTIMISM_WARN and ctx.split == "kfold" else "ok",
        verdict=verdict,
        body=body,
        plots=[plot],
        metrics={
            "shuffled_cv": shuffled.oof_valid,
            "shuffled_cv_time_rows": shuffled_same_rows,
            "random_blocks_cv": blocks.oof_valid,
            "time_cv": timed.oof_valid,
            "optimism": optimism,
            "optimism_relative": rel,
        },
        data={
            "shuffled": shuffled.oof_valid,
            "time": timed.oof_valid,
            "random_blocks": blocks.oof_valid,
            "optimism": optimism,
        },
    )
