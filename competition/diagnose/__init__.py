"""`comp diagnose`: learning curves, capacity and regularization sweeps, random labels, sanity
checks and validation-scheme comparison for the MLP, written as a report and logged to MLflow.

One small module per diagnostic (`plan` says which variants it needs, `run` turns the trained
results into a `Section`); `context` trains variants batched and cached; `runner` ties it up."""

from competition.diagnose.runner import DIAGNOSTICS, DiagnoseOutcome, diagnose, parse_what
from competition.diagnose.settings import DiagnoseSettings, build_settings, split_settings

__all__ = [
    "DIAGNOSTICS",
    "DiagnoseOutcome",
    "DiagnoseSettings",
    "build_settings",
    "diagnose",
    "parse_what",
    "split_settings",
]
