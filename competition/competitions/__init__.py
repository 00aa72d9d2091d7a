"""Registry of competitions: `get_spec` resolves a name or Kaggle slug to its spec."""

from __future__ import annotations

from competition.competitions.base import CompetitionSpec
from competition.errors import CompError


def _load() -> dict[str, CompetitionSpec]:
    from competition.competitions import house_prices

    specs = [house_prices.SPEC]
    try:
        from competition.competitions import california
    except ImportError:  # pragma: no cover - during bootstrap only
        pass
    else:
        specs.append(california.SPEC)
    return {s.name: s for s in specs}


def all_specs() -> dict[str, CompetitionSpec]:
    return _load()


def get_spec(name: str) -> CompetitionSpec:
    specs = _load()
    for spec in specs.values():
        if name == spec.name or name in spec.aliases or name == spec.kaggle_slug:
            return spec
    known = ", ".join(sorted(specs))
    raise CompError(f"Unknown competition {name!r}. Known competitions: {known}.")
