"""New rows to log predictions: the one path behind `comp predict`, the Python API and the MLflow model.

A CSV file is read as text by `competition.data.read_raw`. Rows that arrive as a DataFrame (a
notebook, an MLflow serving request) are first turned back into that same text form by
`text_frame`, then checked and parsed by exactly the code that checks and parses a file, so
the three doors give the same predictions for the same rows.

Turning a DataFrame back into text undoes what a reader may have done to it:
- numbers become their text (60 -> "60"); in a text column a whole float becomes the whole
  number it was read from (pandas reads a column of 60s with a gap as 60.0: "60.0" -> "60");
- a missing value (None, NaN, pandas' NA, polars' null) or an empty string is missing, except
  in a text column of a competition whose files write a word in every empty cell
  (`CompetitionSpec.missing_written_as`: House Prices writes "NA", for "no alley", "no pool" and
  for missing): there it becomes that word again, as pandas' defaults read "NA" as NaN.
- pandas' defaults also read "None" (and "null", "N/A", ...) as NaN. Where a competition's text
  column holds such a word beside "NA" (House Prices' MasVnrType: "None"), a missing value is
  read back as the competition's most likely word (`CompetitionSpec.missing_read_back`) with a
  warning, as the two cannot be told apart. Read the CSV with `dtype=str, keep_default_na=False`
  (or with polars, or `competition.load_data`) and every value reaches the parser intact.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from competition.bundle import Bundle
from competition.competitions.base import CompetitionSpec
from competition.data import cast_columns, check_ids, check_raw_frame
from competition.errors import CompError, describe_rows


def _cell_text(value: Any, whole_as_int: bool) -> str | None:
    """One cell of a pandas object column as the text a CSV would hold (None: missing)."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        if whole_as_int and number.is_integer():
            return str(int(number))
        return repr(number)
    if isinstance(value, str):
        return value or None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value)


def _series_text(series: pl.Series, whole_as_int: bool) -> pl.Series:
    """A polars column as text: numbers formatted, NaN and "" missing."""
    dtype = series.dtype
    if dtype == pl.String:
        return series.replace("", None)
    if dtype.is_float():
        s = series.fill_nan(None)
        if whole_as_int:
            whole = s.is_finite() & (s == s.round(0)) & (s.abs() < 2.0**63)
            text = pl.select(
                pl.when(whole).then(s.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(s.cast(pl.String))
            ).to_series()
            return text.alias(series.name)
        return s.cast(pl.String)
    if dtype == pl.Boolean:
        return series.map_elements(lambda v: str(bool(v)), return_dtype=pl.String)
    return series.cast(pl.String)


def text_frame(rows: Any, spec: CompetitionSpec, source: Path) -> pl.DataFrame:
    """A pandas or polars DataFrame as a polars frame of text columns, as `read_raw` reads a CSV.

    Columns the competition reads as text ("str") keep whole floats as whole numbers; every
    column keeps its name and order (the header checks come after, in `check_raw_frame`).
    Raises CompError for anything that is not a DataFrame."""
    kinds = spec.raw_columns
    if isinstance(rows, pl.DataFrame):
        columns = [_series_text(rows[c], kinds.get(c) == "str") for c in rows.columns]
    else:
        columns = _pandas_columns(rows, kinds, source)
    out = []
    for col in columns:
        if kinds.get(col.name) != "str" or not col.null_count():
            out.append(col)
        elif col.name in spec.missing_read_back:
            word = spec.missing_read_back[col.name]
            rows = (np.flatnonzero(col.is_null().to_numpy()) + 2).tolist()  # as CSV lines under a header
            warnings.warn(
                f"{source}: {len(rows)} missing value(s) in column {col.name!r} ({describe_rows(rows)}) read as "
                f"{word!r}; pandas' defaults read both {word!r} and {spec.missing_written_as or 'empty'!r} as "
                "missing, so rows that held the latter are predicted as the former. Read the CSV with "
                "dtype=str, keep_default_na=False (or with polars) for exact predictions.",
                stacklevel=3,
            )
            out.append(col.fill_null(word))
        elif spec.missing_written_as is not None:
            out.append(col.fill_null(spec.missing_written_as))
        else:
            out.append(col)
    return pl.DataFrame(out)


def _pandas_columns(rows: Any, kinds: dict[str, str], source: Path) -> list[pl.Series]:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is None or not isinstance(rows, pd.DataFrame):
        raise CompError(f"{source}: expected a pandas or polars DataFrame of rows; got {type(rows).__name__}.")
    names = [str(c) for c in rows.columns]
    if len(set(names)) != len(names):
        doubled = sorted({n for n in names if names.count(n) > 1})
        raise CompError(f"{source}: the header names column(s) {', '.join(doubled)} more than once.")
    columns = []
    for position, name in enumerate(names):
        col = rows.iloc[:, position]
        whole_as_int = kinds.get(name) == "str"
        if col.dtype == object:
            values = [_cell_text(v, whole_as_int) for v in col.tolist()]
            columns.append(pl.Series(name, values, dtype=pl.String))
        else:
            columns.append(_series_text(pl.from_pandas(col.reset_index(drop=True)).alias(name), whole_as_int))
    return columns


def check_bundle_schema(spec: CompetitionSpec, bundle: Bundle, source: Path, extras: list[str]) -> None:
    """The bundle's test schema must be this version's, and the rows must add no columns."""
    schema = bundle.meta.get("test_schema") or {}
    if list(schema) != spec.test_columns or any(spec.raw_columns.get(c) != t for c, t in schema.items()):
        raise CompError(
            f"The bundle of run {bundle.run_id} was trained on a different {spec.test_file} schema "
            "than this version of comp expects; retrain it."
        )
    if extras:
        raise CompError(
            f"{source} has column(s) {extras} that the bundle of run {bundle.run_id} was not "
            "trained with; the test schema differs from training."
        )


def predict_text(
    spec: CompetitionSpec, bundle: Bundle, raw: pl.DataFrame, extras: list[str], source: Path, models_dir: Path,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """(Ids, blended log predictions) for checked text rows (`read_raw` / `check_raw_frame` output).

    The rows are cast with the competition's pinned missing tokens, their Ids checked, then parsed
    by the competition and fed through every fold's saved features and models. Raises CompError
    for a schema that differs from the bundle's and for a damaged bundle."""
    from safetensors import SafetensorError

    from competition.blend import predict_log

    check_bundle_schema(spec, bundle, source, extras)
    frame, _ = cast_columns(raw, spec, source)
    check_ids(frame, spec, source)
    prepared = spec.prepare(frame).frame
    try:
        log_pred = predict_log(bundle, prepared, device, models_dir)  # a blend predicts its members
    except (SafetensorError, OSError, KeyError, IndexError, ValueError, TypeError, RuntimeError) as exc:
        # Bundle files are read as JSON/safetensors only, so a damaged or foreign file fails here, unexecuted.
        raise CompError(
            f"The bundle of run {bundle.run_id} in {bundle.folder} could not be loaded "
            f"({type(exc).__name__}: {str(exc)[:200]}); it is damaged or was not written by comp. "
            "Retrain the run."
        ) from exc
    ids = frame[spec.id_column].cast(pl.Int64).to_numpy()
    return ids, log_pred


def predict_frame(
    spec: CompetitionSpec, bundle: Bundle, rows: Any, models_dir: Path, device: str = "cpu",
    source: Path = Path("the rows"),
) -> pl.DataFrame:
    """Predictions for a DataFrame of new rows as a polars frame (Id, price), in the rows' order.

    Same checks and parsing as `comp predict` on a file (see `text_frame` for how a DataFrame is
    read back); prices are exp of the blended log predictions, unrounded."""
    raw, extras, _ = check_raw_frame(text_frame(rows, spec, source), spec, spec.test_columns, str(source))
    ids, log_pred = predict_text(spec, bundle, raw, extras, source, models_dir, device)
    return pl.DataFrame({spec.id_column: ids, spec.target_column: np.exp(np.asarray(log_pred, dtype=np.float64))})
