"""The MLflow pyfunc model of a run: pickle-free, predicts the submission from pandas rows (as
pandas' defaults read them, or as raw text), registers, and serves over HTTP on loopback.

The three doors agree: `comp predict`'s submission, the Python API's predictions and the
pyfunc model's are the same prices."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from competition.ui_server import stop_group
from tests.conftest import FAST_SETS

REGISTERED = "hp-test-model"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, hp_data_dir: Path) -> Iterator[dict]:
    """One finished `comp train` run (via the Python API), registered, in its own workspace."""
    import competition as comp

    ws = tmp_path_factory.mktemp("ws_model")
    settings = dict(s.split("=", 1) for s in FAST_SETS)
    with pytest.MonkeyPatch.context() as mp, contextlib.chdir(ws):
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = comp.train("house-prices", hp_data_dir, model="mlp,ridge", settings=settings, register=REGISTERED)
        uri = f"sqlite:///{ws / 'mlflow_runs' / 'mlflow.db'}"
        yield {"ws": ws, "result": result, "uri": uri, "data": hp_data_dir}


@pytest.fixture()
def tracking(trained: dict, monkeypatch: pytest.MonkeyPatch) -> str:
    import mlflow

    monkeypatch.chdir(trained["ws"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    mlflow.set_tracking_uri(trained["uri"])
    yield trained["uri"]
    mlflow.set_tracking_uri(None)


def submission_text(prices: pd.DataFrame | pl.DataFrame) -> str:
    frame = prices if isinstance(prices, pl.DataFrame) else pl.from_pandas(prices)
    return frame.write_csv(float_precision=2)


def test_pyfunc_model_predicts_the_submission_from_pandas_rows(trained: dict, tracking: str) -> None:
    import mlflow

    result = trained["result"]
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    expected = Path(result.submission).read_text()
    test_csv = trained["data"] / "test.csv"
    raw = pd.read_csv(test_csv, dtype=str, keep_default_na=False)
    assert submission_text(model.predict(raw)) == expected
    # pandas' defaults: 60 -> 60.0 where a column has gaps, "NA" -> NaN; read back as the file's text
    defaults = pd.read_csv(test_csv)
    assert defaults["LotFrontage"].dtype == np.float64 and defaults["Alley"].isna().any()
    with pytest.warns(UserWarning, match="MasVnrType"):
        out = model.predict(defaults)
    sub = pd.read_csv(result.submission)
    # The only rows pandas' defaults make unreadable: MasVnrType "NA" (read back as "None").
    lost = (raw["MasVnrType"] == "NA").to_numpy()
    assert lost.sum() == 1
    assert submission_text(out[~lost]) == submission_text(sub[~lost])
    assert out["Id"].tolist() == sub["Id"].tolist()
    # ... and where that level is given as text, the row is exact again
    fixed = defaults.copy()
    fixed.loc[lost, "MasVnrType"] = "NA"
    fixed.loc[~lost & fixed["MasVnrType"].isna().to_numpy(), "MasVnrType"] = "None"
    assert submission_text(model.predict(fixed)) == expected


def test_three_doors_agree(trained: dict, tracking: str) -> None:
    """`comp predict` (file), the Python API (polars rows) and the pyfunc model (pandas rows)."""
    import mlflow
    from typer.testing import CliRunner

    import competition as comp
    from competition.cli import app

    result = trained["result"]
    out = trained["ws"] / "again.csv"
    cli = CliRunner().invoke(app, ["predict", "house-prices", "--run", result.run_id[:10], "--data-dir",
                                   str(trained["data"]), "--out", str(out)])
    assert cli.exit_code == 0, cli.output
    api = comp.load_run("house-prices", result.run_id).predict(comp.load_data("house-prices", trained["data"]).test)
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED}/1")
    pyfunc = model.predict(pd.read_csv(trained["data"] / "test.csv", dtype=str, keep_default_na=False))
    assert out.read_text() == Path(result.submission).read_text() == submission_text(api) == submission_text(pyfunc)
    np.testing.assert_array_equal(api["SalePrice"].to_numpy(), pyfunc["SalePrice"].to_numpy())


def test_model_is_pickle_free_with_signature_example_and_pinned_requirements(trained: dict, tracking: str) -> None:
    import mlflow
    from mlflow import MlflowClient

    result = trained["result"]
    client = MlflowClient(tracking)
    run = client.get_run(result.run_id)
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{result.run_id}'",
        output_format="list",
    )
    assert len(models) == 1 and models[0].name == "model"
    assert run.data.tags["model_uri"] == f"models:/{models[0].model_id}"
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{models[0].model_id}"))
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    assert "pyfunc_model.py" in files and "code/competition/rows.py" in files
    assert any(f.endswith("/bundle.json") for f in files)
    info = mlflow.models.get_model_info(f"models:/{models[0].model_id}")
    inputs = info.signature.inputs.input_names()
    assert inputs[0] == "Id" and len(inputs) == 80 and "SalePrice" not in inputs
    assert info.signature.outputs.input_names() == ["Id", "SalePrice"]
    example = json.loads((folder / "input_example.json").read_text())
    assert example["columns"][:2] == ["Id", "MSSubClass"] and len(example["data"]) == 3
    requirements = (folder / "requirements.txt").read_text().split()
    for package in ("mlflow", "torch", "polars", "lightgbm", "scikit-learn", "safetensors"):
        assert any(r.startswith(f"{package}==") for r in requirements), requirements
    # the run's own scores travel with the model; the registry holds version 1 of it
    assert models[0].metrics and {m.key for m in models[0].metrics} >= {"oof_log_rmse"}
    version = client.get_model_version(REGISTERED, "1")
    assert version.run_id == result.run_id and version.source == f"models:/{models[0].model_id}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_models_serve_answers_with_the_same_prices(trained: dict, tracking: str) -> None:
    result = trained["result"]
    port = free_port()
    # MLflow starts `uvicorn` by name: the environment's scripts must be on PATH, as in an activated venv.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "PYTHONPATH": os.pathsep.join(sys.path), "PATH": path}
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{result.run_id}/model",
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    log = trained["ws"] / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).status == 200:
                    break
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow models serve did not answer /ping in 240 s"
            time.sleep(0.5)
        rows = pd.read_csv(trained["data"] / "test.csv", dtype=str, keep_default_na=False).head(4)
        body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body.encode(),
                                         {"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
        served = pd.DataFrame(answer["predictions"])
        sub = pd.read_csv(result.submission).head(4)
        assert served["Id"].tolist() == sub["Id"].tolist()
        np.testing.assert_allclose(served["SalePrice"], sub["SalePrice"], atol=0.005, rtol=0)
        # rows that do not fit get the loader's message, as a client error
        bad = json.dumps({"dataframe_split": {"columns": ["Id"], "data": [[1]]}})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", bad.encode(),
                                         {"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=60)
        assert err.value.code == 400 and "missing required column" in err.value.read().decode()
    finally:
        stop_group(server, grace=20)  # the server and its workers: SIGTERM, then SIGKILL what is left


def test_register_option_on_comp_train(workspace: Path, hp_data_dir: Path) -> None:
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from competition.cli import app
    from tests.conftest import sets_args

    out = CliRunner().invoke(app, ["train", "house-prices", "--data-dir", str(hp_data_dir), "--model", "ridge",
                                   "--register", "hp-cli", *sets_args()])
    assert out.exit_code == 0, out.output
    assert "registered as hp-cli version 1" in out.output
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow_runs' / 'mlflow.db'}")
    run_id = next(line.split()[-1] for line in out.output.splitlines() if line.startswith("run id:"))
    assert client.get_model_version("hp-cli", "1").run_id == run_id


def test_model_logging_keeps_the_users_tracking_uri_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """MLflow's temporary-URI context unsets MLFLOW_TRACKING_URI on exit when no global URI was set
    before; the next command would then write to the workspace store instead of the user's."""
    from competition.mlflow_model import _tracking

    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mine)
    with _tracking(f"sqlite:///{tmp_path / 'other.db'}"):
        pass
    assert os.environ["MLFLOW_TRACKING_URI"] == mine
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with _tracking(f"sqlite:///{tmp_path / 'other.db'}"):
        pass
    assert "MLFLOW_TRACKING_URI" not in os.environ
