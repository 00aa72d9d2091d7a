"""Model families by name. Adding a family means adding a module and one line here."""

from __future__ import annotations

from competition.errors import CompError
from competition.models.base import ModelFamily


def get_family(name: str) -> ModelFamily:
    if name == "mlp":
        from competition.models.mlp_family import MLPFamily

        return MLPFamily()
    if name == "lightgbm":
        from competition.models.lightgbm_family import LightGBMFamily

        return LightGBMFamily()
    if name in ("ridge", "lasso", "elasticnet"):
        from competition.models.linear_family import LinearFamily

        return LinearFamily(name)
    raise CompError(f"Unknown model {name!r}. Choose from: mlp, lightgbm, ridge, lasso, elasticnet.")


FAMILIES = ("mlp", "lightgbm", "ridge", "lasso", "elasticnet")
