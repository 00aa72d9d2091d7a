"""Load a competition's CSVs with polars, validate them, and digest them.

Everything is read as text first and cast column by column, so that the NA tokens are pinned
(no library default decides what "None" or "NA" means) and every value that fails to parse is
counted and reported with its rows instead of crashing or being silently guessed.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from competition.competitions.base import CompetitionSpec
from competition.errors import CompError, describe_rows


@dataclass
class CompetitionData:
    spec: CompetitionSpec
    train: pl.DataFrame
    test: pl.DataFrame
    digest: str
    """SHA-256 over the bytes of train.csv and test.csv: identifies the data a run saw."""
    unparsable: dict[str, int] = field(default_factory=dict)
    """Raw numeric values that did not parse (became missing), per column, train+test."""
    extra_columns: list[str] = field(default_factory=list)

    @property
    def y_log(self) -> np.ndarray:
        return np.log(self.train[self.spec.target_column].to_numpy().astype(np.float64))


def file_digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def read_raw(path: Path, spec: CompetitionSpec, expected: list[str], what: str) -> tuple[pl.DataFrame, list[str]]:
    """Read one CSV as text, check its header, and return (frame of expected columns, extras)."""
    if not path.exists():
        raise CompError(
            f"{what} file not found: {path}. Download it with `comp data download {spec.name}` "
            f"or point --data-dir at the folder holding {spec.train_file} and {spec.test_file}."
        )
    if path.stat().st_size == 0:
        raise CompError(f"{path} is empty (0 bytes): expected a CSV with header {', '.join(expected[:4])}, ...")
    try:
        frame = pl.read_csv(
            path,
            infer_schema=False,
            null_values=None,
            empty_string_is_null=True,
            encoding="utf8",
            raise_if_empty=True,
        )
    except pl.exceptions.NoDataError as exc:
        raise CompError(f"{path} has no data: {exc}") from exc
    except (pl.exceptions.ComputeError, UnicodeDecodeError) as exc:
        raise CompError(f"{path} could not be read as UTF-8 CSV: {str(exc).splitlines()[0]}") from exc
    columns = frame.columns
    if len(columns) == 1 and len(expected) > 1 and any(sep in columns[0] for sep in (";", "\t", "|")):
        raise CompError(
            f"{path} seems to use another delimiter than ',' (its header is one column: {columns[0][:60]!r}). "
            "Save it as comma-separated CSV."
        )
    columns_set = set(columns)
    missing = [c for c in expected if c not in columns_set]
    if missing:
        hint = ""
        lowered = {c.lower().strip(): c for c in columns}
        near = [f"{m!r} (found {lowered[m.lower().strip()]!r})" for m in missing if m.lower().strip() in lowered]
        if near:
            hint = f" Renamed? {', '.join(near)}."
        raise CompError(f"{path} is missing required column(s): {', '.join(missing)}.{hint}")
    extras = [c for c in columns if c not in set(expected)]
    if frame.height == 0:
        raise CompError(f"{path} has a header but no data rows.")
    return frame.select(expected), extras


def cast_columns(frame: pl.DataFrame, spec: CompetitionSpec, path: Path) -> tuple[pl.DataFrame, dict[str, int]]:
    """Cast text columns to their raw types; pinned missing tokens become null; count failures."""
    exprs = []
    unparsable: dict[str, int] = {}
    str_missing = list(spec.missing_tokens)
    num_missing = list(spec.numeric_missing_tokens)
    for col in frame.columns:
        kind = spec.raw_columns[col]
        text = pl.col(col)
        if kind == "str":
            exprs.append(pl.when(text.is_in(str_missing)).then(None).otherwise(text).alias(col))
            continue
        stripped = text.str.strip_chars()
        cleaned = pl.when(stripped.is_in(num_missing)).then(None).otherwise(stripped)
        as_float = cleaned.cast(pl.Float64, strict=False)
        exprs.append(as_float.alias(col))
    cast = frame.select(exprs)
    for col in frame.columns:
        if spec.raw_columns[col] == "str":
            continue
        raw = frame[col].str.strip_chars()
        was_value = raw.is_not_null() & ~raw.is_in(num_missing)
        bad = was_value & cast[col].is_null()
        n_bad = int(bad.sum())
        if n_bad:
            if col in (spec.id_column, spec.target_column):
                rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()
                examples = ", ".join(repr(v) for v in frame[col].filter(bad).head(3).to_list())
                raise CompError(
                    f"{path}: column {col!r} must be numeric, but {describe_rows(rows)} (file lines) hold {examples}."
                )
            unparsable[col] = n_bad
    return cast, unparsable


def _check_ids(frame: pl.DataFrame, spec: CompetitionSpec, path: Path) -> None:
    ids = frame[spec.id_column]
    if ids.null_count():
        rows = (np.flatnonzero(ids.is_null().to_numpy()) + 2).tolist()
        raise CompError(f"{path}: column {spec.id_column!r} is empty on file {describe_rows(rows)}.")
    dup = ids.is_duplicated()
    if dup.any():
        rows = (np.flatnonzero(dup.to_numpy()) + 2).tolist()
        values = sorted(set(ids.filter(dup).cast(pl.Int64).to_list()))[:5]
        raise CompError(
            f"{path}: duplicate {spec.id_column} values {values} on file {describe_rows(rows)}; Ids must be unique."
        )
    values = ids.to_numpy()
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise CompError(f"{path}: column {spec.id_column!r} must hold whole numbers.")


def _check_target(frame: pl.DataFrame, spec: CompetitionSpec, path: Path) -> None:
    y = frame[spec.target_column].to_numpy().astype(np.float64)
    bad = ~np.isfinite(y) | (y <= 0)
    if bad.any():
        rows = (np.flatnonzero(bad) + 2).tolist()
        examples = ", ".join("missing" if math.isnan(v) else repr(float(v)) for v in y[bad][:3])
        raise CompError(
            f"{path}: target column {spec.target_column!r} must be a positive finite price (the metric takes its "
            f"log), but file {describe_rows(rows)} hold {examples}. Fix or remove those rows."
        )


def load_competition(spec: CompetitionSpec, data_dir: Path) -> CompetitionData:
    """Load and validate train.csv and test.csv of `spec` from `data_dir`."""
    train_path = data_dir / spec.train_file
    test_path = data_dir / spec.test_file
    train_raw, train_extra = read_raw(train_path, spec, list(spec.raw_columns), "Training")
    test_raw, test_extra = read_raw(test_path, spec, spec.test_columns, "Test")
    if spec.target_column in test_extra:
        raise CompError(
            f"{test_path} has the target column {spec.target_column!r}: is it a training file? "
            "The test file must not contain the target."
        )
    extras = [f"{train_path.name}:{c}" for c in train_extra] + [f"{test_path.name}:{c}" for c in test_extra]
    if extras:
        warnings.warn(f"Ignoring extra column(s) not in the {spec.name} schema: {', '.join(extras)}", stacklevel=2)
    train, bad_train = cast_columns(train_raw, spec, train_path)
    test, bad_test = cast_columns(test_raw, spec, test_path)
    _check_ids(train, spec, train_path)
    _check_ids(test, spec, test_path)
    _check_target(train, spec, train_path)
    overlap = set(train[spec.id_column].to_list()) & set(test[spec.id_column].to_list())
    if overlap:
        some = sorted(overlap)[:5]
        raise CompError(
            f"{test_path}: {len(overlap)} test {spec.id_column} value(s) also appear in {train_path.name} "
            f"(e.g. {[int(v) for v in some]}); train and test Ids must not overlap."
        )
    unparsable = {c: bad_train.get(c, 0) + bad_test.get(c, 0) for c in sorted(set(bad_train) | set(bad_test))}
    id_cast = pl.col(spec.id_column).cast(pl.Int64)
    return CompetitionData(
        spec=spec,
        train=train.with_columns(id_cast),
        test=test.with_columns(id_cast),
        digest=file_digest(train_path, test_path),
        unparsable=unparsable,
        extra_columns=extras,
    )
