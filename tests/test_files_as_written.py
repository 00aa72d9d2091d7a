"""Files as people's tools write them read the same as the originals (issue 14, section 4).

Every test starts from the synthetic generators' files (never the real ones) and rewrites them the way
pandas, Excel or an editor would, then checks that what `load_competition` and `prepare` make of them is
the same as for the originals, or that the message says exactly what was found.
"""

from __future__ import annotations

import gzip
import shutil
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from competition.competitions import get_spec
from competition.data import CompetitionData, load_competition
from competition.errors import CompError
from competition.synthetic import california, house_prices

HP = get_spec("house-prices")
CA = get_spec("california-house-prices")


def load(spec, folder: Path) -> tuple[CompetitionData, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_competition(spec, folder)
    return data, [str(w.message) for w in caught]


def assert_same_parse(spec, a: CompetitionData, b: CompetitionData) -> None:
    """Same raw values and the same prepared features, train and test."""
    assert_frame_equal(a.train, b.train)
    assert_frame_equal(a.test, b.test)
    for x, y in ((a.train, b.train), (a.test, b.test)):
        assert_frame_equal(spec.prepare(x).frame, spec.prepare(y).frame)


@pytest.fixture(scope="module")
def hp_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hp_files")
    house_prices.write(folder, 300, 200, seed=7)
    return folder


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ca_files")
    california.write(folder, 200, 100, seed=4)
    return folder


def copy_of(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "data"
    shutil.copytree(folder, out)
    return out


# ----------------------------------------------------------------------------- pandas round trip


def test_pandas_round_trip_of_house_prices_parses_the_same(hp_files: Path, tmp_path: Path) -> None:
    """pd.read_csv + to_csv turns "NA" levels and MasVnrType's "None" into empty cells and integers
    with gaps into floats ("65.0"): the prepared features must not change."""
    out = tmp_path / "pandas"
    out.mkdir()
    for name in ("train.csv", "test.csv"):
        pd.read_csv(hp_files / name).to_csv(out / name, index=False)
    text = (out / "test.csv").read_text()
    assert ",," in text and ",NA," not in text and ",None," not in text  # the rewrite really happened
    original, _ = load(HP, hp_files)
    rewritten, _ = load(HP, out)
    for x, y in ((original.train, rewritten.train), (original.test, rewritten.test)):
        assert_frame_equal(HP.prepare(x).frame, HP.prepare(y).frame)


def hp_rows(**cells: str | None) -> pl.DataFrame:
    """Two synthetic test rows as the loader hands them over, with `cells` set in the first."""
    _, test, _ = house_prices.generate(20, 2, seed=5)
    frame = test.slice(0, 1).with_columns(**{k: pl.lit(v, dtype=pl.Utf8) for k, v in cells.items()})
    from competition.data import cast_columns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cast, _ = cast_columns(frame, HP, "test.csv")
    return cast


@pytest.mark.parametrize(
    ("cells", "column", "expected"),
    [
        ({"KitchenAbvGr": "1", "KitchenQual": "NA"}, "KitchenQual_ord", None),  # a kitchen of unknown quality
        ({"KitchenAbvGr": "1", "KitchenQual": None}, "KitchenQual_ord", None),
        ({"KitchenAbvGr": "0", "KitchenQual": "NA"}, "KitchenQual_ord", 0.0),  # no kitchen
        ({"PoolArea": "512", "PoolQC": "NA"}, "PoolQC_ord", None),
        ({"PoolArea": "0", "PoolQC": None}, "PoolQC_ord", 0.0),
        ({"Fireplaces": "2", "FireplaceQu": "NA"}, "FireplaceQu_ord", None),
        ({"Fireplaces": "0", "FireplaceQu": None}, "FireplaceQu_ord", 0.0),
        ({"GarageArea": "360", "GarageCars": "1", "GarageQual": "NA"}, "GarageQual_ord", None),
        ({"GarageArea": "NA", "GarageCars": "NA", "GarageType": "Detchd", "GarageFinish": "NA"},
         "GarageFinish_ord", None),
        ({"GarageArea": "0", "GarageCars": "0", "GarageType": "NA", "GarageCond": None}, "GarageCond_ord", 0.0),
        ({"TotalBsmtSF": "800", "BsmtFinSF1": "0", "BsmtFinSF2": "0", "BsmtUnfSF": "800", "BsmtCond": "NA"},
         "BsmtCond_ord", None),
        ({"TotalBsmtSF": "0", "BsmtFinSF1": "0", "BsmtFinSF2": "0", "BsmtUnfSF": "0", "BsmtExposure": None},
         "BsmtExposure_ord", 0.0),
    ],
)
def test_na_quality_of_an_existing_feature_is_unknown(cells: dict, column: str, expected: float | None) -> None:
    assert HP.prepare(hp_rows(**cells)).frame[column][0] == expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"MasVnrType": None, "MasVnrArea": "0"}, "None"),  # "None" as pandas writes it
        ({"MasVnrType": "None", "MasVnrArea": "0"}, "None"),
        ({"MasVnrType": None, "MasVnrArea": None}, "(missing)"),  # "NA" / "NA" as pandas writes it
        ({"MasVnrType": "NA", "MasVnrArea": "NA"}, "(missing)"),
        ({"MasVnrType": "None", "MasVnrArea": "288"}, "(missing)"),  # a veneer area but no veneer: unknown
        ({"MasVnrType": "Stone", "MasVnrArea": "120"}, "Stone"),
        ({"Alley": None}, "NA"),  # no related column: empty and "NA" both mean "no alley access"
        ({"MSZoning": "NA"}, "(missing)"),  # not a level of MSZoning: unknown, as an empty cell
    ],
)
def test_text_levels_read_alike_whichever_way_na_was_written(cells: dict, expected: str) -> None:
    column = next(iter(cells)) if "MasVnrType" not in cells else "MasVnrType"
    assert HP.prepare(hp_rows(**cells)).frame[column][0] == expected


# ----------------------------------------------------------------------------- impossible values


@pytest.mark.parametrize(
    ("cells", "column", "flag"),
    [
        ({"YearBuilt": "2009", "YrSold": "2007", "SaleCondition": "Normal"}, "YearBuilt", "year_built_invalid"),
        ({"YearBuilt": "1700"}, "YearBuilt", "year_built_invalid"),
        ({"YearBuilt": "2002", "YearRemodAdd": "2001"}, "YearRemodAdd", "remodel_year_invalid"),
        ({"GarageYrBlt": "2207", "YrSold": "2007"}, "GarageYrBlt", "garage_year_invalid"),
        ({"WoodDeckSF": "-120"}, "WoodDeckSF", "area_invalid"),
        ({"GrLivArea": "0"}, "GrLivArea", "area_invalid"),
        ({"GarageCars": "-1"}, "GarageCars", "area_invalid"),
        ({"TotalBsmtSF": "900", "BsmtFinSF1": "100", "BsmtFinSF2": "0", "BsmtUnfSF": "100"}, "TotalBsmtSF",
         "area_total_mismatch"),
        ({"1stFlrSF": "1000", "2ndFlrSF": "0", "LowQualFinSF": "0", "GrLivArea": "1500"}, "GrLivArea",
         "area_total_mismatch"),
        ({"OverallQual": "11"}, "OverallQual", "rating_invalid"),
        ({"MoSold": "13"}, "MoSold", "sale_date_invalid"),
    ],
)
def test_impossible_values_become_missing_with_a_flag(cells: dict, column: str, flag: str) -> None:
    rows = hp_rows(**cells)
    assert rows[column][0] is not None
    out = HP.prepare(rows)
    assert out.frame[column][0] is None
    assert out.frame[flag].to_list() == [1.0]
    assert out.impossible == {column: 1}


def test_partial_sales_may_be_completed_a_year_after_the_sale() -> None:
    """data_description.txt: "Partial: Home was not completed when last assessed"; the real test.csv
    has homes built in 2008 and sold (before completion) in 2007."""
    cells = {"YearBuilt": "2008", "YearRemodAdd": "2008", "GarageYrBlt": "2008", "YrSold": "2007",
             "SaleCondition": "Partial"}
    out = HP.prepare(hp_rows(**cells))
    assert out.impossible == {}
    assert out.frame["YearBuilt"][0] == 2008.0


def test_data_info_counts_impossible_values(hp_files: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from competition.cli import app

    data = copy_of(hp_files, tmp_path)
    frame = pl.read_csv(data / "test.csv", infer_schema=False)
    frame.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("2207")).otherwise(pl.col("GarageYrBlt"))
                       .alias("GarageYrBlt")).write_csv(data / "test.csv")
    result = CliRunner().invoke(app, ["data", "info", "house-prices", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "impossible or contradictory values turned into missing, with a flag (train+test): 3" in text
    assert "(train+test): 3 (GarageYrBlt 3)" in text


# ----------------------------------------------------------------------------- California dates


def rewrite_dates(folder: Path, name: str, fmt: str) -> None:
    path = folder / name
    frame = pl.read_csv(path, infer_schema=False)
    frame.with_columns(
        pl.col(c).str.strptime(pl.Date, "%Y-%m-%d").dt.strftime(fmt) for c in ("Listed On", "Last Sold On")
    ).write_csv(path)


@pytest.mark.parametrize("fmt", ["%-m/%-d/%Y", "%m/%d/%Y", "%d.%m.%Y", "%b %d, %Y", "%Y-%m-%d 00:00:00"])
def test_california_dates_as_spreadsheets_write_them(ca_files: Path, tmp_path: Path, fmt: str) -> None:
    data = copy_of(ca_files, tmp_path)
    for name in ("train.csv", "test.csv"):
        rewrite_dates(data, name, fmt)
    assert "-" not in pl.read_csv(data / "test.csv", infer_schema=False)["Listed On"][0] or " " in fmt
    original, _ = load(CA, ca_files)
    rewritten, messages = load(CA, data)
    assert_same_parse(CA, original, rewritten)
    assert rewritten.unparsable == original.unparsable == {}
    assert any("dates read as" in m and "Listed On" in m for m in messages), messages


def test_unparsable_dates_are_warned_with_file_column_rows_and_value(ca_files: Path, tmp_path: Path) -> None:
    data = copy_of(ca_files, tmp_path)
    frame = pl.read_csv(data / "test.csv", infer_schema=False)
    hit = pl.int_range(pl.len()).is_in([0, 4])
    frame.with_columns(pl.when(hit).then(pl.lit("sometime in May")).otherwise(pl.col("Listed On"))
                       .alias("Listed On")).write_csv(data / "test.csv")
    loaded, messages = load(CA, data)
    assert loaded.unparsable == {"Listed On": 2}
    message = next(m for m in messages if "did not parse as dates" in m)
    assert "test.csv" in message and "'Listed On'" in message and "rows 2, 6" in message
    assert "'sometime in May'" in message and message.split(":")[1].strip().startswith("2 value(s)")


def test_data_info_shows_unparsable_dates_in_the_column_cell(ca_files: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from competition.info import describe

    data = copy_of(ca_files, tmp_path)
    frame = pl.read_csv(data / "test.csv", infer_schema=False)
    frame.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("31/31/2020")).otherwise(pl.col("Listed On"))
                       .alias("Listed On")).write_csv(data / "test.csv")
    loaded, _ = load(CA, data)
    console = Console(record=True, width=250)
    describe(loaded, console)
    row = next(line for line in console.export_text().splitlines() if line.strip("│ ").startswith("Listed On"))
    cells = [c.strip() for c in row.split("│")]
    assert cells[6] == "3", row  # the "unparsable" column


def test_day_month_order_that_both_fit_is_reported() -> None:
    from competition.normalize import normalize_dates

    read = normalize_dates(pl.Series("d", ["3/4/2020", "5/6/2020", None]))
    assert read.chosen == "M/D/YYYY" and read.ambiguous_with == "D/M/YYYY"
    assert read.iso.to_list() == ["2020-03-04", "2020-05-06", None]
    read = normalize_dates(pl.Series("d", ["3/4/2020", "25/6/2020"]))
    assert read.chosen == "D/M/YYYY" and read.ambiguous_with is None
    assert read.iso.to_list() == ["2020-04-03", "2020-06-25"]


# ----------------------------------------------------------------------------- zip and gzip


def test_a_folder_with_only_the_kaggle_zip(hp_files: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with zipfile.ZipFile(data / f"{HP.kaggle_slug}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("train.csv", "test.csv", "sample_submission.csv"):
            zf.write(hp_files / name, name)
    original, _ = load(HP, hp_files)
    zipped, messages = load(HP, data)
    assert_frame_equal(original.train, zipped.train)
    assert original.digest == zipped.digest  # the same data, however it was packed
    assert any(f"{HP.kaggle_slug}.zip" in m for m in messages)


def test_csv_gz_files_and_a_gzip_file_named_csv(hp_files: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv.gz").write_bytes(gzip.compress((hp_files / "train.csv").read_bytes()))
    (data / "test.csv").write_bytes(gzip.compress((hp_files / "test.csv").read_bytes()))  # gzip, not renamed
    original, _ = load(HP, hp_files)
    packed, messages = load(HP, data)
    assert_frame_equal(original.test, packed.test)
    assert_frame_equal(original.train, packed.train)
    assert any("test.csv is gzip-compressed" in m for m in messages)


def test_damaged_gzip_and_a_folder_without_the_files_say_what_was_found(hp_files: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_bytes(gzip.compress((hp_files / "train.csv").read_bytes())[:300])
    with pytest.raises(CompError, match=r"train.csv is gzip-compressed but could not be decompressed"):
        load_competition(HP, data)
    (data / "train.csv").unlink()
    (data / "notes.txt").write_text("x")
    (data / "house-prices.tar").write_text("x")
    with pytest.raises(CompError) as err:
        load_competition(HP, data)
    assert "holds: house-prices.tar, notes.txt" in str(err.value)


# ----------------------------------------------------------------------------- spreadsheet rewrites


def test_spreadsheet_rewrites_read_the_same_with_one_counted_warning(hp_files: Path, tmp_path: Path) -> None:
    data = copy_of(hp_files, tmp_path)
    frame = pl.read_csv(data / "train.csv", infer_schema=False)
    big = pl.col("LotArea").cast(pl.Int64)
    frame = frame.with_columns(
        # "8,450" quoted, as Excel's "#,##0" format saves it
        pl.when(big >= 1000).then(
            (big // 1000).cast(pl.Utf8) + "," + (big % 1000).cast(pl.Utf8).str.zfill(3)
        ).otherwise(pl.col("LotArea")).alias("LotArea"),
        (pl.lit(" ") + pl.col("Neighborhood") + pl.lit("  ")).alias("Neighborhood"),  # padding
        pl.col("SalePrice").cast(pl.Float64).map_elements(lambda v: f"{v:.6E}", return_dtype=pl.Utf8),
    ).rename({"YearBuilt": "yearbuilt", "GrLivArea": " Gr Liv Area"})
    (data / "train.csv").write_bytes(b"\xef\xbb\xbf" + frame.write_csv().encode())
    original, _ = load(HP, hp_files)
    rewritten, messages = load(HP, data)
    assert_same_parse(HP, original, rewritten)
    normalized = [m for m in messages if "normalized" in m]
    assert len(normalized) == 1, messages
    message = normalized[0]
    n_big = int((original.train["LotArea"] >= 1000).sum())
    for fragment in ("train.csv", "byte-order mark", "'yearbuilt' as 'YearBuilt'", "' Gr Liv Area' as 'GrLivArea'",
                     f"thousands separators removed: {n_big} cell(s) (LotArea {n_big})",
                     f"padding spaces removed: {original.train.height} cell(s) (Neighborhood",
                     f"exponent notation read: {original.train.height} cell(s) (SalePrice"):
        assert fragment in message, message


def test_semicolon_separated_with_decimal_commas(ca_files: Path, tmp_path: Path) -> None:
    """What a spreadsheet in a comma-decimal locale saves: `;` between fields, "2,4" for 2.4."""
    data = copy_of(ca_files, tmp_path)
    frame = pl.read_csv(data / "test.csv", infer_schema=False)
    frame = frame.with_columns(pl.col("Elementary School Distance").str.replace(".", ",", literal=True))
    frame.write_csv(data / "test.csv", separator=";")
    original, _ = load(CA, ca_files)
    rewritten, messages = load(CA, data)
    assert_same_parse(CA, original, rewritten)
    message = next(m for m in messages if "normalized" in m)
    decimals = int(frame["Elementary School Distance"].str.contains(",").sum())
    assert decimals > 50
    assert "separated by semicolons" in message and f"decimal commas read: {decimals} cell(s)" in message
