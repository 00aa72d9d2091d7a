"""Writing a generated competition to disk, the same way for every generator."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def write_files(data_dir: Path, train: pl.DataFrame, test: pl.DataFrame, submission: pl.DataFrame) -> None:
    """train.csv, test.csv and sample_submission.csv in data_dir (created if needed)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    train.write_csv(data_dir / "train.csv")
    test.write_csv(data_dir / "test.csv")
    submission.write_csv(data_dir / "sample_submission.csv")
