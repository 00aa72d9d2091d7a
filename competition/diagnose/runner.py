"""`comp diagnose` end to end: load, train what the chosen diagnostics need (batched, once),
write the report atomically under reports/<competition>/<run id>/ and log it to MLflow.

The MLflow run is tagged comp_kind=diagnose so `comp runs` (train and blend runs only) ignores it.
A failed sanity check still writes and logs the report, marks the run FAILED and is reported to
the caller, who exits non-zero.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import torch

from competition import atomic
from competition.competitions.base import CompetitionSpec
from competition.config import RunConfig
from competition.data import CompetitionData, load_competition
from competition.devices import resolve_device
from competition.diagnose import capacity, curves, random_labels, regularization, report, sanity, validation
from competition.diagnose.common import Section
from competition.diagnose.context import DiagnoseContext, Variant
from competition.diagnose.settings import DiagnoseSettings
from competition.errors import CompError
from competition.paths import Workspace
from competition.tracking import RunLogger, git_commit, resolve_tracking_uri

DIAGNOSTICS: dict[str, ModuleType] = {
    "sanity": sanity,
    "curves": curves,
    "capacity": capacity,
    "regularization": regularization,
    "randomlabels": random_labels,
    "validation": validation,
}
"""Run order: sanity first, so a broken pipeline is reported before the sweeps' cost."""


def parse_what(text: str | None) -> list[str]:
    """Comma-separated diagnostic names ('all' or empty: every one), in run order."""
    if not text or text.strip().lower() == "all":
        return list(DIAGNOSTICS)
    asked = [w.strip().lower().replace("-", "").replace("_", "") for w in text.split(",") if w.strip()]
    unknown = [w for w in asked if w not in DIAGNOSTICS]
    if unknown:
        raise CompError(f"Unknown diagnostic(s) {', '.join(unknown)}; choose from {', '.join(DIAGNOSTICS)}.")
    return [k for k in DIAGNOSTICS if k in asked]


@dataclass
class DiagnoseOutcome:
    run_id: str
    report_dir: Path
    report: Path
    sections: list[Section]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> list[Section]:
        return [s for s in self.sections if s.status == "fail"]


def prefetch(ctx: DiagnoseContext, what: list[str]) -> None:
    """Train every variant the chosen diagnostics need on the run's split up front, so variants of
    one shape from different diagnostics (e.g. the default and the regularization sweep) share a call.
    (The validation diagnostic's other splits, and the random-label and sanity runs, train later.)"""
    variants: list[Variant] = []
    with_curves: list[Variant] = []
    for key in what:
        v, c = DIAGNOSTICS[key].plan(ctx)
        variants += v
        with_curves += c
    if variants:
        ctx.evaluate(variants, train_curves=with_curves)


def diagnose(
    spec: CompetitionSpec,
    data_dir: Path,
    config: RunConfig,
    settings: DiagnoseSettings,
    workspace: Workspace,
    what: list[str],
    tracking_uri: str | None = None,
    run_name: str | None = None,
    data: CompetitionData | None = None,
    on_status: Callable[[str], None] | None = None,
) -> DiagnoseOutcome:
    started = time.perf_counter()
    say = on_status or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if data is None:
        data = load_competition(spec, data_dir)
    timings["load"] = time.perf_counter() - t0
    threads_before = torch.get_num_threads()
    device = resolve_device(config.run.device, config.run.threads)
    if device == "cpu" and config.run.threads == 0 and settings.threads > 0:
        torch.set_num_threads(settings.threads)
    uri = resolve_tracking_uri(tracking_uri, workspace)
    logger = RunLogger(uri, spec.name, workspace)
    tags = {
        "comp_kind": "diagnose",
        "competition": spec.name,
        "model": "mlp",
        "diagnostics": ",".join(what),
        "git_commit": git_commit(),
        "data_digest": data.digest,
        "device": device,
    }
    run_id = logger.start(run_name or "diagnose", tags)
    settings_flat = {f"diagnose.{k}": v for k, v in dataclasses.asdict(settings).items()}
    logger.params(run_id, {**config.flat(), **settings_flat})
    report_dir = workspace.reports_dir(spec.name) / run_id
    sections: list[Section] = []
    try:
        with logger.closing(run_id) as run:
            ctx = DiagnoseContext(spec, data, config, settings, device)
            with atomic.folder(report_dir) as tmp:
                t0 = time.perf_counter()
                say(f"training the shared variants ({', '.join(what)})")
                prefetch(ctx, what)
                timings["prefetch"] = time.perf_counter() - t0
                for key in what:
                    say(f"running {key}")
                    t0 = time.perf_counter()
                    section = DIAGNOSTICS[key].run(ctx, tmp)
                    section.seconds = time.perf_counter() - t0
                    sections.append(section)
                timings.update(ctx.timings)
                seconds = time.perf_counter() - started
                header = _header(spec, data, config, settings, ctx, device, seconds)
                report.write(
                    tmp,
                    f"Diagnosis: {spec.name} (run {run_id[:12]})",
                    header,
                    sections,
                    {**{k: v for k, v in config.flat().items() if k.startswith(("mlp.", "run."))}, **settings_flat},
                    {
                        "run_id": run_id,
                        "competition": spec.name,
                        "seconds": seconds,
                        "timings": timings,
                        "split": ctx.split,
                        "device": device,
                    },
                )
            report_path = report_dir / "report.md"
            _log(logger, run_id, sections, report_dir, timings, seconds, ctx)
            failed = any(s.status == "fail" for s in sections)
            run.status = "FAILED" if failed else "FINISHED"
    finally:
        torch.set_num_threads(threads_before)
    return DiagnoseOutcome(run_id, report_dir, report_path, sections, time.perf_counter() - started, timings)


def _header(
    spec: CompetitionSpec,
    data: CompetitionData,
    config: RunConfig,
    settings: DiagnoseSettings,
    ctx: DiagnoseContext,
    device: str,
    seconds: float,
) -> list[str]:
    d = ctx.default
    return [
        f"- When: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; data digest `{data.digest[:16]}`; "
        f"{ctx.n_rows} training rows.",
        f"- Model under diagnosis: MLP {d.depth}×{d.hidden}, {config.mlp.activation}, lr {d.lr:g}, weight decay "
        f"{d.weight_decay:g}, dropout {d.dropout:g}, batch {d.batch_size}.",
        f"- Validation: {ctx.split}, {len(ctx.matrices().folds)} folds ({_repeats(ctx)}) × {settings.seeds} "
        f"seed(s); settings are compared by Nadeau & Bengio's corrected paired t-test at p < {settings.alpha:g} "
        f"with {len(ctx.matrices().folds) - 1} degrees of freedom; diagnostic runs stop at "
        f"{ctx.max_epochs} epochs with patience {ctx.mlp.patience} (the learning-rate schedule keeps "
        f"mlp.epochs={config.mlp.epochs}), so numbers can differ slightly from `comp train`.",
        f"- Compute: {device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch "
        f"threads); {ctx.trained_members} networks trained; wall time {seconds:.0f} s.",
    ]


def _repeats(ctx: DiagnoseContext) -> str:
    k, r = ctx.settings.folds, ctx.settings.repeats
    if ctx.split == "kfold" and r > 1:
        return f"{r} repeats of {k}-fold, each reshuffled"
    return f"one {k}-fold pass" if ctx.split == "kfold" else "time-ordered, repeats do not apply"


def _log(
    logger: RunLogger,
    run_id: str,
    sections: list[Section],
    report_dir: Path,
    timings: dict[str, float],
    seconds: float,
    ctx: DiagnoseContext,
) -> None:
    metrics = {f"{s.key}.{k}": float(v) for s in sections for k, v in s.metrics.items()}
    metrics.update({f"seconds.{k}": v for k, v in timings.items()})
    metrics["seconds.total"] = seconds
    metrics["networks_trained"] = float(ctx.trained_members)
    logger.metrics(run_id, metrics)
    tags = {f"verdict.{s.key}": s.status for s in sections}
    tags["split"] = ctx.split
    worst = (
        "fail"
        if any(s.status == "fail" for s in sections)
        else ("warn" if any(s.status == "warn" for s in sections) else "ok")
    )
    tags["verdict"] = worst
    logger.tags(run_id, tags)
    logger.artifacts(run_id, report_dir, "report")
