"""Synthetic twin of Kaggle "House Prices: Advanced Regression Techniques" (Ames, Iowa).

Same 81 columns in the same order, integers written without decimals, "NA" wherever the real
files write it (no alley, no basement, no garage, no pool, ... and a handful of genuinely
missing test values), the literal "None" in MasVnrType, and the Exterior2nd spellings that differ
from Exterior1st ("CmentBd", "Wd Shng", "Brk Cmn"). SalePrice follows a log-linear model of
quality, living area, neighborhood, age and a few extras with noise sd 0.1, so a model can learn it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from competition.competitions.house_prices import RAW_COLUMNS as HOUSE_PRICES_COLUMNS
from competition.synthetic.files import write_files

COLUMNS: tuple[str, ...] = tuple(HOUSE_PRICES_COLUMNS)
"""The real train.csv header, in order (from the competition spec: one source of truth)."""
TEST_COLUMNS: tuple[str, ...] = COLUMNS[:-1]
NA = "NA"

# name: (relative frequency, log-price effect, typical build year, mean OverallQual shift)
_NEIGHBORHOODS: dict[str, tuple[float, float, int, float]] = {
    "NAmes": (225, -0.06, 1960, -0.6),
    "CollgCr": (150, 0.03, 2001, 0.5),
    "OldTown": (113, -0.10, 1920, -0.6),
    "Edwards": (100, -0.12, 1954, -0.9),
    "Somerst": (86, 0.07, 2005, 1.2),
    "Gilbert": (79, 0.02, 2000, 0.5),
    "NridgHt": (77, 0.16, 2006, 2.2),
    "Sawyer": (74, -0.06, 1965, -1.0),
    "NWAmes": (73, 0.03, 1976, 0.3),
    "SawyerW": (59, 0.01, 1991, 0.3),
    "BrkSide": (58, -0.10, 1930, -0.9),
    "Crawfor": (51, 0.10, 1938, 0.3),
    "Mitchel": (49, -0.03, 1982, -0.4),
    "NoRidge": (41, 0.18, 1995, 1.9),
    "Timber": (38, 0.08, 2002, 1.1),
    "IDOTRR": (37, -0.20, 1922, -1.2),
    "ClearCr": (28, 0.10, 1967, -0.1),
    "StoneBr": (25, 0.17, 2001, 2.1),
    "SWISU": (25, -0.07, 1925, -0.6),
    "MeadowV": (17, -0.18, 1972, -1.5),
    "Blmngtn": (17, 0.03, 2005, 1.1),
    "BrDale": (16, -0.17, 1971, -0.3),
    "Veenker": (11, 0.10, 1978, 0.6),
    "NPkVill": (9, -0.05, 1976, 0.0),
    "Blueste": (2, -0.05, 1980, 0.0),
}

# Zoning other than RL, per neighborhood: {zone: probability}.
_ZONING: dict[str, dict[str, float]] = {
    "Somerst": {"FV": 0.62},
    "OldTown": {"RM": 0.82, "C (all)": 0.01},
    "IDOTRR": {"RM": 0.70, "C (all)": 0.23},
    "BrkSide": {"RM": 0.55},
    "BrDale": {"RM": 1.0},
    "MeadowV": {"RM": 1.0},
    "Blueste": {"RM": 1.0},
    "SWISU": {"RH": 0.20, "C (all)": 0.02},
    "NAmes": {"RH": 0.02},
    "SawyerW": {"RH": 0.05},
    "Crawfor": {"RM": 0.10, "RH": 0.02},
    "Edwards": {"RM": 0.06, "RH": 0.01},
    "CollgCr": {"RM": 0.05},
    "Mitchel": {"RM": 0.08},
}

# (MSSubClass, HouseStyle, BldgType, weight, era) with era "old" (<=1945), "new" (>=1946) or "any".
_BUILDINGS: tuple[tuple[int, str, str, float, str], ...] = (
    (20, "1Story", "1Fam", 1075, "new"),
    (60, "2Story", "1Fam", 572, "new"),
    (50, "1.5Fin", "1Fam", 282, "any"),
    (120, "1Story", "TwnhsE", 160, "new"),
    (30, "1Story", "1Fam", 136, "old"),
    (70, "2Story", "1Fam", 123, "old"),
    (80, "SLvl", "1Fam", 118, "new"),
    (160, "2Story", "Twnhs", 70, "new"),
    (90, "1Story", "Duplex", 57, "any"),
    (160, "2Story", "TwnhsE", 56, "new"),
    (85, "SFoyer", "1Fam", 48, "new"),
    (90, "2Story", "Duplex", 25, "any"),
    (90, "SFoyer", "Duplex", 19, "any"),
    (190, "1.5Fin", "2fmCon", 19, "old"),
    (190, "2Story", "2fmCon", 18, "old"),
    (45, "1.5Unf", "1Fam", 16, "old"),
    (190, "1Story", "2fmCon", 15, "any"),
    (120, "1Story", "Twnhs", 15, "new"),
    (75, "2.5Unf", "1Fam", 15, "old"),
    (180, "SFoyer", "Twnhs", 6, "new"),
    (180, "SFoyer", "TwnhsE", 6, "new"),
    (75, "2.5Fin", "1Fam", 6, "old"),
    (40, "1Story", "1Fam", 5, "any"),
    (180, "SLvl", "TwnhsE", 3, "new"),
)

# Living-area shift (log scale) per house style and building type.
_STYLE_AREA = {
    "1Story": -0.08, "2Story": 0.22, "1.5Fin": 0.05, "1.5Unf": -0.15, "SLvl": 0.0, "SFoyer": -0.12,
    "2.5Fin": 0.35, "2.5Unf": 0.25,
}  # fmt: skip
_TYPE_AREA = {"1Fam": 0.0, "TwnhsE": -0.05, "Twnhs": -0.12, "Duplex": 0.15, "2fmCon": 0.05}

# Exterior1st spelling -> Exterior2nd spelling for the same material (the real files disagree).
_EXTERIOR_2ND = {
    "VinylSd": "VinylSd", "HdBoard": "HdBoard", "MetalSd": "MetalSd", "Wd Sdng": "Wd Sdng",
    "Plywood": "Plywood", "CemntBd": "CmentBd", "BrkFace": "BrkFace", "WdShing": "Wd Shng",
    "Stucco": "Stucco", "AsbShng": "AsbShng", "BrkComm": "Brk Cmn", "Stone": "Stone", "AsphShn": "AsphShn",
    "ImStucc": "ImStucc", "CBlock": "CBlock",
}  # fmt: skip
_EXTERIOR_NEW = {"VinylSd": 80, "CemntBd": 10, "HdBoard": 5, "MetalSd": 3, "Stucco": 1, "Stone": 1}
_EXTERIOR_OLD = {
    "MetalSd": 22, "Wd Sdng": 22, "HdBoard": 18, "VinylSd": 14, "Plywood": 9, "BrkFace": 4, "WdShing": 2.5,
    "Stucco": 2, "AsbShng": 2, "CemntBd": 2, "BrkComm": 0.3, "Stone": 0.2, "AsphShn": 0.1, "ImStucc": 0.1,
    "CBlock": 0.1,
}  # fmt: skip
_EXTERIOR_2ND_OTHER = {"Plywood": 30, "Wd Shng": 20, "HdBoard": 12, "ImStucc": 8, "Brk Cmn": 6, "Wd Sdng": 8,
                       "Stucco": 5, "VinylSd": 5, "MetalSd": 3, "Stone": 2, "Other": 1}  # fmt: skip

_QUAL_LABELS = np.array(["Po", "Fa", "TA", "Gd", "Ex"])


def _pick(rng: np.random.Generator, n: int, table: Mapping[str, float]) -> np.ndarray:
    """Draw n labels with the given relative weights."""
    keys = np.array(list(table), dtype=object)
    weights = np.array(list(table.values()), dtype=np.float64)
    return keys[rng.choice(len(keys), size=n, p=weights / weights.sum())]


def _grade(score: np.ndarray, lowest: int = 1) -> np.ndarray:
    """Map a continuous 1..5 score to the Po/Fa/TA/Gd/Ex scale of data_description.txt."""
    idx = np.clip(np.rint(score), lowest, 5).astype(np.int64) - 1
    return _QUAL_LABELS[idx].astype(object)


def _quality_score(qual: np.ndarray, base: float, up: float, down: float) -> np.ndarray:
    """A 1..5 score rising fast above average OverallQual and slowly below (most houses rate "TA")."""
    d = qual - 5.6
    return base + up * np.maximum(d, 0) + down * np.minimum(d, 0)


def _houses(rng: np.random.Generator, n: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """All columns but Id/SalePrice as arrays, the "NA" masks of numeric columns, and log price."""
    c: dict[str, np.ndarray] = {}
    na: dict[str, np.ndarray] = {}
    norm = rng.standard_normal
    unif = rng.random

    nb_names = list(_NEIGHBORHOODS)
    nb_w = np.array([v[0] for v in _NEIGHBORHOODS.values()])
    nb_idx = rng.choice(len(nb_names), size=n, p=nb_w / nb_w.sum())
    nb = np.array(nb_names, dtype=object)[nb_idx]
    nb_price = np.array([v[1] for v in _NEIGHBORHOODS.values()])[nb_idx]
    nb_year = np.array([v[2] for v in _NEIGHBORHOODS.values()])[nb_idx]
    nb_qual = np.array([v[3] for v in _NEIGHBORHOODS.values()])[nb_idx]
    c["Neighborhood"] = nb

    b_w = np.array([b[3] for b in _BUILDINGS])
    b_idx = rng.choice(len(_BUILDINGS), size=n, p=b_w / b_w.sum())
    c["MSSubClass"] = np.array([b[0] for b in _BUILDINGS])[b_idx]
    style = np.array([b[1] for b in _BUILDINGS], dtype=object)[b_idx]
    btype = np.array([b[2] for b in _BUILDINGS], dtype=object)[b_idx]
    era = np.array([b[4] for b in _BUILDINGS], dtype=object)[b_idx]
    c["HouseStyle"], c["BldgType"] = style, btype

    yr_sold = rng.choice(np.arange(2006, 2011), size=n, p=np.array([314, 329, 304, 338, 175]) / 1460)
    month_w = np.array([58, 52, 106, 141, 204, 253, 234, 122, 63, 89, 79, 59], dtype=np.float64)
    mo_sold = rng.choice(np.arange(1, 13), size=n, p=month_w / month_w.sum())
    # Sales in 2010 stop in July, as in the real data.
    late_2010 = (yr_sold == 2010) & (mo_sold > 7)
    mo_sold[late_2010] = rng.integers(1, 8, size=int(late_2010.sum()))
    c["YrSold"], c["MoSold"] = yr_sold, mo_sold

    year = np.rint(nb_year + 14 * norm(n)).astype(np.int64)
    old = (era == "old") & (year > 1945)
    year[old] = 1945 - np.abs(np.rint(18 * norm(int(old.sum())))).astype(np.int64)
    new = (era == "new") & (year < 1946)
    year[new] = 1946 + np.abs(np.rint(20 * norm(int(new.sum())))).astype(np.int64)
    year = np.clip(year, 1872, yr_sold)
    c["YearBuilt"] = year
    remod_base = np.maximum(year, 1950)
    remodeled = (unif(n) < 0.47) & (remod_base < yr_sold)
    remod = remod_base.copy()
    remod[remodeled] = rng.integers(remod_base[remodeled], yr_sold[remodeled] + 1)
    c["YearRemodAdd"] = remod
    age = yr_sold - year

    qual = np.clip(np.rint(6.1 + nb_qual + 0.02 * (year - 1972) + 0.8 * norm(n)), 1, 10).astype(np.int64)
    c["OverallQual"] = qual
    cond = np.where(
        (age < 8) | (unif(n) < 0.35),
        5,
        rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9], size=n, p=[0.002, 0.005, 0.03, 0.06, 0.37, 0.24, 0.2, 0.07, 0.023]),
    )
    c["OverallCond"] = cond

    zoning = np.full(n, "RL", dtype=object)
    u = unif(n)
    for name, zones in _ZONING.items():
        rows = nb == name
        edge = 0.0
        for zone, p in zones.items():
            zoning[rows & (u >= edge) & (u < edge + p)] = zone
            edge += p
    c["MSZoning"] = zoning

    # Lot: frontage (17.7% "NA") and area from frontage x depth.
    small_lot = np.isin(btype, ["Twnhs", "TwnhsE"])
    frontage = np.where(small_lot, 24 + 14 * unif(n), 70 + 20 * norm(n) + 8 * (zoning == "RL"))
    wide = unif(n) < 0.012
    frontage[wide] *= 1.5 + 2.0 * unif(int(wide.sum()))
    frontage = np.clip(np.rint(frontage), 21, 313).astype(np.int64)
    depth = np.clip(128 + 28 * norm(n), 60, 400)
    lot_area = np.rint(frontage * depth * np.exp(0.18 * norm(n)))
    big = unif(n) < 0.02
    lot_area[big] *= np.exp(0.6 + 0.8 * unif(int(big.sum())))
    c["LotFrontage"] = frontage
    na["LotFrontage"] = unif(n) < 0.177
    c["LotArea"] = np.clip(lot_area, 1300, 215245).astype(np.int64)
    c["Street"] = np.where(unif(n) < 0.004, "Grvl", "Pave").astype(object)
    c["Alley"] = np.where(unif(n) < 0.938, NA, _pick(rng, n, {"Grvl": 50, "Pave": 41}))
    c["LotShape"] = _pick(rng, n, {"Reg": 925, "IR1": 484, "IR2": 41, "IR3": 10})
    c["LandContour"] = _pick(rng, n, {"Lvl": 1311, "Bnk": 63, "HLS": 50, "Low": 36})
    c["Utilities"] = np.where(unif(n) < 0.0007, "NoSeWa", "AllPub").astype(object)
    c["LotConfig"] = _pick(rng, n, {"Inside": 1052, "Corner": 263, "CulDSac": 94, "FR2": 47, "FR3": 4})
    c["LandSlope"] = _pick(rng, n, {"Gtl": 1382, "Mod": 65, "Sev": 13})
    c["Condition1"] = _pick(
        rng, n, {"Norm": 1260, "Feedr": 81, "Artery": 48, "RRAn": 26, "PosN": 19, "RRAe": 11, "PosA": 8, "RRNn": 5,
                 "RRNe": 2}
    )  # fmt: skip
    c["Condition2"] = _pick(
        rng, n, {"Norm": 1445, "Feedr": 6, "Artery": 2, "RRNn": 2, "PosN": 2, "PosA": 1, "RRAn": 1, "RRAe": 1}
    )
    c["RoofStyle"] = _pick(rng, n, {"Gable": 1141, "Hip": 286, "Flat": 13, "Gambrel": 11, "Mansard": 7, "Shed": 2})
    c["RoofMatl"] = _pick(
        rng, n, {"CompShg": 1434, "Tar&Grv": 11, "WdShngl": 6, "WdShake": 5, "Metal": 1, "Membran": 1, "Roll": 1,
                 "ClyTile": 1}
    )  # fmt: skip

    ext1 = np.where(year >= 1995, _pick(rng, n, _EXTERIOR_NEW), _pick(rng, n, _EXTERIOR_OLD))
    ext2 = np.array([_EXTERIOR_2ND[e] for e in ext1], dtype=object)
    differs = unif(n) < 0.12
    ext2[differs] = _pick(rng, int(differs.sum()), _EXTERIOR_2ND_OTHER)
    c["Exterior1st"], c["Exterior2nd"] = ext1, ext2

    vnr_score = 0.35 * (qual - 6) + 0.6 * norm(n)
    vnr = np.where(vnr_score > 0.35, np.where(unif(n) < 0.22, "Stone", "BrkFace"), "None").astype(object)
    vnr[(vnr == "None") & (unif(n) < 0.02)] = "BrkCmn"
    vnr_area = np.where(vnr == "None", 0, np.clip(np.rint(np.exp(5.2 + 0.15 * (qual - 6) + 0.55 * norm(n))), 14, 1600))
    odd_none = (vnr == "None") & (unif(n) < 0.004)
    vnr_area[odd_none] = rng.choice([1, 288, 312, 344], size=int(odd_none.sum()))
    vnr_missing = unif(n) < 0.0055
    vnr[vnr_missing] = NA
    c["MasVnrType"], c["MasVnrArea"] = vnr, vnr_area.astype(np.int64)
    na["MasVnrArea"] = vnr_missing.copy()

    c["ExterQual"] = _grade(_quality_score(qual, 3.0, 0.5, 0.15) + 0.3 * norm(n), lowest=2)
    c["ExterCond"] = _grade(3 + 0.32 * norm(n) + 0.1 * (cond - 5))
    foundation = np.where(
        year < 1940,
        _pick(rng, n, {"BrkTil": 70, "CBlock": 22, "Stone": 4, "PConc": 4}),
        np.where(
            year < 1990,
            _pick(rng, n, {"CBlock": 78, "PConc": 14, "Slab": 2.5, "BrkTil": 2, "Wood": 0.3}),
            _pick(rng, n, {"PConc": 94, "CBlock": 4, "Slab": 1, "Wood": 0.3}),
        ),
    ).astype(object)
    c["Foundation"] = foundation

    # Living area and floors.
    log_area = (
        np.log(1450) + 0.09 * (qual - 6) + np.array([_STYLE_AREA[s] for s in style])
        + np.array([_TYPE_AREA[t] for t in btype]) + 0.22 * norm(n)
    )  # fmt: skip
    low_qual = np.where(unif(n) < 0.018, np.rint(80 + 450 * unif(n)), 0).astype(np.int64)
    finished = np.rint(np.exp(log_area)).astype(np.int64)
    second_frac = np.zeros(n)
    two = np.isin(style, ["2Story", "2.5Fin"])
    second_frac[two] = 0.40 + 0.1 * unif(int(two.sum()))
    half = np.isin(style, ["1.5Fin", "2.5Unf"])
    second_frac[half] = 0.25 + 0.15 * unif(int(half.sum()))
    split = (style == "SLvl") & (unif(n) < 0.3)
    second_frac[split] = 0.2 + 0.15 * unif(int(split.sum()))
    second = np.rint(finished * second_frac).astype(np.int64)
    first = np.maximum(finished - second, 334)
    gr_liv = np.clip(first + second + low_qual, 334, 5642)
    c["1stFlrSF"], c["2ndFlrSF"], c["LowQualFinSF"] = first, gr_liv - first - low_qual, low_qual
    c["GrLivArea"] = gr_liv

    # Basement: none on slabs and for ~1% more; "NA" in every basement category then.
    no_bsmt = (foundation == "Slab") | (unif(n) < 0.009)
    total_bsmt = np.where(no_bsmt, 0, np.rint(first * (0.72 + 0.33 * unif(n)))).astype(np.int64)
    fin1 = _pick(rng, n, {"Unf": 430, "GLQ": 418, "ALQ": 220, "BLQ": 148, "Rec": 133, "LwQ": 74})
    fin1[(qual >= 8) & (unif(n) < 0.5)] = "GLQ"
    sf1 = np.where(fin1 == "Unf", 0, np.rint(total_bsmt * (0.3 + 0.65 * unif(n)))).astype(np.int64)
    fin2 = np.where(unif(n) < 0.88, "Unf", _pick(rng, n, {"Rec": 54, "LwQ": 46, "BLQ": 33, "ALQ": 19, "GLQ": 14}))
    fin2 = fin2.astype(object)
    sf2 = np.where(fin2 == "Unf", 0, np.rint((total_bsmt - sf1) * (0.2 + 0.7 * unif(n)))).astype(np.int64)
    bsmt_cats = {
        "BsmtQual": _grade(_quality_score(qual, 3.25, 0.5, 0.2) + 0.35 * norm(n), lowest=2),
        "BsmtCond": _grade(3 + 0.28 * norm(n)),
        "BsmtExposure": _pick(rng, n, {"No": 953, "Av": 221, "Gd": 134, "Mn": 114}),
        "BsmtFinType1": fin1,
        "BsmtFinType2": fin2,
    }
    for col, values in bsmt_cats.items():
        values = values.astype(object)
        values[no_bsmt] = NA
        c[col] = values
    c["BsmtFinSF1"], c["BsmtFinSF2"] = sf1, sf2
    c["BsmtUnfSF"] = total_bsmt - sf1 - sf2
    c["TotalBsmtSF"] = total_bsmt
    c["BsmtFullBath"] = np.where(sf1 > 0, (unif(n) < 0.7).astype(np.int64) + (unif(n) < 0.02), 0)
    c["BsmtHalfBath"] = np.where(total_bsmt > 0, (unif(n) < 0.06).astype(np.int64), 0)

    c["Heating"] = _pick(rng, n, {"GasA": 1428, "GasW": 18, "Grav": 7, "Wall": 4, "OthW": 2, "Floor": 1})
    c["HeatingQC"] = _grade(4.2 + 0.02 * (remod - 1985) + 0.2 * (qual - 6) + 0.6 * norm(n))
    c["CentralAir"] = np.where(unif(n) < np.where(year < 1950, 0.25, 0.02), "N", "Y").astype(object)
    c["Electrical"] = np.where(
        year >= 1960, "SBrkr", _pick(rng, n, {"SBrkr": 62, "FuseA": 27, "FuseF": 8, "FuseP": 1.5, "Mix": 0.3})
    ).astype(object)

    full_bath = np.clip(np.rint(gr_liv / 1000 + 0.45 + 0.35 * norm(n)), 1, 3).astype(np.int64)
    full_bath[unif(n) < 0.006] = 0
    half_bath = np.where(unif(n) < np.where(two, 0.75, 0.25), 1, 0) + (unif(n) < 0.008)
    bedrooms = np.clip(np.rint(gr_liv / 520 + 0.55 * norm(n)), 1, 8).astype(np.int64)
    bedrooms[unif(n) < 0.004] = 0
    kitchens = np.where(np.isin(btype, ["Duplex", "2fmCon"]) & (unif(n) < 0.8), 2, 1)
    rooms = np.clip(np.rint(bedrooms + 2 + gr_liv / 1400 + 0.7 * norm(n)), 2, 14).astype(np.int64)
    c["FullBath"], c["HalfBath"], c["BedroomAbvGr"] = full_bath, half_bath, bedrooms
    c["KitchenAbvGr"], c["TotRmsAbvGrd"] = kitchens, rooms
    c["KitchenQual"] = _grade(_quality_score(qual, 3.1, 0.5, 0.15) + 0.35 * norm(n), lowest=2)
    c["Functional"] = _pick(rng, n, {"Typ": 1360, "Min2": 34, "Min1": 31, "Mod": 15, "Maj1": 14, "Maj2": 5, "Sev": 1})

    p_none = np.clip(0.74 - 0.12 * (qual - 4), 0.08, 0.9)
    fireplaces = np.where(unif(n) < p_none, 0, rng.choice([1, 2, 3], size=n, p=[0.86, 0.135, 0.005]))
    c["Fireplaces"] = fireplaces
    fire_qu = _grade(3.45 + 0.2 * (qual - 6) + 0.5 * norm(n))
    fire_qu[fireplaces == 0] = NA
    c["FireplaceQu"] = fire_qu

    # Garage: none for ~5.5% (older, cheaper houses more often); every garage field "NA" or 0 then.
    no_garage = unif(n) < np.clip(0.07 + 0.04 * (5 - qual), 0.01, 0.3)
    g_type = np.where(
        year < 1960,
        _pick(rng, n, {"Detchd": 70, "Attchd": 22, "Basment": 3, "2Types": 2, "CarPort": 1.5, "BuiltIn": 1.5}),
        _pick(rng, n, {"Attchd": 78, "Detchd": 11, "BuiltIn": 9, "Basment": 1, "2Types": 0.5, "CarPort": 0.5}),
    ).astype(object)
    g_year = np.where(unif(n) < 0.78, year, rng.integers(year, yr_sold + 1))
    cars = np.clip(np.rint(1.55 + 0.3 * (qual - 5) + 0.45 * norm(n)), 1, 4).astype(np.int64)
    g_area = np.rint(cars * (225 + 60 * unif(n)) + 25 * norm(n)).astype(np.int64)
    g_finish = np.where(
        qual >= 8, _pick(rng, n, {"Fin": 55, "RFn": 38, "Unf": 7}), _pick(rng, n, {"Unf": 52, "RFn": 27, "Fin": 21})
    ).astype(object)
    g_qual = _grade(3 - 0.2 * (year < 1930) + 0.2 * norm(n))
    g_cond = _grade(3 - 0.2 * (year < 1930) + 0.2 * norm(n))
    for values in (g_type, g_finish, g_qual, g_cond):
        values[no_garage] = NA
    cars[no_garage] = 0
    g_area[no_garage] = 0
    c["GarageType"], c["GarageYrBlt"], c["GarageFinish"] = g_type, g_year, g_finish
    c["GarageCars"], c["GarageArea"], c["GarageQual"], c["GarageCond"] = cars, g_area, g_qual, g_cond
    na["GarageYrBlt"] = no_garage.copy()

    c["PavedDrive"] = _pick(rng, n, {"Y": 1340, "N": 90, "P": 30})

    def porch(rate: float, log_mean: float, sd: float, cap: int) -> np.ndarray:
        has = unif(n) < rate
        return np.where(has, np.clip(np.rint(np.exp(log_mean + sd * norm(n))), 8, cap), 0).astype(np.int64)

    c["WoodDeckSF"] = porch(0.48, np.log(170), 0.55, 857)
    c["OpenPorchSF"] = porch(0.55, np.log(50), 0.7, 547)
    c["EnclosedPorch"] = np.where(year < 1950, porch(0.45, np.log(140), 0.5, 552), porch(0.04, np.log(120), 0.5, 552))
    c["3SsnPorch"] = porch(0.016, np.log(180), 0.4, 508)
    c["ScreenPorch"] = porch(0.08, np.log(170), 0.4, 480)
    pool = unif(n) < 0.005
    c["PoolArea"] = np.where(pool, rng.integers(480, 739, size=n), 0)
    pool_qc = _pick(rng, n, {"Ex": 2, "Gd": 3, "Fa": 2})
    pool_qc[~pool] = NA
    c["PoolQC"] = pool_qc
    c["Fence"] = np.where(unif(n) < 0.808, NA, _pick(rng, n, {"MnPrv": 157, "GdPrv": 59, "GdWo": 54, "MnWw": 11}))
    misc = np.where(unif(n) < 0.963, NA, _pick(rng, n, {"Shed": 49, "Gar2": 2, "Othr": 2, "TenC": 1})).astype(object)
    misc_val = np.where(misc == "Shed", np.rint(rng.integers(8, 50, size=n) * 50), 0)
    misc_val = np.where(np.isin(misc, ["Gar2", "Othr", "TenC"]), rng.integers(10, 160, size=n) * 100, misc_val)
    c["MiscFeature"], c["MiscVal"] = misc, misc_val.astype(np.int64)

    is_new = (age <= 1) & (unif(n) < 0.75)
    sale_type = _pick(rng, n, {"WD": 1267, "COD": 43, "ConLD": 9, "ConLI": 5, "ConLw": 5, "CWD": 4, "Oth": 3, "Con": 2})
    sale_type[is_new] = "New"
    sale_cond = _pick(rng, n, {"Normal": 1198, "Abnorml": 101, "Family": 20, "Alloca": 12, "AdjLand": 4})
    sale_cond[is_new] = "Partial"
    c["SaleType"], c["SaleCondition"] = sale_type, sale_cond

    log_price = (
        12.0
        + 0.1 * (qual - 6)
        + 0.5 * np.log(gr_liv / 1460)
        + nb_price
        + 0.0022 * (year - 1973)
        + 0.0012 * (remod - 1985)
        + 0.035 * (cond - 5)
        + 0.05 * (cars - 1.8)
        + 0.00009 * (total_bsmt - 1000)
        + 0.04 * (fireplaces > 0)
        + 0.05 * np.log(c["LotArea"] / 9500)
        + 0.02 * (full_bath - 1.5)
        - 0.08 * (c["CentralAir"] == "N")
        - 0.1 * (sale_cond == "Abnorml")
        + 0.03 * (sale_cond == "Partial")
        + 0.1 * norm(n)
    )
    return c, na, log_price


def _disjoint_rows(rng: np.random.Generator, rows: np.ndarray) -> list[int]:
    """Rows in random order, handed out one quirk at a time so quirks never share a row."""
    return rng.permutation(rows).tolist()


def _take(queue: list[int], rate: float, population: int) -> list[int]:
    """At least one row (when any is left) and otherwise `rate` of the population, off the queue."""
    k = min(len(queue), max(1, round(rate * population)))
    taken = queue[:k]
    del queue[:k]
    return taken


def _inject_test_quirks(
    rng: np.random.Generator, c: dict[str, np.ndarray], na: dict[str, np.ndarray], n_train: int, n: int
) -> None:
    """The few genuinely missing values of the real test.csv (rates per 1,459 rows), at least one each."""
    n_test = n - n_train
    if n_test == 0:
        return
    queue = _disjoint_rows(rng, np.arange(n_train, n))
    for col, rate in (("MSZoning", 4), ("Utilities", 2), ("KitchenQual", 1), ("Functional", 2), ("SaleType", 1)):
        for r in _take(queue, rate / 1459, n_test):
            c[col][r] = NA
    for r in _take(queue, 1 / 1459, n_test):
        c["Exterior1st"][r] = NA
        c["Exterior2nd"][r] = NA
    for r in _take(queue, 1 / 1459, n_test):  # veneer area without a type
        c["MasVnrType"][r] = NA
        c["MasVnrArea"][r] = 198
        na["MasVnrArea"][r] = False
    no_bsmt_rows = _take(queue, 1 / 1459, n_test) + _take(queue, 1 / 1459, n_test)
    for i, r in enumerate(no_bsmt_rows):
        for col in ("BsmtQual", "BsmtCond", "BsmtExposure", "BsmtFinType1", "BsmtFinType2"):
            c[col][r] = NA
        numeric = ("BsmtFullBath", "BsmtHalfBath") if i % 2 else (
            "BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF", "TotalBsmtSF", "BsmtFullBath", "BsmtHalfBath"
        )  # fmt: skip
        for col in ("BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF", "TotalBsmtSF", "BsmtFullBath", "BsmtHalfBath"):
            c[col][r] = 0
            if col in numeric:
                na.setdefault(col, np.zeros(n, dtype=bool))[r] = True
    detached = _take(queue, 1 / 1459, n_test) + _take(queue, 1 / 1459, n_test)
    for i, r in enumerate(detached):  # a detached garage with no details (one even without size)
        c["GarageType"][r] = "Detchd"
        for col in ("GarageFinish", "GarageQual", "GarageCond"):
            c[col][r] = NA
        na["GarageYrBlt"][r] = True
        c["GarageCars"][r], c["GarageArea"][r] = 1, 360
        if i % 2:
            na.setdefault("GarageCars", np.zeros(n, dtype=bool))[r] = True
            na.setdefault("GarageArea", np.zeros(n, dtype=bool))[r] = True


def _inject_train_quirks(rng: np.random.Generator, c: dict[str, np.ndarray], n_train: int) -> None:
    """Single odd "NA"s of the real train.csv: Electrical, and basement exposure/type of a finished basement."""
    queue = _disjoint_rows(rng, np.arange(n_train))
    for r in _take(queue, 1 / 1460, n_train):
        c["Electrical"][r] = NA
    has_bsmt = [r for r in queue if c["BsmtQual"][r] != NA]
    for col in ("BsmtExposure", "BsmtFinType2"):
        for r in _take(has_bsmt, 1 / 1460, n_train):
            c[col][r] = NA


def _round_price(rng: np.random.Generator, log_price: np.ndarray) -> np.ndarray:
    """Whole dollars, mostly to $500 and otherwise to $100, like recorded sale prices."""
    price = np.exp(log_price)
    step = np.where(rng.random(price.size) < 0.8, 500, 100)
    return np.maximum(np.rint(price / step) * step, 10_000).astype(np.int64)


def _to_text(values: np.ndarray, missing: np.ndarray | None) -> pl.Series:
    """Format one column as the CSV text: integers without decimals, "NA" where missing."""
    if values.dtype.kind in "iub":
        text = values.astype(np.int64).astype(str).astype(object)
    else:
        text = values.astype(str).astype(object)
    if missing is not None:
        text = np.where(missing, NA, text)
    return pl.Series(text.tolist(), dtype=pl.Utf8)


def generate(n_train: int, n_test: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(train, test, sample_submission) as string-formatted frames exactly as the CSV would hold them."""
    if n_train < 1 or n_test < 0:
        raise ValueError(f"need n_train >= 1 and n_test >= 0, got {n_train} and {n_test}")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    c, na, log_price = _houses(rng, n)
    c["Id"] = np.arange(1, n + 1)
    c["SalePrice"] = _round_price(rng, log_price)
    _inject_test_quirks(rng, c, na, n_train, n)
    _inject_train_quirks(rng, c, n_train)
    frame = pl.DataFrame({col: _to_text(c[col], na.get(col)) for col in COLUMNS})
    train = frame.slice(0, n_train)
    test = frame.slice(n_train).drop("SalePrice")
    typical = int(np.median(c["SalePrice"][:n_train]) // 1000 * 1000)
    submission = pl.DataFrame({"Id": test["Id"], "SalePrice": pl.Series([f"{typical}.0"] * n_test, dtype=pl.Utf8)})
    return train, test, submission


def write(data_dir: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """Write train.csv, test.csv, sample_submission.csv into data_dir (created if needed)."""
    write_files(Path(data_dir), *generate(n_train, n_test, seed))
