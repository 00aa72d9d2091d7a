"""`comp blend`: combine finished runs from their saved out-of-fold and test predictions.

Weights are fit on out-of-fold rows only (the test predictions never enter the fit), and only
runs validated on exactly the same rows of the same data can be blended: the members must agree
on competition, data digest and split fingerprint. A blend is saved as a small bundle that names
its members, so `comp predict --run <blend>` re-predicts each member bundle and applies the same
weights with `ensemble.apply_blend`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from competition import atomic
from competition.bundle import FORMAT_VERSION, Bundle, find_bundle, load_bundle, predict_test, versions
from competition.competitions.base import CompetitionSpec
from competition.ensemble import apply_blend, crossfit_blend_score, fit_blend_weights
from competition.errors import CompError
from competition.metrics import log_rmse_from_logs
from competition.paths import Workspace
from competition.submission import build_submission, write_submission
from competition.tracking import RunLogger, git_commit, resolve_tracking_uri

METHODS = ("mean", "nnls", "ridge")
BLEND_KIND = "blend"


@dataclass
class Member:
    """One run being blended: its bundle plus the final OOF/test predictions it saved."""

    run_id: str
    bundle: Bundle
    ids: np.ndarray
    fold: np.ndarray
    """Validation fold of each training row (-1: never validated)."""
    y_log: np.ndarray
    oof_log: np.ndarray
    test_ids: np.ndarray
    test_log: np.ndarray
    oof_score: float = float("nan")


@dataclass
class BlendResult:
    members: list[Member]
    method: str
    weights: dict[str, float]
    ids: np.ndarray
    fold: np.ndarray
    y_log: np.ndarray
    oof_log: np.ndarray
    oof_score: float
    fold_scores: list[float]
    test_ids: np.ndarray
    test_log: np.ndarray
    n_validated: int
    crossfit_score: float
    """OOF log-RMSE with each fold's rows blended by weights fit on the other folds only."""


@dataclass
class BlendOutcome:
    run_id: str
    result: BlendResult
    submission: Path
    bundle: Path
    timings: dict[str, float] = field(default_factory=dict)


def is_blend(bundle: Bundle) -> bool:
    return bundle.meta.get("kind") == BLEND_KIND


def model_label(bundle: Bundle) -> str:
    """What a member run trained, for tables and tags: 'mlp+lightgbm' or 'blend(...)'."""
    if is_blend(bundle):
        return f"blend({len(bundle.meta['blend_weights'])} runs)"
    return "+".join(f["name"] for f in bundle.meta.get("families", []))


def _float_column(frame: pl.DataFrame, name: str, path: Path) -> np.ndarray:
    if name not in frame.columns:
        raise CompError(f"{path} has no column {name!r}; the bundle is incomplete or from another version of comp.")
    return frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _read_predictions(path: Path, needed: tuple[str, ...]) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path)
    except Exception as exc:  # polars raises several types for damaged CSVs
        raise CompError(f"{path} is not a readable CSV ({type(exc).__name__}); the bundle is damaged.") from exc
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise CompError(f"{path} has no column(s) {missing}; the bundle is incomplete or from another version of comp.")
    return frame


def load_members(spec: CompetitionSpec, run_ids: list[str], models_dir: Path) -> list[Member]:
    """Resolve run ids (or unique prefixes) to bundles and read their saved predictions."""
    if len(run_ids) < 2:
        raise CompError("A blend needs at least two run ids.")
    members: list[Member] = []
    for run in run_ids:
        bundle = load_bundle(find_bundle(models_dir, run))
        if any(m.run_id == bundle.run_id for m in members):
            raise CompError(f"Run {bundle.run_id} is listed twice; each member may appear once.")
        oof_path, test_path = bundle.folder / "oof.csv", bundle.folder / "test_predictions.csv"
        for path in (oof_path, test_path):
            if not path.exists():
                raise CompError(f"Run {bundle.run_id} has no {path.name} in its bundle, so it cannot be blended.")
        oof, test = _read_predictions(oof_path, ("Id", "fold")), _read_predictions(test_path, ("Id",))
        members.append(
            Member(
                run_id=bundle.run_id,
                bundle=bundle,
                ids=oof["Id"].to_numpy(),
                fold=oof["fold"].to_numpy(),
                y_log=_float_column(oof, "target_log", oof_path),
                oof_log=_float_column(oof, "blend_log", oof_path),
                test_ids=test["Id"].to_numpy(),
                test_log=_float_column(test, "blend_log", test_path),
            )
        )
    check_compatible(spec, members)
    return members


def check_compatible(spec: CompetitionSpec, members: list[Member]) -> None:
    """Refuse members that were not validated on the same rows of the same data."""
    for m in members:
        if m.bundle.meta.get("competition") != spec.name:
            raise CompError(f"Run {m.run_id} belongs to {m.bundle.meta.get('competition')!r}, not {spec.name}.")
    first = members[0]
    for key, what in (("data_digest", "training/test data"), ("split_fingerprint", "validation folds")):
        values = {m.run_id: m.bundle.meta.get(key) for m in members}
        if len(set(values.values())) > 1:
            detail = ", ".join(f"{rid[:12]}: {str(v)[:12]}" for rid, v in values.items())
            raise CompError(
                f"Cannot blend runs with different {what} ({key} differs: {detail}). Blend weights are only "
                "honest when every member was validated on the same rows; retrain them with the same "
                "data, --folds, --split and run.seed."
            )
    for m in members[1:]:
        same = all(np.array_equal(getattr(m, a), getattr(first, a)) for a in ("ids", "fold", "test_ids"))
        if not same:
            raise CompError(f"Runs {first.run_id} and {m.run_id} saved predictions for different rows.")


def blend_members(members: list[Member], method: str) -> BlendResult:
    """Fit weights on rows every member validated (OOF rows only) and apply them to OOF and test."""
    if method not in METHODS:
        raise CompError(f"Unknown blend method {method!r}: use {', '.join(METHODS)}.")
    fold, y_log = members[0].fold, members[0].y_log
    oof = np.column_stack([m.oof_log for m in members])
    seen = (fold >= 0) & np.all(np.isfinite(oof), axis=1)
    if not seen.any():
        raise CompError("The members share no validated rows, so there is nothing to fit blend weights on.")
    w = fit_blend_weights(oof[seen], y_log[seen], method)
    weights = {m.run_id: float(x) for m, x in zip(members, w, strict=True)}
    for m in members:
        m.oof_score = log_rmse_from_logs(m.oof_log[seen], y_log[seen])
    blended = np.full(len(y_log), np.nan)
    blended[seen] = apply_blend(weights, {m.run_id: m.oof_log[seen] for m in members})
    folds = sorted(int(f) for f in np.unique(fold[seen]))
    fold_scores = [log_rmse_from_logs(blended[seen & (fold == f)], y_log[seen & (fold == f)]) for f in folds]
    return BlendResult(
        members=members,
        method=method,
        weights=weights,
        ids=members[0].ids,
        fold=fold,
        y_log=y_log,
        oof_log=blended,
        oof_score=log_rmse_from_logs(blended[seen], y_log[seen]),
        fold_scores=fold_scores,
        test_ids=members[0].test_ids,
        test_log=apply_blend(weights, {m.run_id: m.test_log for m in members}),
        n_validated=int(seen.sum()),
        crossfit_score=crossfit_blend_score(oof, y_log, np.where(seen, fold, -1), method),
    )


def save_blend_bundle(result: BlendResult, folder: Path, run_id: str) -> None:
    """bundle.json naming the members and weights, plus oof.csv/test_predictions.csv like a train
    bundle (so a blend can itself be blended)."""
    first = result.members[0].bundle.meta
    members = []
    for m in result.members:
        members.append(
            {
                "run_id": m.run_id,
                "model": model_label(m.bundle),
                "oof_log_rmse": m.oof_score,
                "weight": result.weights[m.run_id],
                "prediction_path": m.bundle.meta.get("prediction_path")
                or ",".join(f"{f['name']}:{f['prediction_path']}" for f in m.bundle.meta.get("families", [])),
            }
        )
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": BLEND_KIND,
        "run_id": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "competition": first["competition"],
        "split": first.get("split"),
        "split_fingerprint": first["split_fingerprint"],
        "n_folds": first.get("n_folds"),
        "data_digest": first["data_digest"],
        "blend_method": result.method,
        "blend_weights": result.weights,
        "members": members,
        "prediction_path": "blend",
        "oof_log_rmse": result.oof_score,
        "fold_log_rmse": result.fold_scores,
        "n_validated_rows": result.n_validated,
        "test_schema": first["test_schema"],
        "versions": versions(),
    }
    oof: dict[str, Any] = {"Id": result.ids, "fold": result.fold, "target_log": result.y_log}
    oof.update({f"{m.run_id}_log": m.oof_log for m in result.members})
    oof["blend_log"] = result.oof_log
    pl.DataFrame(oof).write_csv(folder / "oof.csv")
    test: dict[str, Any] = {"Id": result.test_ids}
    test.update({f"{m.run_id}_log": m.test_log for m in result.members})
    test["blend_log"] = result.test_log
    pl.DataFrame(test).write_csv(folder / "test_predictions.csv")
    (folder / "bundle.json").write_text(json.dumps(meta, indent=2))


def predict_log(bundle: Bundle, test_prepared: pl.DataFrame, device: str, models_dir: Path) -> np.ndarray:
    """Log predictions of any bundle: a train bundle directly, a blend through its member bundles."""
    if not is_blend(bundle):
        return predict_test(bundle, test_prepared, device)[0]
    preds = {}
    for run_id in bundle.meta["blend_weights"]:
        folder = models_dir / run_id
        if not (folder / "bundle.json").exists():
            raise CompError(f"Blend {bundle.run_id} needs the bundle of member run {run_id}, which is missing "
                            f"from {models_dir}.")
        preds[run_id] = predict_log(load_bundle(folder), test_prepared, device, models_dir)
    return apply_blend(bundle.meta["blend_weights"], preds)


def run_blend(
    spec: CompetitionSpec,
    run_ids: list[str],
    method: str,
    workspace: Workspace,
    run_name: str | None = None,
    tracking_uri: str | None = None,
) -> BlendOutcome:
    """Blend, then track (MLflow run with comp_kind=blend), bundle and submit."""
    if method not in METHODS:
        raise CompError(f"Unknown blend method {method!r}: use {', '.join(METHODS)}.")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    models_dir = workspace.models_dir(spec.name)
    members = load_members(spec, run_ids, models_dir)
    result = blend_members(members, method)
    timings["blend"] = time.perf_counter() - t0
    submission = build_submission(spec, result.test_ids, result.test_log)

    uri = resolve_tracking_uri(tracking_uri, workspace)
    logger = RunLogger(uri, spec.name, workspace)
    first = members[0].bundle.meta
    member_ids = [m.run_id for m in members]
    tags = {
        "comp_kind": BLEND_KIND,
        "competition": spec.name,
        "model": "blend",
        "members": ",".join(rid[:8] for rid in member_ids),  # short: `comp runs` shows blend(<members>)
        "member_run_ids": ",".join(member_ids),
        "member_models": " | ".join(model_label(m.bundle) for m in members),
        "blend_method": method,
        "split": str(first.get("split")),
        "split_fingerprint": first["split_fingerprint"],
        "data_digest": first["data_digest"],
        "prediction_path": "blend",
        "git_commit": git_commit(),
    }
    parent = logger.start(run_name, tags)
    with logger.closing(parent):
        params = {"blend.method": method, "blend.members": ",".join(member_ids)}
        params.update({f"blend.member.{i}": rid for i, rid in enumerate(member_ids)})
        logger.params(parent, params)
        t0 = time.perf_counter()
        bundle_dir = models_dir / parent
        with atomic.folder(bundle_dir) as tmp:
            save_blend_bundle(result, tmp, parent)
        sub_path = write_submission(submission, workspace.submissions_dir(spec.name) / f"{parent}.csv")
        timings["write"] = time.perf_counter() - t0
        metrics = {
            "cv_mean_log_rmse": float(np.mean(result.fold_scores)),
            "cv_std_log_rmse": float(np.std(result.fold_scores)),
            "oof_log_rmse": result.oof_score,
            "n_validated_rows": float(result.n_validated),
            "blend_crossfit_oof_log_rmse": result.crossfit_score,
        }
        for m in members:
            metrics[f"oof_log_rmse.{m.run_id}"] = m.oof_score
            metrics[f"blend_weight.{m.run_id}"] = result.weights[m.run_id]
        metrics.update({f"seconds.{k}": v for k, v in timings.items()})
        logger.metrics(parent, metrics)
        logger.artifacts(parent, bundle_dir, "bundle")
        logger.artifact(parent, sub_path, "submission")
    return BlendOutcome(run_id=parent, result=result, submission=sub_path, bundle=bundle_dir, timings=timings)
