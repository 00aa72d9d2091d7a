"""Learning curves of the default model: train vs validation per epoch for each fold, the
generalization gap over time, and where early stopping fired."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from competition.diagnose import figures
from competition.diagnose.common import Section, f4, pct, table
from competition.diagnose.context import DiagnoseContext, Variant


def plan(ctx: DiagnoseContext) -> tuple[list[Variant], list[Variant]]:
    """(variants, variants that need an evaluation-mode train curve)."""
    return [ctx.default], [ctx.default]


def run(ctx: DiagnoseContext, out: Path) -> Section:
    v = ctx.default
    r = ctx.evaluate([v], train_curves=[v])[v]
    max_epochs = ctx.max_epochs
    rows, valid, train, best, labels = [], [], [], [], []
    gaps_best, gaps_early, truncated, very_early = [], [], [], []
    for j, m in enumerate(r.members):
        hv = r.histories[j]["valid"]
        ht = r.train_eval_curves[j] if j < len(r.train_eval_curves) else []
        b = int(r.best_epoch[j])
        label = f"fold {m.fold}" + (f" seed {j % ctx.settings.seeds}" if ctx.settings.seeds > 1 else "")
        valid.append(hv)
        train.append(ht)
        best.append(b)
        labels.append(label)
        t_best = ht[b] if b < len(ht) else float("nan")
        gap = hv[b] - t_best
        early = min(4, len(hv) - 1, len(ht) - 1)
        gaps_best.append(gap)
        gaps_early.append(hv[early] - ht[early] if early >= 0 else float("nan"))
        truncated.append(len(hv) >= max_epochs and max_epochs - 1 - b < ctx.mlp.patience)
        very_early.append(b < 5)
        rows.append([label, str(b + 1), str(len(hv)), f4(t_best), f4(hv[b]), f4(gap), pct(gap / hv[b])])
    plot = figures.curves(
        out / "curves.png",
        f"{ctx.spec.name} · {_shape(v)} · {ctx.split} CV, {len(r.members)} members",
        valid,
        train,
        best,
        labels,
    )
    stop = np.asarray(best) + 1
    gap_best = float(np.nanmean(gaps_best))
    gap_early = float(np.nanmean(gaps_early))
    mean_valid = float(np.mean([valid[j][best[j]] for j in range(len(best))]))
    parts = [
        f"Early stopping kept epochs {stop.min()}–{stop.max()} (of at most {max_epochs}); "
        f"there validation log-RMSE is {mean_valid:.4f} and the gap to training error is {gap_best:.4f} "
        f"({pct(gap_best / mean_valid)} of the validation error), up from {gap_early:.4f} at epoch 5."
    ]
    status = "ok"
    if any(truncated):
        status = "warn"
        parts.append(
            "On some folds the epoch cap, not early stopping, ended training while validation error was still "
            "improving: the model is under-trained there (raise diagnose.max_epochs, mlp.epochs or the learning rate)."
        )
    elif any(very_early):
        status = "warn"
        parts.append(
            "The best epoch came within the first 5 epochs on some folds: the model over-fits almost at once "
            "(lower the learning rate or regularize more)."
        )
    elif gap_best > gap_early:
        parts.append("The gap widens with training and early stopping cuts it off before validation error rises.")
    body = [
        f"Default MLP ({_shape(v)}, weight decay {v.weight_decay:g}, dropout {v.dropout:g}, batch {v.batch_size}) "
        f"on {len(r.members)} members; training error is measured with the network in evaluation mode "
        "(no dropout) on each member's own training rows (a fixed random 5,000 of them when there are more).",
        "",
        *table(["member", "best epoch", "epochs run", "train at best", "valid at best", "gap", "gap / valid"], rows),
    ]
    metrics = {
        "best_epoch_mean": float(stop.mean()),
        "valid_at_best_mean": mean_valid,
        "gap_at_best_mean": gap_best,
        "gap_epoch5_mean": gap_early,
        "oof_log_rmse": r.oof_valid,
        "train_log_rmse": r.train,
    }
    return Section(
        key="curves",
        title="Learning curves",
        status=status,
        verdict=" ".join(parts),
        body=body,
        plots=[plot],
        metrics=metrics,
        data={
            "best_epochs": stop.tolist(),
            "gap_at_best": gaps_best,
            "valid_curves": valid,
            "train_curves": train,
            "oof": r.oof_valid,
        },
    )


def _shape(v: Variant) -> str:
    return f"{v.depth}×{v.hidden}"
