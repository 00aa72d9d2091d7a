"""Shared state of one diagnosis: folds, per-fold feature matrices on the device, and a sweep
trainer that batches and caches MLP variants.

Every diagnostic asks for `Variant`s (an MLP shape plus batch size, weight decay, dropout and
learning rate). Variants of one shape and batch size become per-member overrides of ONE
`train_members` call, and a variant already trained (e.g. the default, which every sweep
marks) is never trained twice.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from competition.competitions.base import CompetitionSpec
from competition.config import RunConfig
from competition.data import CompetitionData
from competition.diagnose.settings import DiagnoseSettings
from competition.metrics import log_rmse_from_logs
from competition.models.mlp import Member, MLPConfig, TrainedMembers, predict_members, train_members
from competition.models.mlp_family import stack_folds
from competition.splits import Fold, make_folds
from competition.training import build_fold_matrices, make_members, prepare_frames, resolve_split

RANDOM_BLOCKS = "random-blocks"
TRAIN_EVAL_ROWS = 5000
"""Training-error curves are measured on at most this many of a member's training rows (a random sample)."""


def train_eval_rows(train_idx: np.ndarray, seed: int) -> np.ndarray:
    """The rows a 'train twin' evaluates on: all its training rows, or a fixed random sample of large parts
    (an unbiased estimate that keeps the padded evaluation tensor small)."""
    if len(train_idx) <= TRAIN_EVAL_ROWS:
        return train_idx
    return np.sort(np.random.default_rng(seed).choice(train_idx, TRAIN_EVAL_ROWS, replace=False))


@dataclass(frozen=True)
class Variant:
    """One point of a sweep: what differs from the run config's MLP."""

    hidden: int
    depth: int
    batch_size: int
    weight_decay: float
    dropout: float
    lr: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.hidden, self.depth, self.batch_size)

    def n_params(self, n_inputs: int) -> int:
        """Weights and biases of an MLP with `n_inputs` inputs and one output."""
        dims = [n_inputs] + [self.hidden] * self.depth + [1]
        return sum(a * b + b for a, b in itertools.pairwise(dims))


@dataclass
class VariantResult:
    """Per fold (seeds averaged): train and validation log-RMSE at the early-stopping epoch."""

    variant: Variant
    fold_train: np.ndarray
    fold_valid: np.ndarray
    oof_valid: float
    """Pooled over every validated row (seed-averaged predictions), as `comp train` scores."""
    oof: np.ndarray
    """Seed-averaged out-of-fold log predictions per training row; NaN where never validated."""
    train: float
    """Pooled over each member's training rows, network in evaluation mode (no dropout)."""
    best_epoch: np.ndarray
    """Per member."""
    histories: list[dict[str, list[float]]]
    """Per member, in `members` order: per-epoch train (mini-batch) and valid log-RMSE."""
    members: list[Member]
    train_eval_curves: list[list[float]] = field(default_factory=list)
    """Per member when asked for: evaluation-mode log-RMSE on its own training rows per epoch."""


@dataclass
class SplitMatrices:
    folds: list[Fold]
    x: torch.Tensor
    """(folds, training rows, features) on the device."""
    n_features: int


class DiagnoseContext:
    """Loads and featurizes once; trains variants on demand, batched by shape, cached."""

    def __init__(
        self,
        spec: CompetitionSpec,
        data: CompetitionData,
        config: RunConfig,
        settings: DiagnoseSettings,
        device: str,
    ) -> None:
        self.spec = spec
        self.config = config
        self.settings = settings
        self.device = device
        self.timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if settings.max_train_rows and data.train.height > settings.max_train_rows:
            order = np.random.default_rng(config.run.seed).permutation(data.train.height)
            rows = np.sort(order[: settings.max_train_rows])
            data = dataclasses.replace(data, train=data.train[rows])
        self.data = data
        self.train_frame, self.test_frame, _ = prepare_frames(spec, data)
        self.y_log = data.y_log
        self.n_rows = self.train_frame.height
        self.order_key = data.train[spec.time_order_column].to_numpy() if spec.time_order_column else None
        self.keep = np.ones(self.n_rows, dtype=bool)
        if config.run.drop_outliers and spec.outlier_rule is not None:
            self.keep = ~spec.outlier_rule(data.train).to_numpy().astype(bool)
        self.split = resolve_split(spec, config)
        if self.split == "holdout":
            self.split = "time" if self.order_key is not None else "kfold"
        self.y_tensor = torch.as_tensor(self.y_log, dtype=torch.float32, device=device)
        self._splits: dict[str, SplitMatrices] = {}
        self._cache: dict[tuple[str, Variant], VariantResult] = {}
        self.timings["prepare"] = time.perf_counter() - t0
        patience = min(settings.patience, config.mlp.patience) if settings.patience else config.mlp.patience
        self.mlp = dataclasses.replace(config.mlp, patience=patience)
        self.max_epochs = min(settings.max_epochs, config.mlp.epochs)
        self.trained_members = 0

    # ------------------------------------------------------------------ data
    def matrices(self, split: str | None = None) -> SplitMatrices:
        """Folds of `split` (default: the run's) with one feature pipeline fit per fold's training part.

        `split` is kfold, time, or RANDOM_BLOCKS (time folds over a random order)."""
        split = split or self.split
        if split not in self._splits:
            t0 = time.perf_counter()
            seed = self.config.run.seed
            if split == RANDOM_BLOCKS:
                # Forward-only folds over a random order: time folds' sizes without the time order.
                key = np.random.default_rng(seed).permutation(self.n_rows)
                folds = make_folds("time", self.n_rows, self.settings.folds, seed, key)
            elif split == "kfold":
                # Repeated k-fold: a new shuffle per repeat, so the paired tests get repeats x folds differences.
                folds = [
                    fold
                    for r in range(self.settings.repeats)
                    for fold in make_folds(split, self.n_rows, self.settings.folds, seed + r, self.order_key)
                ]
            else:
                folds = make_folds(split, self.n_rows, self.settings.folds, seed, self.order_key)
            mats, _ = build_fold_matrices(self.spec, self.config, self.train_frame, self.test_frame, self.y_log, folds)
            x = stack_folds(mats.train, self.device)
            self._splits[split] = SplitMatrices(folds=folds, x=x, n_features=max(m.shape[1] for m in mats.train))
            self.timings["features"] = self.timings.get("features", 0.0) + time.perf_counter() - t0
        return self._splits[split]

    @property
    def default(self) -> Variant:
        c = self.config.mlp
        return Variant(c.hidden, c.depth, c.batch_size, c.weight_decay, c.dropout, c.lr)

    def base_members(self, split: str | None = None) -> list[Member]:
        return make_members(self.matrices(split).folds, self.settings.seeds, self.config.run.seed, self.keep)

    # ------------------------------------------------------------------ training
    def evaluate(
        self, variants: Iterable[Variant], split: str | None = None, train_curves: Iterable[Variant] = ()
    ) -> dict[Variant, VariantResult]:
        """Results for every variant; the missing ones are trained in one call per (shape, batch size).

        `train_curves` variants also get an evaluation-mode training-error curve, from a twin member
        (same seed, same rows, same batch, so it trains identically) whose 'validation' rows are its
        training rows (see `train_eval_rows`)."""
        split = split or self.split
        wanted = list(dict.fromkeys(variants))
        curves = set(train_curves)
        todo = [
            v
            for v in wanted
            if (split, v) not in self._cache or (v in curves and not self._cache[(split, v)].train_eval_curves)
        ]
        groups: dict[tuple[int, int, int], list[Variant]] = {}
        for v in todo:
            groups.setdefault(v.shape, []).append(v)
        for shape_variants in groups.values():
            self._train_group(split, shape_variants, curves)
        return {v: self._cache[(split, v)] for v in wanted}

    def _train_group(self, split: str, variants: list[Variant], curves: set[Variant]) -> None:
        mats = self.matrices(split)  # featurized first, so that time counts as features, not training
        base = self.base_members(split)
        t0 = time.perf_counter()
        v0 = variants[0]
        cfg = dataclasses.replace(self.mlp, hidden=v0.hidden, depth=v0.depth, batch_size=v0.batch_size)
        members: list[Member] = []
        owners: list[tuple[Variant, bool]] = []
        for v in variants:
            for m in base:
                members.append(dataclasses.replace(m, lr=v.lr, weight_decay=v.weight_decay, dropout=v.dropout))
                owners.append((v, False))
            if v in curves:
                for m in base:
                    rows = train_eval_rows(m.train_idx, m.seed)
                    twin = dataclasses.replace(
                        m, lr=v.lr, weight_decay=v.weight_decay, dropout=v.dropout, valid_idx=rows
                    )
                    members.append(twin)
                    owners.append((v, True))
        # Each member takes its own training part's steps per epoch, exactly as `comp train` does.
        trained = train_members(mats.x, self.y_tensor, members, cfg, epochs=self.max_epochs)
        self.trained_members += len(members)
        for v in variants:
            idx = [j for j, (o, twin) in enumerate(owners) if o == v and not twin]
            twins = [j for j, (o, twin) in enumerate(owners) if o == v and twin]
            result = self._score(v, [members[j] for j in idx], idx, trained, mats, cfg)
            result.train_eval_curves = [trained.history[j]["valid"] for j in twins]
            self._cache[(split, v)] = result
        key = f"train.{v0.hidden}x{v0.depth}.bs{v0.batch_size}"
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0

    def _score(
        self,
        v: Variant,
        members: list[Member],
        idx: list[int],
        trained: TrainedMembers,
        mats: SplitMatrices,
        cfg: MLPConfig,
    ) -> VariantResult:
        """Seed-averaged OOF and evaluation-mode train errors of one variant's members (best weights)."""
        n_folds = len(mats.folds)
        total = np.zeros(self.n_rows)
        count = np.zeros(self.n_rows)
        fold_total = [np.zeros(len(f.valid)) for f in mats.folds]
        fold_count = np.zeros(n_folds)
        train_sq = np.zeros(n_folds)
        train_n = np.zeros(n_folds)
        for m, j in zip(members, idx, strict=True):
            weights = [w[j : j + 1] for w in trained.weights]
            rows = np.concatenate([m.valid_idx, m.train_idx])
            x = mats.x[m.fold, torch.as_tensor(rows, device=mats.x.device)].unsqueeze(0)
            pred = predict_members(weights, trained.y_center[j : j + 1], trained.y_scale[j : j + 1], x, cfg.activation)
            pred = pred[0].cpu().numpy().astype(np.float64)
            nv = len(m.valid_idx)
            total[m.valid_idx] += pred[:nv]
            count[m.valid_idx] += 1
            fold_total[m.fold] += pred[:nv]
            fold_count[m.fold] += 1
            train_sq[m.fold] += float(np.sum((pred[nv:] - self.y_log[m.train_idx]) ** 2))
            train_n[m.fold] += len(m.train_idx)
        seen = count > 0
        oof = np.full(self.n_rows, np.nan)
        oof[seen] = total[seen] / count[seen]
        # Each fold scored on its own members' predictions (with repeats a row is validated once per repeat).
        fold_valid = np.array(
            [log_rmse_from_logs(fold_total[i] / max(fold_count[i], 1), self.y_log[f.valid])
             for i, f in enumerate(mats.folds)]
        )
        return VariantResult(
            variant=v,
            fold_train=np.sqrt(train_sq / np.maximum(train_n, 1)),
            fold_valid=fold_valid,
            oof_valid=self._pooled_per_repeat(fold_total, fold_count, mats),
            oof=oof,
            train=float(np.sqrt(train_sq.sum() / max(train_n.sum(), 1))),
            best_epoch=trained.best_epoch[idx],
            histories=[trained.history[j] for j in idx],
            members=members,
        )

    def _pooled_per_repeat(self, fold_total: list[np.ndarray], fold_count: np.ndarray, mats: SplitMatrices) -> float:
        """Pooled out-of-fold log-RMSE of each repeat's folds (as `comp train` scores one CV), averaged over
        repeats; with one repeat, the pooled score over every validated row."""
        per_repeat: dict[int, list[int]] = {}
        folds_per_repeat = self.settings.folds if len(mats.folds) > self.settings.folds else len(mats.folds)
        for i in range(len(mats.folds)):
            per_repeat.setdefault(i // max(folds_per_repeat, 1), []).append(i)
        scores = []
        for folds in per_repeat.values():
            pred = np.concatenate([fold_total[i] / max(fold_count[i], 1) for i in folds if fold_count[i]])
            rows = np.concatenate([mats.folds[i].valid for i in folds if fold_count[i]])
            scores.append(log_rmse_from_logs(pred, self.y_log[rows]))
        return float(np.mean(scores))

    def mean_predictor(self, split: str | None = None) -> tuple[float, np.ndarray]:
        """OOF log-RMSE (and per fold) of predicting each fold's training-part mean log target."""
        mats = self.matrices(split)
        members = self.base_members(split)[:: self.settings.seeds]
        fold_total = [np.full(len(m.valid_idx), self.y_log[m.train_idx].mean()) for m in members]
        fold_count = np.ones(len(members))
        per_fold = np.array(
            [log_rmse_from_logs(p, self.y_log[m.valid_idx]) for p, m in zip(fold_total, members, strict=True)]
        )
        return self._pooled_per_repeat(fold_total, fold_count, mats), per_fold
