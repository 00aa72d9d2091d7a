"""Bad input through the real CLI: a specific message, a non-zero exit, no traceback, no output.

The cases live in tests/bad_inputs.py, which bench/bad_input_table.py also runs to write
docs/bad-input.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_inputs import CASES, Case, Kit, invoke, run_case, shared_kit, train_args


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return shared_kit(tmp_path_factory.getbasetemp())


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_bad_input(case: Case, kit: Kit, tmp_path: Path) -> None:
    outcome = run_case(case, kit, tmp_path / "ws")
    text = flat(outcome.output)
    assert outcome.exception is None, outcome.output
    assert "Traceback" not in outcome.output
    assert outcome.exit_code == case.exit_code, outcome.output
    for fragment in case.expect:
        assert fragment in text, f"{fragment!r} not in: {text}"
    produced = [f for f in outcome.new_files if f.startswith(("submissions/", "models/"))]
    if case.exit_code != 0:
        assert text.startswith("Error: ") or "\nError: " in outcome.output, outcome.output
        # no partial output: nothing new at all besides what the tracking store keeps of a run
        assert all(f.startswith("mlflow_runs/") for f in outcome.new_files), outcome.new_files
        assert not produced
    elif case.key == "extra_columns":
        assert any(f.startswith("submissions/") for f in produced)
        assert any(f.endswith("bundle.json") for f in produced)


def test_unparsable_values_are_logged_to_mlflow(kit: Kit, tmp_path: Path) -> None:
    """Coerced values are counted in the run too, not only in `comp data info`."""
    from mlflow.tracking import MlflowClient

    from tests.bad_inputs import edit_frame, set_cells

    ws = kit.workspace(tmp_path / "ws")
    edit_frame(ws, "train.csv", set_cells("LotArea", [3, 8], "about 9000"))
    edit_frame(ws, "test.csv", set_cells("LotArea", [0], "n/a?"))
    outcome = invoke(train_args(), ws)
    assert outcome.exit_code == 0, outcome.output
    assert "'LotArea' did not parse" in flat(outcome.output)
    run_id = outcome.output.split("run id:")[1].split()[0]
    client = MlflowClient(tracking_uri=f"sqlite:///{ws / 'mlflow_runs' / 'mlflow.db'}")
    metrics = client.get_run(run_id).data.metrics
    assert metrics["unparsable.LotArea"] == 3


def test_pandas_saved_test_csv_predicts_the_same(kit: Kit, tmp_path: Path) -> None:
    """pd.read_csv + to_csv empties every "NA" level and MasVnrType's "None": the submission must not change."""
    from tests.bad_inputs import _pandas_saved, predict_args

    ws = kit.workspace(tmp_path / "ws", with_bundle=True)
    before = invoke([*predict_args(), "--out", "original.csv"], ws)
    assert before.exit_code == 0, before.output
    _pandas_saved("test.csv")(ws)
    assert ",," in (ws / "data" / "test.csv").read_text()
    after = invoke([*predict_args(), "--out", "pandas.csv"], ws)
    assert after.exit_code == 0, after.output
    assert (ws / "original.csv").read_bytes() == (ws / "pandas.csv").read_bytes()
