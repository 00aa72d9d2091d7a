"""Sanity: the network can fit one small batch to near-zero loss, and the whole pipeline's CV
score beats predicting the training mean. Either failing means a bug, not a tuning problem,
so the command exits non-zero."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from competition.diagnose import figures
from competition.diagnose.common import Section, f4, pct, table
from competition.diagnose.context import DiagnoseContext, Variant
from competition.models.mlp import Member, train_members

N_BATCHES = 3


def plan(ctx: DiagnoseContext) -> tuple[list[Variant], list[Variant]]:
    return [ctx.default], []


def overfit_one_batch(ctx: DiagnoseContext) -> list[dict]:
    """Each member sees only its own `sanity_rows` rows, one full-batch step per epoch, without
    weight decay or dropout; its 'validation' rows are that same batch, so the curve is the fit."""
    s = ctx.settings
    mats = ctx.matrices()
    fold = mats.folds[0]
    pool = fold.train[ctx.keep[fold.train]]
    rng = np.random.default_rng(ctx.config.run.seed + 29)
    rows = min(s.sanity_rows, len(pool))
    members = []
    for b in range(N_BATCHES):
        idx = np.sort(rng.choice(pool, size=rows, replace=False))
        members.append(
            Member(fold=0, seed=ctx.config.run.seed + b, train_idx=idx, valid_idx=idx, weight_decay=0.0, dropout=0.0)
        )
    # The learning-rate schedule spans this run, not mlp.epochs, so a short run still gets the full lr.
    cfg = dataclasses.replace(ctx.mlp, batch_size=rows, patience=s.sanity_epochs + 1, epochs=s.sanity_epochs)
    trained = train_members(mats.x, ctx.y_tensor, members, cfg, epochs=s.sanity_epochs)
    ctx.trained_members += len(members)
    out = []
    for j, m in enumerate(members):
        curve = trained.history[j]["valid"]
        std = float(np.std(ctx.y_log[m.train_idx]))
        out.append({"curve": curve, "std": std, "best": float(min(curve)), "ratio": float(min(curve)) / std})
    return out


def run(ctx: DiagnoseContext, out: Path) -> Section:
    s = ctx.settings
    batches = overfit_one_batch(ctx)
    worst = max(b["ratio"] for b in batches)
    overfit_ok = worst < s.sanity_max_ratio
    d = ctx.default
    model = ctx.evaluate([d])[d]
    mean_oof, mean_folds = ctx.mean_predictor()
    beats = model.oof_valid < mean_oof
    skill = 1.0 - (model.oof_valid / mean_oof) ** 2
    plot = figures.sanity(
        out / "sanity.png",
        f"{ctx.spec.name} · sanity checks",
        [(f"batch {i + 1} ({s.sanity_rows} rows)", b["curve"], b["std"]) for i, b in enumerate(batches)],
        s.sanity_max_ratio,
        [("MLP (CV)", model.oof_valid), ("training mean", mean_oof)],
    )
    parts = []
    if overfit_ok:
        parts.append(
            f"One-batch overfit passed: on {N_BATCHES} batches of {s.sanity_rows} rows the network without "
            f"regularization drove the RMSE to at most {pct(worst)} of the batch's target spread "
            f"(needed < {pct(s.sanity_max_ratio)})."
        )
    else:
        parts.append(
            f"ONE-BATCH OVERFIT FAILED: after {s.sanity_epochs} full-batch steps the network still leaves "
            f"{pct(worst)} of the target spread on a batch of {s.sanity_rows} rows (needed < "
            f"{pct(s.sanity_max_ratio)}). A network this size should memorize that: check the features "
            "(constant or NaN columns), the target scaling, the learning rate and the optimizer."
        )
    if beats:
        parts.append(
            f"The pipeline's CV log-RMSE {model.oof_valid:.4f} beats predicting the training mean "
            f"({mean_oof:.4f}); it explains {pct(skill)} of the variance of the log target."
        )
    else:
        parts.append(
            f"THE PIPELINE DOES NOT BEAT THE MEAN: CV log-RMSE {model.oof_valid:.4f} vs {mean_oof:.4f} for "
            "predicting the training mean — the model learned nothing useful (features misaligned with "
            "targets, a broken transform, or a diverging optimizer)."
        )
    rows = [[f"batch {i + 1}", f4(b["std"]), f4(b["best"]), pct(b["ratio"])] for i, b in enumerate(batches)]
    body = [
        f"One-batch overfit: {s.sanity_epochs} epochs of one full-batch step each, learning rate {d.lr:g} "
        "(warm-up then cosine decay over these epochs), weight decay 0, dropout 0.",
        "",
        *table(["batch", "target std", "lowest RMSE", "RMSE / std"], rows),
        "",
        *table(
            ["predictor", "CV log-RMSE", "per fold"],
            [
                ["MLP (default)", f4(model.oof_valid), " ".join(f4(x) for x in model.fold_valid)],
                ["training mean", f4(mean_oof), " ".join(f4(x) for x in mean_folds)],
            ],
        ),
    ]
    return Section(
        key="sanity",
        title="Sanity checks",
        status="ok" if overfit_ok and beats else "fail",
        verdict=" ".join(parts),
        body=body,
        plots=[plot],
        metrics={
            "overfit_worst_ratio": worst,
            "model_cv": model.oof_valid,
            "mean_predictor_cv": mean_oof,
            "skill": skill,
        },
        data={"overfit_ok": overfit_ok, "beats_mean": beats, "overfit_ratios": [b["ratio"] for b in batches]},
    )
