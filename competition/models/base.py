"""The contract between the fold machinery and a model family (MLP, LightGBM, linear, ...).

A family receives per-fold feature matrices and a list of members (fold x seed), and returns
each member's validation and test predictions in log-price space. It never sees the
competition: only matrices, log targets and row indices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # torch-free at import time: the CLI and the config checks import this package
    from competition.models.mlp import Member


def take(x: np.ndarray, rows: np.ndarray | None, cols: np.ndarray) -> np.ndarray:
    """`x[rows][:, cols]` (rows None: every row) without copying the chosen rows first. A run of
    consecutive columns is read as a slice: a fancy index on both axes (`np.ix_`) is about 2x
    slower (measured on 40,000 rows of a California fold matrix, 64 columns at a time)."""
    if len(cols) and np.all(np.diff(cols) == 1):
        cols = slice(int(cols[0]), int(cols[-1]) + 1)
        return x[:, cols] if rows is None else x[rows, cols]
    return x[:, cols] if rows is None else x[np.ix_(rows, cols)]


def gather(x: np.ndarray, rows: np.ndarray | None, cols: np.ndarray, out: np.ndarray, block: int = 64) -> np.ndarray:
    """Fill `out` (len(rows) x len(cols); rows None: every row) with `x[rows][:, cols]` converted
    to `out`'s dtype, `block` columns at a time, so no copy of the chosen rows in `x`'s dtype
    exists beside it (one block of them at most). Returns `out`."""
    for start in range(0, len(cols), block):
        part = cols[start:start + block]
        out[:, start:start + len(part)] = take(x, rows, part)
    return out


@dataclass
class FoldMatrices:
    """Feature matrices of each fold's pipeline: every training row (frame order) and every test row."""

    train: list[np.ndarray]
    test: list[np.ndarray]
    names: list[list[str]]

    @property
    def n_folds(self) -> int:
        return len(self.train)


@dataclass
class FamilyResult:
    valid_pred: list[np.ndarray]
    """Per member, log predictions on its validation rows (same order as member.valid_idx)."""
    test_pred: np.ndarray
    """(members, test rows) log predictions."""
    best_iteration: np.ndarray
    """Per member: best epoch (MLP) or boosting round (LightGBM); 0 where not applicable."""
    history: list[dict[str, list[float]]]
    """Per member: per-epoch/iteration 'train' and 'valid' log-RMSE curves (may be empty)."""
    importance: dict[str, float] = field(default_factory=dict)
    """Feature name -> importance (e.g. LightGBM gain summed over members)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Family state needed by `save` (weights, boosters, coefficients)."""


class ModelFamily(Protocol):
    name: str

    def fit(
        self,
        mats: FoldMatrices,
        y_log: np.ndarray,
        members: list[Member],
        config: Any,
        device: str,
        progress: Any | None = None,
        check_stop: Callable[[], None] | None = None,
    ) -> FamilyResult:
        """Train `members`; `check_stop`, when given, is called between training steps and raises
        (`devices.Stopped`) to end the fit early."""

    def cores(self, members: list[Member], config: Any) -> int:
        """CPU threads one piece (a fold's members) trains with, for families trained fold by fold."""

    def save(self, result: FamilyResult, folder: Path) -> None:
        """Write what `predict` needs into `folder`: JSON, text or safetensors only (no pickle)."""

    def predict(
        self, folder: Path, test: list[np.ndarray], members: list[dict[str, int]], config: Any, device: str
    ) -> np.ndarray:
        """(members, test rows) log predictions from a saved folder."""
