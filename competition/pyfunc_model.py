"""The MLflow model of a `comp train` run, as a "models from code" file (no pickle).

`competition.mlflow_model.log_run_model` logs this file as the model's code and the run's
bundle folder as its one artifact. MLflow runs the file when the model loads; `set_model` below
names the model object. `predict` takes a pandas DataFrame with the test file's columns and
returns (Id, price) through `competition.rows.predict_frame`, the path of `comp predict`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class CompRunModel(PythonModel):
    """A run's bundle as a pyfunc model: rows of test.csv in, one price per row out."""

    def load_context(self, context: Any) -> None:
        from competition.bundle import load_bundle
        from competition.competitions import get_spec

        self.bundle = load_bundle(Path(context.artifacts["bundle"]))
        self.spec = get_spec(self.bundle.meta["competition"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """(Id, price) for each row of `model_input` (the test file's columns, as text or as pandas
        read them); rows that do not fit fail with the message `comp predict` would give."""
        from mlflow.exceptions import MlflowException

        from competition.errors import CompError
        from competition.rows import predict_frame

        try:
            out = predict_frame(self.spec, self.bundle, model_input, self.bundle.folder.parent, "cpu",
                                source=Path("the model input"))
        except CompError as exc:  # the caller's rows do not fit: a 400 with the message, not a 500
            raise MlflowException.invalid_parameter_value(str(exc)) from None
        return out.to_pandas()


mlflow.models.set_model(CompRunModel())
