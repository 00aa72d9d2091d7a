"""comp: a Kaggle-style competition toolkit for tabular regression.

The public Python API (see the README's "Python API" section) is exported lazily: `import
competition` stays cheap (no torch, polars or MLflow) and each name loads its module on first use.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# MKL may round a matrix product differently depending on how its buffers happen to be aligned
# in memory, which differs from process to process. STRICT conditional numerical reproducibility
# makes the same command with the same seed give bit-identical results on CPU. It must be set
# before MKL initializes, i.e. before torch is imported, which importing this package ensures.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

_EXPORTS = {
    "load_data": "competition.api",
    "train": "competition.api",
    "load_run": "competition.api",
    "Data": "competition.api",
    "TrainResult": "competition.api",
    "Run": "competition.api",
    "MLPEnsembleRegressor": "competition.estimator",
    "CompError": "competition.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name's module on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'competition' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
