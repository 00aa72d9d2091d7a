"""Score trial configurations on the study's folds: fold by fold with pruning (LightGBM, linear), or a
whole population of MLP trials as members of one batched network.

Members, their seeds and rows are made by `competition.training.make_members` and scored by
`score_members`, and the families are the ones `comp train` uses, so a trial's OOF predictions are
those a `comp train --config` run of the same configuration produces (bit for bit on CPU).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from competition.config import RunConfig
from competition.metrics import log_rmse_from_logs
from competition.models import get_family
from competition.models.base import FamilyResult
from competition.training import make_members, score_members
from competition.tune.context import TuneContext


@dataclass
class TrialOutcome:
    """What one trial produced. `oof_score` is NaN for a pruned trial."""

    pruned: bool
    oof_score: float
    fold_scores: list[float]
    oof_digest: str
    """sha256 of the float64 OOF predictions (NaN on unvalidated rows): compared with the retrained best run."""
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    """(step, value) pairs reported to the pruner: folds done (by-fold families) or epochs (MLP)."""
    best_iteration: float = float("nan")
    seconds: float = 0.0


def oof_digest(oof: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(oof, dtype=np.float64).tobytes()).hexdigest()[:16]


class TimeUp(Exception):
    """The study's --timeout passed while trials were training: they end unscored (FAIL)."""


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeUp


def evaluate_by_fold(ctx: TuneContext, config: RunConfig, trial: Any, deadline: float | None = None) -> TrialOutcome:
    """Train fold after fold (as `comp train` does for these families), reporting the mean of the
    fold scores so far to the pruner after each fold; pruned trials stop early."""
    start = time.perf_counter()
    family = get_family(config.run.model)
    members = make_members(ctx.folds, config.run.seeds, config.run.seed, ctx.keep)
    results: list[FamilyResult] = []
    running: list[float] = []
    reported: list[tuple[int, float]] = []
    for f, fold in enumerate(ctx.folds):
        _check_deadline(deadline)
        piece = [m for m in members if m.fold == f]
        result = family.fit(ctx.mats, ctx.y_log, piece, config, ctx.device)
        results.append(result)
        pred = np.mean(np.stack(result.valid_pred), axis=0)
        running.append(log_rmse_from_logs(pred, ctx.y_log[fold.valid]))
        if f < len(ctx.folds) - 1:
            value = float(np.mean(running))
            trial.report(value, step=f)
            reported.append((f, value))
            if trial.should_prune():
                return TrialOutcome(True, float("nan"), running, "", reported, seconds=time.perf_counter() - start)
    from competition.checkpoints import merge_results

    merged = merge_results(family, results)
    oof, fold_scores, score = score_members(members, merged, ctx.folds, ctx.y_log)
    return TrialOutcome(
        pruned=False,
        oof_score=score,
        fold_scores=fold_scores,
        oof_digest=oof_digest(oof),
        intermediate=reported,
        best_iteration=float(np.mean(merged.best_iteration)),
        seconds=time.perf_counter() - start,
    )


def evaluate_population(
    ctx: TuneContext,
    configs: list[RunConfig],
    trials: list[Any],
    report_every: int = 5,
    on_epoch: Callable[[int, int], None] | None = None,
    deadline: float | None = None,
) -> list[TrialOutcome]:
    """Train K MLP trials as members of one batched network (K x folds x seeds members).

    The trials must share every MLP setting but the per-member ones (lr, weight decay, dropout,
    patience; `space.MEMBER_PARAMS`). Every `report_every` epochs each trial still training reports
    the mean best validation log-RMSE of its members to its Optuna trial (all K report before any
    is asked `should_prune`, so a pruner that compares running trials sees the whole population);
    a pruned trial's members stop at once and the epochs they would have cost are saved. Past
    `deadline` (time.monotonic()) TimeUp is raised at the next report."""
    import torch

    from competition.models.mlp import predict_members, train_members
    from competition.models.mlp_family import stack_matrices

    start = time.perf_counter()
    shared = configs[0].mlp
    for cfg in configs[1:]:
        differ = [k for k in ("hidden", "depth", "batch_size", "epochs", "activation", "precision")
                  if getattr(cfg.mlp, k) != getattr(shared, k)]
        if differ:
            raise ValueError(f"population trials differ in shared settings {differ}")
    if "mlp_x" not in ctx.cache:
        ctx.cache["mlp_x"] = stack_matrices(ctx.mats, ctx.device)
    x = ctx.cache["mlp_x"]
    n_train = ctx.mats.train[0].shape[0]
    y = torch.as_tensor(ctx.y_log, dtype=torch.float32, device=ctx.device)
    y_full = torch.cat([y, torch.zeros(x.shape[1] - n_train, device=ctx.device)])

    members = []
    owner: list[int] = []
    for t, cfg in enumerate(configs):
        for m in make_members(ctx.folds, cfg.run.seeds, cfg.run.seed, ctx.keep):
            m.lr, m.weight_decay, m.dropout = cfg.mlp.lr, cfg.mlp.weight_decay, cfg.mlp.dropout
            m.patience = cfg.mlp.patience
            members.append(m)
            owner.append(t)
    owner_of = {id(m): t for m, t in zip(members, owner, strict=True)}
    pruned = [False] * len(configs)
    reported: list[list[tuple[int, float]]] = [[] for _ in configs]

    def stop(epoch: int, ordered: list[Any], best_valid: np.ndarray, active: np.ndarray) -> np.ndarray:
        if (epoch + 1) % report_every:
            return np.zeros(len(active), dtype=bool)
        _check_deadline(deadline)
        owners = np.array([owner_of[id(m)] for m in ordered])
        running = sorted({int(owners[g]) for g in active} - {t for t, p in enumerate(pruned) if p})
        for t in running:
            value = float(np.mean(best_valid[owners == t]))
            trials[t].report(value, step=epoch + 1)
            reported[t].append((epoch + 1, value))
        for t in running:
            pruned[t] = bool(trials[t].should_prune())
        return np.array([pruned[owners[g]] for g in active], dtype=bool)

    trained = train_members(x, y_full, members, shared, on_epoch=on_epoch, stop_members=stop)
    outcomes = []
    for t in range(len(configs)):
        idx = [j for j, o in enumerate(owner) if o == t]
        if pruned[t]:
            outcomes.append(TrialOutcome(True, float("nan"), [], "", reported[t], seconds=time.perf_counter() - start))
            continue
        valid_pred = []
        for j in idx:  # as MLPFamily.fit predicts each member's validation rows
            m = members[j]
            rows = torch.as_tensor(m.valid_idx, device=ctx.device)
            xv = x[m.fold, rows].unsqueeze(0)
            sl = [w[j : j + 1] for w in trained.weights]
            p = predict_members(sl, trained.y_center[j : j + 1], trained.y_scale[j : j + 1], xv, shared.activation)
            valid_pred.append(p[0].cpu().numpy().astype(np.float64))
        result = FamilyResult(valid_pred=valid_pred, test_pred=np.zeros((len(idx), 0)),
                              best_iteration=trained.best_epoch[idx], history=[])
        oof, fold_scores, score = score_members([members[j] for j in idx], result, ctx.folds, ctx.y_log)
        outcomes.append(
            TrialOutcome(
                pruned=False,
                oof_score=score,
                fold_scores=fold_scores,
                oof_digest=oof_digest(oof),
                intermediate=reported[t],
                best_iteration=float(np.mean(trained.best_epoch[idx])),
                seconds=time.perf_counter() - start,
            )
        )
    return outcomes
