"""Combining predictions: families blended with weights fit on out-of-fold rows only."""

from __future__ import annotations

from typing import Any

import numpy as np

from competition.errors import CompError


def fit_blend_weights(oof: np.ndarray, y_log: np.ndarray, method: str) -> np.ndarray:
    """Weights for the columns of `oof` (validated rows x members), fit on OOF rows only.

    mean: equal weights. nnls: non-negative least squares, normalized to sum to 1. ridge: a
    lightly regularized least squares on the members' deviations from their mean."""
    k = oof.shape[1]
    if k == 1 or method == "mean":
        return np.full(k, 1.0 / k)
    if method == "nnls":
        from scipy.optimize import nnls

        w, _ = nnls(oof, y_log)
        if w.sum() <= 0:
            return np.full(k, 1.0 / k)
        return w / w.sum()
    if method == "ridge":
        base = oof.mean(axis=1)
        dev = oof - base[:, None]
        target = y_log - base
        lam = 1e-3 * len(y_log)
        delta = np.linalg.solve(dev.T @ dev + lam * np.eye(k), dev.T @ target)
        return np.full(k, 1.0 / k) + delta - delta.mean()
    raise CompError(f"Unknown blend method {method!r}: use mean, nnls or ridge.")


def apply_blend(weights: dict[str, float], preds: dict[str, np.ndarray]) -> np.ndarray:
    """The one place blend weights meet predictions (train and predict give identical numbers)."""
    names = list(weights)
    if len(names) == 1:
        return np.asarray(preds[names[0]], dtype=np.float64)
    return np.column_stack([preds[n] for n in names]) @ np.array([weights[n] for n in names])


def blend_families(families: list[Any], y_log: np.ndarray, method: str
                   ) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Blend the families of one run: weights from their OOF predictions, applied to test."""
    if len(families) == 1:
        fam = families[0]
        return {fam.name: 1.0}, fam.oof_log, fam.test_log
    oof = np.column_stack([f.oof_log for f in families])
    seen = np.all(np.isfinite(oof), axis=1)
    w = fit_blend_weights(oof[seen], y_log[seen], method)
    blended = np.full(len(y_log), np.nan)
    blended[seen] = oof[seen] @ w
    weights = {f.name: float(x) for f, x in zip(families, w, strict=True)}
    return weights, blended, apply_blend(weights, {f.name: f.test_log for f in families})


def crossfit_blend_score(oof: np.ndarray, y_log: np.ndarray, row_fold: np.ndarray, method: str) -> float:
    """Log-RMSE of a blend whose weights for each fold's rows come from the other folds' rows only.

    The reported blend OOF score fits its few weights on the very rows it scores, which flatters it
    slightly; this is the honest out-of-sample check of the blending step itself. `oof` is
    (rows x families) of OOF log predictions (NaN where not validated), `row_fold` each row's
    validation fold (-1 where not validated)."""
    from competition.metrics import log_rmse_from_logs

    seen = np.all(np.isfinite(oof), axis=1) & (row_fold >= 0)
    out = np.full(len(y_log), np.nan)
    for f in np.unique(row_fold[seen]):
        here = seen & (row_fold == f)
        rest = seen & (row_fold != f)
        if not rest.any():
            return float("nan")
        out[here] = oof[here] @ fit_blend_weights(oof[rest], y_log[rest], method)
    return log_rmse_from_logs(out[seen], y_log[seen])
