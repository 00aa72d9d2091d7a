"""What makes a `comp train` run self-describing in the MLflow UI.

A run name that says family, split and size (`mlp+lightgbm · kfold5 · 1460 rows`, led by
`OOF 0.11450 · ` once the run finishes, so the runs table shows the score), a
description with the scores (the `mlflow.note.content` tag the UI shows on the run page), the
data files as run inputs (name, digest, source path: the UI's Dataset column), and source tags
(entry point, git commit, user: the UI's Source column).
"""

from __future__ import annotations

import contextlib
import getpass
import math
from pathlib import Path
from typing import Any

import numpy as np

from competition.config import RunConfig


def split_label(split: str, n_folds: int) -> str:
    """`kfold5`, `time4` or `holdout`."""
    return "holdout" if split == "holdout" else f"{split}{n_folds}"


def run_name(config: RunConfig, split: str, n_folds: int, n_rows: int) -> str:
    """The default run name: families joined by '+', the split with its fold count, training rows."""
    families = "+".join(config.run.families)
    return f"{families} · {split_label(split, n_folds)} · {n_rows} rows"


AUTO_NAME_TAG = "comp_auto_name"
"""Tag holding the run name comp chose (absent when the user named the run)."""


def finished_name(auto_name: str, oof_score: float) -> str:
    """The chosen name of a finished run led by its OOF score, e.g. `OOF 0.11920 · mlp · kfold5 · 1460 rows`
    (first, because the runs table's name column shows only the start of a name)."""
    return f"OOF {_score(oof_score)} · {auto_name}"


def _score(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.5f}"


def description(competition: str, result: Any, submission: Path | None = None) -> str:
    """Markdown for the run page: OOF scores per family and blended, blend weights, fold scores."""
    scores = result.fold_scores
    lines = [
        f"**OOF log-RMSE {_score(result.oof_score)}** on {competition} "
        f"({result.split}, {len(result.folds)} folds, {int(result.validated.sum())} validated rows); "
        f"CV mean {_score(float(np.mean(scores)))} ± {_score(float(np.std(scores)))}.",
        "",
        "| family | OOF log-RMSE | blend weight | prediction path |",
        "|---|---|---|---|",
    ]
    for fam in result.families:
        weight = result.blend_weights.get(fam.name, 0.0)
        lines.append(f"| {fam.name} | {_score(fam.oof_score)} | {weight:.3f} | {fam.prediction_path} |")
    if len(result.families) > 1:
        lines.append(f"| blend | {_score(result.oof_score)} | | |")
        lines += ["", f"Blend OOF with each fold's weights fit on the other folds: "
                      f"{_score(result.blend_crossfit_score)}."]
    lines += ["", "Fold log-RMSE: " + ", ".join(_score(s) for s in scores) + "."]
    if submission is not None:
        lines += ["", f"Submission: `{submission}`"]
    return "\n".join(lines)


def started_description(competition: str, config: RunConfig, split: str, n_folds: int, n_rows: int) -> str:
    """Markdown for a run still training (replaced by `description` when it finishes)."""
    return (f"Training {'+'.join(config.run.families)} on {competition}: {split_label(split, n_folds)}, "
            f"{n_rows} rows, {config.run.seeds} seed(s) per fold.")


def source_tags(entry_point: str, commit: str) -> dict[str, str]:
    """MLflow's own source tags: what started the run, from which commit, by whom."""
    tags = {"mlflow.source.name": entry_point, "mlflow.source.type": "LOCAL"}
    if commit and commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    with contextlib.suppress(KeyError, OSError):  # no user name for this uid (some containers)
        tags["mlflow.user"] = getpass.getuser()
    return tags


def dataset_inputs(data: Any, data_dir: Path) -> list[Any]:
    """train.csv and test.csv as MLflow dataset inputs: name, digest, source path, schema, size.

    The digest is the start of the SHA-256 of the two files' bytes (the run's `data_digest` tag)."""
    import mlflow.data
    from mlflow.data.sources import LocalArtifactDatasetSource
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    spec = data.spec
    inputs = []
    for frame, file, context, target in (
        (data.train, spec.train_file, "training", spec.target_column),
        (data.test, spec.test_file, "testing", None),
    ):
        path = (data_dir / file).resolve()
        dataset = mlflow.data.from_polars(
            frame,
            source=LocalArtifactDatasetSource(str(path)),
            name=f"{spec.name}/{file}",
            digest=data.digest[:12],
            targets=target,
        )
        inputs.append(DatasetInput(dataset._to_mlflow_entity(), [InputTag(MLFLOW_DATASET_CONTEXT, context)]))
    return inputs
