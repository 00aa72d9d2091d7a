"""Log a run's bundle as an MLflow pyfunc model ("models from code": no pickle), optionally registered.

The model is `competition/pyfunc_model.py` plus the bundle folder as its artifact and the
`competition` package as its code, with a signature, an input example (rows of test.csv as
text) and pinned pip requirements. Passing the requirements saves MLflow's inference of them
(about 10 s a run, stack-notes). In MLflow 3 the model is a LoggedModel (`models:/<model_id>`)
linked to the run as an output; `runs:/<run_id>/model` resolves to it as well.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from competition.competitions.base import CompetitionSpec

MODEL_NAME = "model"
"""The model's name within its run (`runs:/<run_id>/model`)."""
REQUIREMENTS = ("mlflow", "torch", "numpy", "polars", "pandas", "pyarrow", "scikit-learn", "scipy", "lightgbm",
                "safetensors")
"""Packages the model imports when it predicts (besides `competition`, which travels as code)."""
EXAMPLE_ROWS = 3


def pip_requirements() -> list[str]:
    """The installed versions of `REQUIREMENTS`, pinned (`name==version`)."""
    pins = []
    for name in REQUIREMENTS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            pins.append(f"{name}=={metadata.version(name)}")
    return pins


def signature(spec: CompetitionSpec) -> Any:
    """Inputs: the test file's columns, any type (text as in the CSV, or as pandas retyped them:
    the model parses them as `comp predict` does). Outputs: Id (long) and the price (double)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inputs = Schema([ColSpec(AnyType(), c, required=c == spec.id_column) for c in spec.test_columns])
    outputs = Schema([ColSpec("long", spec.id_column), ColSpec("double", spec.target_column)])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(raw_test: pl.DataFrame) -> Any:
    """The first rows of test.csv as text, as a pandas DataFrame (missing cells as None)."""
    return raw_test.head(EXAMPLE_ROWS).to_pandas().astype(object).where(lambda f: f.notna(), None)


@contextlib.contextmanager
def _tracking(uri: str) -> Iterator[None]:
    """MLflow's model logging reads the global tracking URI: point it at ours for the call only.

    MLflow's own context mirrors the URI into the MLFLOW_TRACKING_URI environment variable and,
    when no global URI was set before, unsets that variable on exit: a user's (or a test's)
    MLFLOW_TRACKING_URI would vanish after the first run, and the next command would write to
    another store. The variable is put back as it was."""
    import os

    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    saved = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        with _use_tracking_uri(uri):
            yield
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def log_run_model(
    uri: str, run_id: str, bundle_dir: Path, spec: CompetitionSpec, raw_test: pl.DataFrame,
    register: str | None = None,
) -> tuple[str, str | None]:
    """Log the bundle in `bundle_dir` as the pyfunc model of run `run_id`; register it as `register`.

    Returns (model URI `models:/<model_id>`, registered version or None)."""
    import mlflow
    from mlflow.models import Model

    code = Path(__file__).resolve().parent
    with _tracking(uri):
        # Created here, in the run's experiment: left to itself, MLflow 3.17 files the model under
        # the active experiment (Default, 0), where `runs:/<run_id>/model` does not find it.
        client = mlflow.MlflowClient(uri)
        run = client.get_run(run_id)
        logged = client.create_logged_model(
            run.info.experiment_id, name=MODEL_NAME, source_run_id=run_id, params=run.data.params,
            tags={"competition": spec.name},
        )
        info = Model.log(
            artifact_path=None,
            name=MODEL_NAME,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            model_id=logged.model_id,
            python_model=str(code / "pyfunc_model.py"),
            artifacts={"bundle": str(bundle_dir)},
            code_paths=[str(code)],
            signature=signature(spec),
            input_example=input_example(raw_test),
            pip_requirements=pip_requirements(),
            registered_model_name=register,
        )
    version = None if info.registered_model_version is None else str(info.registered_model_version)
    return f"models:/{info.model_id}", version
