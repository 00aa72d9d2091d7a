"""Undo what spreadsheets, pandas and text editors do to a CSV, in one counted step.

Kaggle's files pass through Excel, LibreOffice, pandas and editors before they reach us. What those
tools rewrite, and what is read back here (each counted per column, said in one warning per file):

- a UTF-8 byte-order mark before the header (Excel's "CSV UTF-8");
- `;` (or tab) as the separator, which Excel writes where the decimal mark is a comma; in such a
  file a numeric cell "1234,5" has a decimal comma (only there: with `,` separators a comma in a
  number is a thousands separator);
- header names with other case or spacing ("lotarea", " Year Built ");
- padding spaces around values;
- thousands separators in numbers ("1,234", "1,234.5"), exponent notation ("1.2E+05");
- dates written as M/D/YYYY (Excel's US format) or another common format: one format is chosen per
  column, the one that reads the most of its values (a day/month order that both fit is reported).

Nothing here looks across files or rows beyond a column's own format choice, so train and test are
read alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

BOM = "\ufeff"
SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs"}

_THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
_DECIMAL_COMMA = r"^[+-]?\d*,\d+$"
_EXPONENT = r"^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$"

DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d", "YYYY-MM-DD"),
    ("%Y-%m-%d %H:%M:%S", "YYYY-MM-DD hh:mm:ss"),
    ("%Y-%m-%dT%H:%M:%S", "YYYY-MM-DDThh:mm:ss"),
    ("%Y/%m/%d", "YYYY/MM/DD"),
    ("%m/%d/%Y", "M/D/YYYY"),
    ("%m/%d/%Y %H:%M", "M/D/YYYY hh:mm"),
    ("%m/%d/%y", "M/D/YY"),
    ("%m-%d-%Y", "M-D-YYYY"),
    ("%d/%m/%Y", "D/M/YYYY"),
    ("%d/%m/%y", "D/M/YY"),
    ("%d.%m.%Y", "D.M.YYYY"),
    ("%d-%m-%Y", "D-M-YYYY"),
    ("%b %d, %Y", "Mon D, YYYY"),
    ("%B %d, %Y", "Month D, YYYY"),
    ("%d-%b-%Y", "D-Mon-YYYY"),
    ("%d-%b-%y", "D-Mon-YY"),
    ("%d %b %Y", "D Mon YYYY"),
)
"""Candidate date formats (chrono syntax; %m and %d also read one digit). On a tie the earlier one
wins: ISO first, then the US order (the competitions are American), then the day-first orders."""
YEAR_RANGE = (1800, 2100)
"""A four-digit-year format that yields a year outside this range did not fit (e.g. "3/4/20" is not
year 20 under M/D/YYYY but 2020 under M/D/YY)."""


@dataclass
class Normalized:
    """What was rewritten in one file: {kind: {column: cells}} and file-level notes."""

    cells: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, column: str, n: int) -> None:
        if n:
            per = self.cells.setdefault(kind, {})
            per[column] = per.get(column, 0) + n

    def message(self, label: str) -> str | None:
        """One line for a warning, or None when nothing was rewritten."""
        parts = list(self.notes)
        for kind, per in self.cells.items():
            cols = sorted(per, key=lambda c: -per[c])
            more = f" and {len(cols) - 6} more" if len(cols) > 6 else ""
            shown = ", ".join(f"{c} {per[c]}" for c in cols[:6]) + more
            parts.append(f"{kind}: {sum(per.values())} cell(s) ({shown})")
        if not parts:
            return None
        total = sum(sum(per.values()) for per in self.cells.values())
        return f"{label}: read as spreadsheets and editors write it ({total} cell(s) normalized): " + "; ".join(parts)


def strip_bom(text: str, norm: Normalized) -> str:
    if text.startswith(BOM):
        norm.notes.append("a UTF-8 byte-order mark before the header was removed")
        return text[len(BOM) :]
    return text


def _header_key(name: str) -> str:
    return re.sub(r"\s+", "", name).casefold()


def choose_separator(header_line: str, expected: list[str]) -> str:
    """The separator under which the header names the most expected columns (commas on a tie)."""
    wanted = {_header_key(c) for c in expected}
    best, best_hits = ",", -1
    for sep in SEPARATORS:
        hits = sum(_header_key(name.strip('"')) in wanted for name in header_line.split(sep))
        if hits > best_hits:
            best, best_hits = sep, hits
    return best


def match_header(columns: list[str], expected: list[str], norm: Normalized) -> list[str]:
    """Header names with case and spacing changes mapped back to the expected names.

    A name maps only when it is not itself expected, its key (spaces removed, case folded) is an
    expected name's, and no other header name claims that column."""
    exact = set(columns)
    by_key = {_header_key(c): c for c in expected}
    claims: dict[str, list[str]] = {}
    for c in columns:
        target = by_key.get(_header_key(c))
        if c not in exact or target is None or target == c or target in exact:
            continue
        claims.setdefault(target, []).append(c)
    renamed = {c[0]: t for t, c in claims.items() if len(c) == 1}
    if renamed:
        shown = ", ".join(f"{old!r} as {new!r}" for old, new in list(renamed.items())[:6])
        more = f" and {len(renamed) - 6} more" if len(renamed) > 6 else ""
        norm.notes.append(f"header names read ignoring case and spaces: {shown}{more}")
    return [renamed.get(c, c) for c in columns]


def _count(frame: pl.DataFrame, exprs: dict[str, pl.Expr]) -> dict[str, int]:
    if not exprs:
        return {}
    row = frame.select(**{c: e.sum() for c, e in exprs.items()}).row(0, named=True)
    return {c: int(n) for c, n in row.items()}


def normalize_cells(frame: pl.DataFrame, numeric: list[str], sep: str, norm: Normalized) -> pl.DataFrame:
    """Strip padding everywhere; undo thousands separators (or, in `;`/tab files, decimal commas) in
    `numeric` columns; count exponent notation there. Cells left blank by stripping become null."""
    cols = frame.columns
    # Byte lengths before and after stripping: the cheapest of the checks measured (regex, slices).
    shorter = {c: pl.col(c).str.len_bytes() != pl.col(c).str.strip_chars().str.len_bytes() for c in cols}
    padded = _count(frame, {c: e.fill_null(False) for c, e in shorter.items()})
    for c, n in padded.items():
        norm.add("padding spaces removed", c, n)
    touched = [c for c, n in padded.items() if n]  # only they are rewritten: long text columns cost time
    frame = frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c).str.strip_chars()).alias(c)
        for c in touched
    )
    numeric = [c for c in numeric if c in cols]
    if sep == ",":
        pattern, kind = _THOUSANDS, "thousands separators removed"

        def fix(e: pl.Expr) -> pl.Expr:
            return e.str.replace_all(",", "", literal=True)
    else:
        pattern, kind = _DECIMAL_COMMA, "decimal commas read"

        def fix(e: pl.Expr) -> pl.Expr:
            return e.str.replace(",", ".", literal=True)
    hits = {c: pl.col(c).str.contains(pattern).fill_null(False) for c in numeric}
    for c, n in _count(frame, hits).items():
        norm.add(kind, c, n)
    frame = frame.with_columns(pl.when(hits[c]).then(fix(pl.col(c))).otherwise(pl.col(c)).alias(c) for c in numeric)
    exponent = {c: pl.col(c).str.contains(_EXPONENT).fill_null(False) for c in numeric}
    for c, n in _count(frame, exponent).items():
        norm.add("exponent notation read", c, n)
    return frame


def _parse_date(values: pl.Series, fmt: str) -> pl.Series:
    parsed = values.str.strptime(pl.Datetime, fmt, strict=False).dt.date() if "%H" in fmt else (
        values.str.strptime(pl.Date, fmt, strict=False)
    )
    if "%Y" in fmt:
        parsed = pl.select(
            pl.when(parsed.dt.year().is_between(*YEAR_RANGE)).then(parsed).otherwise(None)
        ).to_series()
    return parsed


@dataclass
class DateColumn:
    """A date column read in its chosen format: ISO text, the rows that did not parse, the choice."""

    iso: pl.Series
    bad_rows: np.ndarray
    examples: list[str]
    chosen: str | None
    ambiguous_with: str | None = None


def normalize_dates(values: pl.Series) -> DateColumn:
    """Read a text column of dates in the format that parses most of its values (ISO on a tie, then
    M/D before D/M); values that fail it but are ISO are read too. Returns ISO "YYYY-MM-DD" text."""
    present = values.is_not_null()
    if not present.any():
        return DateColumn(values, np.array([], dtype=np.int64), [], None)
    iso = _parse_date(values, "%Y-%m-%d")
    if int(iso.is_not_null().sum()) == int(present.sum()):  # as Kaggle wrote it: nothing to choose
        return DateColumn(iso.dt.strftime("%Y-%m-%d").alias(values.name), np.array([], dtype=np.int64), [],
                          "YYYY-MM-DD")
    parsed = {fmt: _parse_date(values, fmt) for fmt, _ in DATE_FORMATS}
    counts = {fmt: int(p.is_not_null().sum()) for fmt, p in parsed.items()}
    best = max(counts, key=lambda f: counts[f])  # first of the ties: the order of DATE_FORMATS
    names = dict(DATE_FORMATS)
    ambiguous = None
    if counts[best]:
        ties = [f for f in counts if f != best and counts[f] == counts[best]
                and (parsed[f] != parsed[best]).fill_null(False).sum() != 0]
        ambiguous = names[ties[0]] if ties else None
    result = parsed[best]
    if best != "%Y-%m-%d":
        result = pl.select(pl.coalesce(result, parsed["%Y-%m-%d"])).to_series()
    bad = (present & result.is_null()).to_numpy()
    examples = values.filter(pl.Series(bad)).unique(maintain_order=True).head(3).to_list()
    iso = result.dt.strftime("%Y-%m-%d").alias(values.name)
    return DateColumn(iso, np.flatnonzero(bad), examples, None if not counts[best] else names[best], ambiguous)
