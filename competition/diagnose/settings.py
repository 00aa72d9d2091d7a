"""Knobs of `comp diagnose` itself, set with `--set diagnose.<name>=...` or a [diagnose] TOML table.

They live apart from RunConfig because they describe the experiment around the model (how
many folds, which grid), not the model; the model under diagnosis is the run config's MLP.
Defaults are sized so the whole report stays within a few CPU minutes on House Prices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from competition.errors import CompError

PREFIX = "diagnose."


@dataclass(frozen=True)
class DiagnoseSettings:
    folds: int = 3
    """Folds for every diagnostic (fewer than `comp train` uses: sweeps train one model per point)."""
    seeds: int = 1
    max_epochs: int = 100
    """Cap on epochs for diagnostic runs; the learning-rate schedule keeps the run config's length."""
    patience: int = 15
    """Cap on early-stopping patience for diagnostic runs (mlp.patience when smaller; 0: mlp.patience)."""
    widths: tuple[int, ...] = (32, 128, 512)
    depths: tuple[int, ...] = (1, 2, 3)
    weight_decays: tuple[float, ...] = (0.0, 0.3, 3.0, 30.0)
    """Swept with the default's value added (so each sweep contains the default)."""
    dropouts: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5)
    batch_sizes: tuple[int, ...] = (32, 64, 128, 256, 512)
    random_label_epochs: int = 50
    random_label_draws: int = 5
    """Independent shuffles of the training targets (each with its own network seeds) in the random-labels
    leak test: one draw's validation error varies by several percent from chance alone (measured), so the
    verdict is a one-sided t-test over draws (at least 2)."""
    threads: int = 0
    """Torch CPU threads when run.threads is 0; 0: the toolkit's default for every command
    (`competition.devices.DEFAULT_THREADS`, chosen from measurements)."""
    sanity_rows: int = 32
    sanity_epochs: int = 300
    sanity_max_ratio: float = 0.1
    """The one-batch overfit passes when its RMSE falls below this share of the batch's target std."""
    alpha: float = 0.05
    """Two settings differ 'beyond noise' when the corrected resampled t-test (Nadeau & Bengio 2003) of
    their per-fold gaps has a two-sided p-value below this."""
    repeats: int = 1
    """Repeats of shuffled k-fold (new shuffle each): repeats × folds paired differences for the tests.
    Time-ordered folds are the same on every repeat, so there it stays 1."""
    min_gain: float = 0.01
    """Gaps in CV error smaller than this share of the error are called negligible, whatever the noise."""
    max_train_rows: int = 0
    """Subsample the training rows to at most this many before diagnosing (0: use all)."""


def _tuple_of(kind: type, key: str, value: Any) -> tuple:
    items = value if isinstance(value, list | tuple) else [v for v in str(value).split(",") if v.strip()]
    try:
        out = tuple(kind(v) for v in items)
    except (TypeError, ValueError):
        raise CompError(f"{key} expects comma-separated {kind.__name__} values; got {value!r}.") from None
    if not out:
        raise CompError(f"{key} needs at least one value.")
    return out


def split_settings(flat: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run-config keys, diagnose keys without the prefix) from one flat layer."""
    run = {k: v for k, v in flat.items() if not k.startswith(PREFIX)}
    diag = {k[len(PREFIX) :]: v for k, v in flat.items() if k.startswith(PREFIX)}
    return run, diag


def build_settings(*layers: dict[str, Any]) -> DiagnoseSettings:
    """Apply layers of `name -> value` (later wins), checking names and types."""
    fields = {f.name: f for f in dataclasses.fields(DiagnoseSettings)}
    defaults = DiagnoseSettings()
    values: dict[str, Any] = {}
    for layer in layers:
        for name, value in layer.items():
            key = PREFIX + name
            if name not in fields:
                raise CompError(f"Unknown setting {key!r}; diagnose settings are: {', '.join(sorted(fields))}.")
            current = getattr(defaults, name)
            if isinstance(current, tuple):
                kind = type(current[0])
                values[name] = _tuple_of(kind, key, value)
                continue
            try:
                if isinstance(current, float):
                    values[name] = float(value)
                else:
                    if isinstance(value, float) and not value.is_integer():
                        raise ValueError
                    values[name] = int(str(value)) if isinstance(value, str) else int(value)
            except (TypeError, ValueError):
                raise CompError(f"{key} expects a {type(current).__name__} value; got {value!r}.") from None
    settings = dataclasses.replace(defaults, **values)
    if settings.folds < 2:
        raise CompError(f"diagnose.folds must be at least 2; got {settings.folds}.")
    if not 0.0 < settings.alpha < 1.0:
        raise CompError(f"diagnose.alpha must be between 0 and 1; got {settings.alpha}.")
    if settings.repeats < 1:
        raise CompError(f"diagnose.repeats must be at least 1; got {settings.repeats}.")
    if min(settings.seeds, settings.max_epochs, settings.random_label_epochs, settings.sanity_epochs) < 1:
        raise CompError("diagnose.seeds, max_epochs, random_label_epochs and sanity_epochs must be at least 1.")
    if settings.random_label_draws < 2:
        raise CompError(f"diagnose.random_label_draws must be at least 2; got {settings.random_label_draws}.")
    return settings
