"""Optuna's matplotlib plots of a study, written as PNGs for the study's MLflow run."""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def study_plots(study: Any) -> Iterator[Path | None]:
    """A temporary folder with optimization_history.png, param_importances.png and slice.png (a plot
    Optuna cannot draw yet, e.g. importances from fewer than two finished trials, is left out);
    None when no plot could be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    makers = {
        "optimization_history": ovm.plot_optimization_history,
        "param_importances": ovm.plot_param_importances,
        "slice": ovm.plot_slice,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        drawn = 0
        for name, maker in makers.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = maker(study)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue
            axes = result.flat[0] if hasattr(result, "flat") else result
            fig = axes.figure
            fig.set_size_inches(max(fig.get_size_inches()[0], 8), max(fig.get_size_inches()[1], 5))
            fig.savefig(folder / f"{name}.png", dpi=90, bbox_inches="tight")
            plt.close(fig)
            drawn += 1
        yield folder if drawn else None
