"""Validation splits: shuffled k-fold, forward-only time folds, and a holdout.

Each fold is a pair of index arrays into the training frame. `fingerprint` identifies a split
so that blends can refuse members validated on different rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from competition.errors import CompError

SplitKind = Literal["kfold", "time", "holdout"]


@dataclass(frozen=True)
class Fold:
    train: np.ndarray
    valid: np.ndarray


def fold_of_rows(folds: list[Fold], n_rows: int) -> np.ndarray:
    """Each row's validation fold (-1: never validated), as written in a bundle's oof.csv."""
    out = np.full(n_rows, -1)
    for i, f in enumerate(folds):
        out[f.valid] = i
    return out


def kfold(n: int, k: int, seed: int) -> list[Fold]:
    """Shuffled k-fold: every row is validated exactly once."""
    order = np.random.default_rng(seed).permutation(n)
    chunks = np.array_split(order, k)
    return [
        Fold(train=np.sort(np.concatenate([c for j, c in enumerate(chunks) if j != i])), valid=np.sort(chunks[i]))
        for i in range(k)
    ]


def time_folds(order_key: np.ndarray, k: int) -> list[Fold]:
    """Forward-only folds: rows sorted by time cut into k+1 blocks; fold i trains on blocks
    0..i and validates on block i+1, so no fold validates on rows earlier than its training rows."""
    order = np.argsort(order_key, kind="stable")
    blocks = np.array_split(order, k + 1)
    return [Fold(train=np.sort(np.concatenate(blocks[: i + 1])), valid=np.sort(blocks[i + 1])) for i in range(k)]


def holdout(n: int, share: float, seed: int, order_key: np.ndarray | None) -> list[Fold]:
    """One fold validating on the latest `share` of rows (time order) or a random share."""
    n_valid = max(1, round(n * share))
    order = (
        np.argsort(order_key, kind="stable") if order_key is not None else np.random.default_rng(seed).permutation(n)
    )
    return [Fold(train=np.sort(order[: n - n_valid]), valid=np.sort(order[n - n_valid :]))]


def make_folds(
    kind: SplitKind, n: int, folds: int, seed: int, order_key: np.ndarray | None, holdout_share: float = 0.2
) -> list[Fold]:
    if kind == "holdout":
        if not 0 < holdout_share < 1:
            raise CompError(f"holdout share must be between 0 and 1, got {holdout_share}")
        return holdout(n, holdout_share, seed, order_key)
    if folds < 2:
        raise CompError(
            f"--folds must be at least 2 for {kind} validation (got {folds}); use --split holdout "
            "for a single validation block."
        )
    needed = folds + 1 if kind == "time" else folds
    if needed * 2 > n:
        most = n // 2 - 1 if kind == "time" else n // 2
        raise CompError(
            f"--folds {folds} is too many for {n} training rows: each {kind} fold needs at least 2 validation "
            f"rows, so use at most {most} folds."
        )
    if kind == "kfold":
        return kfold(n, folds, seed)
    if kind == "time":
        if order_key is None:
            raise CompError("--split time needs a competition with a time order (this one has none).")
        return time_folds(order_key, folds)
    raise CompError(f"Unknown split {kind!r}: use kfold, time or holdout.")


def exclude_latest(n: int, share: float, order_key: np.ndarray | None) -> np.ndarray:
    """Sorted row indices without the latest `share` of rows in time order (`run.exclude_latest`)."""
    if order_key is None:
        raise CompError("run.exclude_latest needs a competition with a time order (this one has none).")
    if not 0 < share < 1:
        raise CompError(f"run.exclude_latest must be between 0 and 1; got {share}.")
    order = np.argsort(order_key, kind="stable")
    return np.sort(order[: n - max(1, round(n * share))])


def fingerprint(folds: list[Fold]) -> str:
    h = hashlib.sha256()
    for f in folds:
        h.update(np.asarray(f.valid, dtype=np.int64).tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def validated_rows(folds: list[Fold], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for f in folds:
        mask[f.valid] = True
    return mask
