"""One `comp train` run as plain data flow: prepare -> folds -> features per fold -> families -> scores.

No tracking or file writing happens here (see `competition.run`), so the whole path can be
tested and benchmarked on its own.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from competition.checkpoints import Checkpoint, fit_in_pieces
from competition.competitions.base import CompetitionSpec
from competition.config import RunConfig
from competition.data import CompetitionData
from competition.devices import CoreBudget, Stopped, cpu_cores
from competition.errors import CompError
from competition.feature_cache import FeatureCache
from competition.features import FeaturePipeline, encode_frame
from competition.metrics import log_rmse_from_logs
from competition.models import get_family
from competition.models.base import FamilyResult, FoldMatrices
from competition.models.mlp import Member
from competition.splits import Fold, fingerprint, fold_of_rows, make_folds


@dataclass
class FamilyRun:
    name: str
    members: list[Member]
    result: FamilyResult
    oof_log: np.ndarray
    """Seed-averaged out-of-fold log predictions; NaN on rows never validated."""
    fold_scores: list[float]
    oof_score: float
    test_log: np.ndarray
    prediction_path: str
    """'cv-average' (mean of the fold models) or 'refit-full' (models retrained on all rows)."""
    refit_members: list[Member] = field(default_factory=list)
    refit_result: FamilyResult | None = None
    seconds: float = 0.0


@dataclass
class TrainingResult:
    spec: CompetitionSpec
    config: RunConfig
    split: str
    folds: list[Fold]
    split_fingerprint: str
    pipelines: list[FeaturePipeline]
    refit_pipeline: FeaturePipeline | None
    families: list[FamilyRun]
    oof_log: np.ndarray
    oof_score: float
    fold_scores: list[float]
    test_log: np.ndarray
    blend_weights: dict[str, float]
    blend_crossfit_score: float
    """OOF log-RMSE of the blend with each fold's weights fit on the other folds (NaN: one family)."""
    train_ids: np.ndarray
    test_ids: np.ndarray
    y_log: np.ndarray
    dropped_outliers: int
    """Outlier-rule rows left out of the training parts of at least one family."""
    unparsable: dict[str, int]
    timings: dict[str, float]
    """Wall seconds per phase: prepare, features (all folds and the refit, cache reads included),
    `<family>.folds` and `<family>.refit` per family, train (all families), blend."""

    @property
    def validated(self) -> np.ndarray:
        return np.isfinite(self.oof_log)


def resolve_split(spec: CompetitionSpec, config: RunConfig) -> str:
    split = config.run.split
    if split == "auto":
        return spec.default_split
    if split not in ("kfold", "time", "holdout"):
        raise CompError(f"--split must be kfold, time, holdout or auto; got {split!r}.")
    return split


def folds_for(data: CompetitionData, config: RunConfig) -> tuple[str, list[Fold]]:
    """The run's split kind and folds (cheap; also used to refuse bad fold settings up front)."""
    spec = data.spec
    split = resolve_split(spec, config)
    order_key = data.train[spec.time_order_column].to_numpy() if spec.time_order_column else None
    seed = config.run.seed if config.run.fold_seed < 0 else config.run.fold_seed
    rows = np.arange(data.train.height)
    if config.run.exclude_latest > 0:
        from competition.splits import exclude_latest

        rows = exclude_latest(data.train.height, config.run.exclude_latest, order_key)
        order_key = None if order_key is None else order_key[rows]
    folds = make_folds(split, len(rows), config.run.folds, seed, order_key, config.run.holdout_share)
    return split, [Fold(train=rows[f.train], valid=rows[f.valid]) for f in folds]


def resolve_refit(config: RunConfig, split: str) -> bool:
    value = config.run.refit_full.strip().lower()
    if value == "auto":
        return split in ("time", "holdout")
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise CompError(f"run.refit_full must be auto, true or false; got {config.run.refit_full!r}.")


def prepare_frames(spec: CompetitionSpec, data: CompetitionData) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    train = spec.prepare(data.train)
    test = spec.prepare(data.test)
    unparsable = dict(data.unparsable)
    for col, n in list(train.unparsable.items()) + list(test.unparsable.items()):
        unparsable[col] = unparsable.get(col, 0) + n
    return train.frame, test.frame, unparsable


def feature_workers(n_folds: int) -> int:
    """Folds whose features are built at once: one per CPU core, at most one per fold."""
    return max(1, min(n_folds, cpu_cores()))


def build_fold_matrices(
    spec: CompetitionSpec,
    config: RunConfig,
    train: pl.DataFrame,
    test: pl.DataFrame,
    y_log: np.ndarray,
    folds: list[Fold],
    progress: Any | None = None,
    cache: FeatureCache | None = None,
) -> tuple[FoldMatrices, list[FeaturePipeline]]:
    """Fit one FeaturePipeline per fold on that fold's training rows only, then transform all rows.

    Train and test are encoded once (`encode_frame`: casts, codes, tokens), and each fold's pipeline
    fits and transforms row subsets of those encodings. Returns per fold the (train rows x features)
    matrix in frame order (the fold's own training rows carry their out-of-fold target encodings),
    the (test rows x features) matrix, the feature names, and the fitted pipelines. With a `cache`,
    a fold already built from the same data, settings, rows and code is read back instead
    (see `competition.feature_cache`), and new folds are written there.

    Folds are independent, so they are built on `feature_workers` threads (NumPy, SciPy, LAPACK,
    polars and file writes release the GIL). BLAS runs one thread per call meanwhile
    (threadpoolctl), so a fold's numbers never depend on how many threads the machine or the
    process gives BLAS: the matrices are the same bits on any core count, in or out of a test run."""
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    task = progress.add_task("Features per fold", total=len(folds)) if progress is not None else None
    shape = (train.height, test.height)
    keys = [cache.key(spec, config.features, fold.train, shape) if cache else "" for fold in folds]
    hits: list[Any] = [cache.load(key) if cache is not None else None for key in keys]

    def one_fold(f: int) -> tuple[np.ndarray, np.ndarray, FeaturePipeline]:
        if hits[f] is not None:
            return hits[f]
        fold = folds[f]
        pipe = FeaturePipeline(spec.features, config.features)
        x_fit = pipe.fit_transform_encoded(enc_train.take(fold.train), y_log[fold.train])
        x_all = np.empty((train.height, x_fit.shape[1]), dtype=np.float32)
        x_all[fold.train] = x_fit
        del x_fit
        rest = np.setdiff1d(np.arange(train.height), fold.train)
        if len(rest):
            x_all[rest] = pipe.transform_encoded(enc_train.take(rest))
        x_test = pipe.transform_encoded(enc_test)
        if cache is not None:
            cache.save(keys[f], x_all, x_test, pipe)
        return x_all, x_test, pipe

    built = []
    with ThreadPoolExecutor(feature_workers(len(folds))) as pool:
        if any(hit is None for hit in hits):
            # The text SVD's scikit-learn import (~1.6 s) overlaps the encoding. It is done before
            # the BLAS limit below: threadpoolctl limits only the libraries loaded when it starts
            # (SciPy brings its own OpenBLAS).
            imported = pool.submit(importlib.import_module, "sklearn.decomposition") if spec.features.text else None
            enc_train, enc_test = encode_frame(spec.features, train), encode_frame(spec.features, test)
            if imported is not None:
                imported.result()
        with threadpool_limits(limits=1, user_api="blas"):
            for result in pool.map(one_fold, range(len(folds))):
                built.append(result)
                if progress is not None:
                    progress.advance(task)
    mats = FoldMatrices(
        train=[b[0] for b in built], test=[b[1] for b in built], names=[b[2].feature_names_ for b in built]
    )
    return mats, [b[2] for b in built]


def drops_outliers(name: str, config: RunConfig) -> bool:
    """Whether family `name` trains without the outlier-rule rows: all families with
    `run.drop_outliers`, the linear ones also with `linear.drop_outliers` (see config.py for why)."""
    from competition.models.linear_family import KINDS

    return config.run.drop_outliers or (name in KINDS and config.linear.drop_outliers)


def make_members(folds: list[Fold], seeds: int, base_seed: int, keep_train: np.ndarray) -> list[Member]:
    members = []
    for f, fold in enumerate(folds):
        train_rows = fold.train[keep_train[fold.train]]
        for s in range(seeds):
            members.append(Member(fold=f, seed=base_seed + 1000 * s + f, train_idx=train_rows, valid_idx=fold.valid))
    return members


def score_members(
    members: list[Member], result: FamilyResult, folds: list[Fold], y_log: np.ndarray
) -> tuple[np.ndarray, list[float], float]:
    """Seed-averaged OOF predictions, per-fold scores and the OOF score over validated rows."""
    n = len(y_log)
    total = np.zeros(n)
    count = np.zeros(n)
    for m, pred in zip(members, result.valid_pred, strict=True):
        total[m.valid_idx] += pred
        count[m.valid_idx] += 1
    oof = np.full(n, np.nan)
    seen = count > 0
    oof[seen] = total[seen] / count[seen]
    fold_scores = [log_rmse_from_logs(oof[f.valid], y_log[f.valid]) for f in folds]
    return oof, fold_scores, log_rmse_from_logs(oof[seen], y_log[seen])


def train_families(
    names: list[str],
    train_family: Callable[[str], Any],
    budget: CoreBudget,
    config: RunConfig,
    spare_cores: bool = False,
) -> dict[str, Any]:
    """`train_family(name)` for every family, the batched one (the MLP) in this thread and the
    others side by side with it in one background thread, sharing `budget`'s cores. The MLP holds
    its torch threads' cores for all its pieces; LightGBM and linear folds take the rest and
    wait for them (see `devices.CoreBudget`), so on 2 cores a 1-thread MLP and 1-thread boosters
    fill both cores instead of one. Each family's numbers are those it gives when trained alone.
    With `spare_cores`, the MLP may also run on the cores the others leave once they are all done
    (or from the start when it trains alone), kept only while they make its epochs faster
    (`devices.SpareCores`); its numbers do not depend on it.

    Ctrl-C (or any error) here stops the background families at their next step; an error in
    the background stops the MLP at its next epoch and is the one raised."""
    from concurrent.futures import ThreadPoolExecutor

    first = next((n for n in names if getattr(get_family(n), "batched", False)), None)
    beside = [n for n in names if n != first]
    if first is None:
        return {name: train_family(name) for name in names}

    family = get_family(first)
    others_done = threading.Event()

    def train_beside() -> dict[str, Any]:
        try:
            return {name: train_family(name) for name in beside}
        except BaseException:
            budget.stop()
            raise
        finally:
            others_done.set()

    background = None
    with ThreadPoolExecutor(1, thread_name_prefix="comp-families") as pool:
        try:
            # Held for all its pieces (folds, then refit), so a fold beside it never takes its core
            # between them; a batched family's thread count does not depend on its members.
            with budget.take(family.cores([], config)) as held:
                if beside:
                    background = pool.submit(train_beside)
                else:
                    others_done.set()
                lent = budget.lend_spare_cores(held, others_done) if spare_cores else contextlib.nullcontext()
                with lent:
                    done = {first: train_family(first)}
            if background is not None:
                done.update(background.result())
        except Stopped:
            failure = background.exception() if background is not None else None
            if failure is None:
                raise
            raise failure from None
        except BaseException:
            budget.stop()  # the pool's exit waits for the background families to notice
            raise
    return done


def run_training(
    data: CompetitionData,
    config: RunConfig,
    device: str,
    progress: Any | None = None,
    checkpoint: Checkpoint | None = None,
    feature_cache: FeatureCache | None = None,
) -> TrainingResult:
    """Train every family of `config` on `data`; with a checkpoint, finished pieces are saved
    as they complete and pieces already there are reused (see `competition.checkpoints`); with a
    feature cache, fold matrices built before are reused (see `competition.feature_cache`)."""
    spec = data.spec
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    train, test, unparsable = prepare_frames(spec, data)
    y_log = data.y_log
    timings["prepare"] = time.perf_counter() - t0

    split, folds = folds_for(data, config)
    names = config.run.families
    outlier = np.zeros(train.height, dtype=bool)
    if spec.outlier_rule is not None and any(drops_outliers(name, config) for name in names):
        outlier = spec.outlier_rule(data.train).to_numpy().astype(bool)
    dropped = np.zeros(train.height, dtype=bool)

    # The refit's pipeline (fit on every training row) is built with the folds' in one pass.
    refit = resolve_refit(config, split)
    everything = [Fold(train=np.arange(train.height), valid=np.zeros(0, dtype=np.int64))] if refit else []
    t0 = time.perf_counter()
    mats, pipelines = build_fold_matrices(spec, config, train, test, y_log, folds + everything, progress, feature_cache)
    timings["features"] = time.perf_counter() - t0
    refit_mats = refit_pipeline = None
    if refit:
        refit_mats = FoldMatrices(train=mats.train[-1:], test=mats.test[-1:], names=mats.names[-1:])
        mats = FoldMatrices(train=mats.train[:-1], test=mats.test[:-1], names=mats.names[:-1])
        refit_pipeline = pipelines.pop()

    def train_family(name: str) -> tuple[FamilyRun, dict[str, float]]:
        family = get_family(name)
        spent: dict[str, float] = {}
        t0 = time.perf_counter()
        keep = ~outlier if drops_outliers(name, config) else np.ones(train.height, dtype=bool)
        members = make_members(folds, config.run.seeds, config.run.seed, keep)
        result = fit_in_pieces(
            family, mats, y_log, members, config, device, progress, checkpoint, f"{name}-cv", budget
        )
        oof, fold_scores, oof_score = score_members(members, result, folds, y_log)
        spent[f"{name}.folds"] = time.perf_counter() - t0
        run = FamilyRun(
            name=name,
            members=members,
            result=result,
            oof_log=oof,
            fold_scores=fold_scores,
            oof_score=oof_score,
            test_log=result.test_pred.mean(axis=0),
            prediction_path="cv-average",
        )
        if refit and refit_mats is not None:
            rounds = int(np.median(result.best_iteration)) + 1
            run.refit_members = [
                Member(
                    fold=0,
                    seed=config.run.seed + 7919 * s,
                    train_idx=np.flatnonzero(keep),
                    valid_idx=np.zeros(0, dtype=np.int64),
                    epochs=rounds,
                )
                for s in range(config.run.seeds)
            ]
            t_refit = time.perf_counter()
            run.refit_result = fit_in_pieces(
                family, refit_mats, y_log, run.refit_members, config, device, progress, checkpoint,
                f"{name}-refit", budget,
            )
            spent[f"{name}.refit"] = time.perf_counter() - t_refit
            run.test_log = run.refit_result.test_pred.mean(axis=0)
            run.prediction_path = "refit-full"
        run.seconds = time.perf_counter() - t0
        return run, spent

    for name in names:
        if drops_outliers(name, config):
            dropped |= outlier
    t_train = time.perf_counter()
    budget = CoreBudget()
    # Spare cores only when the thread count is the toolkit's choice, not the user's.
    spare = device == "cpu" and config.run.threads == 0
    trained = train_families(names, train_family, budget, config, spare_cores=spare)
    families = []
    for name in names:  # in --model order, whichever family finished first
        run, spent = trained[name]
        families.append(run)
        timings.update(spent)
    timings["train"] = time.perf_counter() - t_train

    from competition.ensemble import blend_families, crossfit_blend_score

    t0 = time.perf_counter()
    weights, oof_log, test_log = blend_families(families, y_log, config.run.blend)
    seen = np.isfinite(oof_log)
    crossfit = float("nan")
    if len(families) > 1:
        oof_matrix = np.column_stack([fam.oof_log for fam in families])
        crossfit = crossfit_blend_score(oof_matrix, y_log, fold_of_rows(folds, len(y_log)), config.run.blend)
    fold_scores = [log_rmse_from_logs(oof_log[f.valid], y_log[f.valid]) for f in folds]
    timings["blend"] = time.perf_counter() - t0
    return TrainingResult(
        spec=spec,
        config=config,
        split=split,
        folds=folds,
        split_fingerprint=fingerprint(folds),
        pipelines=pipelines,
        refit_pipeline=refit_pipeline,
        families=families,
        oof_log=oof_log,
        oof_score=log_rmse_from_logs(oof_log[seen], y_log[seen]),
        fold_scores=fold_scores,
        test_log=test_log,
        blend_weights=weights,
        blend_crossfit_score=crossfit,
        train_ids=data.train[spec.id_column].to_numpy(),
        test_ids=data.test[spec.id_column].to_numpy(),
        y_log=y_log,
        dropped_outliers=int(dropped.sum()),
        unparsable=unparsable,
        timings=timings,
    )
