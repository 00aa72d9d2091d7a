"""Parsers of the California House Prices spec, on verbatim values from the schema document.

Frames are built as `competition.data.cast_columns` would hand them to `prepare`: Id Int64, numeric
columns (Zip included) Float64, text columns nullable Utf8 with the literal "None" still text.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from competition.competitions.base import Prepared
from competition.competitions.california import RAW_COLUMNS, REFERENCE_DATE, SPEC

LEAK = (
    "This home last sold for $500,000 in January 2020. The Zestimate for this house is $510,000 "
    "The Rent Zestimate for this home is $2,400/mo."
)

# A plain, valid row (values from the schema doc's example rows); tests override a few columns.
BASE: dict[str, Any] = {
    "Id": 47435,
    "Address": "540 Pine Ln",
    "Sold Price": 255000.0,
    "Summary": "Great opportunity to live in the friendly gated community",
    "Type": "SingleFamily",
    "Year built": 1969.0,
    "Heating": "Central",
    "Cooling": "Central Air",
    "Parking": "Garage - Attached",
    "Lot": 5945.0,
    "Bedrooms": "3",
    "Bathrooms": 2.0,
    "Full bathrooms": 2.0,
    "Total interior livable area": 1560.0,
    "Total spaces": 2.0,
    "Garage spaces": 2.0,
    "Region": "Sunnyvale",
    "Elementary School": "George Mayne Elementary School",
    "Elementary School Score": 5.0,
    "Elementary School Distance": 2.4,
    "Middle School": "Marian A. Peterson Middle School",
    "Middle School Score": 6.0,
    "Middle School Distance": 3.5,
    "High School": "Adrian Wilcox High School",
    "High School Score": 7.0,
    "High School Distance": 2.5,
    "Flooring": "Carpet, Laminate",
    "Heating features": "Forced air, Gas",
    "Cooling features": "Central",
    "Appliances included": "Dishwasher",
    "Laundry features": "Hookups Only",
    "Parking features": "Garage - Attached",
    "Tax assessed value": 484696.0,
    "Annual tax amount": 7627.0,
    "Listed On": "2020-07-23",
    "Listed Price": 295900.0,
    "Last Sold On": None,
    "Last Sold Price": None,
    "City": "Sunnyvale",
    "Zip": 94089.0,
    "State": "CA",
}


def raw_frame(*overrides: dict[str, Any]) -> pl.DataFrame:
    """One row per override dict: BASE with those columns replaced, typed like the loader's output."""
    schema = {c: pl.Int64 if c == "Id" else pl.Utf8 if t == "str" else pl.Float64 for c, t in RAW_COLUMNS.items()}
    rows = [{**BASE, "Id": BASE["Id"] + i, **o} for i, o in enumerate(overrides or ({},))]
    return pl.DataFrame(rows, schema=schema)


def prep(*overrides: dict[str, Any]) -> Prepared:
    return SPEC.prepare(raw_frame(*overrides))


@functools.cache
def prepared_values(col: str, values: tuple[Any, ...]) -> Prepared:
    """One `prepare` call over many values of one column, shared by the cases of a parametrized test."""
    return prep(*({col: v} for v in values))


def row_for(col: str, cases: list[tuple[Any, ...]], value: Any) -> dict[str, Any]:
    """The prepared row of `value`, from one `prepare` call over all cases of a parametrized test (fast)."""
    values = tuple(case[0] for case in cases)
    return prepared_values(col, values).frame.row(values.index(value), named=True)


def test_raw_columns_match_the_real_files() -> None:
    names = list(RAW_COLUMNS)
    assert len(names) == 41
    assert names[:4] == ["Id", "Address", "Sold Price", "Summary"]
    assert names[-4:] == ["Last Sold Price", "City", "Zip", "State"]
    assert names.index("Bedrooms") == 10 and names.index("Appliances included") == 29
    types = list(RAW_COLUMNS.values())
    assert types.count("float") == 18 and types.count("str") == 21
    assert [c for c, t in RAW_COLUMNS.items() if t == "int"] == ["Id", "Zip"]
    assert SPEC.test_columns == [c for c in names if c != "Sold Price"]
    assert (SPEC.name, SPEC.kaggle_slug, SPEC.id_column, SPEC.target_column) == (
        "california-house-prices",
        "california-house-prices",
        "Id",
        "Sold Price",
    )
    assert SPEC.missing_tokens == ("",)
    assert "None" in SPEC.numeric_missing_tokens and "NA" in SPEC.numeric_missing_tokens
    assert SPEC.time_order_column == "Id" and SPEC.default_split == "time"


def test_every_output_has_one_role_and_the_right_dtype() -> None:
    features = SPEC.features
    columns = features.all_columns()
    assert len(columns) == len(set(columns))
    out = prep({}, {"Summary": None, "Cooling": None, "Bedrooms": "Walk-in Closet", "Last Sold On": "2020-08-24"})
    assert out.frame.columns == list(columns)
    assert not any(c.startswith("_") for c in columns)
    assert SPEC.target_column not in columns and SPEC.id_column not in columns
    schema = out.frame.schema
    for c in features.numeric + features.flags:
        assert schema[c] == pl.Float64, c
    for c in features.categorical + features.high_cardinality + features.text:
        assert schema[c] == pl.Utf8, c
    for c in features.multi_label:
        assert schema[c] == pl.List(pl.Utf8), c
    for c in features.flags:
        assert out.frame[c].null_count() == 0 and set(out.frame[c].to_list()) <= {0.0, 1.0}, c
    assert out.frame["Summary"].null_count() == 0
    assert out.unparsable == {}


def test_test_file_without_target_prepares_the_same() -> None:
    raw = raw_frame({}, {"Bedrooms": "Master Suite / Retreat"})
    assert_frame_equal(SPEC.prepare(raw).frame, SPEC.prepare(raw.drop("Sold Price")).frame)


def test_prepare_is_row_wise() -> None:
    a = raw_frame(
        {"Bedrooms": "Ground Floor Bedroom, Master Bedroom on Ground Floor", "Lot": 1.0, "Summary": LEAK},
        {"Heating": "Gas, Forced Air", "Listed On": "2019-10-24", "Last Sold On": "2020-08-24", "Zip": 85611.0},
    )
    b = raw_frame(
        {"Cooling": "None", "Parking": "0 spaces", "Year built": 9999.0, "Listed Price": 0.0},
        {"Address": "0 113th St", "Summary": None, "Bedrooms": "-", "Listed On": "10/24/2019"},
        {"Type": "Single Family", "State": "AZ", "Garage spaces": -15.0},
    )
    whole = SPEC.prepare(pl.concat([a, b]))
    parts = [SPEC.prepare(a), SPEC.prepare(b)]
    assert_frame_equal(whole.frame, pl.concat([p.frame for p in parts]))
    assert whole.unparsable == {"Bedrooms": 1, "Listed On": 1}
    assert parts[0].unparsable == {} and parts[1].unparsable == whole.unparsable


# ----------------------------------------------------------------------------- Bedrooms
BEDROOM_CASES = [
    ("3", 3.0, 0.0),
    ("0", 0.0, 0.0),
    ("Master Suite / Retreat, Walk-in Closet", 1.0, 1.0),
    ("Ground Floor Bedroom, Master Bedroom on Ground Floor", 2.0, 1.0),
    ("Walk-in Closet", 0.0, 1.0),
    ("Master Suite / Retreat", 1.0, 1.0),
    ("Reverse Floor Plan, Ground Floor Bedroom", 1.0, 1.0),
    ("More than One Bedroom on Ground Floor", 2.0, 1.0),
]


@pytest.mark.parametrize(("value", "count", "is_text"), BEDROOM_CASES)
def test_bedrooms(value: str, count: float, is_text: float) -> None:
    row = row_for("Bedrooms", BEDROOM_CASES, value)
    assert (row["Bedrooms"], row["bedrooms_from_text"]) == (count, is_text)


def test_bedroom_digits_and_feature_lists_are_all_parsable() -> None:
    assert prepared_values("Bedrooms", tuple(case[0] for case in BEDROOM_CASES)).unparsable == {}


def test_bedroom_features_and_missing_or_unparsable_bedrooms() -> None:
    out = prep(
        {"Bedrooms": "Master Suite / Retreat, Walk-in Closet"},
        {"Bedrooms": "3"},
        {"Bedrooms": None},
        {"Bedrooms": "None"},
        {"Bedrooms": "-"},
    )
    assert out.frame["bedroom_features"].to_list() == [
        ["master suite/retreat", "walk-in closet"],
        None,
        None,
        None,
        None,
    ]
    assert out.frame["Bedrooms"].to_list() == [1.0, 3.0, None, None, None]
    assert out.frame["bedrooms_from_text"].to_list() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert out.unparsable == {"Bedrooms": 1}


# ----------------------------------------------------------------------------- list columns
def test_heating_lists_ignore_order_case_and_the_gas_suffix() -> None:
    out = prep(
        {"Heating": "Central Forced Air - Gas", "Heating features": "Forced air, Gas"},
        {"Heating": "Central Forced Air, Gas", "Heating features": "Gas, Forced Air"},
        {"Heating": "Heating - 2+ Zones, Central Forced Air - Gas", "Heating features": "Forced Air"},
    )
    assert out.frame["Heating"].to_list() == [
        ["central forced air", "gas"],
        ["central forced air", "gas"],
        ["central forced air", "gas", "heating - 2+ zones"],
    ]
    assert out.frame["Heating features"].to_list() == [["forced air", "gas"], ["forced air", "gas"], ["forced air"]]
    assert out.frame["n_heating"].to_list() == [2.0, 2.0, 3.0]


def test_cooling_none_is_an_explicit_item_not_missing() -> None:
    out = prep(
        {"Cooling": "None", "Cooling features": "None"},
        {"Cooling": None, "Cooling features": None},
        {"Cooling": "Central AC", "Cooling features": "Central Air"},
        {"Cooling": "Wall/Window Unit(s), Evaporative Cooling", "Cooling features": "Window / Wall Unit"},
    )
    f = out.frame
    assert f["Cooling"].to_list() == [
        ["none"],
        None,
        ["central air"],
        ["evaporative cooling", "wall/window unit"],
    ]
    assert f["Cooling features"].to_list() == [["none"], None, ["central air"], ["wall/window unit"]]
    assert f["n_cooling"].to_list() == [0.0, None, 1.0, 2.0]
    assert f["no_cooling"].to_list() == [1.0, 0.0, 0.0, 0.0]
    assert f["has_central_cooling"].to_list() == [0.0, 0.0, 1.0, 0.0]


def test_appliances_flooring_laundry_synonyms_and_order() -> None:
    out = prep(
        {
            "Appliances included": "Dishwasher, Disposal, Refrigerator, Washer, Dryer",
            "Flooring": "Tile, Wood",
            "Laundry features": "Washer / Dryer, Inside, In Utility Room",
        },
        {
            "Appliances included": "Dishwasher, Dryer, Garbage disposal, Refrigerator, Washer",
            "Flooring": "Wood, Tile",
            "Laundry features": "Inside, Washer/Dryer, In Utility Room",
        },
        {"Appliances included": "Range / Oven", "Flooring": "Hardwood", "Laundry features": "See Remarks"},
    )
    f = out.frame
    appliances = ["dishwasher", "disposal", "dryer", "refrigerator", "washer"]
    assert f["Appliances included"].to_list() == [appliances, appliances, ["range/oven"]]
    assert f["Flooring"].to_list() == [["tile", "wood"], ["tile", "wood"], ["hardwood"]]
    laundry = ["in utility room", "inside", "washer/dryer"]
    assert f["Laundry features"].to_list() == [laundry, laundry, ["see remarks"]]
    assert f["n_appliances"].to_list() == [5.0, 5.0, 1.0]


def test_parking_spaces_text_becomes_a_number() -> None:
    out = prep(
        {"Parking": "0 spaces", "Parking features": None},
        {"Parking": "Garage, Garage - Attached, Covered", "Parking features": "Garage, Garage - Attached, Covered"},
        {"Parking": "Detached Carport, Garage", "Parking features": "2 spaces"},
        {"Parking": "On-street", "Parking features": "None"},
    )
    f = out.frame
    assert f["Parking"].to_list() == [
        [],
        ["covered", "garage", "garage - attached"],
        ["detached carport", "garage"],
        ["on-street"],
    ]
    assert f["Parking features"].to_list() == [None, ["covered", "garage", "garage - attached"], [], ["none"]]
    assert f["parking_stated_spaces"].to_list() == [0.0, None, 2.0, None]
    assert f["n_parking"].to_list() == [0.0, 3.0, 2.0, 1.0]
    assert f["n_parking_features"].to_list() == [None, 3.0, 0.0, 0.0]
    assert f["has_garage"].to_list() == [0.0, 1.0, 1.0, 0.0]
    assert f["has_carport"].to_list() == [0.0, 0.0, 1.0, 0.0]


# ----------------------------------------------------------------------------- dates
def test_dates() -> None:
    out = prep(
        {"Listed On": "2019-10-24", "Last Sold On": None},
        {"Listed On": "2020-08-01", "Last Sold On": "2020-08-24", "Last Sold Price": 500000.0},
        {"Listed On": "2019-10-16", "Last Sold On": "2019-08-30", "Last Sold Price": 328000.0},
    )
    f = out.frame
    assert f["listed_year_frac"].to_list()[0] == pytest.approx(2019 + 296 / 365)
    assert f["listed_month"].to_list() == [10.0, 8.0, 10.0]
    assert f["listed_age_days"].to_list()[0] == float((REFERENCE_DATE - dt.date(2019, 10, 24)).days)
    assert f["last_sold_year_frac"].to_list()[1] == pytest.approx(2020 + 236 / 366)
    years = f["years_last_sale_to_listing"].to_list()
    assert years[0] is None
    assert years[1] == pytest.approx(-23 / 365.25)
    assert years[2] == pytest.approx(47 / 365.25)
    assert f["last_sold_on_or_after_listed"].to_list() == [0.0, 1.0, 0.0]
    assert f["log_stated_sale_price"].to_list() == [None, pytest.approx(math.log(500000)), None]
    assert out.unparsable == {}


def test_unparsable_dates_are_null_and_counted() -> None:
    out = prep(
        {"Listed On": "10/24/2019", "Last Sold On": "2020-13-45"},
        {"Listed On": "None", "Last Sold On": "None"},
    )
    assert out.frame["listed_year_frac"].to_list() == [None, None]
    assert out.frame["last_sold_year_frac"].to_list() == [None, None]
    assert out.frame["last_sold_on_or_after_listed"].to_list() == [0.0, 0.0]
    assert out.unparsable == {"Listed On": 1, "Last Sold On": 1}


# ----------------------------------------------------------------------------- prices
def test_prices_zero_is_missing_and_ratios_are_row_wise() -> None:
    out = prep(
        {"Listed Price": 0.0, "Tax assessed value": 0.0, "Annual tax amount": 0.0, "Last Sold Price": 0.0},
        {"Listed Price": 525000.0, "Tax assessed value": 505000.0, "Annual tax amount": 6253.0},
        {"Listed Price": 4198000.0, "Last Sold Price": 1500000.0, "Total interior livable area": 2612.0},
    )
    f = out.frame
    assert f["log_listed_price"].to_list() == [None, pytest.approx(math.log(525000)), pytest.approx(math.log(4198000))]
    assert f["listed_price_zero"].to_list() == [1.0, 0.0, 0.0]
    assert f["tax_assessed_value_zero"].to_list() == [1.0, 0.0, 0.0]
    assert f["annual_tax_amount_zero"].to_list() == [1.0, 0.0, 0.0]
    assert f["last_sold_price_zero"].to_list() == [1.0, 0.0, 0.0]
    assert f["listed_vs_tax_value"].to_list()[0] is None
    assert f["listed_vs_tax_value"].to_list()[1] == pytest.approx(math.log(525000 / 505000))
    assert f["tax_rate_log"].to_list()[1] == pytest.approx(math.log(6253 / 505000))
    assert f["listed_vs_last_sold"].to_list()[2] == pytest.approx(math.log(4198000 / 1500000))
    assert f["listed_price_per_sqft_log"].to_list()[2] == pytest.approx(math.log(4198000 / 2612))


# ----------------------------------------------------------------------------- impossible values
def test_lot_bounds() -> None:
    values = [1.0, 20908.8, 1.897474e9, 0.0, None, 217800.0]
    out = prep(*({"Lot": v} for v in values))
    assert out.frame["Lot"].to_list() == [None, 20908.8, None, None, None, 217800.0]
    assert out.frame["lot_invalid"].to_list() == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_year_built_bounds() -> None:
    values = [0.0, 19.0, 9999.0, 1471.0, 2281.0, 1969.0, None]
    out = prep(*({"Year built": v} for v in values))
    assert out.frame["Year built"].to_list() == [None, None, None, None, None, 1969.0, None]
    assert out.frame["year_built_invalid"].to_list() == [1.0] * 5 + [0.0, 0.0]


def test_spaces_area_and_bathroom_bounds() -> None:
    out = prep(
        {"Garage spaces": -15.0, "Total spaces": 1000.0, "Total interior livable area": 1.0, "Bathrooms": 24.0},
        {"Garage spaces": 1000.0, "Total spaces": -15.0, "Total interior livable area": 1.764164e8, "Bathrooms": 0.0},
        {"Garage spaces": 4.0, "Total spaces": 4.0, "Total interior livable area": 35970.0, "Bathrooms": 3.0},
    )
    f = out.frame
    assert f["Garage spaces"].to_list() == [None, None, 4.0]
    assert f["Total spaces"].to_list() == [None, None, 4.0]
    assert f["garage_spaces_invalid"].to_list() == [1.0, 1.0, 0.0]
    assert f["total_spaces_invalid"].to_list() == [1.0, 1.0, 0.0]
    assert f["Total interior livable area"].to_list() == [None, None, 35970.0]
    assert f["living_area_invalid"].to_list() == [1.0, 1.0, 0.0]
    assert f["Bathrooms"].to_list() == [None, 0.0, 3.0]
    assert f["bathrooms_invalid"].to_list() == [1.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- places and types
def test_state_zip_and_type() -> None:
    out = prep(
        {"State": "AZ", "Zip": 85611.0, "Type": "Single Family"},
        {"State": "CA", "Zip": 94022.0, "Type": "SingleFamily"},
        {"State": "CA", "Zip": 501.0, "Type": "MobileManufactured"},
    )
    f = out.frame
    assert f["state_is_az"].to_list() == [1.0, 0.0, 0.0]
    assert f["zip_code"].to_list() == ["85611", "94022", "00501"]
    assert f["zip3"].to_list() == ["856", "940", "005"]
    assert f["zip_numeric"].to_list() == [85611.0, 94022.0, 501.0]
    assert f["Type"].to_list() == ["singlefamily", "singlefamily", "mobilemanufactured"]


def test_names_are_cleaned_and_region_city_mismatch_flagged() -> None:
    out = prep(
        {"Region": " West  Hollywood ", "City": "Los Angeles", "Middle School": "Lick (James)  Middle School"},
        {"Region": "Los Altos", "City": "Los Altos", "Middle School": None},
        {"Region": None, "City": "Dodgertown", "Middle School": "None"},
    )
    f = out.frame
    assert f["Region"].to_list() == ["West Hollywood", "Los Altos", None]
    assert f["Middle School"].to_list() == ["Lick (James) Middle School", None, None]
    assert f["region_differs_city"].to_list() == [1.0, 0.0, 0.0]


ADDRESS_CASES = [
    ("1085 Tasman Dr SPACE 818", 0.0, 1.0, 0.0),
    ("540 Delancey St UNIT 204", 1.0, 0.0, 0.0),
    ("555 Fulton St #215", 1.0, 0.0, 0.0),
    ("555 Fulton St STE 206", 1.0, 0.0, 0.0),
    ("12422 Villa Ct #2", 1.0, 0.0, 0.0),
    ("0 113th St", 0.0, 0.0, 1.0),
    ("0 Apn 255 #280-24-00", 0.0, 0.0, 1.0),
    ("540 Pine Ln", 0.0, 0.0, 0.0),
    ("7415 O Donovan Rd", 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("address", "unit", "space", "parcel"), ADDRESS_CASES)
def test_address_flags(address: str, unit: float, space: float, parcel: float) -> None:
    row = row_for("Address", ADDRESS_CASES, address)
    assert (row["address_has_unit"], row["address_has_space"], row["address_is_parcel"]) == (unit, space, parcel)


# ----------------------------------------------------------------------------- Summary
def test_summary_leak_phrase_and_zestimates() -> None:
    f = prep({"Summary": LEAK}, {"Summary": "Great opportunity to live in the friendly gated community"}).frame
    assert f["summary_log_sold_price"].to_list() == [pytest.approx(math.log(500000)), None]
    assert f["summary_has_sold_phrase"].to_list() == [1.0, 0.0]
    assert f["summary_sold_time"].to_list() == [pytest.approx(2020 + 0.5 / 12), None]
    assert f["summary_log_zestimate"].to_list() == [pytest.approx(math.log(510000)), None]
    assert f["summary_log_rent_zestimate"].to_list() == [pytest.approx(math.log(2400)), None]
    assert f["log_stated_sale_price"].to_list() == [pytest.approx(math.log(500000)), None]


NUMBER_CASES = [
    ("HURRY, HURRY.......Great house 3 bed and 2 bath", 3.0, 2.0, None, None),
    ("Rare 2-story Gated 5 bedroom Modern Mediterranean", 5.0, None, None, None),
    ("Charming three bedroom home with 2.5 baths on 1,200 sq ft", 3.0, 2.5, 1200.0, None),
    ("Condo, 1200 sqft, 1 3/4 baths", None, None, 1200.0, None),
    ("Beautiful 200 acre ranch land with several pastures", None, None, None, 200.0),
    ("Someone bedroom-ready? Only 1.5 acres and 2 bathrooms", None, 2.0, None, 1.5),
    ("LOOK AT THIS PRICE $30k PRICE REDUCTION", None, None, None, None),
]


@pytest.mark.parametrize(("text", "beds", "baths", "sqft", "acres"), NUMBER_CASES)
def test_summary_numbers(
    text: str, beds: float | None, baths: float | None, sqft: float | None, acres: float | None
) -> None:
    row = row_for("Summary", NUMBER_CASES, text)
    got = [row[c] for c in ("summary_bedrooms", "summary_bathrooms", "summary_sqft", "summary_acres")]
    assert got == [beds, baths, sqft, acres]


KEYWORD_CASES = [
    ("'THE PERFECT CABIN TO FLIP!  Strawberry delight", {"summary_fixer"}),
    ("Sold as-is, investor special", {"summary_fixer"}),
    ("LOOK AT THIS PRICE $30k PRICE REDUCTION, USE THIS", {"summary_price_reduction"}),
    ("Sparkling pool and ocean views", {"summary_pool", "summary_view"}),
    ("Fully remodeled kitchen", {"summary_remodeled"}),
    ("New construction by a top builder", {"summary_new_construction"}),
    ("Cash only, no contingencies", {"summary_cash_only"}),
    ("Home sold at auction", {"summary_auction"}),
    ("Probate sale, court confirmation required", {"summary_distressed"}),
    ("Detached ADU with its own entrance", {"summary_adu"}),
    ("540 Pine Ln, Los Altos, CA 94022 is a single family home.", {"summary_is_template"}),
    ("Great opportunity to live in the friendly gated community", set()),
    ("Call to preview; the flipper's carpool lane", set()),
]


@pytest.mark.parametrize(("text", "expected"), KEYWORD_CASES)
def test_summary_keyword_flags(text: str, expected: set[str]) -> None:
    """Word-bounded keywords: "preview", "flipper" and "carpool" fire nothing."""
    row = row_for("Summary", KEYWORD_CASES, text)
    summary_flags = [c for c in SPEC.features.flags if c.startswith("summary_") and c != "summary_has_sold_phrase"]
    assert {c for c in summary_flags if row[c] == 1.0} == expected


def test_summary_text_is_cleaned_and_never_null() -> None:
    out = prep(
        {"Summary": "'THE PERFECT CABIN TO FLIP!  Strawberry\tdelight\n"},
        {"Summary": None},
        {"Summary": "None"},
        {"Summary": "-"},
    )
    f = out.frame
    cleaned = "'THE PERFECT CABIN TO FLIP! Strawberry delight"
    assert f["Summary"].to_list() == [cleaned, "", "", "-"]
    assert f["summary_length"].to_list() == [float(len(cleaned)), 0.0, 0.0, 1.0]


def test_schema_is_stable_when_every_value_is_missing() -> None:
    """Train and test are prepared separately, so an all-missing column must not change a dtype."""
    base = raw_frame({})
    empty = base.select(pl.col("Id"), *[pl.lit(None, dtype=t).alias(c) for c, t in base.schema.items() if c != "Id"])
    out = SPEC.prepare(empty)
    assert out.frame.schema == SPEC.prepare(base).frame.schema == SPEC.prepare(base.clear()).frame.schema
    assert out.unparsable == {}
    assert out.frame["Summary"].to_list() == [""]
