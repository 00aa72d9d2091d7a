"""The synthetic twins keep the real files' schema, formats and quirks (small sizes, no real data read)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from competition.synthetic import california, house_prices

# Header line of the real house-prices train.csv, written down once (tests never read the real files).
HOUSE_HEADER = [
    "Id", "MSSubClass", "MSZoning", "LotFrontage", "LotArea", "Street", "Alley", "LotShape", "LandContour",
    "Utilities", "LotConfig", "LandSlope", "Neighborhood", "Condition1", "Condition2", "BldgType", "HouseStyle",
    "OverallQual", "OverallCond", "YearBuilt", "YearRemodAdd", "RoofStyle", "RoofMatl", "Exterior1st",
    "Exterior2nd", "MasVnrType", "MasVnrArea", "ExterQual", "ExterCond", "Foundation", "BsmtQual", "BsmtCond",
    "BsmtExposure", "BsmtFinType1", "BsmtFinSF1", "BsmtFinType2", "BsmtFinSF2", "BsmtUnfSF", "TotalBsmtSF",
    "Heating", "HeatingQC", "CentralAir", "Electrical", "1stFlrSF", "2ndFlrSF", "LowQualFinSF", "GrLivArea",
    "BsmtFullBath", "BsmtHalfBath", "FullBath", "HalfBath", "BedroomAbvGr", "KitchenAbvGr", "KitchenQual",
    "TotRmsAbvGrd", "Functional", "Fireplaces", "FireplaceQu", "GarageType", "GarageYrBlt", "GarageFinish",
    "GarageCars", "GarageArea", "GarageQual", "GarageCond", "PavedDrive", "WoodDeckSF", "OpenPorchSF",
    "EnclosedPorch", "3SsnPorch", "ScreenPorch", "PoolArea", "PoolQC", "Fence", "MiscFeature", "MiscVal", "MoSold",
    "YrSold", "SaleType", "SaleCondition", "SalePrice",
]  # fmt: skip
# Numeric columns where the real train.csv / test.csv write "NA".
HOUSE_NA_NUMERIC_TRAIN = {"LotFrontage", "MasVnrArea", "GarageYrBlt"}
HOUSE_NA_NUMERIC_TEST_ONLY = {
    "BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF", "TotalBsmtSF", "BsmtFullBath", "BsmtHalfBath", "GarageCars", "GarageArea",
}  # fmt: skip
HOUSE_CATEGORICAL = {
    "MSZoning", "Street", "Alley", "LotShape", "LandContour", "Utilities", "LotConfig", "LandSlope", "Neighborhood",
    "Condition1", "Condition2", "BldgType", "HouseStyle", "RoofStyle", "RoofMatl", "Exterior1st", "Exterior2nd",
    "MasVnrType", "ExterQual", "ExterCond", "Foundation", "BsmtQual", "BsmtCond", "BsmtExposure", "BsmtFinType1",
    "BsmtFinType2", "Heating", "HeatingQC", "CentralAir", "Electrical", "KitchenQual", "Functional", "FireplaceQu",
    "GarageType", "GarageFinish", "GarageQual", "GarageCond", "PavedDrive", "PoolQC", "Fence", "MiscFeature",
    "SaleType", "SaleCondition",
}  # fmt: skip

# The 41 train.csv columns in file order, from docs/california-schema.md §1.
CALIFORNIA_HEADER = [
    "Id", "Address", "Sold Price", "Summary", "Type", "Year built", "Heating", "Cooling", "Parking", "Lot",
    "Bedrooms", "Bathrooms", "Full bathrooms", "Total interior livable area", "Total spaces", "Garage spaces",
    "Region", "Elementary School", "Elementary School Score", "Elementary School Distance", "Middle School",
    "Middle School Score", "Middle School Distance", "High School", "High School Score", "High School Distance",
    "Flooring", "Heating features", "Cooling features", "Appliances included", "Laundry features",
    "Parking features", "Tax assessed value", "Annual tax amount", "Listed On", "Listed Price", "Last Sold On",
    "Last Sold Price", "City", "Zip", "State",
]  # fmt: skip
CALIFORNIA_FLOATS = [
    "Sold Price", "Year built", "Lot", "Bathrooms", "Full bathrooms", "Total interior livable area", "Total spaces",
    "Garage spaces", "Elementary School Score", "Elementary School Distance", "Middle School Score",
    "Middle School Distance", "High School Score", "High School Distance", "Tax assessed value",
    "Annual tax amount", "Listed Price", "Last Sold Price",
]  # fmt: skip
LEAK = re.compile(r"This home last sold for \$([\d,]+) in [A-Z][a-z]+ 2020\. The Zestimate for this house is \$[\d,]+ "
                  r"The Rent Zestimate for this home is \$[\d,]+/mo\.")  # fmt: skip

N_TRAIN, N_TEST = 300, 200


@pytest.fixture(scope="module")
def houses() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return house_prices.generate(N_TRAIN, N_TEST, seed=0)


@pytest.fixture(scope="module")
def calif() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return california.generate(N_TRAIN, N_TEST, seed=0)


def _all_text(frame: pl.DataFrame) -> bool:
    return all(dtype == pl.Utf8 for dtype in frame.dtypes)


def _floats(frame: pl.DataFrame, col: str) -> np.ndarray:
    return frame[col].cast(pl.Float64).drop_nulls().to_numpy()


# --------------------------------------------------------------------------------------------- house prices


def test_house_headers_and_ids(houses: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, test, sub = houses
    assert list(house_prices.COLUMNS) == HOUSE_HEADER
    assert train.columns == HOUSE_HEADER
    assert test.columns == HOUSE_HEADER[:-1]
    assert sub.columns == ["Id", "SalePrice"]
    assert _all_text(train) and _all_text(test) and _all_text(sub)
    assert train["Id"].to_list() == [str(i) for i in range(1, N_TRAIN + 1)]
    assert test["Id"].to_list() == [str(i) for i in range(N_TRAIN + 1, N_TRAIN + N_TEST + 1)]
    assert sub["Id"].to_list() == test["Id"].to_list()
    assert sub["SalePrice"].str.contains(r"^\d+\.0$").all()


def test_house_deterministic_per_seed() -> None:
    a = house_prices.generate(50, 40, seed=3)
    b = house_prices.generate(50, 40, seed=3)
    c = house_prices.generate(50, 40, seed=4)
    for x, y in zip(a, b, strict=True):
        assert x.equals(y)
    assert not a[0].equals(c[0])


def test_house_missing_tokens_and_formats(houses: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, test, _ = houses
    both = pl.concat([train.drop("SalePrice"), test])
    # Every cell is written: missing is the token "NA", never an empty field.
    assert both.null_count().sum_horizontal().item() == 0
    assert not both.select(pl.any_horizontal(pl.all() == "")).to_series().any()
    for col in HOUSE_HEADER[:-1]:
        if col in HOUSE_CATEGORICAL:
            continue
        values = both[col].filter(both[col] != "NA")
        assert values.str.contains(r"^\d+$").all(), f"{col} must be written as integers"
        has_na = (both[col] == "NA").any()
        if col not in HOUSE_NA_NUMERIC_TRAIN | HOUSE_NA_NUMERIC_TEST_ONLY:
            assert not has_na, f"{col} has no NA in the real files"
    for col in HOUSE_NA_NUMERIC_TEST_ONLY:
        assert not (train[col] == "NA").any()
    for col in ("LotFrontage", "GarageYrBlt", "MasVnrArea"):
        assert (train[col] == "NA").any()
    for col in ("TotalBsmtSF", "BsmtFullBath", "GarageCars", "GarageArea", "MSZoning", "KitchenQual", "SaleType"):
        assert (test[col] == "NA").any(), f"test {col} should hold a few NA like the real test.csv"
    assert (train["MasVnrType"] == "None").any()
    assert (train["PoolQC"] == "NA").mean() > 0.9
    assert (train["Alley"] == "NA").mean() > 0.8


def test_house_consistency(houses: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, _, _ = houses
    no_garage = train.filter(pl.col("GarageType") == "NA")
    assert no_garage.height > 0
    for col in ("GarageYrBlt", "GarageFinish", "GarageQual", "GarageCond"):
        assert (no_garage[col] == "NA").all()
    assert (no_garage["GarageArea"] == "0").all() and (no_garage["GarageCars"] == "0").all()
    assert ((train["PoolQC"] == "NA") == (train["PoolArea"] == "0")).all()
    assert ((train["FireplaceQu"] == "NA") == (train["Fireplaces"] == "0")).all()
    num = train.select(pl.col("1stFlrSF", "2ndFlrSF", "LowQualFinSF", "GrLivArea").cast(pl.Int64))
    assert (num["1stFlrSF"] + num["2ndFlrSF"] + num["LowQualFinSF"] == num["GrLivArea"]).all()
    bsmt = train.select(pl.col("BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF", "TotalBsmtSF").cast(pl.Int64))
    assert (bsmt["BsmtFinSF1"] + bsmt["BsmtFinSF2"] + bsmt["BsmtUnfSF"] == bsmt["TotalBsmtSF"]).all()


def test_house_target_is_learnable(houses: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, _, _ = houses
    price = train["SalePrice"].cast(pl.Int64).to_numpy()
    assert (price > 0).all()
    y = np.log(price)
    qual = train["OverallQual"].cast(pl.Float64).to_numpy()
    area = np.log(train["GrLivArea"].cast(pl.Float64).to_numpy())
    year = train["YearBuilt"].cast(pl.Float64).to_numpy()
    assert np.corrcoef(y, qual)[0, 1] > 0.6
    assert np.corrcoef(y, area)[0, 1] > 0.4
    x = np.column_stack([np.ones_like(y), qual, area, year])
    fit, *_ = np.linalg.lstsq(x[:200], y[:200], rcond=None)
    resid = y[200:] - x[200:] @ fit
    assert resid.std() < 0.6 * y[200:].std(), "a linear model must clearly beat predicting the mean"


def test_house_write_round_trip(tmp_path: Path, houses: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    house_prices.write(tmp_path / "hp", N_TRAIN, N_TEST, seed=0)
    for name, frame in zip(("train.csv", "test.csv", "sample_submission.csv"), houses, strict=True):
        path = tmp_path / "hp" / name
        assert path.read_bytes().startswith(b"Id,")
        back = pl.read_csv(path, infer_schema=False)
        assert back.equals(frame), name


# --------------------------------------------------------------------------------------------- california


def test_california_headers_and_ids(calif: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, test, sub = calif
    assert list(california.COLUMNS) == CALIFORNIA_HEADER
    assert train.columns == CALIFORNIA_HEADER
    assert test.columns == [c for c in CALIFORNIA_HEADER if c != "Sold Price"]
    assert sub.columns == ["Id", "Sold Price"]
    assert _all_text(train) and _all_text(test) and _all_text(sub)
    assert train["Id"].to_list() == [str(i) for i in range(N_TRAIN)]
    assert test["Id"].to_list() == [str(i) for i in range(N_TRAIN, N_TRAIN + N_TEST)]
    assert sub["Id"].to_list() == test["Id"].to_list()
    assert (sub["Sold Price"] == "0").all()


def test_california_deterministic_per_seed() -> None:
    a = california.generate(80, 60, seed=7)
    b = california.generate(80, 60, seed=7)
    c = california.generate(80, 60, seed=8)
    for x, y in zip(a, b, strict=True):
        assert x.equals(y)
    assert not a[0].equals(c[0])


def test_california_value_formats(calif: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, test, _ = calif
    both = pl.concat([train.drop("Sold Price"), test])
    assert not both.select(pl.any_horizontal(pl.all() == "")).to_series().any(), "missing is an empty field"
    for col in CALIFORNIA_FLOATS:
        frame = train if col == "Sold Price" else both
        assert frame[col].drop_nulls().str.contains(r"^-?\d+\.\d+$").all(), f"{col} must look like pandas float64"
    assert both["Zip"].str.contains(r"^\d{5}$").all()
    assert both["Id"].str.contains(r"^\d+$").all()
    for col in ("Listed On", "Last Sold On"):
        assert both[col].drop_nulls().str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert both["Listed On"].null_count() == 0
    assert ((both["Last Sold On"].is_null()) == (both["Last Sold Price"].is_null())).all()
    for col in ("Address", "Type", "City", "Zip", "State", "Listed Price"):
        assert both[col].null_count() == 0, col
    assert set(both["State"].unique().to_list()) == {"CA", "AZ"}
    lists = both["Heating"].drop_nulls()
    assert lists.str.contains(", ").any() and not lists.str.contains(r",\S").any()


def test_california_target(calif: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, _, _ = calif
    sold = _floats(train, "Sold Price")
    assert train["Sold Price"].null_count() == 0
    assert (sold >= california.MIN_PRICE).all() and (sold <= california.MAX_PRICE).all()
    assert (sold % 500 == 0).all(), "sale prices are round numbers"
    listed = train["Listed Price"].cast(pl.Float64).to_numpy()
    ok = listed > 0
    assert np.corrcoef(np.log(sold[ok]), np.log(listed[ok]))[0, 1] > 0.85


def test_california_quirks_at_small_size(calif: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, test, _ = calif
    both = pl.concat([train.drop("Sold Price"), test])
    beds = both["Bedrooms"].drop_nulls()
    text_beds = beds.filter(~beds.str.contains(r"^\d+$"))
    assert 0.05 < text_beds.len() / beds.len() < 0.3
    assert text_beds.str.contains("Closet|Bedroom|Suite|Floor").all()
    for col in ("Cooling", "Cooling features", "Laundry features", "Parking features"):
        assert (both[col] == "None").any(), f"literal None in {col}"
        assert both[col].null_count() > 0, f"real missing in {col}"
    year = _floats(both, "Year built")
    for bad in (0, 19, 9999, 1471, 2281):
        assert (year == bad).any(), f"Year built {bad}"
    lot = _floats(both, "Lot")
    assert (lot == 0).any() and (lot == 1.0).any() and (lot > 1e8).any()
    assert (lot % 1 != 0).any(), "acre conversions leave decimals"
    area = _floats(both, "Total interior livable area")
    assert (area == 1.0).any() and (area > 1e7).any()
    for col in ("Total spaces", "Garage spaces"):
        spaces = _floats(both, col)
        assert (spaces == -15).any() and (spaces == 1000).any()
    for col in ("Listed Price", "Tax assessed value", "Annual tax amount", "Last Sold Price"):
        assert (_floats(both, col) == 0).any(), f"zero {col}"
    az = both.filter(pl.col("State") == "AZ")
    assert az.height > 0 and az["Zip"].str.starts_with("85").all()
    assert both.select("Address", "Zip").is_duplicated().any()


def test_california_summary_leak(calif: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, test, _ = calif
    leak = train.filter(pl.col("Summary").str.contains("This home last sold for"))
    share = leak.height / train.height
    assert 0.06 < share < 0.18
    for summary, sold in leak.select("Summary", "Sold Price").iter_rows():
        match = LEAK.search(summary)
        assert match, summary
        assert float(match.group(1).replace(",", "")) == float(sold)
    assert not test["Summary"].drop_nulls().str.contains("This home last sold for").any()
    lengths = train["Summary"].drop_nulls().str.len_chars()
    assert lengths.median() > 200


def test_california_time_order(calif: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    train, test, _ = calif
    both = pl.concat([train.drop("Sold Price"), test])
    listed = both["Listed On"].str.to_date().rank().to_numpy()
    ids = both["Id"].cast(pl.Int64).to_numpy()
    assert np.corrcoef(ids, listed)[0, 1] > 0.5


def test_california_missing_rates() -> None:
    train, test, _ = california.generate(3000, 2000, seed=1)
    expected_train = {"Year built": 0.022, "Lot": 0.299, "Middle School": 0.352, "Flooring": 0.244,
                      "Last Sold On": 0.3745, "Appliances included": 0.2865, "Full bathrooms": 0.166}  # fmt: skip
    for col, rate in expected_train.items():
        got = train[col].null_count() / train.height
        assert abs(got - rate) < 0.03 + 0.2 * rate, (col, got, rate)
    assert abs(test["Flooring"].null_count() / test.height - 0.3275) < 0.05
    cooling_na = ((train["Cooling"] == "None") | train["Cooling"].is_null()).mean()
    assert abs(cooling_na - 0.436) < 0.05


def test_california_write_round_trip(tmp_path: Path, calif: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    california.write(tmp_path / "ca", N_TRAIN, N_TEST, seed=0)
    for name, frame in zip(("train.csv", "test.csv", "sample_submission.csv"), calif, strict=True):
        back = pl.read_csv(tmp_path / "ca" / name, infer_schema=False)
        assert back.equals(frame), name
