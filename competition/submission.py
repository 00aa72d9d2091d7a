"""Build, validate and atomically write a submission file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from competition import atomic
from competition.competitions.base import CompetitionSpec
from competition.errors import CompError, describe_rows


def build_submission(spec: CompetitionSpec, test_ids: np.ndarray, test_log: np.ndarray) -> pl.DataFrame:
    prices = np.exp(np.asarray(test_log, dtype=np.float64))
    frame = pl.DataFrame({spec.id_column: np.asarray(test_ids, dtype=np.int64), spec.target_column: prices})
    validate_submission(spec, frame, test_ids)
    return frame


def validate_submission(spec: CompetitionSpec, frame: pl.DataFrame, test_ids: np.ndarray) -> None:
    """The check every submission passes before it is written (`train`, `blend`) or uploaded
    (`submit`): columns exactly [id, target], one row per test Id (no duplicates, none missing,
    none extra), every price positive and finite. Raises CompError; rows are numbered as a
    spreadsheet shows the file (header = row 1)."""
    expected = [spec.id_column, spec.target_column]
    if frame.columns != expected:
        raise CompError(f"Submission columns must be exactly {expected}; got {frame.columns}.")
    ids = frame[spec.id_column].to_numpy()
    wanted = np.asarray(test_ids)
    if frame[spec.id_column].is_duplicated().any():
        dup = sorted(set(frame[spec.id_column].filter(frame[spec.id_column].is_duplicated()).to_list()))[:5]
        raise CompError(f"Submission has duplicate {spec.id_column} values (e.g. {dup}).")
    if len(ids) != len(wanted) or not np.array_equal(np.sort(ids), np.sort(wanted)):
        missing = np.setdiff1d(wanted, ids)[:5].tolist()
        extra = np.setdiff1d(ids, wanted)[:5].tolist()
        raise CompError(
            f"Submission must have one row per test {spec.id_column} ({len(wanted)} rows); got {len(ids)} rows"
            + (f"; missing e.g. {missing}" if missing else "")
            + (f"; not in the test file e.g. {extra}" if extra else "")
            + "."
        )
    prices = frame[spec.target_column].to_numpy()
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        rows = (np.flatnonzero(bad) + 2).tolist()
        examples = ", ".join(repr(float(v)) for v in prices[bad][:3])
        raise CompError(
            f"Submission has {int(bad.sum())} non-positive or non-finite {spec.target_column} values "
            f"({describe_rows(rows)}: {examples})."
        )


def write_submission(frame: pl.DataFrame, path: Path) -> Path:
    atomic.write_text(path, frame.write_csv(float_precision=2))
    return path


def read_submission(spec: CompetitionSpec, path: Path) -> pl.DataFrame:
    """A submission CSV as (Int64 id, Float64 target) columns, read as text and parsed strictly:
    a CompError names the file, the column and the 1-based data rows (as a spreadsheet numbers
    them, header = row 1) of any value that is not a whole Id or a number. Columns must be exactly
    [id, target]. Values are not range-checked here: `validate_submission` does that."""
    if not path.is_file():
        raise CompError(f"Submission file not found: {path}")
    try:
        frame = pl.read_csv(path, infer_schema=False, null_values=[""], raise_if_empty=True)
    except (OSError, pl.exceptions.PolarsError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CompError(f"{path} is not a readable CSV: {first[:200]}") from exc
    expected = [spec.id_column, spec.target_column]
    if frame.columns != expected:
        raise CompError(f"{path} must have columns exactly {expected}; got {frame.columns}.")
    parsed = frame.select(
        pl.col(spec.id_column).str.strip_chars().cast(pl.Int64, strict=False),
        pl.col(spec.target_column).str.strip_chars().cast(pl.Float64, strict=False),
    )
    for col, what in ((spec.id_column, "whole numbers"), (spec.target_column, "numbers")):
        bad = parsed[col].is_null().to_numpy()
        if bad.any():
            rows = (np.flatnonzero(bad) + 2).tolist()
            examples = ", ".join(repr(v) for v in frame[col].filter(pl.Series(bad)).head(3).to_list())
            raise CompError(f"{path}: column {col!r} must hold {what}; {describe_rows(rows)}: {examples}.")
    return parsed


def read_test_ids(spec: CompetitionSpec, data_dir: Path) -> np.ndarray:
    """The test file's Ids (int64), read and checked as `train` reads them (same loader)."""
    from competition.data import cast_columns, check_ids, read_raw

    test_path = data_dir / spec.test_file
    raw, _ = read_raw(test_path, spec, spec.test_columns, "Test")
    ids, _ = cast_columns(raw.select(spec.id_column), spec, test_path)
    check_ids(ids, spec, test_path)
    return ids[spec.id_column].cast(pl.Int64).to_numpy()


def check_submission_file(spec: CompetitionSpec, path: Path, data_dir: Path) -> pl.DataFrame:
    """Read `path` and apply `train`'s own check (`validate_submission`) against the test Ids in
    `data_dir`: columns, one row per test Id, positive finite prices. Raises CompError."""
    frame = read_submission(spec, path)
    try:
        validate_submission(spec, frame, read_test_ids(spec, data_dir))
    except CompError as exc:
        raise CompError(f"{path}: {exc}") from None
    return frame
