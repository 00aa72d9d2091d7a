"""The Python API for notebooks: load, train, load a run, predict on new rows.

A door onto the same functions as the `comp` command line, with no logic of its own: files are
read by `competition.data.load_competition` (pinned missing-value tokens, validation), training
is `competition.run.train` (MLflow run, bundle, submission, exactly as `comp train`), and new
rows are predicted by `competition.rows.predict_frame`, the path `comp predict` takes. Paths are
relative to the current directory (the workspace), as for the command line.

    import competition as comp
    data = comp.load_data("house-prices")                       # data/house-prices/*.csv
    result = comp.train("house-prices", model="mlp,lightgbm", settings={"run.folds": 3})
    run = comp.load_run("house-prices", "latest")
    prices = run.predict(new_rows)                               # a pandas or polars DataFrame
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from competition.errors import CompError

FrameKind = Literal["polars", "pandas"]


def _as(frame: pl.DataFrame, kind: FrameKind) -> Any:
    if kind == "polars":
        return frame
    if kind == "pandas":
        return frame.to_pandas()
    raise CompError(f"frame must be 'polars' or 'pandas'; got {kind!r}.")


def _workspace() -> Any:
    from competition.paths import Workspace

    return Workspace.current()


def _data_dir(name: str, data_dir: str | Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else _workspace().data_dir(name)


@dataclass
class Data:
    """A competition's files as loaded by `comp train`: typed, validated, missing tokens pinned."""

    competition: str
    train: Any
    """train.csv: every column of the competition's schema (numbers as Float64, Id as Int64)."""
    test: Any
    """test.csv: the same columns without the target."""
    digest: str
    """SHA-256 of the two files' bytes (the `data_digest` tag of runs trained on them)."""
    unparsable: dict[str, int]
    """Numeric values that did not parse (now missing), per column, train and test together."""


def load_data(competition: str, data_dir: str | Path | None = None, frame: FrameKind = "polars") -> Data:
    """Load and validate a competition's train.csv and test.csv (default folder: data/<competition>).

    `frame` chooses polars or pandas DataFrames. Raises CompError naming the file, column and rows
    of anything that does not fit the competition's schema."""
    from competition.competitions import get_spec
    from competition.data import load_competition

    spec = get_spec(competition)
    data = load_competition(spec, _data_dir(spec.name, data_dir))
    return Data(spec.name, _as(data.train, frame), _as(data.test, frame), data.digest, dict(data.unparsable))


@dataclass
class TrainResult:
    """What `comp train` printed and wrote, as values. Scores are log-RMSE on out-of-fold rows."""

    run_id: str
    competition: str
    oof_score: float
    """OOF log-RMSE of the submitted predictions (the blend when several families ran)."""
    cv_mean: float
    """Mean of the per-fold log-RMSE."""
    cv_std: float
    fold_scores: list[float]
    family_scores: dict[str, float]
    """OOF log-RMSE of each model family."""
    blend_weights: dict[str, float]
    oof: Any
    """Out-of-fold log predictions, one row per training row: Id, fold (-1: never validated),
    target_log, <family>_log for each family, blend_log (the bundle's oof.csv)."""
    test_predictions: Any
    """Test log predictions: Id, <family>_log, blend_log (the bundle's test_predictions.csv)."""
    submission: Path
    """The submission CSV written for this run (Id, price)."""
    bundle: Path
    """The model bundle folder (models/<competition>/<run_id>)."""


def _settings_layers(
    spec: Any, model: str | None, settings: dict[str, Any] | None, config_file: str | Path | None
) -> Any:
    """The run's config, layered as the command line layers it: competition defaults < TOML file
    < model < `section.key` settings."""
    from competition.config import build_config, load_toml

    layers: list[dict[str, Any]] = [dict(spec.config_defaults)]
    if config_file is not None:
        layers.append(load_toml(Path(config_file)))
    if model is not None:
        layers.append({"run.model": model})
    layers.append(dict(settings or {}))
    return build_config(*layers)


def train(
    competition: str,
    data_dir: str | Path | None = None,
    *,
    model: str | None = None,
    settings: dict[str, Any] | None = None,
    config_file: str | Path | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    register: str | None = None,
    frame: FrameKind = "polars",
) -> TrainResult:
    """Train as `comp train` does and return the scores and predictions.

    `model` is `--model` (e.g. "mlp" or "mlp,lightgbm,lasso"); `settings` maps any `section.key`
    of `comp config` to a value, as `--set` does (e.g. {"run.folds": 3, "mlp.epochs": 50});
    `config_file` is `--config`; `register` is `--register` (a model-registry name). Writes the
    MLflow run, the bundle and the submission like the command. Raises CompError on bad settings
    or data, before any run is created."""
    from competition.competitions import get_spec
    from competition.run import train as run_train

    spec = get_spec(competition)
    config = _settings_layers(spec, model, settings, config_file)
    outcome = run_train(
        spec, _data_dir(spec.name, data_dir), config, _workspace(), run_name=run_name,
        tracking_uri=tracking_uri, register=register, source="competition.train (Python API)",
    )
    r = outcome.result
    return TrainResult(
        run_id=outcome.run_id,
        competition=spec.name,
        oof_score=float(r.oof_score),
        cv_mean=float(np.mean(r.fold_scores)),
        cv_std=float(np.std(r.fold_scores)),
        fold_scores=[float(s) for s in r.fold_scores],
        family_scores={f.name: float(f.oof_score) for f in r.families},
        blend_weights=dict(r.blend_weights),
        oof=_as(pl.read_csv(outcome.bundle / "oof.csv"), frame),
        test_predictions=_as(pl.read_csv(outcome.bundle / "test_predictions.csv"), frame),
        submission=outcome.submission,
        bundle=outcome.bundle,
    )


@dataclass
class Run:
    """A finished run's bundle, ready to predict on new rows."""

    competition: str
    run_id: str
    folder: Path
    meta: dict[str, Any]
    """The bundle's bundle.json: config, scores, members, versions, data digest."""

    @property
    def oof_score(self) -> float:
        return float(self.meta["oof_log_rmse"])

    @property
    def fold_scores(self) -> list[float]:
        return [float(s) for s in self.meta["fold_log_rmse"]]

    def predict(self, rows: Any, device: str = "cpu") -> Any:
        """Prices for a DataFrame of new rows with the test file's columns (Id first), in the rows' order.

        Returns (Id, price) as the same kind of DataFrame as `rows` (pandas or polars). The rows are
        checked and parsed as `comp predict` checks and parses test.csv; raises CompError naming the
        column and rows of anything that does not fit (rows numbered as the lines of a CSV file with a
        header: row 2 is the first row)."""
        from competition.bundle import load_bundle
        from competition.competitions import get_spec
        from competition.devices import resolve_device
        from competition.rows import predict_frame

        spec = get_spec(self.competition)
        bundle = load_bundle(self.folder)
        out = predict_frame(spec, bundle, rows, self.folder.parent, resolve_device(device))
        return out if isinstance(rows, pl.DataFrame) else out.to_pandas()


def load_run(competition: str, run: str = "latest") -> Run:
    """A finished run of `competition` in this workspace: its id, a unique prefix, or "latest".

    Raises CompError when no run matches, or several do."""
    from competition.bundle import find_bundle, load_bundle
    from competition.competitions import get_spec

    spec = get_spec(competition)
    bundle = load_bundle(find_bundle(_workspace().models_dir(spec.name), run))
    if bundle.meta.get("competition") != spec.name:
        raise CompError(f"Run {bundle.run_id} belongs to {bundle.meta.get('competition')}, not {spec.name}.")
    return Run(spec.name, bundle.run_id, bundle.folder, bundle.meta)
