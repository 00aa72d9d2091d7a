"""Load a competition's CSVs with polars, validate them, and digest them.

Everything is read as text first and cast column by column, so that the NA tokens are pinned
(no library default decides what "None" or "NA" means) and every value that fails to parse is
counted and reported with its rows instead of crashing or being silently guessed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from competition.competitions.base import CompetitionSpec
from competition.errors import CompError, describe_rows
from competition.normalize import (
    SEPARATORS,
    Normalized,
    choose_separator,
    match_header,
    normalize_cells,
    normalize_dates,
    strip_bom,
)
from competition.sources import Source, read_source


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


def bytes_digest(*files: tuple[str, bytes]) -> str:
    """SHA-256 over (name, bytes) pairs; for files read as is, the same value as `file_digest`."""
    h = hashlib.sha256()
    for name, raw in files:
        h.update(name.encode())
        h.update(raw)
    return h.hexdigest()


def file_digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _read_source(path: Path, spec: CompetitionSpec, expected: list[str], what: str) -> Source:
    """The file's bytes (unpacked from gzip or zip when that is how they came), or a CompError saying
    why there are none to read."""
    hint = (f"Download it with `comp data download {spec.name}` or point --data-dir at the folder holding "
            f"{spec.train_file} and {spec.test_file} (or {spec.kaggle_slug}.zip, or .csv.gz files).")
    source = read_source(path, spec.kaggle_slug, what, hint)
    if not source.raw:
        raise CompError(
            f"{source.label} is empty (0 bytes): expected a CSV with header {', '.join(expected[:4])}, ..."
        )
    return source


def _check_utf8(raw: bytes, path: Path | str) -> None:
    """Refuse non-UTF-8 bytes with the line they are on (polars' own message gives no position)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        near = raw[max(0, exc.start - 12) : exc.start + 12].decode("utf-8", "backslashreplace")
        near = " ".join(near.split())
        raise CompError(
            f"{path} is not UTF-8 text: line {line}, column {column} has the byte 0x{raw[exc.start]:02x} "
            f"(near: {near}). "
            "Save the file as UTF-8 (it may be latin-1 or Windows-1252, e.g. from Excel)."
        ) from None


def _record_shape(raw: bytes, sep: str = ",") -> tuple[np.ndarray, np.ndarray]:
    """(fields, blank) per CSV record; separators and newlines inside double quotes are data.

    A quick vectorized pass (quote parity), so that short rows, which polars silently pads with
    missing values, are found without a slow per-row parse of every file."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))

    def unquoted(positions: np.ndarray) -> np.ndarray:
        """Positions preceded by an even number of quote characters."""
        return positions[(np.searchsorted(quotes, positions) & 1) == 0] if quotes.size else positions

    ends = unquoted(np.flatnonzero(buf == ord("\n")))
    if ends.size == 0 or ends[-1] != buf.size - 1:
        ends = np.append(ends, buf.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = unquoted(np.flatnonzero(buf == ord(sep)))
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    length = ends - starts
    last = buf[np.minimum(starts, buf.size - 1)]
    blank = (length == 0) | ((length == 1) & (last == ord("\r")))
    return fields, blank


def _exact_ragged(text: str, sep: str = ",") -> tuple[int, list[tuple[int, int]]] | None:
    """(header width, [(row, fields)] of records of another width), by a real CSV parse;
    None when Python's parser gives up (then the quick pass is reported as is)."""
    bad: list[tuple[int, int]] = []
    width = -1
    try:
        for row, record in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=sep), start=1):
            if row == 1:
                width = len(record)
            elif len(record) != width:
                bad.append((row, len(record)))
    except csv.Error:
        return None
    return width, bad


def _check_ragged(raw: bytes, path: Path | str, n_expected: int, sep: str = ",") -> None:
    """Every record must have the header's number of fields: a short row (e.g. a file cut off
    mid-download) would otherwise become a row of missing values without a word."""
    fields, blank = _record_shape(raw, sep)
    width = int(fields[0])
    header_line = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if width == 1 and n_expected > 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in header_line:
                raise CompError(
                    f"{path} seems to be separated by {name}, not commas (its header is one column: "
                    f"{header_line[:60]!r}). Save it as comma-separated CSV."
                )
    suspect = np.flatnonzero(fields != width)
    if suspect.size == 0:
        return
    exact = _exact_ragged(raw.decode("utf-8"), sep)
    if exact is None:
        found = [(int(i) + 1, 0 if blank[i] else int(fields[i])) for i in suspect]
    else:
        width, found = exact
    if not found:
        return
    shown = ", ".join(f"row {row} is blank" if n == 0 else f"row {row} has {n}" for row, n in found[:5])
    more = f" and {len(found) - 5} more rows" if len(found) > 5 else ""
    raise CompError(
        f"{path}: every row must have the header's {width} fields; {shown}{more}. "
        "Was the file cut short, or does a value hold an unquoted comma or an unclosed quote?"
    )


def _list_names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _check_header(columns: list[str], expected: list[str], spec: CompetitionSpec, path: Path | str) -> None:
    """Required columns present exactly once; say which header names look like renamed ones."""
    expected_set = set(expected)
    doubled = sorted(
        {m.group(1) for c in columns if (m := _DUPLICATED.fullmatch(c)) and m.group(1) in expected_set}
    )
    if doubled:
        raise CompError(f"{path}: the header names column(s) {', '.join(doubled)} more than once.")
    present = set(columns)
    missing = [c for c in expected if c not in present]
    if not missing:
        return
    unexpected = [c for c in columns if c not in expected_set]
    if len(missing) == len(expected):
        raise CompError(
            f"{path} does not look like the {spec.name} {Path(str(path)).name}: none of its {len(expected)} columns "
            f"is in the header (which starts {_list_names([repr(c[:30]) for c in columns], 4)})."
        )
    by_norm = {_norm(c): c for c in unexpected}
    near = [f"{by_norm[_norm(m)]!r} for {m!r}" for m in missing if _norm(m) in by_norm]
    hint = f" Renamed? Found {', '.join(near)}." if near else ""
    if not near and unexpected:
        hint = f" Unexpected column(s): {_list_names([repr(c) for c in unexpected], 5)}."
    raise CompError(f"{path} is missing required column(s): {_list_names(missing)}.{hint}")


_DUPLICATED = re.compile(r"(.*)_duplicated_\d+")
"""How polars renames a repeated header name."""


@dataclass
class RawTable:
    """One file read as text: its expected columns, extra column names, bytes and label."""

    frame: pl.DataFrame
    extras: list[str]
    raw: bytes
    label: str
    unparsable: dict[str, int] = field(default_factory=dict)
    """Date values that did not parse (became missing), per column."""


def read_table(path: Path, spec: CompetitionSpec, expected: list[str], what: str) -> RawTable:
    """Read one CSV as text, check its bytes, shape and header, and undo spreadsheet rewrites
    (`competition.normalize`, said in one counted warning); dates become ISO text."""
    source = _read_source(path, spec, expected, what)
    raw, label = source.raw, source.label
    if source.note:
        warnings.warn(source.note, stacklevel=3)
    _check_utf8(raw, label)
    norm = Normalized()
    text = strip_bom(raw.decode("utf-8"), norm)
    if not text.strip():
        raise CompError(f"{label} holds only blank lines: expected a header {', '.join(expected[:4])}, ...")
    raw = text.encode("utf-8")
    sep = choose_separator(text.split("\n", 1)[0], expected)
    if sep != ",":
        norm.notes.append(f"separated by {SEPARATORS[sep]}, not commas")
    _check_ragged(raw, label, len(expected), sep)
    try:
        frame = pl.read_csv(
            io.BytesIO(raw),
            separator=sep,
            infer_schema=False,
            null_values=None,
            empty_string_is_null=True,
            raise_if_empty=True,
        )
    except pl.exceptions.NoDataError as exc:
        raise CompError(f"{label} has no data: {exc}") from exc
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CompError(f"{label} could not be parsed as CSV: {first[:200]}") from exc
    frame, extras, unparsable = check_raw_frame(frame, spec, expected, label, sep, norm)
    return RawTable(frame, extras, raw, label, unparsable)


def check_raw_frame(
    frame: pl.DataFrame,
    spec: CompetitionSpec,
    expected: list[str],
    label: str,
    sep: str = ",",
    norm: Normalized | None = None,
) -> tuple[pl.DataFrame, list[str], dict[str, int]]:
    """Check and normalize a frame of text columns: a CSV read by `read_table`, or rows handed to
    the Python API or the MLflow model (`competition.rows`). Returns (expected columns, extra
    column names, date values that did not parse per column)."""
    norm = norm if norm is not None else Normalized()
    frame.columns = match_header(frame.columns, expected, norm)
    _check_header(frame.columns, expected, spec, label)
    extras = [c for c in frame.columns if c not in set(expected)]
    if frame.height == 0:
        raise CompError(f"{label} has a header but no data rows.")
    numeric = [c for c in expected if spec.raw_columns[c] != "str"]
    frame = normalize_cells(frame.select(expected), numeric, sep, norm)
    frame, unparsable = _read_dates(frame, spec, label, norm)
    message = norm.message(label)
    if message:
        warnings.warn(message, stacklevel=4)
    return frame, extras, unparsable


def _read_dates(
    frame: pl.DataFrame, spec: CompetitionSpec, label: str, norm: Normalized
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Date columns to ISO text in the format each column is written in; failures warned and counted."""
    unparsable: dict[str, int] = {}
    for col in spec.date_columns:
        if col not in frame.columns:
            continue
        read = normalize_dates(frame[col])
        if read.chosen is not None and read.chosen != "YYYY-MM-DD":
            fixed = int((frame[col].is_not_null() & (frame[col] != read.iso).fill_null(True)).sum())
            norm.add(f"dates read as {read.chosen}", col, fixed)
        if read.ambiguous_with is not None:
            norm.notes.append(f"{col!r}: dates fit both {read.chosen} and {read.ambiguous_with}; read as {read.chosen}")
        if read.bad_rows.size:
            rows = (read.bad_rows + 2).tolist()
            examples = ", ".join(repr(str(v)[:40]) for v in read.examples)
            fmt = f" (this column is read as {read.chosen})" if read.chosen else ""
            warnings.warn(
                f"{label}: {read.bad_rows.size} value(s) of date column {col!r} did not parse as dates{fmt} and are "
                f"treated as missing ({describe_rows(rows)}; e.g. {examples}).",
                stacklevel=4,
            )
            unparsable[col] = int(read.bad_rows.size)
        frame = frame.with_columns(read.iso)
    return frame, unparsable


def read_raw(path: Path, spec: CompetitionSpec, expected: list[str], what: str) -> tuple[pl.DataFrame, list[str]]:
    """Read one CSV as text (see `read_table`); return (expected columns, extras)."""
    table = read_table(path, spec, expected, what)
    return table.frame, table.extras


def cast_columns(
    frame: pl.DataFrame, spec: CompetitionSpec, path: Path | str
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Cast text columns to their raw types; pinned missing tokens become null; count failures.

    "inf" and "nan" count as failures too: no competition column holds a non-finite measurement.
    A feature value that does not parse becomes missing, is counted, and is reported in a warning
    with its rows; an Id or target that does not parse is an error. A text value outside a column's
    known levels (`spec.levels`) is kept for `prepare` (which reads it as missing), counted and warned."""
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
        exprs.append(pl.when(as_float.is_finite()).then(as_float).otherwise(None).alias(col))
    cast = frame.select(exprs)
    for col in frame.columns:
        if spec.raw_columns[col] == "str":
            continue
        raw = frame[col].str.strip_chars()
        was_value = raw.is_not_null() & ~raw.is_in(num_missing)
        bad = was_value & cast[col].is_null()
        n_bad = int(bad.sum())
        if n_bad:
            rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()
            examples = ", ".join(repr(v[:40]) for v in frame[col].filter(bad).unique(maintain_order=True).head(3))
            if col in (spec.id_column, spec.target_column):
                role = "target column" if col == spec.target_column else "column"
                raise CompError(f"{path}: {role} {col!r} must hold finite numbers; {describe_rows(rows)}: {examples}.")
            warnings.warn(
                f"{path}: {n_bad} value(s) of numeric column {col!r} did not parse and are treated as missing "
                f"({describe_rows(rows)}; e.g. {examples}).",
                stacklevel=3,
            )
            unparsable[col] = n_bad
    for col, levels in spec.levels.items():
        if col not in cast.columns:
            continue
        known = [*levels, *spec.numeric_missing_tokens]  # "NA" is a missing value here, not a level
        bad = (cast[col].is_not_null() & ~cast[col].is_in(known)).to_numpy()
        if bad.any():
            rows = (np.flatnonzero(bad) + 2).tolist()
            examples = ", ".join(repr(v[:40]) for v in cast[col].filter(bad).unique(maintain_order=True).head(3))
            warnings.warn(
                f"{path}: {len(rows)} value(s) of column {col!r} are not among its levels "
                f"({', '.join(levels)}) and are treated as missing ({describe_rows(rows)}; e.g. {examples}).",
                stacklevel=3,
            )
            unparsable[col] = len(rows)
    return cast, unparsable


def check_ids(frame: pl.DataFrame, spec: CompetitionSpec, path: Path | str) -> None:
    """Ids present, whole, in float64's exact range, and unique (a submission needs one row per Id)."""
    ids = frame[spec.id_column]
    if ids.null_count():
        rows = (np.flatnonzero(ids.is_null().to_numpy()) + 2).tolist()
        raise CompError(f"{path}: column {spec.id_column!r} is empty on {describe_rows(rows)}.")
    values = ids.to_numpy()
    bad = ~np.isfinite(values) | (values != np.round(values)) | (np.abs(values) > _MAX_ID)
    if bad.any():
        rows = (np.flatnonzero(bad) + 2).tolist()
        examples = ", ".join(repr(float(v)) for v in values[bad][:3])
        raise CompError(
            f"{path}: column {spec.id_column!r} must hold whole numbers up to 2**53; {describe_rows(rows)}: {examples}."
        )
    dup = ids.is_duplicated()
    if dup.any():
        rows = (np.flatnonzero(dup.to_numpy()) + 2).tolist()
        dup_values = sorted(set(ids.filter(dup).cast(pl.Int64).to_list()))[:5]
        raise CompError(
            f"{path}: duplicate {spec.id_column} values {dup_values} on {describe_rows(rows)}; Ids must be unique."
        )


_MAX_ID = 2.0**53
"""Largest Id that float64 (the text cast) holds exactly, so Ids compare and cast safely."""


def _check_target(frame: pl.DataFrame, spec: CompetitionSpec, path: Path | str) -> None:
    y = frame[spec.target_column].to_numpy().astype(np.float64)
    bad = ~np.isfinite(y) | (y <= 0)
    if bad.any():
        rows = (np.flatnonzero(bad) + 2).tolist()
        examples = ", ".join("missing" if math.isnan(v) else repr(float(v)) for v in y[bad][:3])
        raise CompError(
            f"{path}: target column {spec.target_column!r} must be a positive finite number (the metric takes "
            f"its log); {describe_rows(rows)}: {examples}. Fix or remove those rows."
        )


def load_competition(spec: CompetitionSpec, data_dir: Path) -> CompetitionData:
    """Load and validate train.csv and test.csv of `spec` from `data_dir` (or from the Kaggle zip or
    .csv.gz files there: `competition.sources`)."""
    train_path = data_dir / spec.train_file
    test_path = data_dir / spec.test_file
    train_table = read_table(train_path, spec, list(spec.raw_columns), "Training")
    test_table = read_table(test_path, spec, spec.test_columns, "Test")
    train_label, test_label = train_table.label, test_table.label
    if spec.target_column in test_table.extras:
        raise CompError(
            f"{test_label} has the target column {spec.target_column!r}: is it a training file? "
            "The test file must not contain the target."
        )
    extras = [f"{train_path.name}:{c}" for c in train_table.extras]
    extras += [f"{test_path.name}:{c}" for c in test_table.extras]
    if extras:
        warnings.warn(f"Ignoring extra column(s) not in the {spec.name} schema: {', '.join(extras)}", stacklevel=2)
    train, bad_train = cast_columns(train_table.frame, spec, train_label)
    test, bad_test = cast_columns(test_table.frame, spec, test_label)
    check_ids(train, spec, train_label)
    check_ids(test, spec, test_label)
    _check_target(train, spec, train_label)
    overlap = set(train[spec.id_column].to_list()) & set(test[spec.id_column].to_list())
    if overlap:
        some = sorted(overlap)[:5]
        raise CompError(
            f"{test_label}: {len(overlap)} test {spec.id_column} value(s) also appear in {train_path.name} "
            f"(e.g. {[int(v) for v in some]}); train and test Ids must not overlap."
        )
    unparsable: dict[str, int] = {}
    for part in (train_table.unparsable, bad_train, test_table.unparsable, bad_test):
        for col, n in part.items():
            unparsable[col] = unparsable.get(col, 0) + n
    id_cast = pl.col(spec.id_column).cast(pl.Int64)
    return CompetitionData(
        spec=spec,
        train=train.with_columns(id_cast),
        test=test.with_columns(id_cast),
        digest=bytes_digest((train_path.name, train_table.raw), (test_path.name, test_table.raw)),
        unparsable=dict(sorted(unparsable.items())),
        extra_columns=extras,
    )
