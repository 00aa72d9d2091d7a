"""Random labels: the default model trained on targets shuffled within each fold's training part.

Nothing real is left to learn, so the training error only falls by memorizing rows, and the
validation error must stay at the constant-prediction level; if it drops below, something other
than the label carries target information into training (a leak). Training runs a fixed number
of epochs with no early stopping. A variant without weight decay and dropout shows how much the
network could memorize if the regularization did not hold it back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from competition.diagnose import figures
from competition.diagnose.common import Section, f4, pct, table
from competition.diagnose.context import DiagnoseContext, Variant, train_eval_rows
from competition.models.mlp import Member, train_members

LEAK_MARGIN = 0.02
"""Validation error this much (relative) below the constant level on shuffled targets is a leak warning."""


def plan(ctx: DiagnoseContext) -> tuple[list[Variant], list[Variant]]:
    return [], []


def _pooled(curves: list[list[float]], sizes: list[int]) -> np.ndarray:
    """Per-epoch RMSE pooled over folds (members run the same number of epochs)."""
    n = min(len(c) for c in curves)
    sq = sum(np.asarray(c[:n]) ** 2 * s for c, s in zip(curves, sizes, strict=True))
    return np.sqrt(sq / sum(sizes))


def run(ctx: DiagnoseContext, out: Path) -> Section:
    mats = ctx.matrices()
    n = ctx.n_rows
    epochs = ctx.settings.random_label_epochs
    rng = np.random.default_rng(ctx.config.run.seed + 17)
    base = ctx.base_members()[:: ctx.settings.seeds]
    # One copy of the rows per fold, each with that fold's own shuffle of its training targets.
    y_blocks = []
    for m in base:
        y = ctx.y_log.copy()
        y[m.train_idx] = rng.permutation(y[m.train_idx])
        y_blocks.append(y)
    y_rl = torch.as_tensor(np.concatenate(y_blocks), dtype=torch.float32, device=ctx.device)
    x_rl = mats.x.repeat(1, len(base), 1)
    members: list[Member] = []
    roles: list[tuple[str, int]] = []
    for f, m in enumerate(base):
        tr, va = m.train_idx + f * n, m.valid_idx + f * n
        members.append(Member(fold=m.fold, seed=m.seed, train_idx=tr, valid_idx=va, epochs=epochs))
        roles.append(("default valid", f))
        twin_rows = train_eval_rows(m.train_idx, m.seed) + f * n
        members.append(Member(fold=m.fold, seed=m.seed, train_idx=tr, valid_idx=twin_rows, epochs=epochs))
        roles.append(("default train", f))
        members.append(
            Member(fold=m.fold, seed=m.seed, train_idx=tr, valid_idx=va, epochs=epochs, weight_decay=0.0, dropout=0.0)
        )
        roles.append(("unregularized", f))
    cfg = dataclasses.replace(ctx.mlp, patience=epochs + 1)
    trained = train_members(x_rl, y_rl, members, cfg, epochs=epochs)
    ctx.trained_members += len(members)

    def curves(role: str, key: str) -> list[list[float]]:
        return [trained.history[j][key] for j, (r, _) in enumerate(roles) if r == role]

    n_train = [len(m.train_idx) for m in base]
    n_valid = [len(m.valid_idx) for m in base]
    d_valid = _pooled(curves("default valid", "valid"), n_valid)
    d_train = _pooled(curves("default train", "valid"), n_train)
    u_valid = _pooled(curves("unregularized", "valid"), n_valid)
    u_train = _pooled(curves("unregularized", "train"), n_train)
    const_valid, _ = ctx.mean_predictor()
    const_train = float(
        np.sqrt(sum(np.sum((ctx.y_log[m.train_idx] - ctx.y_log[m.train_idx].mean()) ** 2) for m in base) / sum(n_train))
    )

    def memorized(train_end: float) -> float:
        """Share of the shuffled targets' variance the network fits: 1 - (RMSE / constant RMSE)^2."""
        return 1.0 - (train_end / const_train) ** 2

    numbers = {
        "constant_train": const_train,
        "constant_valid": const_valid,
        "default_train_end": float(d_train[-1]),
        "default_valid_end": float(d_valid[-1]),
        "default_valid_min": float(d_valid.min()),
        "default_memorized": memorized(float(d_train[-1])),
        "unregularized_train_end": float(u_train[-1]),
        "unregularized_valid_end": float(u_valid[-1]),
        "unregularized_valid_min": float(u_valid.min()),
        "unregularized_memorized": memorized(float(u_train[-1])),
    }
    plot = figures.random_labels(
        out / "random_labels.png",
        f"{ctx.spec.name} · shuffled training targets, {epochs} epochs, no early stopping",
        [
            ("default: train (eval mode)", d_train, "C0", "--"),
            ("default: validation", d_valid, "C0", "-"),
            ("no weight decay/dropout: train (mini-batch)", u_train, "C3", "--"),
            ("no weight decay/dropout: validation", u_valid, "C3", "-"),
        ],
        [
            ("constant prediction: validation", const_valid, "black"),
            ("constant prediction: train", const_train, "grey"),
        ],
    )
    best_valid = min(numbers["default_valid_min"], numbers["unregularized_valid_min"])
    leak = best_valid < const_valid * (1 - LEAK_MARGIN)
    verdict = (
        f"On shuffled targets the default model's training error fell from {d_train[0]:.4f} to {d_train[-1]:.4f} "
        f"in {epochs} epochs ({pct(numbers['default_memorized'])} of the noise memorized; constant level "
        f"{const_train:.4f}); without weight decay and dropout it fell to {u_train[-1]:.4f} "
        f"({pct(numbers['unregularized_memorized'])}). Validation error ended at {d_valid[-1]:.4f} "
        f"(unregularized {u_valid[-1]:.4f}) against {const_valid:.4f} for predicting the training mean"
    )
    if leak:
        verdict += (
            f" — it went {pct(1 - best_valid / const_valid)} BELOW the constant level at some epoch, which shuffled "
            "labels should make impossible: look for target information leaking into the features."
        )
    else:
        verdict += ": it never beat the constant prediction, as it should (no sign of a leak)."
    rows = [
        [
            "default",
            f4(float(d_train[0])),
            f4(float(d_train[-1])),
            pct(numbers["default_memorized"]),
            f4(float(d_valid[-1])),
            f4(numbers["default_valid_min"]),
        ],
        [
            "no weight decay, no dropout",
            f4(float(u_train[0])),
            f4(float(u_train[-1])),
            pct(numbers["unregularized_memorized"]),
            f4(float(u_valid[-1])),
            f4(numbers["unregularized_valid_min"]),
        ],
    ]
    body = [
        f"Targets shuffled within each of the {len(base)} folds' training parts (validation rows keep their true "
        f"targets; the fitted feature pipelines are the ordinary ones). Constant prediction (training mean): "
        f"train {const_train:.4f}, validation {const_valid:.4f}. The default's train error is measured in evaluation "
        "mode; the unregularized one's is the mini-batch training loss (no dropout, so nearly the same).",
        "",
        *table(["model", "train epoch 1", "train end", "noise memorized", "validation end", "validation min"], rows),
    ]
    return Section(
        key="randomlabels",
        title="Random labels",
        status="warn" if leak else "ok",
        verdict=verdict,
        body=body,
        plots=[plot],
        metrics=numbers,
        data={**numbers, "leak": leak, "epochs": epochs},
    )
