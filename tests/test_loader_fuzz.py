"""Property: whatever bytes train.csv and test.csv hold, `load_competition` returns data that
passed validation or raises CompError, never another exception (which the CLI would show as a
traceback). Bounded so that it runs in a few seconds.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from competition.competitions import get_spec
from competition.config import build_config, parse_sets
from competition.data import CompetitionData, load_competition
from competition.errors import CompError
from competition.synthetic import house_prices

SPEC = get_spec("house-prices")
TRAIN, TEST, _ = house_prices.generate(10, 5, seed=11)

JUNK_CELLS = st.one_of(
    st.sampled_from(
        ["", "NA", "inf", "-inf", "nan", "NaN", "1e309", "-0", " 7 ", "0x1A", "1,000", "9" * 40, '"', '""', "\\N"]
    ),
    st.text(alphabet=st.sampled_from(list('0123456789.-+eE,;"\n\r\t aé\x00€')), max_size=12),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: a failure is reproducible, never flaky
    database=None,
)


def rows_of(frame: pl.DataFrame) -> list[list[str]]:
    """Header plus rows, every cell as its CSV text (None as the empty field)."""
    return [list(frame.columns)] + [["" if v is None else v for v in row] for row in frame.rows()]


@st.composite
def mutated_csv(draw: st.DrawFn, frame: pl.DataFrame) -> bytes:
    """The frame's CSV with a few junk cells and, often, one kind of heavier damage (one at a
    time, so that some files still load and the validated path is exercised too)."""
    rows = rows_of(frame)
    width = len(rows[0])
    for _ in range(draw(st.integers(0, 4))):
        r, c = draw(st.integers(1, len(rows) - 1)), draw(st.integers(0, width - 1))
        rows[r][c] = draw(JUNK_CELLS)
    damage = draw(st.sampled_from(["none", "none", "none", *DAMAGE]))
    header = rows[0]
    if damage == "shuffled header":
        rows[0] = draw(st.permutations(header))
    elif damage == "dropped column":
        drop = draw(st.integers(0, width - 1))
        rows = [[v for i, v in enumerate(row) if i != drop] for row in rows]
    elif damage == "duplicated header name":
        header[draw(st.integers(0, width - 1))] = header[draw(st.integers(0, width - 1))]
    elif damage == "renamed header":
        header[draw(st.integers(0, width - 1))] = draw(st.text(max_size=8))
    elif damage == "ragged rows":
        for _ in range(draw(st.integers(1, 2))):
            row = rows[draw(st.integers(1, len(rows) - 1))]
            if draw(st.booleans()):
                del row[draw(st.integers(0, len(row) - 1)) :]
            else:
                row.extend(draw(st.lists(JUNK_CELLS, min_size=1, max_size=3)))
    if damage == "unquoted":  # junk commas, quotes and newlines break the structure
        text = "\n".join(",".join(row) for row in rows) + "\n"
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(rows)
        text = buf.getvalue()
    encoding = "latin-1" if damage == "latin-1" else draw(st.sampled_from(["utf-8", "utf-8-sig"]))
    data = text.encode(encoding, errors="replace")
    if damage == "truncated":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flipped byte":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    elif damage == "random bytes":
        data = draw(st.binary(max_size=200))
    return data


DAMAGE = [
    "shuffled header",
    "dropped column",
    "duplicated header name",
    "renamed header",
    "ragged rows",
    "unquoted",
    "latin-1",
    "truncated",
    "flipped byte",
    "random bytes",
]


def assert_validated(data: CompetitionData) -> None:
    """What a caller may rely on when load_competition returns."""
    assert data.train.columns == list(SPEC.raw_columns)
    assert data.test.columns == SPEC.test_columns
    for frame in (data.train, data.test):
        ids = frame[SPEC.id_column]
        assert ids.dtype == pl.Int64 and ids.null_count() == 0 and not ids.is_duplicated().any()
        for col, kind in SPEC.raw_columns.items():
            if kind != "str" and col in frame.columns:
                assert all(math.isfinite(v) for v in frame[col].drop_nulls().to_list()), col
    assert not set(data.train[SPEC.id_column].to_list()) & set(data.test[SPEC.id_column].to_list())
    y = data.train[SPEC.target_column].to_numpy()
    assert (y > 0).all() and all(math.isfinite(v) for v in y)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(train=mutated_csv(TRAIN), test=mutated_csv(TEST))
def test_load_competition_validates_or_raises_comp_error(folder: Path, train: bytes, test: bytes) -> None:
    (folder / SPEC.train_file).write_bytes(train)
    (folder / SPEC.test_file).write_bytes(test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = load_competition(SPEC, folder)
        except CompError as exc:
            assert str(exc)
            return
    assert_validated(data)


def test_undamaged_files_load(folder: Path) -> None:
    """The generator's own files pass, so the property above is not vacuous."""
    for name, frame in ((SPEC.train_file, TRAIN), (SPEC.test_file, TEST)):
        frame.write_csv(folder / name)
    assert_validated(load_competition(SPEC, folder))


SETTING_VALUES = st.one_of(
    st.text(max_size=10),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@FUZZ
@given(
    key=st.one_of(st.sampled_from(sorted(build_config().flat())), st.text(max_size=12)),
    value=SETTING_VALUES,
    as_text=st.booleans(),
)
def test_settings_build_or_raise_comp_error(key: str, value: object, as_text: bool) -> None:
    """A TOML value (any type) or a `--set key=value` string gives a config or a CompError."""
    try:
        layer = parse_sets([f"{key}={value}"]) if as_text else {key: value}
        build_config(layer)
    except CompError as exc:
        assert str(exc)
