"""The competitions' metric, in one place: RMSE between log(prediction) and log(truth)."""

from __future__ import annotations

import numpy as np


def log_rmse_from_logs(pred_log: np.ndarray, true_log: np.ndarray) -> float:
    """RMSE of two arrays that are already natural logs of prices."""
    pred_log = np.asarray(pred_log, dtype=np.float64)
    true_log = np.asarray(true_log, dtype=np.float64)
    return float(np.sqrt(np.mean((pred_log - true_log) ** 2)))


def log_rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """The Kaggle metric on prices."""
    return log_rmse_from_logs(np.log(pred), np.log(true))
