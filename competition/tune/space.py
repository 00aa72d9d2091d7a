"""Search spaces per model family, named by comp's own settings (`mlp.lr`, `lightgbm.num_leaves`, ...).

Default ranges are the ones a practitioner would start from (log scales for rates and penalties);
a TOML space file overrides them per setting and is checked like a settings file:

    [mlp]
    lr = { low = 1e-4, high = 3e-3, log = true }   # a range (int or float, as the setting)
    weight_decay = { low = 1e-2, high = 10, log = true, zero = true }  # ... or exactly 0
    hidden = { choices = [128, 256, 512] }          # a list of choices
    depth = 2                                       # a plain value: fixed, not searched

Unknown settings are named, empty ranges (low >= high, no choices) and bounds the setting itself
refuses (checked by `competition.config.build_config`) are refused before any trial runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from competition.config import RunConfig, build_config, load_toml
from competition.errors import CompError

MEMBER_PARAMS = ("mlp.lr", "mlp.weight_decay", "mlp.dropout", "mlp.patience")
"""MLP settings each member of one batched network can have on its own; every other MLP setting
(shape, batch size, schedule) is shared by a population of trials trained together."""


@dataclass(frozen=True)
class Param:
    """One searched setting: a float/int range (optionally log-scaled) or a list of choices.

    `zero`: a log-scaled float range that may also be exactly 0 (a penalty that can be off, as
    LightGBM's `lambda_l1` is by default). Optuna then draws a yes/no parameter named
    `<key>=0` first, and the range only when that is no (a conditional parameter, which TPE
    models as such)."""

    key: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    zero: bool = False

    @property
    def zero_key(self) -> str:
        """The Optuna parameter that says the setting is 0 (only for `zero` ranges)."""
        return f"{self.key}=0"

    def names(self) -> tuple[str, ...]:
        """The Optuna parameters this setting is drawn as."""
        return (self.zero_key, self.key) if self.zero else (self.key,)

    def suggest(self, trial: Any) -> Any:
        """Draw this setting for an Optuna trial (the Optuna parameter is named by the setting)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(self.key, self.low, self.high, log=self.log)
        if self.zero and trial.suggest_categorical(self.zero_key, [False, True]):
            return 0.0
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)  # type: ignore[arg-type]

    def value(self, drawn: Mapping[str, Any]) -> Any:
        """The setting's value from a trial's Optuna parameters (`trial.params`)."""
        if self.zero and drawn.get(self.zero_key):
            return 0.0
        return drawn[self.key]

    def drawn(self, value: Any) -> dict[str, Any]:
        """The Optuna parameters that draw `value` (the inverse of `value`; for enqueued trials)."""
        if self.zero:
            return {self.zero_key: True} if value == 0 else {self.zero_key: False, self.key: value}
        return {self.key: value}

    def contains(self, value: Any) -> bool:
        """Whether `value` is one this setting can be drawn as (in the choices, or in the range and
        of its type)."""
        if self.choices is not None:
            return value in self.choices
        if isinstance(self.low, int) and isinstance(self.high, int) and not isinstance(value, int):
            return False
        if self.zero and isinstance(value, int | float) and value == 0:
            return True
        return isinstance(value, int | float) and self.low <= value <= self.high  # type: ignore[operator]

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.key} in {list(self.choices)}"
        return f"{self.key} in {'0 or ' if self.zero else ''}[{self.low}, {self.high}]{' log' if self.log else ''}"


@dataclass(frozen=True)
class SearchSpace:
    """What a study searches (`params`) and what it pins (`fixed`, from the space file)."""

    family: str
    params: tuple[Param, ...]
    fixed: Mapping[str, Any]

    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def population_params(self) -> tuple[Param, ...]:
        """Searched settings a population of MLP trials must share (all but the per-member ones)."""
        return tuple(p for p in self.params if p.key not in MEMBER_PARAMS)

    def draw(self, trial: Any) -> dict[str, Any]:
        """Every searched setting's value for an Optuna trial (setting key -> value)."""
        return {p.key: p.suggest(trial) for p in self.params}

    def settings(self, drawn: Mapping[str, Any]) -> dict[str, Any]:
        """Setting key -> value from a finished trial's Optuna parameters (`trial.params`)."""
        return {p.key: p.value(drawn) for p in self.params}

    def baseline(self, config: RunConfig) -> dict[str, Any]:
        """The Optuna parameters that draw `config`'s values of the searched settings (the
        configuration the study starts from, for `enqueue_trial`), for those the space can draw;
        a value outside its range is left for the sampler."""
        values = config.flat()
        drawn: dict[str, Any] = {}
        for p in self.params:
            if p.contains(values[p.key]):
                drawn |= p.drawn(values[p.key])
        return drawn

    def signature(self) -> dict[str, str]:
        """A stable description (stored on the study, so workers with another space are refused)."""
        return {p.key: p.describe() for p in self.params} | {k: repr(v) for k, v in sorted(self.fixed.items())}


_LINEAR_SPACES: dict[str, tuple[Param, ...]] = {
    # Ames-scale log prices: ridge is flat between ~1 and ~100; lasso/elastic net keep a few dozen
    # features between 1e-4 and 3e-3 (scikit-learn's alpha multiplies the mean squared error / 2).
    "ridge": (Param("linear.ridge_alpha", 0.1, 1000.0, log=True),),
    "lasso": (Param("linear.lasso_alpha", 1e-5, 1e-2, log=True),),
    "elasticnet": (
        Param("linear.elasticnet_alpha", 1e-5, 3e-2, log=True),
        Param("linear.l1_ratio", 0.05, 1.0),
    ),
}

DEFAULT_SPACES: dict[str, tuple[Param, ...]] = {
    "mlp": (
        Param("mlp.lr", 1e-4, 3e-3, log=True),
        Param("mlp.weight_decay", 1e-2, 10.0, log=True),
        Param("mlp.dropout", 0.0, 0.5),
        Param("mlp.patience", 10, 60),
        Param("mlp.hidden", choices=(64, 128, 256, 512)),
        Param("mlp.depth", 1, 3),
        Param("mlp.batch_size", choices=(64, 128, 256)),
    ),
    "lightgbm": (
        Param("lightgbm.num_leaves", 4, 64, log=True),
        Param("lightgbm.learning_rate", 0.01, 0.1, log=True),
        Param("lightgbm.min_data_in_leaf", 3, 60, log=True),
        Param("lightgbm.feature_fraction", 0.1, 0.9),
        Param("lightgbm.bagging_fraction", 0.5, 1.0),
        Param("lightgbm.lambda_l1", 1e-4, 10.0, log=True, zero=True),  # comp's default is 0
        Param("lightgbm.lambda_l2", 1e-3, 30.0, log=True),
    ),
    **_LINEAR_SPACES,
}

_FIXED_SECTIONS = ("run", "features")
"""Settings a study cannot search: they change the folds or the feature matrices, which are fixed
for the whole study (fit once per fold). Pin them with --set instead."""


def _check_key(key: str, known: Mapping[str, Any], where: str) -> None:
    if key not in known:
        import difflib

        close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.75)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise CompError(f"{where}: unknown setting {key!r}.{hint} Run `comp config` to list every setting.")
    if key.split(".", 1)[0] in _FIXED_SECTIONS:
        raise CompError(
            f"{where}: {key!r} cannot be searched: run.* and features.* settings fix the folds and the feature "
            "matrices of the whole study. Set it with --set instead."
        )


def _check_value(key: str, value: Any, where: str) -> None:
    """The setting's own type and range checks (`build_config`), with the file named."""
    try:
        build_config({key: value})
    except CompError as exc:
        raise CompError(f"{where}: {exc}") from None


def _parse_entry(key: str, value: Any, default: Any, where: str) -> Param | Any:
    """A space-file value: a table (range or choices) becomes a Param, anything else a fixed value."""
    if not isinstance(value, dict):
        _check_value(key, value, where)
        return value
    allowed = {"low", "high", "log", "zero", "choices"}
    extra = sorted(set(value) - allowed)
    if extra:
        raise CompError(f"{where}: {key} has unknown field(s) {', '.join(extra)}; use low/high/log/zero or choices.")
    if "choices" in value:
        if set(value) - {"choices"}:
            raise CompError(f"{where}: {key} gives both choices and a range; use one of them.")
        choices = value["choices"]
        if not isinstance(choices, list) or not choices:
            raise CompError(f"{where}: {key} has an empty list of choices: nothing to search.")
        for choice in choices:
            _check_value(key, choice, where)
        return Param(key, choices=tuple(choices))
    if "low" not in value or "high" not in value:
        raise CompError(f"{where}: {key} needs both low and high (or a list of choices).")
    low, high, log, zero = value["low"], value["high"], value.get("log", False), value.get("zero", False)
    for field_name, flag in (("log", log), ("zero", zero)):
        if not isinstance(flag, bool):
            raise CompError(f"{where}: {key}.{field_name} must be true or false; got {flag!r}.")
    is_int = isinstance(default, int) and not isinstance(default, bool)
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise CompError(f"{where}: {key} bounds must be numbers; got {bound!r}.")
        if is_int and not float(bound).is_integer():
            raise CompError(f"{where}: {key} is a whole-number setting; got the bound {bound!r}.")
        _check_value(key, int(bound) if is_int else bound, where)
    if not low < high:
        raise CompError(f"{where}: {key} has an empty range (low {low} is not below high {high}).")
    if log and low <= 0:
        raise CompError(f"{where}: {key} is log-scaled, so low must be above 0; got {low}.")
    if is_int:
        if zero:
            raise CompError(f"{where}: {key}.zero is for float ranges only; put 0 inside the range instead.")
        return Param(key, int(low), int(high), log=log)
    if not isinstance(default, float):
        raise CompError(f"{where}: {key} is not a number setting; give a list of choices instead.")
    if zero:
        _check_value(key, 0.0, where)
        if not log:
            raise CompError(f"{where}: {key}.zero is for log-scaled ranges; a linear range can start at 0.")
    return Param(key, float(low), float(high), log=log, zero=zero)


def load_space(family: str, path: Path | None, ranges: Mapping[str, Any] | None = None) -> SearchSpace:
    """The family's default space, overridden setting by setting first by the competition's
    `ranges` (`CompetitionSpec.search_ranges`; only settings the family searches), then from the
    TOML file at `path`.

    Raises CompError for an unknown family, an unknown setting (named), an empty range or a bound
    the setting refuses."""
    if family not in DEFAULT_SPACES:
        raise CompError(f"Unknown model {family!r} for tune. Choose from: {', '.join(DEFAULT_SPACES)}.")
    params = {p.key: p for p in DEFAULT_SPACES[family]}
    fixed: dict[str, Any] = {}
    known = RunConfig().flat()

    def override(entries: Mapping[str, Any], where: str, searched_only: bool = False) -> None:
        """Apply space-file entries: a range or choices replaces the setting's Param, a plain value
        pins it. `searched_only`: skip settings the family does not search (a competition's ranges
        cover every family)."""
        for key, value in entries.items():
            _check_key(key, known, where)
            if searched_only and key not in params:
                continue
            entry = _parse_entry(key, value, known[key], where)
            if isinstance(entry, Param):
                params[key] = entry
                fixed.pop(key, None)
            else:
                params.pop(key, None)
                fixed[key] = entry

    override(ranges or {}, "the competition's search ranges", searched_only=True)
    if path is not None:
        override(load_toml(path), str(path))
    if not params:
        raise CompError(f"The search space for {family} is empty: every setting is fixed.")
    return SearchSpace(family, tuple(params.values()), fixed)
