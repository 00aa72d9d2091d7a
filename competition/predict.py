"""`comp predict`: a submission from a bundle alone (features re-applied, no training)."""

from __future__ import annotations

from pathlib import Path

from competition.bundle import find_bundle, load_bundle, predict_test
from competition.competitions.base import CompetitionSpec
from competition.data import cast_columns, read_raw
from competition.devices import resolve_device
from competition.errors import CompError
from competition.paths import Workspace
from competition.submission import build_submission, write_submission


def predict_submission(spec: CompetitionSpec, run: str, data_dir: Path, out: Path | None, workspace: Workspace,
                       device: str = "cpu") -> Path:
    bundle = load_bundle(find_bundle(workspace.models_dir(spec.name), run))
    if bundle.meta["competition"] != spec.name:
        raise CompError(f"Run {bundle.run_id} belongs to {bundle.meta['competition']}, not {spec.name}.")
    schema = bundle.meta["test_schema"]
    expected = list(schema)
    test_path = data_dir / spec.test_file
    raw, extras = read_raw(test_path, spec, spec.test_columns, "Test")
    if expected != spec.test_columns or any(spec.raw_columns[c] != t for c, t in schema.items()):
        raise CompError(f"The bundle of run {bundle.run_id} was trained on a different {spec.test_file} schema "
                        f"than this version of comp expects; retrain it.")
    if extras:
        raise CompError(f"{test_path} has column(s) {extras} that the bundle of run {bundle.run_id} was not "
                        "trained with; the test schema differs from training.")
    test, _ = cast_columns(raw, spec, test_path)
    prepared = spec.prepare(test).frame
    test_log, _ = predict_test(bundle, prepared, resolve_device(device))
    ids = test[spec.id_column].cast(int).to_numpy()
    frame = build_submission(spec, ids, test_log)
    path = out or workspace.submissions_dir(spec.name) / f"{bundle.run_id}.csv"
    return write_submission(frame, path)
