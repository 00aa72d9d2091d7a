"""The `comp` command line (Typer): data, train, predict, runs, ui, submit."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from competition.competitions import all_specs, get_spec
from competition.config import RunConfig, build_config, load_toml, parse_sets
from competition.errors import CompError
from competition.heap import skip_collection_at_exit
from competition.paths import Workspace

# MLflow's INFO lines ("Creating initial MLflow database tables...") and the progress bar it draws
# while it checks the logged model would land in the middle of comp's own output. Set before
# MLflow is imported; a user who wants them sets these variables.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
skip_collection_at_exit()  # see competition.heap: about 1.5 s at the end of `comp train`

app = typer.Typer(
    help="comp: a Kaggle-style toolkit for tabular regression competitions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Get and inspect competition data.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")
# Help is plain Click text (rich_markup_mode=None): Rich markup would swallow "[default: 5]" and
# "[section]" in help strings. Output never wraps text at the terminal width (soft_wrap), so a
# path or a run id is never split across lines, in a pipe (80 columns) or a narrow terminal.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def say(line: str) -> None:
    """Print one line a script may read (`run id: ...`, `submission: PATH`, scores) to stdout as
    plain text: no markup (a path may hold brackets), no colour highlighting, never wrapped."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def config_default(key: str) -> str:
    """'[default: 3]' for setting `key`, naming competitions whose defaults differ, e.g.
    '[default: 3; california-house-prices: 2]' (for --help texts of options that map to a setting)."""
    base = RunConfig().flat()[key]
    others = [
        f"{spec.name}: {spec.config_defaults[key]}"
        for spec in all_specs().values()
        if key in spec.config_defaults and spec.config_defaults[key] != base
    ]
    return f"[default: {'; '.join([str(base), *others])}]"

CompetitionArg = Annotated[str, typer.Argument(help="Competition name or Kaggle slug, e.g. house-prices.")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder with train.csv/test.csv [default: data/<competition>].")
]
TrackingOpt = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI [default: sqlite:///<cwd>/mlflow_runs/mlflow.db]."),
]


def fail(exc: Exception) -> None:
    # Escaped: messages quote file contents (header names, values) that may look like markup.
    # Not wrapped: a path or column name cut at the console width is harder to copy.
    err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=getattr(exc, "exit_code", 2))  # 2 bad input, 3 environment (competition.errors)


def tracking_failure(exc: Exception, tracking_uri: str | None) -> CompError | None:
    """A CompError/EnvironmentFailure for MLflow's own errors and environment OSErrors (disk full,
    read-only); None for anything else (a bug: its traceback is shown)."""
    from competition.errors import environment_failure, is_environment_os_error

    if is_environment_os_error(exc):
        return environment_failure(exc, "write the run's files")  # type: ignore[arg-type]
    from mlflow.exceptions import MlflowException

    from competition.tracking import store_failure

    uri = tracking_uri or str(Workspace.current().default_tracking_uri)
    if isinstance(exc, MlflowException) or type(exc).__module__.startswith("sqlalchemy"):
        failure = store_failure(uri, exc)
        if failure is not None:
            return failure
    if isinstance(exc, MlflowException):
        return CompError(f"MLflow tracking failed ({tracking_uri or 'workspace store'}): {exc}")
    return None


def interrupted_message(exc: BaseException, competition: str, data_dir: Path | None, tracking_uri: str | None) -> None:
    """What an interruption left on disk, the run id, and the exact command that resumes it."""
    import shlex

    from competition.run import RunInterrupted
    from competition.signals import signal_name, signal_number

    how = signal_name(signal_number(exc))
    if not isinstance(exc, RunInterrupted):
        err_console.print(f"[yellow]Interrupted ({how}) before a run was recorded; nothing was written.",
                          highlight=False, soft_wrap=True)
        return
    marked = "is marked KILLED, with its fold runs" if exc.marked else "could not be marked KILLED"
    lines = [f"Interrupted ({how}): run {exc.run_id} {marked}."]
    if exc.bundle is not None or exc.submission is not None:
        done = [f"bundle {exc.bundle}" if exc.bundle else "", f"submission {exc.submission}" if exc.submission else ""]
        lines.append("Already written: " + ", ".join(d for d in done if d) + " (complete files).")
        if exc.submission is None:
            lines.append("No submission written.")
    else:
        lines.append("No bundle or submission written.")
    if exc.resumable:
        cmd = ["comp", "train", competition, "--resume", exc.run_id]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        if tracking_uri is not None:
            cmd += ["--tracking-uri", tracking_uri]
        lines.append(f"run id: {exc.run_id}")
        lines.append("Resume with: " + " ".join(shlex.quote(c) for c in cmd))
    for line in lines:
        err_console.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal,
    )


@contextlib.contextmanager
def warnings_shown() -> Iterator[None]:
    """Print each warning raised inside the block (values that did not parse, normalized cells,
    unpacked archives) as one 'Warning: ...' line on stderr when the block ends."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        err_console.print(f"[yellow]Warning:[/] {escape(str(w.message))}", highlight=False, soft_wrap=True)


def data_dir_for(competition: str, data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else Workspace.current().data_dir(competition)


@data_app.command("download")
def data_download(competition: CompetitionArg, data_dir: DataDirOpt = None) -> None:
    """Download the competition files with the kaggle package (needs your Kaggle API token)."""
    from competition import kaggle_client

    try:
        spec = get_spec(competition)
        target = data_dir_for(spec.name, data_dir)
        files = kaggle_client.download(spec.kaggle_slug, target)
    except CompError as exc:
        fail(exc)
    say(f"Downloaded {len(files)} files to {target}: {', '.join(p.name for p in files)}")


@data_app.command("info")
def data_info(competition: CompetitionArg, data_dir: DataDirOpt = None) -> None:
    """Shapes, column types, missing values, the target, and values that did not parse."""
    from competition.data import load_competition
    from competition.info import describe

    try:
        spec = get_spec(competition)
        with warnings_shown():
            data = load_competition(spec, data_dir_for(spec.name, data_dir))
        describe(data, console)
    except CompError as exc:
        fail(exc)


@data_app.command("synth")
def data_synth(
    competition: CompetitionArg,
    out: Annotated[Path, typer.Option("--out", help="Folder to write train.csv/test.csv into.")],
    rows: Annotated[int, typer.Option(help="Training rows.")] = 1000,
    test_rows: Annotated[int, typer.Option(help="Test rows.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write synthetic data in the competition's exact schema (for tests, demos and benchmarks)."""
    try:
        spec = get_spec(competition)
        from competition.synthetic import generator_for

        generator_for(spec.name).write(out, rows, test_rows, seed)
    except CompError as exc:
        fail(exc)
    except (ValueError, OSError) as exc:  # row counts out of range, an --out folder that cannot be made
        fail(CompError(f"Could not write synthetic data to {out}: {exc}"))
    say(f"Wrote synthetic {spec.name} data ({rows} train, {test_rows} test rows) to {out}")


def _load_config(spec_defaults: dict, config_file: Path | None, sets: list[str], cli: dict) -> RunConfig:
    layers = [spec_defaults]
    if config_file is not None:
        layers.append(load_toml(config_file))
    layers.append({k: v for k, v in cli.items() if v is not None})
    layers.append(parse_sets(sets))
    return build_config(*layers)


@app.command()
def train(
    competition: CompetitionArg,
    data_dir: DataDirOpt = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="mlp, lightgbm, ridge, lasso, elasticnet; several comma-separated are trained and blended "
            f"(the three-family blend: mlp,lightgbm,lasso). {config_default('run.model')}"
        ),
    ] = None,
    folds: Annotated[int | None, typer.Option(help=f"Number of folds. {config_default('run.folds')}")] = None,
    split: Annotated[
        str | None,
        typer.Option(help="kfold | time | holdout | auto [default: auto, the competition's split].")
    ] = None,
    seeds: Annotated[int | None, typer.Option(help=f"Seeds per fold. {config_default('run.seeds')}")] = None,
    epochs: Annotated[
        int | None,
        typer.Option(help=f"Maximum MLP epochs (early stopping may end sooner). {config_default('mlp.epochs')}"),
    ] = None,
    device: Annotated[str | None, typer.Option(help=f"auto | cpu | cuda. {config_default('run.device')}")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="TOML file with [section] key = value.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a setting: key=value (repeatable), e.g. --set mlp.hidden=512."),
    ] = None,
    run_name: Annotated[str | None, typer.Option(help="Name of the MLflow run.")] = None,
    tracking_uri: TrackingOpt = None,
    refit_full: Annotated[
        bool | None,
        typer.Option(
            "--refit-full/--no-refit-full",
            help="Retrain on all rows for the submission (run.refit_full) [default: auto, the split's choice].",
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue an interrupted run from its last finished fold (same config; "
            "the final result is the same as an uninterrupted run's).",
        ),
    ] = None,
    from_run: Annotated[
        str | None,
        typer.Option(
            "--from-run",
            help="Start from the exact config of an earlier run (its bundle); options given here still override.",
        ),
    ] = None,
    register: Annotated[
        str | None,
        typer.Option("--register", help="Also register the run's MLflow model under this name in the model registry."),
    ] = None,
) -> None:
    """Train with cross-validation, track in MLflow, save a bundle and write a submission."""
    from competition.data import load_competition
    from competition.run import train as run_train
    from competition.signals import exit_code, interrupts_as_keyboard

    spec_name = competition
    try:
        with interrupts_as_keyboard():  # SIGTERM/SIGHUP end the run like Ctrl-C
            spec = get_spec(competition)
            spec_name = spec.name
            base = dict(spec.config_defaults)
            expected_digest = None
            if from_run is not None:
                from competition.bundle import find_bundle, load_bundle

                earlier = load_bundle(find_bundle(Workspace.current().models_dir(spec.name), from_run))
                base = {f"{sec}.{k}": v for sec, vals in earlier.meta["config"].items() for k, v in vals.items()}
                expected_digest = earlier.meta["data_digest"]
            config = _load_config(
                base,
                config_file,
                set_ or [],
                {
                    "run.model": model,
                    "run.folds": folds,
                    "run.split": split,
                    "run.seeds": seeds,
                    "mlp.epochs": epochs,
                    "run.device": device,
                    "run.refit_full": None if refit_full is None else str(refit_full).lower(),
                },
            )
            with warnings_shown():  # values that did not parse, normalized cells
                data = load_competition(spec, data_dir_for(spec.name, data_dir))
            if resume is not None:
                from competition.run import resume_config

                config, digest, resume = resume_config(Workspace.current(), spec.name, resume)
                if digest != data.digest:
                    raise CompError(
                        f"Run {resume} was trained on different data (digest {digest[:12]}, now "
                        f"{data.digest[:12]}); resume it with the same files, or start a new run."
                    )
            if expected_digest is not None and data.digest != expected_digest:
                err_console.print(
                    f"[yellow]Warning:[/] the data differs from run {from_run}'s (digest {data.digest[:12]} vs "
                    f"{expected_digest[:12]}): the results will differ."
                )
            with progress_bar() as progress:
                outcome = run_train(
                    spec,
                    data_dir_for(spec.name, data_dir),
                    config,
                    Workspace.current(),
                    run_name=run_name,
                    tracking_uri=tracking_uri,
                    progress=progress,
                    data=data,
                    resume=resume,
                    register=register,
                )
    except CompError as exc:
        fail(exc)
    except KeyboardInterrupt as exc:
        interrupted_message(exc, spec_name, data_dir, tracking_uri)
        raise typer.Exit(code=exit_code(exc)) from None
    except Exception as exc:  # MLflow's own errors (e.g. an unsupported --tracking-uri), disk full, read-only
        failure = tracking_failure(exc, tracking_uri)
        if failure is None:
            raise
        fail(failure)
    r = outcome.result
    for fam in r.families:
        say(
            f"  {fam.name:<10} OOF log-RMSE {fam.oof_score:.5f}  folds {' '.join(f'{s:.4f}' for s in fam.fold_scores)}"
            f"  [{fam.prediction_path}, {fam.seconds:.1f}s]"
        )
    if len(r.families) > 1:
        say(
            "  blend weights: "
            + ", ".join(f"{k} {v:.3f}" for k, v in r.blend_weights.items())
            + f"  (blend OOF with each fold's weights fit on the other folds: {r.blend_crossfit_score:.5f})"
        )
    import numpy as np

    say(f"run id: {outcome.run_id}")
    say(
        f"CV log-RMSE ({r.split}, {len(r.folds)} folds, {int(r.validated.sum())} validated rows): "
        f"mean {np.mean(r.fold_scores):.5f} ± {np.std(r.fold_scores):.5f}, OOF {r.oof_score:.5f}"
    )
    say(f"submission: {outcome.submission}")
    say(f"mlflow model: {outcome.model_uri}" + (
        f" (registered as {register} version {outcome.registered_version})" if outcome.registered_version else ""
    ))
    say(phase_summary(outcome.timings))


@app.command()
def predict(
    competition: CompetitionArg,
    run: Annotated[str, typer.Option(help="Run id (or unique prefix) or 'latest'.")] = "latest",
    out: Annotated[Path | None, typer.Option(help="Output CSV [default: submissions/<competition>/<run>.csv].")] = None,
    data_dir: DataDirOpt = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "cpu",
) -> None:
    """Rebuild a submission from a saved model bundle (no retraining)."""
    from competition.predict import predict_submission

    try:
        spec = get_spec(competition)
        with warnings_shown():  # test values that did not parse, normalized cells
            path = predict_submission(spec, run, data_dir_for(spec.name, data_dir), out, Workspace.current(), device)
    except CompError as exc:
        fail(exc)
    except OSError as exc:
        from competition.errors import environment_failure, is_environment_os_error

        if not is_environment_os_error(exc):
            raise
        fail(environment_failure(exc, "write the submission"))
    say(f"submission: {path}")


@app.command()
def runs(
    competition: CompetitionArg,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Runs of a competition sorted by OOF log-RMSE (best first)."""
    from competition.runs_table import list_runs, render

    try:
        spec = get_spec(competition)
        rows = list_runs(spec.name, tracking_uri, Workspace.current(), limit)
    except CompError as exc:
        fail(exc)
    except Exception as exc:  # MLflow's own errors (e.g. an unsupported --tracking-uri), a damaged store
        failure = tracking_failure(exc, tracking_uri)
        if failure is None:
            raise
        fail(failure)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
    elif fmt == "table":
        render(rows, console, spec.name)
    else:
        fail(CompError(f"--format must be table or json; got {fmt!r}."))


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
    host: Annotated[str, typer.Option(help="Host to bind.")] = "127.0.0.1",
    tracking_uri: TrackingOpt = None,
    start_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the server to answer before giving up (exit 3).")
    ] = 180.0,
) -> None:
    """Start the MLflow UI on the workspace's store; Ctrl-C (or SIGTERM) stops it and all its workers.

    Exits 0 when stopped (Ctrl-C, SIGTERM, SIGHUP), 2 when the port is taken, 3 when the server does
    not start or stops on its own."""
    from competition.tracking import resolve_tracking_uri
    from competition.ui_server import serve

    ws = Workspace.current()
    uri = resolve_tracking_uri(tracking_uri, ws)
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    if uri.startswith("sqlite:"):
        cmd += ["--default-artifact-root", ws.artifact_root.as_uri()]
    say(f"Starting the MLflow UI on http://{host}:{port} (store {uri}) ...")
    try:
        code = serve(
            cmd,
            host,
            port,
            start_timeout=start_timeout,
            on_ready=lambda: say(f"MLflow UI on http://{host}:{port}; Ctrl-C to stop."),
            on_status=lambda msg: err_console.print(f"comp ui: {msg}", markup=False, highlight=False),
        )
    except CompError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command()
def submit(
    competition: CompetitionArg,
    file: Annotated[Path, typer.Argument(help="Submission CSV to upload.")],
    message: Annotated[str, typer.Option("-m", "--message", help="Submission description.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Check a submission file as `train` checks its own (columns, one row per test Id, positive finite
    prices; the test Ids are read from --data-dir), then upload it to Kaggle with the kaggle package.
    Nothing is uploaded when the check fails (exit 2)."""
    from competition import kaggle_client
    from competition.submission import check_submission_file

    try:
        spec = get_spec(competition)
        check_submission_file(spec, file, data_dir_for(spec.name, data_dir))
        msg = kaggle_client.submit(spec.kaggle_slug, file, message)
    except CompError as exc:
        fail(exc)
    say(f"Submitted {file} to {spec.kaggle_slug}: {msg}")


@app.command("config")
def show_config(
    competition: Annotated[
        str | None, typer.Argument(help="Show this competition's defaults [default: none, the toolkit's own].")
    ] = None,
) -> None:
    """List every setting (`--set key=value`) with its default and what it accepts."""
    from competition.config import describe_allowed

    try:
        defaults = get_spec(competition).config_defaults if competition else {}
        cfg = build_config(defaults)
    except CompError as exc:
        fail(exc)
    table = Table()
    for column in ("setting", "value", "allowed"):
        table.add_column(column, no_wrap=column != "allowed", overflow="fold")
    for key, value in cfg.flat().items():
        table.add_row(key, repr(value), describe_allowed(key))
    console.print(table)


@app.command()
def competitions() -> None:
    """List the competitions comp knows."""
    table = Table()
    for column in ("name", "kaggle slug", "id", "target", "default split"):
        table.add_column(column, no_wrap=True)
    for spec in all_specs().values():
        table.add_row(spec.name, spec.kaggle_slug, spec.id_column, spec.target_column, spec.default_split)
    console.print(table)


def phase_summary(timings: dict[str, float]) -> str:
    """'seconds: load 1.0 · features 4.2 · ...' in the order the phases ran (also logged as seconds.*)."""
    from competition.run import phase_seconds

    return "seconds: " + " · ".join(f"{name} {sec:.1f}" for name, sec in phase_seconds(timings))


@app.command()
def blend(
    competition: CompetitionArg,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or unique prefixes) to blend.")],
    method: Annotated[
        str | None,
        typer.Option(help=f"mean | nnls | ridge: how weights are fit on OOF rows. {config_default('run.blend')}"),
    ] = None,
    run_name: Annotated[str | None, typer.Option(help="Name of the MLflow run.")] = None,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Blend earlier runs from their saved out-of-fold predictions; track, bundle and submit the blend."""
    from competition.blend import model_label, run_blend
    from competition.signals import exit_code, interrupts_as_keyboard, signal_name, signal_number

    try:
        with interrupts_as_keyboard():  # SIGTERM/SIGHUP end the blend run like Ctrl-C
            spec = get_spec(competition)
            outcome = run_blend(
                spec,
                run_ids,
                method or RunConfig().run.blend,
                Workspace.current(),
                run_name=run_name,
                tracking_uri=tracking_uri,
            )
    except CompError as exc:
        fail(exc)
    except KeyboardInterrupt as exc:
        err_console.print(f"[yellow]Interrupted ({signal_name(signal_number(exc))}): a blend run already started is "
                          "marked KILLED; run the same command again to blend.", highlight=False, soft_wrap=True)
        raise typer.Exit(code=exit_code(exc)) from None
    except Exception as exc:  # MLflow's own errors, disk full, read-only
        failure = tracking_failure(exc, tracking_uri)
        if failure is None:
            raise
        fail(failure)
    r = outcome.result
    table = Table()
    for column in ("member run", "model", "OOF log-RMSE", "weight"):
        table.add_column(column, no_wrap=True)
    for m in r.members:
        table.add_row(m.run_id[:12], model_label(m.bundle), f"{m.oof_score:.5f}", f"{r.weights[m.run_id]:.3f}")
    table.add_row("blend", r.method, f"{r.oof_score:.5f}", "")
    console.print(table)
    say(f"run id: {outcome.run_id}")
    say(
        f"Blend OOF log-RMSE ({r.n_validated} validated rows): {r.oof_score:.5f}; fold mean "
        f"{sum(r.fold_scores) / len(r.fold_scores):.5f}; with each fold's weights fit on the other folds: "
        f"{r.crossfit_score:.5f}"
    )
    say(f"submission: {outcome.submission}")


@app.command()
def diagnose(
    competition: CompetitionArg,
    data_dir: DataDirOpt = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="TOML file with [section] key = value ([diagnose] too).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a setting, key=value (repeatable); diagnose.* too, e.g. diagnose.folds=5."
        ),
    ] = None,
    what: Annotated[
        str,
        typer.Option(help="Comma-separated: sanity,curves,capacity,regularization,randomlabels,validation (or all)."),
    ] = "all",
    run_name: Annotated[str | None, typer.Option(help="Name of the MLflow run.")] = None,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Diagnose the MLP: learning curves, capacity and regularization sweeps, random labels, sanity checks and
    the validation scheme; writes reports/<competition>/<run id>/report.md with plots and logs it to MLflow."""
    from competition.diagnose import build_settings, parse_what, split_settings
    from competition.diagnose import diagnose as run_diagnose

    badge = {"ok": "[green]OK[/]", "warn": "[yellow]WARNING[/]", "fail": "[bold red]FAILED[/]", "skip": "[dim]skip[/]"}
    try:
        spec = get_spec(competition)
        file_layer = load_toml(config_file) if config_file is not None else {}
        file_run, file_diag = split_settings(file_layer)
        set_run, set_diag = split_settings(parse_sets(set_ or []))
        config = build_config(spec.config_defaults, file_run, set_run)
        settings = build_settings(file_diag, set_diag)
        chosen = parse_what(what)
        outcome = run_diagnose(
            spec,
            data_dir_for(spec.name, data_dir),
            config,
            settings,
            Workspace.current(),
            chosen,
            tracking_uri=tracking_uri,
            run_name=run_name,
            on_status=lambda msg: err_console.print(f"[dim]diagnose: {escape(msg)}[/]", highlight=False),
        )
    except CompError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted: the MLflow run is marked KILLED; no report written.")
        raise typer.Exit(code=130) from None
    for s in outcome.sections:
        console.print(f"{s.title}: {badge[s.status]} {escape(s.verdict)}", highlight=False)
    say(f"run id: {outcome.run_id}")
    say(f"report: {outcome.report}  ({outcome.seconds:.0f} s)")
    if outcome.failed:
        names = ", ".join(s.title.lower() for s in outcome.failed)
        err_console.print(
            f"[bold red]Diagnosis failed ({names}):[/] this points to a bug in the pipeline, not a tuning problem; "
            f"see {outcome.report}.",
            highlight=False,
        )
        raise typer.Exit(code=1)


def _parse_duration(text: str | None) -> float | None:
    """'90s', '30m', '2h' or plain seconds -> seconds."""
    if text is None:
        return None
    raw = text.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(raw[-1:])
    number = raw[:-1] if scale else raw
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise CompError(f"--timeout expects a duration such as 90s, 30m or 2h; got {text!r}.") from None
    if not seconds > 0:
        raise CompError(f"--timeout must be positive; got {text!r}.")
    return seconds


@app.command()
def tune(
    competition: CompetitionArg,
    model: Annotated[str, typer.Option(help="Family to tune: mlp, lightgbm, ridge, lasso or elasticnet.")],
    trials: Annotated[
        int, typer.Option(help="The study's trial budget: finished trials of every worker together.")
    ] = 20,
    timeout: Annotated[
        str | None, typer.Option(help="Stop asking for trials after this long, e.g. 30m [default: no limit].")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study name [default: <competition>-<model>].")] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna storage URL, e.g. postgresql://user:pw@host/db [default: studies/optuna.db]."),
    ] = None,
    tracking_uri: TrackingOpt = None,
    space: Annotated[
        Path | None,
        typer.Option("--space", help="TOML file overriding the search space [default: the built-in space]."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Fix a setting for every trial: key=value (repeatable)."),
    ] = None,
    data_dir: DataDirOpt = None,
    population: Annotated[
        int,
        typer.Option(
            help="MLP trials trained together as one batched network (0: by device) [default: 1 on CPU, 64 on CUDA].",
            show_default=False,
        ),
    ] = 0,
    rescore_seeds: Annotated[
        int, typer.Option(help="Fresh fold seeds to re-score the best and the default configuration on (0: none).")
    ] = 3,
    keep_best: Annotated[
        bool, typer.Option("--keep-best/--no-keep-best", help="Train the best configuration as a run with a bundle.")
    ] = True,
) -> None:
    """Search settings of one family with Optuna; the same command on many machines shares one study."""
    from competition.tune.live import LiveView
    from competition.tune.runner import TuneOptions, run_tune

    view = None
    try:
        if trials < 1:
            raise CompError(f"--trials must be at least 1; got {trials}.")
        if population < 0:
            raise CompError(f"--population must be at least 1 (or 0: by device); got {population}.")
        if rescore_seeds < 0:
            raise CompError(f"--rescore-seeds must be 0 or more; got {rescore_seeds}.")
        spec = get_spec(competition)
        opts = TuneOptions(
            competition=spec.name,
            data_dir=data_dir_for(spec.name, data_dir),
            family=model.strip(),
            trials=trials,
            timeout_s=_parse_duration(timeout),
            study_name=study,
            storage=storage,
            tracking_uri=tracking_uri,
            space_file=space,
            sets=set_ or [],
            population=population,
            rescore_seeds=rescore_seeds,
            keep_best=keep_best,
        )
        view = LiveView(enabled=True, console=err_console)
        from competition.signals import interrupts_as_keyboard

        with interrupts_as_keyboard():  # SIGTERM/SIGHUP end the worker like Ctrl-C
            outcome = run_tune(opts, Workspace.current(), spec, view)
    except CompError as exc:
        if view is not None:
            view.close()
        fail(exc)
    except KeyboardInterrupt as exc:
        from competition.signals import exit_code

        if view is not None:
            view.close()
        err_console.print(
            "[yellow]Interrupted: this worker's running trials are marked FAILED and the study run KILLED; "
            "run the same command again to continue the study."
        )
        raise typer.Exit(code=exit_code(exc)) from None
    except Exception as exc:
        if view is not None:
            view.close()
        from mlflow.exceptions import MlflowException

        if not isinstance(exc, MlflowException):
            raise
        fail(CompError(f"MLflow tracking failed ({tracking_uri or 'workspace store'}): {exc}"))
    view.close()
    o = outcome
    console.print(
        f"study {o.study_name} ({o.storage}): {o.n_complete} complete, {o.n_pruned} pruned, {o.n_failed} failed trials"
    )
    if o.best_trial is None:
        console.print("no finished trial yet: run the command again to continue the study.")
        return
    console.print(f"best trial {o.best_trial}: search OOF log-RMSE [bold]{o.best_score:.5f}[/]")
    for key, value in o.best_params.items():
        console.print(f"  {key} = {value!r}", highlight=False)
    if o.default_trial is not None:
        same = " (the search found nothing better)" if o.default_trial == o.best_trial else ""
        console.print(f"default configuration: trial {o.default_trial}, search OOF log-RMSE "
                      f"{o.default_score:.5f}{same}")
    if o.rescore is not None:
        r = o.rescore
        where = "the latest block held out of the search" if r.kind == "latest-block" else (
            f"{len(r.seeds)} fresh fold seeds")
        console.print(
            f"re-scored on {where}: best {r.best_mean:.5f}, default {r.default_mean:.5f} "
            f"(tuned {100 * (r.best_mean - r.default_mean) / r.default_mean:+.1f}% vs default; lower is better)"
        )
    if o.best_run_id is not None:
        note = {True: "reproduces the trial's OOF bit for bit", False: "OOF differs from the trial's",
                None: "not checked"}[o.reproduced]
        say(f"best run: {o.best_run_id} ({note})")
    say(f"study run: {o.study_run_id}")
    say(f"best config: {o.best_config}")


if __name__ == "__main__":  # `python -m competition.cli ...`; keep last, after every command is registered
    app()
