"""`comp predict`: a submission from a bundle alone (features re-applied, no training).

A blend bundle is predicted through the bundles of its member runs, which must still be there."""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError

from competition.blend import predict_log
from competition.bundle import find_bundle, load_bundle
from competition.competitions.base import CompetitionSpec
from competition.data import cast_columns, check_ids, read_raw
from competition.devices import resolve_device
from competition.errors import CompError
from competition.paths import Workspace
from competition.submission import build_submission, write_submission


def predict_submission(spec: CompetitionSpec, run: str, data_dir: Path, out: Path | None, workspace: Workspace,
                       device: str = "cpu") -> Path:
    models_dir = workspace.models_dir(spec.name)
    bundle = load_bundle(find_bundle(models_dir, run))
    if bundle.meta.get("competition") != spec.name:
        raise CompError(f"Run {bundle.run_id} belongs to {bundle.meta.get('competition')}, not {spec.name}.")
    schema = bundle.meta.get("test_schema") or {}
    expected = list(schema)
    test_path = data_dir / spec.test_file
    raw, extras = read_raw(test_path, spec, spec.test_columns, "Test")
    if expected != spec.test_columns or any(spec.raw_columns.get(c) != t for c, t in schema.items()):
        raise CompError(f"The bundle of run {bundle.run_id} was trained on a different {spec.test_file} schema "
                        f"than this version of comp expects; retrain it.")
    if extras:
        raise CompError(f"{test_path} has column(s) {extras} that the bundle of run {bundle.run_id} was not "
                        "trained with; the test schema differs from training.")
    test, _ = cast_columns(raw, spec, test_path)
    check_ids(test, spec, test_path)
    prepared = spec.prepare(test).frame
    try:
        test_log = predict_log(bundle, prepared, resolve_device(device), models_dir)  # a blend predicts its members
    except (SafetensorError, OSError, KeyError, IndexError, ValueError, TypeError, RuntimeError) as exc:
        # Bundle files are read as JSON/safetensors only, so a damaged or foreign file fails here, unexecuted.
        raise CompError(f"The bundle of run {bundle.run_id} in {bundle.folder} could not be loaded "
                        f"({type(exc).__name__}: {str(exc)[:200]}); it is damaged or was not written by comp. "
                        "Retrain the run.") from exc
    ids = test[spec.id_column].cast(int).to_numpy()
    frame = build_submission(spec, ids, test_log)
    path = out or workspace.submissions_dir(spec.name) / f"{bundle.run_id}.csv"
    return write_submission(frame, path)
