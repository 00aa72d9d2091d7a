"""The Python API: the README's examples run as written; load, train, load a run and predict
agree with the command line; `import competition` stays cheap."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from competition.errors import CompError

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_blocks(section: str) -> list[str]:
    """The ```python blocks of one `## ` section of the README, in order."""
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_readme_python_api_examples_run_as_written(workspace: Path, hp_data_dir: Path) -> None:
    shutil.copytree(hp_data_dir, workspace / "data" / "house-prices")
    blocks = readme_python_blocks("Python API (notebooks)")
    assert len(blocks) == 3
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LightGBM/sklearn chatter; the values are checked below
        for block in blocks:
            exec(compile(block, "README.md", "exec"), ns)  # the README's own examples
    result, prices, run = ns["result"], ns["prices"], ns["run"]
    # train: the values are the run's own (bundle) values, and the CLI's files exist
    bundle = run.meta
    assert run.run_id == result.run_id and result.oof_score == pytest.approx(bundle["oof_log_rmse"])
    assert result.fold_scores == pytest.approx(bundle["fold_log_rmse"]) and len(result.fold_scores) == 3
    assert result.cv_mean == pytest.approx(np.mean(bundle["fold_log_rmse"]))
    assert set(result.family_scores) == {"mlp", "lasso"}
    assert result.oof.columns == ["Id", "fold", "target_log", "mlp_log", "lasso_log", "blend_log"]
    assert result.oof.height == 240 and result.test_predictions.height == 120
    oof = result.oof.filter(pl.col("fold") >= 0)
    rmse = float(np.sqrt(np.mean((oof["blend_log"] - oof["target_log"]).to_numpy() ** 2)))
    assert rmse == pytest.approx(result.oof_score)
    # predict: the first five rows of the submission `comp train` wrote, to its 2 decimals
    submission = pd.read_csv(result.submission)
    assert isinstance(prices, pd.DataFrame) and list(prices.columns) == ["Id", "SalePrice"]
    assert prices["Id"].tolist() == submission["Id"].head(5).tolist()
    np.testing.assert_allclose(prices["SalePrice"], submission["SalePrice"].head(5), atol=0.005, rtol=0)
    np.testing.assert_allclose(
        np.log(prices["SalePrice"]), result.test_predictions["blend_log"].head(5).to_numpy(), rtol=0, atol=1e-9
    )
    # scikit-learn: the search ran and predicts prices
    assert ns["search"].best_params_["regressor__mlpensembleregressor__weight_decay"] in (0.1, 1.0)
    assert np.all(ns["search"].predict(ns["X"][:3]) > 0)


def test_load_data_pins_missing_tokens_in_both_frame_kinds(hp_data_dir: Path) -> None:
    import competition as comp

    data = comp.load_data("house-prices", hp_data_dir)
    pdata = comp.load_data("house-prices", hp_data_dir, frame="pandas")
    assert isinstance(data.train, pl.DataFrame) and isinstance(pdata.train, pd.DataFrame)
    assert data.train.shape == (240, 81) and data.test.shape == (120, 80)
    # "NA" is a level of Alley ("no alley"), not a missing value: pandas' defaults would lose it
    assert data.train["Alley"].null_count() == 0 and "NA" in data.train["Alley"].to_list()
    assert (pdata.train["Alley"] == "NA").sum() == (data.train["Alley"] == "NA").sum() > 0
    assert pd.read_csv(hp_data_dir / "train.csv")["Alley"].isna().sum() > 0  # what the API avoids
    # "NA" in a numeric column is missing; numbers are numbers
    assert data.train["LotFrontage"].dtype == pl.Float64 and data.train["LotFrontage"].null_count() > 0
    assert data.digest == comp.load_data("house-prices", hp_data_dir).digest
    with pytest.raises(CompError, match="not found"):
        comp.load_data("house-prices", hp_data_dir / "nowhere")


def test_api_settings_layer_like_the_command_line(tmp_path: Path) -> None:
    from competition import cli
    from competition.api import _settings_layers
    from competition.competitions import get_spec

    spec = get_spec("house-prices")
    toml = tmp_path / "c.toml"
    toml.write_text("[mlp]\nhidden = 64\ndropout = 0.1\n[run]\nmodel = 'lightgbm'\n")
    ours = _settings_layers(spec, "mlp,lasso", {"mlp.hidden": 48, "run.folds": "4"}, toml)
    theirs = cli._load_config(
        dict(spec.config_defaults), toml, ["mlp.hidden=48", "run.folds=4"], {"run.model": "mlp,lasso"}
    )
    assert ours == theirs
    assert (ours.mlp.hidden, ours.mlp.dropout, ours.run.folds, ours.run.model) == (48, 0.1, 4, "mlp,lasso")
    with pytest.raises(CompError, match="Unknown setting"):
        _settings_layers(spec, None, {"mlp.hiden": 3}, None)


def test_load_run_and_predict_agree_with_comp_predict(workspace: Path, hp_data_dir: Path) -> None:
    import competition as comp
    from competition.competitions import get_spec
    from competition.paths import Workspace
    from competition.predict import predict_submission

    result = comp.train("house-prices", hp_data_dir, model="ridge", settings={"run.folds": 3}, frame="pandas")
    assert isinstance(result.oof, pd.DataFrame)
    cli_path = predict_submission(get_spec("house-prices"), "latest", hp_data_dir, workspace / "p.csv",
                                  Workspace.current())
    cli = pl.read_csv(cli_path)
    assert cli.equals(pl.read_csv(result.submission))
    for key in ("latest", result.run_id, result.run_id[:8]):
        assert comp.load_run("house-prices", key).run_id == result.run_id
    run = comp.load_run("house-prices", result.run_id[:8])
    # polars rows from the project's loader, and raw text rows: the same prices as the file path
    test = comp.load_data("house-prices", hp_data_dir).test
    from_polars = run.predict(test)
    assert isinstance(from_polars, pl.DataFrame)
    assert from_polars.write_csv(float_precision=2) == cli.write_csv(float_precision=2)
    raw = pd.read_csv(hp_data_dir / "test.csv", dtype=str, keep_default_na=False)
    from_raw = run.predict(raw)
    np.testing.assert_array_equal(from_raw["SalePrice"].to_numpy(), from_polars["SalePrice"].to_numpy())
    # rows in another order and a subset: each row's price is its own
    shuffled = run.predict(raw.iloc[::-7])
    by_id = dict(zip(from_raw["Id"], from_raw["SalePrice"], strict=True))
    assert [by_id[i] for i in shuffled["Id"]] == shuffled["SalePrice"].tolist()
    # the same checks as `comp predict`: a missing column, an extra column, a bad Id
    with pytest.raises(CompError, match=r"missing required column.*LotArea"):
        run.predict(raw.drop(columns=["LotArea"]))
    with pytest.raises(CompError, match="SalePrice"):
        run.predict(raw.assign(SalePrice="1"))
    with pytest.raises(CompError, match=r"'Id'.*row 4"):
        run.predict(raw.head(3).assign(Id=["1461", "1462", "x"]))
    with pytest.raises(CompError, match="DataFrame"):
        run.predict([1, 2, 3])
    with pytest.raises(CompError, match="Unknown run id"):
        comp.load_run("house-prices", "nosuchrun")


def test_import_competition_loads_nothing_heavy() -> None:
    code = (
        "import sys, competition\n"
        "heavy = [m for m in ('torch', 'polars', 'mlflow', 'sklearn', 'pandas', 'lightgbm') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert sorted(competition.__all__) == sorted(n for n in dir(competition) if n in competition.__all__)\n"
        "assert competition.MLPEnsembleRegressor.__module__ == 'competition.estimator'\n"
        "assert callable(competition.train) and callable(competition.load_run) and callable(competition.load_data)\n"
        "import os; assert os.environ['MKL_CBWR'] == 'AUTO,STRICT'\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "MKL_CBWR"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        import competition

        competition.nonexistent  # noqa: B018
