"""`comp predict`: a submission from a bundle alone (features re-applied, no training).

A blend bundle is predicted through the bundles of its member runs, which must still be there.
The rows go through `competition.rows`, the same path as the Python API and the MLflow model."""

from __future__ import annotations

from pathlib import Path

from competition.bundle import find_bundle, load_bundle
from competition.competitions.base import CompetitionSpec
from competition.data import read_raw
from competition.devices import resolve_device
from competition.errors import CompError
from competition.paths import Workspace
from competition.rows import predict_text
from competition.submission import build_submission, write_submission


def predict_submission(spec: CompetitionSpec, run: str, data_dir: Path, out: Path | None, workspace: Workspace,
                       device: str = "cpu") -> Path:
    models_dir = workspace.models_dir(spec.name)
    bundle = load_bundle(find_bundle(models_dir, run))
    if bundle.meta.get("competition") != spec.name:
        raise CompError(f"Run {bundle.run_id} belongs to {bundle.meta.get('competition')}, not {spec.name}.")
    test_path = data_dir / spec.test_file
    raw, extras = read_raw(test_path, spec, spec.test_columns, "Test")
    ids, test_log = predict_text(spec, bundle, raw, extras, test_path, models_dir, resolve_device(device))
    frame = build_submission(spec, ids, test_log)
    path = out or workspace.submissions_dir(spec.name) / f"{bundle.run_id}.csv"
    return write_submission(frame, path)
