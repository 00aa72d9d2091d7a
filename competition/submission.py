"""Build, validate and atomically write a submission file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from competition import atomic
from competition.competitions.base import CompetitionSpec
from competition.errors import CompError


def build_submission(spec: CompetitionSpec, test_ids: np.ndarray, test_log: np.ndarray) -> pl.DataFrame:
    prices = np.exp(np.asarray(test_log, dtype=np.float64))
    frame = pl.DataFrame({spec.id_column: np.asarray(test_ids, dtype=np.int64), spec.target_column: prices})
    validate_submission(spec, frame, test_ids)
    return frame


def validate_submission(spec: CompetitionSpec, frame: pl.DataFrame, test_ids: np.ndarray) -> None:
    expected = [spec.id_column, spec.target_column]
    if frame.columns != expected:
        raise CompError(f"Submission columns must be exactly {expected}; got {frame.columns}.")
    ids = frame[spec.id_column].to_numpy()
    if len(ids) != len(test_ids) or not np.array_equal(np.sort(ids), np.sort(np.asarray(test_ids))):
        raise CompError(f"Submission must have one row per test {spec.id_column} ({len(test_ids)} rows); "
                        f"got {len(ids)} rows.")
    if frame[spec.id_column].is_duplicated().any():
        raise CompError(f"Submission has duplicate {spec.id_column} values.")
    prices = frame[spec.target_column].to_numpy()
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise CompError(f"Submission has {int(bad.sum())} non-positive or non-finite prices (rows {rows}).")


def write_submission(frame: pl.DataFrame, path: Path) -> Path:
    atomic.write_text(path, frame.write_csv(float_precision=2))
    return path


def read_submission(spec: CompetitionSpec, path: Path) -> pl.DataFrame:
    if not path.exists():
        raise CompError(f"Submission file not found: {path}")
    try:
        frame = pl.read_csv(path)
    except Exception as exc:
        raise CompError(f"{path} is not a readable CSV: {exc}") from exc
    return frame
