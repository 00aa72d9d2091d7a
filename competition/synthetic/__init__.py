"""Synthetic twins of the supported competitions' CSV files.

Each module writes train/test/sample_submission in the real files' exact schema and value
formats (missing tokens, quirks, impossible values), so tests and benchmarks can run without
the real data and without a Kaggle download. Rows are synthesized from written-down value
vocabularies and simple distributions; no real rows are embedded.
"""

from types import ModuleType

from competition.errors import CompError


def generator_for(competition: str) -> ModuleType:
    """The generator module (with `generate` and `write`) of a competition by its name."""
    if competition == "house-prices":
        from competition.synthetic import house_prices

        return house_prices
    if competition == "california-house-prices":
        from competition.synthetic import california

        return california
    raise CompError(f"No synthetic data generator for {competition!r}.")
