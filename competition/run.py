"""`comp train` end to end: load, train, then track, bundle and submit, with honest run status.

A crash marks the MLflow run FAILED, Ctrl-C (and SIGTERM/SIGHUP under
`signals.interrupts_as_keyboard`) KILLED, nested runs included; the bundle and submission are
written atomically at the end, so an interrupted run leaves neither half-written, and
`RunInterrupted` says what is on disk and how to resume. While a run trains it holds a per-run
lock in its checkpoint folder (a second `--resume` of it is refused) and sends a heartbeat to
the tracking server (`competition.liveness`). Disk full, read-only folders, too little memory
and unreachable servers end as `EnvironmentFailure` (exit code 3).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from competition import atomic
from competition.bundle import save_bundle
from competition.checkpoints import Checkpoint
from competition.competitions.base import CompetitionSpec
from competition.config import RunConfig, config_from_dict
from competition.data import CompetitionData, load_competition
from competition.devices import resolve_device
from competition.errors import CompError, environment_failure, is_environment_os_error
from competition.feature_cache import FeatureCache
from competition.heap import frozen_heap
from competition.liveness import Heartbeat, RunLock
from competition.models.mlp import compute_dtype
from competition.paths import Workspace
from competition.plots import importance_bar, learning_curve
from competition.resources import check_mlp_fits
from competition.runids import PARTIAL, resolve_partial
from competition.signals import signal_number
from competition.submission import build_submission, write_submission
from competition.tracking import RunLogger, git_commit, resolve_tracking_uri, store_failure
from competition.training import TrainingResult, folds_for, run_training


@dataclass
class TrainOutcome:
    run_id: str
    result: TrainingResult
    submission: Path
    bundle: Path
    timings: dict[str, float] = field(default_factory=dict)
    model_uri: str | None = None
    """The run's MLflow pyfunc model (`models:/<model_id>`)."""
    registered_version: str | None = None


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP during `train`, with what is on disk afterwards."""

    def __init__(self, run_id: str, signum: int, bundle: Path | None, submission: Path | None,
                 resumable: bool, marked: bool) -> None:
        super().__init__(f"run {run_id} interrupted")
        self.run_id = run_id
        self.signum = signum
        self.bundle = bundle
        """The finished bundle folder, if it was written before the interruption."""
        self.submission = submission
        self.resumable = resumable
        """The checkpoint folder is still there, so `--resume` continues the run."""
        self.marked = marked
        """The MLflow run (and its nested runs) could be marked KILLED."""


def partial_dir(workspace: Workspace, competition: str, run_id: str) -> Path:
    """Where an unfinished run keeps its checkpoints (a hidden folder `comp predict` ignores)."""
    return workspace.models_dir(competition) / PARTIAL / run_id


def resume_config(workspace: Workspace, competition: str, run: str) -> tuple[RunConfig, str, str]:
    """Full run id, config and data digest of an interrupted run, from its checkpoint folder.

    `run` is a run id or a unique prefix of one (`runids.resolve_partial`). Raises CompError when
    nothing matches, the prefix is ambiguous, or run.json is damaged."""
    run_id = resolve_partial(workspace.models_dir(competition), run)
    meta = Checkpoint(partial_dir(workspace, competition, run_id)).read_run()
    if meta is None:
        raise CompError(
            f"Nothing to resume for run {run!r}: no checkpoint in "
            f"{partial_dir(workspace, competition, run_id)} (the run finished, or never started here)."
        )
    try:
        config = config_from_dict(meta["config"])
    except (CompError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CompError(f"The checkpoint {partial_dir(workspace, competition, run_id) / 'run.json'} is damaged "
                        f"(its config cannot be read: {exc}); start a new run.") from None
    return config, str(meta["data_digest"]), run_id


def check_memory(data: CompetitionData, config: RunConfig, n_folds: int, device: str) -> None:
    """Refuse an MLP that cannot fit in memory before any run or checkpoint exists (see
    `competition.resources`; the input width used is a lower bound)."""
    if "mlp" not in config.run.families:
        return
    spec = data.spec
    width = len([c for c in data.train.columns if c not in (spec.id_column, spec.target_column)])
    check_mlp_fits(width, config.mlp, n_folds * config.run.seeds, n_folds, data.train.height, device)


CURVE_POINTS = 250
"""Most points of one learning curve sent to MLflow (the PNG always draws every step)."""


def curve_steps(n: int, best: int, limit: int = CURVE_POINTS) -> list[int]:
    """The steps of an `n`-step curve that go to MLflow: all of them up to `limit`, else every
    k-th step (k = ceil(n / limit)) plus the best and the last, so a LightGBM member's thousands
    of rounds cost a few hundred metric rows (on House Prices 23,700 rows became about 5,000)."""
    if n <= limit:
        return list(range(n))
    stride = -(-n // limit)
    return sorted(set(range(0, n, stride)) | {n - 1} | ({best} if 0 <= best < n else set()))


def log_family_folds(logger: RunLogger, parent: str, result: TrainingResult, plots_dir: Path) -> None:
    """One nested run per (family, fold) with per-epoch curves of each seed (`curve_steps`), plus a
    PNG per fold."""
    multi = len(result.families) > 1
    for fam in result.families:
        label_unit = "iteration" if fam.name == "lightgbm" else "epoch"
        for f, fold in enumerate(result.folds):
            idx = [j for j, m in enumerate(fam.members) if m.fold == f]
            name = f"{fam.name}-fold-{f}" if multi else f"fold-{f}"
            run = logger.start(name, {"comp_kind": "fold", "model": fam.name, "fold": str(f)}, parent_id=parent)
            points = []
            for rank, j in enumerate(idx):
                suffix = "" if rank == 0 else f"_seed{rank}"
                hist = fam.result.history[j]
                best = int(fam.result.best_iteration[j])
                for part in ("train", "valid"):
                    values = hist.get(part, [])
                    points += [(f"log_rmse/{part}{suffix}", values[e], e) for e in curve_steps(len(values), best)]
            points.append(("fold_log_rmse", fam.fold_scores[f], 0))
            points.append(("best_iteration", float(np.mean([fam.result.best_iteration[j] for j in idx])), 0))
            points.append(("n_train_rows", len(fam.members[idx[0]].train_idx), 0))
            points.append(("n_valid_rows", len(fold.valid), 0))
            logger.metric_series(run, points)
            if any(fam.result.history[j].get("train") for j in idx):
                png = learning_curve(
                    plots_dir / f"learning_curve_{fam.name}_fold{f}.png",
                    f"{result.spec.name} · {fam.name} · fold {f} (log-RMSE {fam.fold_scores[f]:.4f})",
                    [fam.result.history[j] for j in idx],
                    [f"seed {r}" for r in range(len(idx))],
                    [int(fam.result.best_iteration[j]) for j in idx],
                    xlabel=label_unit,
                )
                logger.artifact(run, png)
            logger.end(run)
        if fam.result.importance:
            png = importance_bar(
                plots_dir / f"importance_{fam.name}.png", f"{fam.name} gain importance", fam.result.importance
            )
            lines = ["feature,gain"] + [
                f'"{k}",{v}' for k, v in sorted(fam.result.importance.items(), key=lambda kv: -kv[1])
            ]
            (plots_dir / f"importance_{fam.name}.csv").write_text("\n".join(lines) + "\n")
            del png


PHASES = ("load", "prepare", "features", "train", "blend", "write", "tracking")


def phase_seconds(timings: dict[str, float]) -> list[tuple[str, float]]:
    """(phase, wall seconds) in running order: each family's folds and refit right after `train`
    (their total), then the rest, `total` last."""
    order = [p for p in PHASES if p in timings]
    families = [k for k in timings if "." in k]
    at = order.index("train") + 1 if "train" in order else len(order)
    names = order[:at] + families + order[at:] + (["total"] if "total" in timings else [])
    return [(n, timings[n]) for n in names]


def parent_summary(result: TrainingResult) -> dict[str, float]:
    metrics = {
        "cv_mean_log_rmse": float(np.mean(result.fold_scores)),
        "cv_std_log_rmse": float(np.std(result.fold_scores)),
        "oof_log_rmse": result.oof_score,
        "n_validated_rows": float(result.validated.sum()),
        "dropped_outlier_rows": float(result.dropped_outliers),
    }
    if len(result.families) > 1:
        metrics["blend_crossfit_oof_log_rmse"] = result.blend_crossfit_score
    for fam in result.families:
        metrics[f"oof_log_rmse.{fam.name}"] = fam.oof_score
        metrics[f"blend_weight.{fam.name}"] = result.blend_weights.get(fam.name, 0.0)
    for col, n in result.unparsable.items():
        metrics[f"unparsable.{col}"] = float(n)
    for phase, sec in result.timings.items():
        metrics[f"seconds.{phase}"] = sec
    return metrics


def train(
    spec: CompetitionSpec,
    data_dir: Path,
    config: RunConfig,
    workspace: Workspace,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    progress: Any | None = None,
    data: CompetitionData | None = None,
    resume: str | None = None,
    register: str | None = None,
    source: str = "comp train",
) -> TrainOutcome:
    """Train, track, bundle and submit one run (or continue the interrupted run `resume`, a full id).
    The bundle is also logged as the run's MLflow pyfunc model, registered as `register` when
    given; `source` names the entry point in the run's tags.

    Raises CompError (bad input), EnvironmentFailure (disk, memory, tracking server), or
    RunInterrupted (Ctrl-C/SIGTERM/SIGHUP; the run is marked KILLED)."""
    from competition import run_labels
    from competition.mlflow_model import log_run_model

    timings: dict[str, float] = {}
    t_start = t0 = time.perf_counter()
    if data is None:
        data = load_competition(spec, data_dir)
    timings["load"] = time.perf_counter() - t0
    device = resolve_device(config.run.device, config.run.threads)
    split, folds = folds_for(data, config)  # refuse impossible fold settings before an MLflow run exists
    check_memory(data, config, len(folds), device)

    t0 = time.perf_counter()
    uri = resolve_tracking_uri(tracking_uri, workspace)
    logger = RunLogger(uri, spec.name, workspace)
    tags = {
        "comp_kind": "train",
        "competition": spec.name,
        "model": config.run.model,
        "split": config.run.split,
        "git_commit": git_commit(),
        "data_digest": data.digest,
        "device": device,
        **run_labels.source_tags(source, git_commit()),
    }
    if "mlp" in config.run.families:
        # what mlp.precision=auto resolved to on this machine
        dtype = compute_dtype(config.mlp.precision, torch.device(device))
        tags["mlp_compute_dtype"] = str(dtype).removeprefix("torch.")
    if resume is None:
        n_rows = data.train.height
        name = run_name or run_labels.run_name(config, split, len(folds), n_rows)
        tags["mlflow.note.content"] = run_labels.started_description(spec.name, config, split, len(folds), n_rows)
        if run_name is None:
            tags[run_labels.AUTO_NAME_TAG] = name
        parent = logger.start(name, tags)
        logger.client.log_inputs(parent, datasets=run_labels.dataset_inputs(data, data_dir))
    else:
        parent = resume
    checkpoint = Checkpoint(partial_dir(workspace, spec.name, parent))
    lock = RunLock(checkpoint.folder, parent)
    if resume is not None:
        lock.acquire()  # refuses while another process trains this run; a dead one holds nothing
        try:
            if checkpoint.read_run() is None:  # another process finished it just before we got the lock
                raise CompError(f"Run {parent} has finished meanwhile: nothing to resume.")
            checkpoint.remove_temporary()
            logger.end_stale_children(parent)  # fold runs a killed process left RUNNING
            logger.client.update_run(parent, status="RUNNING")
        except BaseException:
            lock.release()
            raise
    timings["tracking"] = time.perf_counter() - t0
    written: dict[str, Path] = {}
    doing = f"write the checkpoints in {checkpoint.folder}"
    try:
        # frozen_heap: the imports' objects stay out of the collector's full passes (competition.heap)
        with logger.closing(parent), Heartbeat(logger.client, parent), frozen_heap():
            if resume is None:
                lock.acquire()
                logger.params(parent, config.flat())
                checkpoint.write_run({"config": config.to_dict(), "data_digest": data.digest})
            cache = FeatureCache(workspace.features_dir(spec.name), data.digest)
            result = run_training(data, config, device, progress, checkpoint, feature_cache=cache)
            timings.update(result.timings)
            t0 = time.perf_counter()
            submission = build_submission(spec, result.test_ids, result.test_log)
            bundle_dir = workspace.models_dir(spec.name) / parent
            test_schema = {c: spec.raw_columns[c] for c in spec.test_columns}
            doing = f"write the model bundle {bundle_dir}"
            with atomic.folder(bundle_dir) as tmp:
                save_bundle(result, tmp, parent, data.digest, device, test_schema)
            written["bundle"] = bundle_dir
            sub_path = workspace.submissions_dir(spec.name) / f"{parent}.csv"
            doing = f"write the submission {sub_path}"
            write_submission(submission, sub_path)
            written["submission"] = sub_path
            timings["write"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            doing = f"copy the run's files to the MLflow store at {logger.client.get_run(parent).info.artifact_uri}"
            logger.tags(
                parent,
                {
                    "split": result.split,
                    "split_fingerprint": result.split_fingerprint,
                    "prediction_path": ",".join(f"{f.name}:{f.prediction_path}" for f in result.families),
                    "members": ",".join(f.name for f in result.families),
                },
            )
            with tempfile.TemporaryDirectory() as tmpdir:
                plots = Path(tmpdir)
                log_family_folds(logger, parent, result, plots)
                logger.artifacts(parent, plots, "plots")
            logger.artifacts(parent, bundle_dir, "bundle")
            logger.artifact(parent, sub_path, "submission")
            timings["tracking"] += time.perf_counter() - t0
            timings["total"] = time.perf_counter() - t_start
            summary = parent_summary(result)
            summary.update({f"seconds.{k}": v for k, v in timings.items()})
            logger.metrics(parent, summary)
            logger.tags(parent, {"mlflow.note.content": run_labels.description(spec.name, result, sub_path)})
            auto_name = logger.client.get_run(parent).data.tags.get(run_labels.AUTO_NAME_TAG)
            if auto_name:  # a name comp chose gets the score, so the runs table shows it without opening a run
                logger.client.update_run(parent, name=run_labels.finished_name(auto_name, result.oof_score))
            t0 = time.perf_counter()
            doing = "log the run's MLflow model"
            model_uri, version = log_run_model(uri, parent, bundle_dir, spec, data.test, register)
            timings["mlflow_model"] = time.perf_counter() - t0
            logger.metrics(parent, {"seconds.mlflow_model": timings["mlflow_model"]})
            logger.tags(parent, {"model_uri": model_uri})
        shutil.rmtree(checkpoint.folder, ignore_errors=True)  # complete: its pieces are in the bundle
        with contextlib.suppress(OSError):
            checkpoint.folder.parent.rmdir()  # only when no other run has checkpoints there
    except KeyboardInterrupt as exc:
        marked = _status(logger, parent) == "KILLED"
        raise RunInterrupted(parent, signal_number(exc), written.get("bundle"), written.get("submission"),
                             checkpoint.folder.is_dir(), marked) from None
    except OSError as exc:
        if is_environment_os_error(exc):
            raise environment_failure(exc, doing) from exc
        raise
    except Exception as exc:
        failure = store_failure(uri, exc) if type(exc).__module__.startswith(("mlflow", "sqlalchemy")) else None
        if failure is not None:
            raise failure from exc
        raise
    finally:
        lock.release()  # after the checkpoint folder is gone: a waiting --resume then finds nothing to do
    return TrainOutcome(run_id=parent, result=result, submission=sub_path, bundle=bundle_dir, timings=timings,
                        model_uri=model_uri, registered_version=version)


def _status(logger: RunLogger, run_id: str) -> str | None:
    """The run's MLflow status, or None when the store cannot be read."""
    try:
        return logger.client.get_run(run_id).info.status
    except Exception:
        return None
