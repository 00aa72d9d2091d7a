"""Honest scores for a finished search: the best and the default configuration scored on rows the
search never chose on.

A study's best OOF is optimistic: it is the minimum over many trials scored on the same folds.
Shuffled k-fold studies re-score both configurations on fresh fold seeds (`run.fold_seed`); a
time-ordered study holds the latest block of rows out of every trial (`run.exclude_latest`) and
scores both there, the way `comp train` makes a submission with that block as its test set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from competition.config import RunConfig
from competition.data import CompetitionData
from competition.tune.context import TuneContext
from competition.tune.live import LiveView


@dataclass
class Rescore:
    """Best and default configurations scored on folds the search never chose on."""

    kind: str
    """'fold-seeds' (fresh shuffled folds) or 'latest-block' (time order: the block held out of the search)."""
    seeds: list[int]
    best: list[float]
    default: list[float]

    @property
    def best_mean(self) -> float:
        return sum(self.best) / len(self.best)

    @property
    def default_mean(self) -> float:
        return sum(self.default) / len(self.default)


def latest_block(data: CompetitionData, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(earlier rows, latest block): the training rows split by the competition's time order, the
    block being the latest `share` of them (as `run.exclude_latest` leaves out). Sorted indices."""
    from competition.splits import exclude_latest

    spec = data.spec
    earlier = exclude_latest(data.train.height, share, data.train[spec.time_order_column].to_numpy())
    return earlier, np.setdiff1d(np.arange(data.train.height), earlier)


def latest_block_log_predictions(data: CompetitionData, config: RunConfig, share: float, device: str) -> np.ndarray:
    """Log predictions for the latest block (`latest_block(data, share)[1]`, in row order), made as
    `comp train` makes a submission with that block as the test set: feature pipelines fit and
    the configuration's time-ordered CV run on the earlier rows only, then every family refit on
    all of them (epochs and boosting rounds: the median of the CV's best) predicts the block.

    The block's prices are never read, so nothing about them (not even when to stop training)
    reaches the predictions. Scoring on the block with early stopping on the block itself, as a
    plain holdout split does, picks each member's epoch by the very prices it is scored on
    (measured on generated California data, default MLP: 0.10684 that way, 0.10762 this way)."""
    from competition.training import run_training

    spec = data.spec
    earlier, block = latest_block(data, share)
    held_out = CompetitionData(spec, data.train[earlier], data.train[block].drop(spec.target_column),
                               f"{data.digest}:earlier-{share}")
    run = replace(config.run, split="time", exclude_latest=0.0, refit_full="true")
    return run_training(held_out, replace(config, run=run), device).test_log


def rescore(data: CompetitionData, best: RunConfig, default: RunConfig, ctx: TuneContext, n_seeds: int,
            view: LiveView) -> Rescore:
    """OOF log-RMSE of the best and the default configuration on folds the search did not choose on:
    `n_seeds` fresh fold seeds for shuffled k-fold; for a time-ordered search, log-RMSE on the latest
    block it held out (`latest_block_log_predictions`). `view` shows which is being scored."""
    from competition.metrics import log_rmse_from_logs
    from competition.training import run_training

    scored: list[tuple[RunConfig, float]] = []

    def once(cfg: RunConfig, score: Callable[[RunConfig], float]) -> float:
        """`score(cfg)`; a configuration already scored (the best trial is the baseline) is not retrained."""
        for done, value in scored:
            if done == cfg:
                return value
        value = score(cfg)
        scored.append((cfg, value))
        return value

    share = ctx.base.run.exclude_latest
    if share > 0:
        _, block = latest_block(data, share)

        def on_block(cfg: RunConfig) -> float:
            return log_rmse_from_logs(latest_block_log_predictions(data, cfg, share, ctx.device), data.y_log[block])

        view.status("re-scoring best and default on the held-out latest block (CV and refit on the earlier rows)")
        return Rescore("latest-block", [0], [once(best, on_block)], [once(default, on_block)])

    def oof(cfg: RunConfig) -> float:
        return float(run_training(data, cfg, ctx.device).oof_score)

    seeds = [ctx.base.run.seed + 1000 + 17 * i for i in range(n_seeds)]
    out = Rescore("fold-seeds", seeds, [], [])
    for s in seeds:
        view.status(f"re-scoring best and default on fold seed {s}")
        for cfg, into in ((best, out.best), (default, out.default)):
            into.append(once(replace(cfg, run=replace(cfg.run, fold_seed=s, refit_full="false")), oof))
    return out
