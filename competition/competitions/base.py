"""What a competition is: its files, columns, stateless parsing and feature roles.

A competition module builds one `CompetitionSpec`. The training code only ever sees the
spec, so adding a competition never touches the training loop (and vice versa).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

RawType = Literal["int", "float", "str"]


@dataclass(frozen=True)
class FeatureSpec:
    """Which prepared columns play which role in the fitted feature pipeline.

    Every role is fit on the training part of a fold only (see `competition.features`).
    """

    numeric: tuple[str, ...] = ()
    """Real-valued columns: missing flag, median fill, log1p when skewed, standardize."""
    categorical: tuple[str, ...] = ()
    """Low-cardinality text columns: one-hot of levels frequent in the training part."""
    high_cardinality: tuple[str, ...] = ()
    """Text columns with many levels: frequency and out-of-fold target encoding."""
    multi_label: tuple[str, ...] = ()
    """List[str] columns: multi-hot of items frequent in the training part."""
    text: tuple[str, ...] = ()
    """Free text: TF-IDF fit on the training part, reduced with TruncatedSVD."""
    flags: tuple[str, ...] = ()
    """0/1 columns made by the parser (e.g. impossible-value or keyword flags): used as is."""

    def all_columns(self) -> tuple[str, ...]:
        return (
            self.numeric + self.categorical + self.high_cardinality + self.multi_label + self.text + self.flags
        )


@dataclass
class Prepared:
    """The stateless parse of a raw frame: typed columns plus counts of values that did not parse."""

    frame: pl.DataFrame
    unparsable: dict[str, int] = field(default_factory=dict)
    impossible: dict[str, int] = field(default_factory=dict)
    """Values present but impossible or contradicting other columns of the row, made missing (and
    flagged), per raw column. Not counted in `unparsable`."""


@dataclass(frozen=True)
class CompetitionSpec:
    name: str
    """Short name used on the command line and for workspace folders (e.g. `house-prices`)."""
    kaggle_slug: str
    title: str
    id_column: str
    target_column: str
    raw_columns: dict[str, RawType]
    """Every column of train.csv in file order with its raw type (test.csv: all but the target)."""
    prepare: Callable[[pl.DataFrame], Prepared]
    """Stateless, row-wise parse of a validated raw frame into the columns `features` names.

    It may not look at other rows (no statistics): it runs on train and test alike."""
    features: FeatureSpec
    aliases: tuple[str, ...] = ()
    train_file: str = "train.csv"
    test_file: str = "test.csv"
    sample_submission_file: str = "sample_submission.csv"
    missing_tokens: tuple[str, ...] = ("",)
    """Raw strings that mean 'missing' in every column. Pinned so pandas/polars versions agree."""
    numeric_missing_tokens: tuple[str, ...] = ("", "NA")
    """Raw strings that mean 'missing' in numeric columns (not counted as unparsable)."""
    date_columns: tuple[str, ...] = ()
    """Text columns holding dates: read in the format each column is written in and handed to
    `prepare` as ISO "YYYY-MM-DD" text (`competition.normalize.normalize_dates`)."""
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Known text levels per column; other values are warned about and counted at load."""
    missing_written_as: str | None = None
    """The text the competition's files write in every empty or 'none' cell of a text column, when
    they write one (House Prices: "NA", its files have no empty cells). A missing value in a
    DataFrame of new rows (pandas' defaults read "NA" as NaN) is read back as this text; None: as
    an empty cell."""
    missing_read_back: dict[str, str] = field(default_factory=dict)
    """Text columns whose files also hold another word that pandas' defaults read as missing, and
    that word (House Prices' MasVnrType: "None", its most frequent level, beside 8 "NA" in
    train.csv and 16 in test.csv). A missing value there is read back as that word, with a
    warning: the two words cannot be told apart once pandas has read them."""
    time_order_column: str | None = None
    """Column whose ascending order is sale order (None: no time order)."""
    default_split: Literal["kfold", "time", "holdout"] = "kfold"
    description: str = ""
    outlier_rule: Callable[[pl.DataFrame], pl.Series] | None = None
    """Marks training rows (raw frame, target included) that may be dropped from a fold's
    training part when `run.drop_outliers` is on. Never applied to validation or test rows."""
    config_defaults: dict[str, Any] = field(default_factory=dict)
    """Per-competition defaults for config keys (e.g. {"mlp.batch_size": 512}), tuned by CV."""
    search_ranges: dict[str, Any] = field(default_factory=dict)
    """Per-competition search ranges for `comp tune`, in a space file's form (e.g.
    {"mlp.batch_size": {"choices": [256, 512, 1024]}}): they replace the family's default range so
    that the ranges fit the data's size and hold the competition's own defaults. A space file
    still overrides them."""

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.raw_columns if c not in (self.id_column, self.target_column)]

    @property
    def test_columns(self) -> list[str]:
        return [c for c in self.raw_columns if c != self.target_column]
