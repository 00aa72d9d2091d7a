"""Typed run configuration: defaults < competition defaults < TOML file < --set key=value.

Keys are `section.field` (e.g. `mlp.hidden`, `run.folds`). Unknown keys, values of the wrong
type and values outside a setting's range (`LIMITS`, the one table of ranges and allowed names)
are refused with a message naming the key and what is allowed, before any data is read, any
MLflow run is started or any checkpoint folder is made. This module imports no torch, scipy or
scikit-learn: the CLI imports it for every command, `--help` included.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from competition.errors import CompError
from competition.feature_config import FeatureConfig
from competition.models import FAMILIES
from competition.models.mlp_config import ACTIVATIONS, MLPConfig

SPLITS = ("auto", "kfold", "time", "holdout")
"""`run.split` names (`auto`: the competition's default)."""
BLEND_METHODS = ("mean", "nnls", "ridge")
"""`run.blend` names: how `--model a,b` weights the families (`competition.blend.METHODS`)."""


def split_families(model: str) -> list[str]:
    """The family names in a `run.model` value ("mlp,lightgbm,lasso"), in order, blanks dropped."""
    return [m.strip() for m in model.split(",") if m.strip()]


@dataclass(frozen=True)
class RunSection:
    model: str = "mlp"
    """Model family, or several comma-separated (trained side by side, then blended); the three-family
    blend is `mlp,lightgbm,lasso` (lasso is the linear member that blends best by CV)."""
    split: str = "auto"
    """kfold | time | holdout | auto (the competition's default)."""
    folds: int = 5
    seeds: int = 3
    seed: int = 42
    fold_seed: int = -1
    """Seed of the shuffled k-fold split (-1: `seed`, the model seed). `comp tune` re-scores on fresh fold seeds."""
    exclude_latest: float = 0.0
    """Share of the latest rows (time order) left out of every fold: `comp tune` holds that block out of a
    time-ordered search and scores the chosen configuration on it afterwards. 0: every row is used."""
    holdout_share: float = 0.2
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0
    """CPU threads for torch (0: the toolkit's default, `devices.DEFAULT_THREADS`)."""
    refit_full: str = "auto"
    """auto | true | false: after CV, retrain on all training rows for the submission
    (auto: yes for time-ordered splits, where the latest rows matter most)."""
    drop_outliers: bool = False
    """Drop the competition's outlier-rule rows from every family's training parts (never from
    validation). Off by default: on House Prices keeping them scored better by CV for the MLP and
    LightGBM (each outlier teaches the model about the other, which sits in another fold); the
    linear families drop them on their own (`linear.drop_outliers`)."""
    blend: str = "nnls"
    """How `--model a,b` combines families: mean | nnls | ridge."""

    @property
    def families(self) -> list[str]:
        """The family names in `model`, in order."""
        return split_families(self.model)


@dataclass(frozen=True)
class LightGBMConfig:
    """Gradient-boosted trees on the log target. Defaults from 5-fold CV on House Prices (OOF log-RMSE
    0.1189 with 3 seeds; 0.1240 with one-hot inputs, 15 leaves and no extra trees). House Prices
    overrides four of them in its spec (linear trees: 0.1164, see its `config_defaults`)."""

    learning_rate: float = 0.03
    num_leaves: int = 10
    max_depth: int = -1
    min_data_in_leaf: int = 10
    feature_fraction: float = 0.3
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    extra_trees: bool = True
    """Random split thresholds: a little worse with one seed, better averaged over seeds."""
    lambda_l1: float = 0.0
    lambda_l2: float = 1.0
    min_gain_to_split: float = 0.0
    max_bin: int = 255
    max_rounds: int = 5000
    """Upper bound on boosting rounds; each CV member stops early on its own validation rows."""
    early_stopping_rounds: int = 200
    native_categorical: bool = True
    """Fold one-hot blocks back into one categorical column each and let LightGBM split on categories."""
    cat_smooth: float = 10.0
    cat_l2: float = 10.0
    linear_tree: bool = False
    """Fit a linear model of the numeric inputs in each leaf instead of a constant: smooth trends
    such as price vs. living area are followed within a leaf rather than as a staircase."""
    linear_lambda: float = 0.0
    """L2 penalty on the leaf models' coefficients (linear trees only)."""
    num_threads: int = 0
    """0: auto (one thread per 20,000 training rows; small tables run fastest single-threaded)."""


@dataclass(frozen=True)
class LinearConfig:
    """scikit-learn linear models on the same standardized matrices. Alphas from 5-fold CV on House
    Prices (OOF log-RMSE over all rows, outliers dropped from training: ridge 0.1243, lasso 0.1218,
    elastic net 0.1218; kept: 0.1247, 0.1225, 0.1226)."""

    ridge_alpha: float = 30.0
    lasso_alpha: float = 0.0005
    elasticnet_alpha: float = 0.001
    l1_ratio: float = 0.5
    """Elastic net only: share of the L1 penalty."""
    max_iter: int = 20000
    tol: float = 1e-4
    drop_outliers: bool = True
    """Drop the competition's outlier-rule rows from the linear families' training parts (never
    from validation), whatever `run.drop_outliers` says for the others: a least-squares line bends
    toward two huge cheap houses for every other row, while trees and the MLP only learn from them
    locally. The rows stay validated and scored."""


@dataclass(frozen=True)
class RunConfig:
    run: RunSection = field(default_factory=RunSection)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    mlp: MLPConfig = field(default_factory=MLPConfig)
    lightgbm: LightGBMConfig = field(default_factory=LightGBMConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)

    def flat(self) -> dict[str, Any]:
        """Every value as `section.field` -> value (what MLflow logs as params)."""
        out: dict[str, Any] = {}
        for sec in dataclasses.fields(self):
            for f in dataclasses.fields(getattr(self, sec.name)):
                out[f"{sec.name}.{f.name}"] = getattr(getattr(self, sec.name), f.name)
        return out

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Range:
    """A number in an interval; `None` leaves that side open-ended."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """True: `low` itself is excluded (e.g. a learning rate must be greater than 0)."""
    high_open: bool = False

    def describe(self) -> str:
        """'in [0, 1)', 'at least 1', 'greater than 0', ..."""
        low, high = (f"{x:g}" if isinstance(x, float) else str(x) for x in (self.low, self.high))
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'greater than' if self.low_open else 'at least'} {low}"
        if self.high is not None:
            return f"{'less than' if self.high_open else 'at most'} {high}"
        return "any number"

    def check(self, key: str, value: float) -> None:
        """Raise CompError naming `key` when `value` is outside the range."""
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise CompError(f"{key} must be {self.describe()}; got {value!r}.")


@dataclass(frozen=True)
class OneOf:
    """A name from a fixed list; `several=True`: one or more comma-separated, each at most once."""

    names: tuple[str, ...]
    several: bool = False
    synonyms: tuple[str, ...] = ()
    """Also accepted, case-insensitively (e.g. yes/no for true/false); not listed in messages."""

    def describe(self) -> str:
        return ("comma-separated from: " if self.several else "one of: ") + ", ".join(self.names)

    def check(self, key: str, value: str) -> None:
        """Raise CompError naming `key` when `value` is not an allowed name (or list of names)."""
        chosen = [v.strip() for v in value.split(",")] if self.several else [value]
        if self.synonyms:
            chosen = [v.strip().lower() for v in chosen]
        unknown = [v for v in chosen if v not in self.names and v not in self.synonyms]
        if unknown or not chosen or (self.several and len(set(chosen)) != len(chosen)):
            what = f"unknown {', '.join(repr(u) for u in unknown)}" if unknown else f"got {value!r}"
            once = " (each at most once)" if self.several else ""
            raise CompError(f"{key} must be {self.describe()}{once}; {what}.")


Check = Range | OneOf

_COUNT = Range(1)
_NONNEG = Range(0)
_POSITIVE = Range(0, low_open=True)
_FRACTION = Range(0, 1, low_open=True)
_SEED = Range(0, 2**31 - 1)

LIMITS: dict[str, Check] = {
    "run.model": OneOf(FAMILIES, several=True),
    "run.split": OneOf(SPLITS),
    "run.folds": _COUNT,  # and at least 2 unless run.split is holdout (checked in build_config)
    "run.seeds": _COUNT,
    "run.seed": _SEED,
    "run.holdout_share": Range(0, 1, low_open=True, high_open=True),
    "run.fold_seed": Range(-1, 2**31 - 1),  # -1: run.seed
    "run.exclude_latest": Range(0, 1, high_open=True),
    "run.threads": _NONNEG,
    "run.refit_full": OneOf(("auto", "true", "false"), synonyms=("yes", "no", "1", "0")),  # as resolve_refit
    "run.blend": OneOf(BLEND_METHODS),
    "features.min_category_count": _COUNT,
    "features.max_list_items": _NONNEG,
    "features.skew_threshold": _NONNEG,
    "features.clip": _POSITIVE,
    "features.target_smoothing": _NONNEG,
    "features.target_encoding_folds": Range(2),
    "features.text_max_features": _NONNEG,  # 0 (or text_components 0): no text features
    "features.text_min_df": _COUNT,
    "features.text_components": _NONNEG,
    "features.seed": _SEED,
    "mlp.hidden": _COUNT,
    "mlp.depth": _COUNT,
    "mlp.dropout": Range(0, 1, high_open=True),
    "mlp.activation": OneOf(ACTIVATIONS),
    "mlp.lr": _POSITIVE,
    "mlp.weight_decay": _NONNEG,
    "mlp.l1": _NONNEG,
    "mlp.batch_size": _COUNT,
    "mlp.epochs": _COUNT,
    "mlp.patience": _COUNT,
    "mlp.min_lr_ratio": Range(0, 1),
    "mlp.warmup_epochs": _NONNEG,
    "mlp.grad_clip": _NONNEG,  # 0: no clipping
    # LightGBM's own parameter constraints (its Parameters page), tightened where 0 would stop training.
    "lightgbm.learning_rate": _POSITIVE,
    "lightgbm.num_leaves": Range(2, 131072),
    "lightgbm.max_depth": Range(-1),  # <= 0: no limit
    "lightgbm.min_data_in_leaf": _NONNEG,
    "lightgbm.feature_fraction": _FRACTION,
    "lightgbm.bagging_fraction": _FRACTION,
    "lightgbm.bagging_freq": _NONNEG,  # 0: no bagging
    "lightgbm.lambda_l1": _NONNEG,
    "lightgbm.lambda_l2": _NONNEG,
    "lightgbm.min_gain_to_split": _NONNEG,
    "lightgbm.max_bin": Range(2),
    "lightgbm.max_rounds": _COUNT,
    "lightgbm.early_stopping_rounds": _COUNT,
    "lightgbm.cat_smooth": _NONNEG,
    "lightgbm.cat_l2": _NONNEG,
    "lightgbm.linear_lambda": _NONNEG,
    "lightgbm.num_threads": _NONNEG,  # 0: by table size
    # scikit-learn's own parameter constraints for Ridge, Lasso and ElasticNet.
    "linear.ridge_alpha": _NONNEG,
    "linear.lasso_alpha": _NONNEG,
    "linear.elasticnet_alpha": _NONNEG,
    "linear.l1_ratio": Range(0, 1),
    "linear.max_iter": _COUNT,
    "linear.tol": _NONNEG,
}
"""Every setting's allowed values, checked by `build_config` (TOML file, --set, --config,
--from-run, a search space's bounds: all the same way) before a run starts. Booleans and `Literal` fields (e.g.
`run.device`, `mlp.precision`) are checked by their type alone; `tests/test_config_limits.py`
fails when a new setting has neither."""


def check_setting(key: str, value: Any, ranges: bool = True) -> Any:
    """`value` converted to setting `key`'s type and (unless `ranges` is False) checked against its
    range, else a CompError naming the key and what it allows (an unknown key included). For
    callers that take values outside `build_config`, e.g. the bounds of a search space."""
    types = _field_types()
    if key not in types:
        raise CompError(f"Unknown setting {key!r}. Run `comp config` to list every setting.")
    value = _coerce(key, value, types[key])
    if ranges and key in LIMITS:
        LIMITS[key].check(key, value)
    return value


def describe_allowed(key: str) -> str:
    """What setting `key` accepts, for `comp config`: its range, its names, or its type."""
    if key in LIMITS:
        return LIMITS[key].describe()
    kind = _field_types()[key]
    if typing.get_origin(kind) is Literal:
        return "one of: " + ", ".join(map(str, typing.get_args(kind)))
    return "true or false" if kind is bool else getattr(kind, "__name__", str(kind))


@functools.cache
def _field_types() -> dict[str, Any]:
    types: dict[str, Any] = {}
    hints = typing.get_type_hints(RunConfig)
    for sec in dataclasses.fields(RunConfig):
        sec_cls = hints[sec.name]
        sec_hints = typing.get_type_hints(sec_cls)
        for f in dataclasses.fields(sec_cls):
            types[f"{sec.name}.{f.name}"] = sec_hints[f.name]
    return types


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """Convert a TOML value or a --set string to the field's type, or explain why not."""
    import math

    origin = typing.get_origin(kind)
    if origin is Literal:
        allowed = typing.get_args(kind)
        if value not in allowed:
            raise CompError(f"{key} must be one of {', '.join(map(str, allowed))}; got {value!r}.")
        return value
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(str(value)) if isinstance(value, str) else int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind is str:
            if isinstance(value, dict | list):
                raise ValueError
            return str(value)
    except (ValueError, TypeError, OverflowError):
        words = {int: "a whole number", float: "a finite number", bool: "true or false", str: "a text value"}
        name = words.get(kind, getattr(kind, "__name__", str(kind)))
        raise CompError(f"{key} expects {name}; got {value!r}.") from None
    raise CompError(f"{key}: unsupported setting type {kind}")


def parse_sets(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise CompError(f"--set expects key=value (e.g. mlp.hidden=512); got {pair!r}.")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def load_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CompError(f"Config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CompError(f"{path} could not be read as UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CompError(f"{path} is not valid TOML: {exc}") from exc
    flat: dict[str, Any] = {}
    for section, values in data.items():
        if not isinstance(values, dict):
            raise CompError(f"{path}: top-level key {section!r} must be a [section] table.")
        for name, value in values.items():
            flat[f"{section}.{name}"] = value
    return flat


def build_config(*layers: dict[str, Any], ranges: bool = True) -> RunConfig:
    """Apply override layers (later wins) to the defaults, checking every key, type and range
    (`LIMITS`) here, before any data is read or any run is started. Raises CompError naming the
    first bad key. `ranges=False` checks keys and types only (a saved run's own config)."""
    import difflib

    types = _field_types()
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key not in types:
                close = [k for k in types if k.split(".")[-1] == key.split(".")[-1]]
                close = close or difflib.get_close_matches(key, list(types), n=3, cutoff=0.75)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise CompError(f"Unknown setting {key!r}.{hint} Run `comp config` to list every setting.")
            merged[key] = check_setting(key, value, ranges)
    if ranges and merged.get("run.split") != "holdout" and merged.get("run.folds", 2) < 2:
        raise CompError(
            f"--folds (run.folds) must be at least 2 for cross-validation; got {merged['run.folds']}. "
            "Use --split holdout for a single validation block."
        )
    sections: dict[str, dict[str, Any]] = {}
    for key, value in merged.items():
        sec, name = key.split(".", 1)
        sections.setdefault(sec, {})[name] = value
    base = RunConfig()
    kwargs = {sec: dataclasses.replace(getattr(base, sec), **vals) for sec, vals in sections.items()}
    return dataclasses.replace(base, **kwargs)


def to_toml(config: RunConfig) -> str:
    """The config as a TOML file that `--config` reads back (every value, so a rerun is exact)."""
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int | float):
                text = repr(value)
            else:
                text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)


def config_from_dict(data: dict[str, dict[str, Any]]) -> RunConfig:
    """Rebuild a config saved with `to_dict` (e.g. from a bundle or a logged run). Keys and types
    are checked, ranges not: a run saved before a range existed still predicts and resumes as it
    ran (starting a new run from it, `--from-run`, checks ranges)."""
    return build_config({f"{s}.{k}": v for s, vals in data.items() for k, v in vals.items()}, ranges=False)
