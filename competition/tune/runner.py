"""`comp tune` end to end: open the study, run trials until the study's budget or the time is spent,
then make the result usable (best config TOML, its bundle) and honest (re-scored on fresh folds).

Trials are asked and told through Optuna's ask/tell interface: an MLP population asks K trials,
groups them by the settings they must share, trains each group as one batched network and tells
each trial its score. The study's trial budget (`--trials`) counts finished trials of every worker,
so N workers running the same command finish N trials together, not N each.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from competition import atomic
from competition.config import RunConfig, build_config, parse_sets, to_toml
from competition.data import CompetitionData, load_competition
from competition.devices import resolve_device
from competition.errors import CompError
from competition.feature_cache import FeatureCache
from competition.heap import frozen_heap
from competition.paths import Workspace
from competition.signals import deferred_interrupts
from competition.tune.context import TuneContext, build_context, settings_digest
from competition.tune.evaluate import TimeUp, TrialOutcome, evaluate_by_fold, evaluate_population
from competition.tune.live import LiveView
from competition.tune.rescore import Rescore, rescore
from competition.tune.space import SearchSpace, load_space
from competition.tune.study import (
    BASELINE_ATTR,
    GRACE_S,
    check_study_name,
    default_storage,
    open_storage,
    open_study,
    redact,
)


@dataclass
class TuneOptions:
    competition: str
    data_dir: Path
    family: str
    trials: int = 20
    timeout_s: float | None = None
    study_name: str | None = None
    storage: str | None = None
    tracking_uri: str | None = None
    space_file: Path | None = None
    sets: list[str] = field(default_factory=list)
    population: int = 0
    """MLP trials trained together (0: by device, 1 on CPU, 64 on CUDA; see `population_size`)."""
    rescore_seeds: int = 3
    keep_best: bool = True
    """Retrain the best configuration through `comp train`'s path (bundle + MLflow run)."""
    report_every: int = 5
    """MLP: epochs between reports to the pruner."""


@dataclass
class TuneOutcome:
    study_name: str
    storage: str
    study_run_id: str
    n_complete: int
    n_pruned: int
    n_failed: int
    best_trial: int | None = None
    best_score: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_config: Path | None = None
    best_run_id: str | None = None
    reproduced: bool | None = None
    rescore: Rescore | None = None
    default_trial: int | None = None
    """The study's baseline trial (the configuration without the search), when it finished."""
    default_score: float | None = None


def base_layers(spec: Any, opts: TuneOptions, space: SearchSpace) -> list[dict[str, Any]]:
    """Settings layers every trial starts from: defaults < competition < --set < space-file pins."""
    return [dict(spec.config_defaults), parse_sets(opts.sets), {"run.model": opts.family}, dict(space.fixed)]


def pin_resolved(config: RunConfig, device: str) -> RunConfig:
    """Pin what 'auto' resolves to on this machine (device, MLP precision), so the best config's TOML
    trains the same way wherever it is rerun."""
    import torch

    from competition.models.mlp import compute_dtype

    dtype = compute_dtype(config.mlp.precision, torch.device(device))
    precision = "bf16" if dtype == torch.bfloat16 else "fp32"
    return replace(config, run=replace(config.run, device=device), mlp=replace(config.mlp, precision=precision))


def trial_config(layers: list[dict[str, Any]], params: dict[str, Any], device: str) -> RunConfig:
    """A trial's full configuration, validated by `build_config` (its range checks apply to every sample)."""
    return pin_resolved(build_config(*layers, params), device)


def population_size(requested: int, device: str) -> int:
    """MLP trials per population: `requested`, or by device (0). On CUDA 64: the H200 measurement
    in issue 12 trained 64 trials in 11-13x the time of one. On the CPU 1: no 2-core host trained a
    population faster per trial than the same trials one at a time (`bench.tune_speed`, House
    Prices, 20 epochs, no pruning: K=8 0.75x on one host, 1.01-1.02x on another), so a CPU study
    trains one trial's members per call, prunes each trial against the finished ones, and the
    sampler sees every result before it draws the next trial."""
    if requested > 0:
        return requested
    return 64 if device == "cuda" else 1


class Heartbeats:
    """Records a heartbeat for each trial this process runs (Optuna's RDB heartbeat, which `optimize`
    starts for itself but ask/tell does not), so a killed worker's trials are failed and retried by
    the next worker that asks (`optuna.storages.fail_stale_trials`)."""

    def __init__(self, storage: Any, interval: float) -> None:
        self.storage, self.interval = storage, interval
        self.trial_ids: set[int] = set()
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="comp-tune-heartbeat", daemon=True)

    def _loop(self) -> None:
        while not self.stop_event.wait(self.interval):
            with self.lock:
                ids = list(self.trial_ids)
            for trial_id in ids:
                with contextlib.suppress(Exception):  # a missed beat is retried next interval
                    self.storage.record_heartbeat(trial_id)

    def add(self, trial: Any) -> None:
        self.storage.record_heartbeat(trial._trial_id)
        with self.lock:
            self.trial_ids.add(trial._trial_id)

    def remove(self, trial: Any) -> None:
        with self.lock:
            self.trial_ids.discard(trial._trial_id)

    def __enter__(self) -> Heartbeats:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=self.interval + 1)


def study_counts(study: Any) -> dict[str, int]:
    from optuna.trial import TrialState

    counts = {s.name: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] += 1
    return counts


def make_sampler_and_pruner(family: str) -> tuple[Any, Any]:
    import optuna

    sampler = optuna.samplers.TPESampler(n_startup_trials=10, multivariate=True, constant_liar=True)
    if family == "mlp":
        # Epoch by epoch (every report, after 30 warm-up epochs): a trial whose members' mean best
        # validation log-RMSE is worse than the median of finished trials at that epoch stops.
        # (Successive halving was tried first: it pruned two of three trials at epoch 20, before
        # slower learning rates had caught up.)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30)
    else:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    return sampler, pruner


class TrialLogger:
    """One nested MLflow run per trial under the study run."""

    def __init__(self, logger: Any, study_run: str, study_name: str) -> None:
        self.logger, self.study_run, self.study_name = logger, study_run, study_name

    def log(self, trial: Any, params: dict[str, Any], outcome: TrialOutcome, population: str) -> str:
        tags = {
            "comp_kind": "tune-trial",
            "study": self.study_name,
            "trial_number": str(trial.number),
            "state": "PRUNED" if outcome.pruned else "COMPLETE",
            "population": population,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        }
        run = self.logger.start(f"trial-{trial.number}", tags, parent_id=self.study_run)
        self.logger.params(run, params | {"trial_number": trial.number})
        points = [("intermediate_log_rmse", v, s) for s, v in outcome.intermediate]
        points += [("fold_log_rmse", v, f) for f, v in enumerate(outcome.fold_scores)]
        points.append(("seconds", outcome.seconds, 0))
        if not outcome.pruned:
            points.append(("oof_log_rmse", outcome.oof_score, 0))
            points.append(("best_iteration", outcome.best_iteration, 0))
        self.logger.metric_series(run, points)
        self.logger.end(run)
        return run


def _study_run(logger: Any, study: Any, uri: str, name: str, tags: dict[str, str]) -> str:
    """The one MLflow run of a study on this tracking store, created by the first worker and shared."""
    key = "mlflow_run:" + redact(uri)[:200]
    existing = study.user_attrs.get(key)
    if existing:
        with contextlib.suppress(Exception):
            logger.client.update_run(existing, status="RUNNING")
            return existing
    run = logger.start(name, tags)
    # Workers starting together each create a run: the earliest-created RUNNING run of this study
    # wins. A worker searches only after creating its own run, so of any two the later searcher
    # sees both and defers (a check-then-set on the study's attribute let both keep their own).
    # run_id breaks a tie within the store's millisecond. The study name is matched here, not in
    # the filter string, where a quote in a user's --study would break MLflow's filter syntax.
    running = logger.client.search_runs(
        [logger.experiment_id],
        filter_string="tags.comp_kind = 'tune' and attributes.status = 'RUNNING'",
        max_results=1000,
    )
    rivals = [r for r in running if r.data.tags.get("study") == tags["study"]]
    winner = min(rivals, key=lambda r: (r.info.start_time, r.info.run_id)).info.run_id if rivals else run
    if winner != run:  # another worker created it at the same moment: use theirs
        logger.client.delete_run(run)
        return winner
    study.set_user_attr(key, run)
    return run


def run_tune(opts: TuneOptions, workspace: Workspace, spec: Any, view: LiveView | None = None,
             data: CompetitionData | None = None) -> TuneOutcome:
    """Run (or continue) the study; see the module docstring. Raises CompError on bad input."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        # Heartbeats with ask/tell are ours (`Heartbeats`); the partly fixed sampler and stale-trial
        # failing are marked experimental by Optuna but are what the design needs.
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        return _run_tune(opts, workspace, spec, view, data)


def _run_tune(opts: TuneOptions, workspace: Workspace, spec: Any, view: LiveView | None,
              data: CompetitionData | None) -> TuneOutcome:
    import optuna

    from competition.tracking import RunLogger, git_commit, resolve_tracking_uri

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = opts.study_name or f"{spec.name}-{opts.family}"
    check_study_name(name)  # before any data is read or any study or run exists
    view = view or LiveView(enabled=False)
    space = load_space(opts.family, opts.space_file, spec.search_ranges)
    layers = base_layers(spec, opts, space)
    plain = build_config(*layers)
    if len(plain.run.families) != 1:
        raise CompError(f"comp tune searches one family at a time; got --model {opts.family!r}.")
    device = resolve_device(plain.run.device, plain.run.threads)
    if data is None:
        data = load_competition(spec, opts.data_dir)
    from competition.training import resolve_split

    if resolve_split(spec, plain) == "time" and plain.run.exclude_latest == 0:
        # Hold the latest block out of a time-ordered search; it scores the chosen configuration.
        layers.append({"run.exclude_latest": plain.run.holdout_share})
    base = trial_config(layers, {}, device)
    view.status(f"building fold matrices ({base.run.folds} folds)")
    ctx = build_context(spec, data, base, device, FeatureCache(workspace.features_dir(spec.name), data.digest))

    fingerprint = {
        "competition": spec.name,
        "family": opts.family,
        "data_digest": data.digest,
        "split": ctx.split,
        "split_fingerprint": ctx.split_fingerprint,
        "settings": settings_digest(base, space.keys()),
        "space": space.signature(),
    }
    url = opts.storage or default_storage(workspace)
    storage = open_storage(url)
    sampler, pruner = make_sampler_and_pruner(opts.family)
    study = open_study(name, storage, sampler, pruner, fingerprint, baseline=space.baseline(plain))

    uri = resolve_tracking_uri(opts.tracking_uri, workspace)
    logger = RunLogger(uri, spec.name, workspace)
    study_run = _study_run(
        logger,
        study,
        uri,
        f"tune-{name}",
        {
            "comp_kind": "tune",
            "competition": spec.name,
            "model": opts.family,
            "study": name,
            "storage": redact(url),
            "split": ctx.split,
            "split_fingerprint": ctx.split_fingerprint,
            "data_digest": data.digest,
            "git_commit": git_commit(),
            "device": device,
        },
    )
    trial_log = TrialLogger(logger, study_run, name)
    outcome = TuneOutcome(name, redact(url), study_run, 0, 0, 0)
    deadline = None if opts.timeout_s is None else time.monotonic() + opts.timeout_s
    k = population_size(opts.population, device) if opts.family == "mlp" else 1
    view.begin(name, opts.trials, deadline)
    try:
        # frozen_heap: import-time objects stay out of the collector's full passes (competition.heap)
        with Heartbeats(storage, max(1.0, storage.heartbeat_interval or 5)) as beats, frozen_heap():
            _search(study, ctx, space, layers, opts, k, beats, trial_log, view, deadline)
    except KeyboardInterrupt:
        logger.end(study_run, "KILLED")
        raise
    except BaseException:
        logger.end(study_run, "FAILED")
        raise
    view.status("search done: finishing (best config, bundle, re-scores)")
    with logger.closing(study_run):
        _finish(study, ctx, space, opts, layers, workspace, spec, data, logger, study_run, uri, outcome, view)
    return outcome


def _ask_population(study: Any, space: SearchSpace, layers: list[dict[str, Any]], n: int, device: str,
                    beats: Heartbeats, asked: list[tuple[Any, dict[str, Any], RunConfig]], budget: int) -> None:
    """Ask n trials into `asked`; MLP trials after the first share its population settings (a partly
    fixed sampler). Each asked trial is in `asked` at once, so an interrupt here still ends it."""
    import optuna
    from optuna.trial import TrialState

    base_sampler = study.sampler
    try:
        for i in range(n):
            # A Ctrl-C between creating the trial and recording it here would leave it RUNNING.
            with deferred_interrupts():
                trial = study.ask()
                asked.append((trial, {}, None))  # type: ignore[arg-type]
                beats.add(trial)
            if _surplus(study, trial, budget):  # another worker asked the last trials of the budget first
                asked.pop()
                beats.remove(trial)
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=TrialState.FAIL)
                break
            params = space.draw(trial)
            asked[-1] = (trial, params, trial_config(layers, params, device))
            if i == 0 and space.family == "mlp":
                shared = {name for p in space.population_params() for name in p.names()}
                fixed = {name: value for name, value in trial.params.items() if name in shared}
                study.sampler = optuna.samplers.PartialFixedSampler(fixed, base_sampler)
    finally:
        study.sampler = base_sampler


def _surplus(study: Any, trial: Any, budget: int) -> bool:
    """Whether `budget` trials numbered before this one are already finished or running (two workers
    that both saw one free trial both ask; the later number gives its trial back, unscored)."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return sum(t.number < trial.number for t in study.get_trials(deepcopy=False, states=states)) >= budget


def _group_key(config: RunConfig) -> tuple[Any, ...]:
    from dataclasses import asdict

    from competition.tune.space import MEMBER_PARAMS

    member = {k.split(".", 1)[1] for k in MEMBER_PARAMS}
    return tuple(sorted((k, v) for k, v in asdict(config.mlp).items() if k not in member))


def _search(study: Any, ctx: TuneContext, space: SearchSpace, layers: list[dict[str, Any]], opts: TuneOptions,
            k: int, beats: Heartbeats, trial_log: TrialLogger, view: LiveView, deadline: float | None) -> None:
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    while True:
        if deadline is not None and time.monotonic() >= deadline:
            view.status("time is up")
            return
        fail_stale_trials(study)  # trials of dead workers: FAIL, and retried (enqueued) by the callback
        counts = study_counts(study)
        done = counts["COMPLETE"] + counts["PRUNED"]
        free = opts.trials - done - counts["RUNNING"]
        view.progress(done, _best(study))
        if free <= 0:
            if counts["RUNNING"] == 0:
                return
            time.sleep(2.0)  # other workers' trials: wait for them to finish (or go stale and be retried)
            continue
        asked: list[tuple[Any, dict[str, Any], RunConfig]] = []
        try:
            _ask_population(study, space, layers, min(k, free), ctx.device, beats, asked, opts.trials)
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, (_, _, cfg) in enumerate(asked):
                groups.setdefault(_group_key(cfg) if space.family == "mlp" else (i,), []).append(i)
            for members in groups.values():
                chosen = [asked[i] for i in members]
                label = f"{len(chosen)} trial{'s' if len(chosen) > 1 else ''}: " + ", ".join(
                    f"#{t.number}" for t, _, _ in chosen)
                view.population(label, chosen[0][2] if space.family == "mlp" else None)
                if space.family == "mlp":
                    outs = evaluate_population(ctx, [c for _, _, c in chosen], [t for t, _, _ in chosen],
                                               opts.report_every, view.epoch, deadline)
                else:
                    outs = [evaluate_by_fold(ctx, chosen[0][2], chosen[0][0], deadline)]
                for (trial, params, _), out in zip(chosen, outs, strict=True):
                    run_id = trial_log.log(trial, params, out, label)
                    trial.set_user_attr("mlflow_run_id", run_id)
                    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
                    if out.pruned:
                        study.tell(trial, state=TrialState.PRUNED)
                    else:
                        trial.set_user_attr("fold_scores", out.fold_scores)
                        trial.set_user_attr("oof_digest", out.oof_digest)
                        study.tell(trial, out.oof_score)
                    beats.remove(trial)
                    view.trial_done(trial.number, out, _best(study))
        except BaseException as exc:
            # Ctrl-C, an error or the timeout: no trial of ours stays RUNNING. A second Ctrl-C waits
            # for these few writes; a trial whose write fails stops beating and goes stale instead.
            unmarked = []
            with deferred_interrupts():
                for trial, _, _ in asked:
                    beats.remove(trial)
                    try:
                        study.tell(trial, state=TrialState.FAIL)
                    except Exception as tell_exc:
                        unmarked.append(f"#{trial.number} ({type(tell_exc).__name__}: {tell_exc})")
            if unmarked:
                view.warn(f"could not mark trial(s) {', '.join(unmarked)} FAIL; without heartbeats they are "
                            f"failed and retried by the next worker after {GRACE_S} s")
            if isinstance(exc, TimeUp):
                view.status("time is up (the trials still training end unscored)")
                return
            raise


def _best(study: Any) -> tuple[int, float] | None:
    try:
        best = study.best_trial
    except ValueError:
        return None
    return best.number, float(best.value)


def _finish(study: Any, ctx: TuneContext, space: SearchSpace, opts: TuneOptions, layers: list[dict[str, Any]],
            workspace: Workspace, spec: Any, data: CompetitionData, logger: Any, study_run: str, uri: str,
            outcome: TuneOutcome, view: LiveView) -> None:
    from optuna.trial import TrialState

    counts = study_counts(study)
    outcome.n_complete, outcome.n_pruned, outcome.n_failed = counts["COMPLETE"], counts["PRUNED"], counts["FAIL"]
    metrics: dict[str, float] = {
        "n_trials_complete": counts["COMPLETE"],
        "n_trials_pruned": counts["PRUNED"],
        "n_trials_failed": counts["FAIL"],
    }
    if _best(study) is None:
        logger.metrics(study_run, metrics)
        return
    best = study.best_trial
    best_settings = space.settings(best.params)
    outcome.best_trial, outcome.best_score, outcome.best_params = best.number, float(best.value), best_settings
    baseline = next((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                     if t.user_attrs.get(BASELINE_ATTR)), None)
    if baseline is not None:
        outcome.default_trial, outcome.default_score = baseline.number, float(baseline.value)
        metrics["default_oof_log_rmse"] = float(baseline.value)
    config = trial_config(layers, best_settings, ctx.device)
    folder = workspace.root / "studies" / outcome.study_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"best-trial-{best.number}.toml"
    header = (f"# comp tune: study {outcome.study_name!r}, trial {best.number}, search OOF log-RMSE {best.value!r}\n"
              f"# comp train {spec.name} --config {path}  reproduces that trial's out-of-fold predictions.\n")
    atomic.write_text(path, header + to_toml(config))
    outcome.best_config = path
    metrics["best_oof_log_rmse"] = float(best.value)
    # Tags, not params: a continued study may find a new best, and MLflow params cannot change.
    logger.tags(study_run, {f"best.{k}": repr(v) for k, v in best_settings.items()}
                | {"best_trial": str(best.number), "best_config": str(path)})

    if opts.keep_best:
        key = f"best_run:{best.number}:{redact(uri)[:150]}"
        outcome.best_run_id = study.user_attrs.get(key)
        if outcome.best_run_id is None:
            view.status(f"training trial {best.number}'s configuration as a run (bundle for predict/blend)")
            from competition.run import train
            from competition.tune.evaluate import oof_digest

            trained = train(spec, opts.data_dir, config, workspace, run_name=f"{outcome.study_name}-best",
                            tracking_uri=opts.tracking_uri, data=data)
            outcome.best_run_id = trained.run_id
            fam = trained.result.families[0]
            outcome.reproduced = oof_digest(fam.oof_log) == best.user_attrs.get("oof_digest")
            logger.tags(trained.run_id, {"study": outcome.study_name, "tune_trial": str(best.number),
                                         "tune_reproduced": str(outcome.reproduced)})
            study.set_user_attr(key, trained.run_id)
            study.set_user_attr(f"{key}:reproduced", outcome.reproduced)
        else:
            outcome.reproduced = study.user_attrs.get(f"{key}:reproduced")
        logger.tags(study_run, {"best_run_id": outcome.best_run_id, "best_reproduced": str(outcome.reproduced)})

    if opts.rescore_seeds > 0:
        default = pin_resolved(build_config(dict(spec.config_defaults), parse_sets(opts.sets),
                                            {"run.model": opts.family}), ctx.device)
        outcome.rescore = rescore(data, config, default, ctx, opts.rescore_seeds, view)
        r = outcome.rescore
        metrics.update({"rescored_best_log_rmse": r.best_mean, "rescored_default_log_rmse": r.default_mean})
        for s, b, d in zip(r.seeds, r.best, r.default, strict=True):
            metrics[f"rescored_best.seed{s}"] = b
            metrics[f"rescored_default.seed{s}"] = d
        logger.tags(study_run, {"rescore_kind": r.kind})
    logger.metrics(study_run, metrics)
    view.status("plots")
    from competition.tune.plots import study_plots

    with study_plots(study) as plots_dir:
        if plots_dir is not None:
            logger.artifacts(study_run, plots_dir, "plots")
