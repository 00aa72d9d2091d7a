"""Safe artifacts, no leaked credentials, and reproducible submissions.

- A bundle is data, never code: a pickle planted in it is refused or ignored, never unpickled.
- Secrets in the environment never reach MLflow or the bundle.
- The same command with the same seed on CPU writes the same submission, byte for byte, also
  from a fresh process with another hash seed (set iteration order changes between processes).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.bad_inputs import (
    CASES,
    COMPETITION,
    PWNED,
    Kit,
    Payload,
    invoke,
    predict_args,
    run_case,
    shared_kit,
    train_args,
)

PACKAGE = Path(__file__).resolve().parents[1] / "competition"


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return shared_kit(tmp_path_factory.getbasetemp())


def bundle_dir(ws: Path) -> Path:
    (folder,) = (ws / "models" / COMPETITION).iterdir()
    return folder


def test_pickle_in_place_of_the_weights_is_refused_unexecuted(kit: Kit, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.key == "tampered_bundle")
    outcome = run_case(case, kit, tmp_path / "ws")
    assert outcome.exit_code == 2, outcome.output
    assert "could not be loaded" in " ".join(outcome.output.split())
    assert "Traceback" not in outcome.output and outcome.exception is None and not outcome.new_files
    assert not (tmp_path / "ws" / PWNED).exists()
    # the planted file is live: an unsafe loader would have run it (torch.load picks its format by
    # the file's extension, so the copy gets a pickle's name)
    weights = next((tmp_path / "ws" / "models").rglob("*.safetensors"))
    probe = tmp_path / "probe.pt"
    probe.write_bytes(weights.read_bytes())
    torch.load(probe, weights_only=False)
    assert (tmp_path / "ws" / PWNED).exists()


def test_pickle_files_named_in_bundle_json_are_ignored(kit: Kit, tmp_path: Path) -> None:
    ws = kit.workspace(tmp_path / "ws", with_bundle=True)
    folder = bundle_dir(ws)
    clean = invoke([*predict_args(), "--out", "clean.csv"], ws)
    assert clean.exit_code == 0, clean.output
    payload = pickle.dumps(Payload(tmp_path / "pwned"))
    for place in (folder / "model.pkl", folder / "mlp" / "cv" / "model.pkl", folder / "features" / "fold_0.pkl"):
        place.write_bytes(payload)
    meta = json.loads((folder / "bundle.json").read_text())
    meta["model_file"] = "model.pkl"
    meta["families"][0]["weights"] = "mlp/cv/model.pkl"
    meta["families"][0]["pipeline"] = "features/fold_0.pkl"
    (folder / "bundle.json").write_text(json.dumps(meta))

    outcome = invoke([*predict_args(), "--out", "again.csv"], ws)
    assert outcome.exit_code == 0, outcome.output
    assert not (tmp_path / "pwned").exists()
    assert (ws / "again.csv").read_bytes() == (ws / "clean.csv").read_bytes()


UNSAFE = {
    "pickle-style import": re.compile(r"^\s*(import|from)\s+(pickle|joblib|dill|cloudpickle|shelve)\b", re.M),
    "pickle-based MLflow flavour": re.compile(r"mlflow\.(pytorch|sklearn|pyfunc|lightgbm)\.(load_model|log_model)"),
    "np.load with pickles": re.compile(r"allow_pickle\s*=\s*True"),
    "pandas read_pickle": re.compile(r"read_pickle\("),
}


def test_load_paths_use_no_pickle() -> None:
    """Every load path reads safetensors, JSON or text; torch.load only with weights_only=True."""
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text()
        for what, pattern in UNSAFE.items():
            assert not pattern.search(text), f"{path}: {what}"
        for call in re.finditer(r"torch\.load\(", text):
            args = text[call.end() : text.find(")", call.end())]
            assert "weights_only=True" in args, f"{path}: torch.load without weights_only=True"


SECRETS = {
    "KAGGLE_KEY": "marker-kaggle-key-7d41c2",
    "KAGGLE_USERNAME": "marker-kaggle-user-93be0a",
    "MLFLOW_TRACKING_TOKEN": "marker-mlflow-token-51fa7e",
}


def test_credentials_are_never_logged(kit: Kit, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    ws = kit.workspace(tmp_path / "ws")
    outcome = invoke(train_args("--run-name", "secrets"), ws, env=dict(SECRETS))
    assert outcome.exit_code == 0, outcome.output
    markers = list(SECRETS.values())
    client = MlflowClient(tracking_uri=f"sqlite:///{ws / 'mlflow_runs' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(COMPETITION).experiment_id])
    assert len(runs) >= 2  # the parent and its fold runs
    for run in runs:
        logged = json.dumps([run.data.params, run.data.tags, run.data.metrics])
        assert not any(m in logged for m in markers)
    # every byte written: MLflow store and artifacts, bundle, submission
    written = [p for p in ws.rglob("*") if p.is_file() and "data" not in p.relative_to(ws).parts]
    assert any(p.name == "bundle.json" for p in written) and any(p.suffix == ".png" for p in written)
    for path in written:
        raw = path.read_bytes()
        assert not any(m.encode() in raw for m in markers), path
    assert not any(m in outcome.output for m in markers)


def test_same_seed_same_submission_bytes(kit: Kit, tmp_path: Path) -> None:
    args = train_args("--set", "run.seed=7", "--set", "run.threads=1")
    first = kit.workspace(tmp_path / "first")
    outcome = invoke(args, first)
    assert outcome.exit_code == 0, outcome.output
    second = kit.workspace(tmp_path / "second")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONHASHSEED"] = "12345"
    done = subprocess.run(
        [sys.executable, "-c", "from competition.cli import app; app()", *args],
        cwd=second,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    def produced(ws: Path, pattern: str) -> bytes:
        (path,) = ws.glob(pattern)
        return path.read_bytes()

    for pattern in ("submissions/*/*.csv", "models/*/*/oof.csv", "models/*/*/test_predictions.csv"):
        assert produced(first, pattern) == produced(second, pattern), pattern
