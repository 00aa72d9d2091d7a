"""Shared fixtures: synthetic competition data (never the real files) and a temp workspace."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")  # as competition/__init__.py: before torch loads

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

# Settings that keep end-to-end runs to a few seconds while exercising every code path.
FAST_SETS = [
    "mlp.epochs=6",
    "mlp.patience=3",
    "mlp.hidden=32",
    "run.seeds=2",
    "run.folds=3",
    "lightgbm.max_rounds=60",
    "lightgbm.early_stopping_rounds=20",
]


@pytest.fixture(scope="session")
def hp_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from competition.synthetic import house_prices

    folder = tmp_path_factory.mktemp("hp_data")
    house_prices.write(folder, 240, 120, seed=3)
    return folder


@pytest.fixture(scope="session")
def ca_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from competition.synthetic import california

    folder = tmp_path_factory.mktemp("ca_data")
    california.write(folder, 400, 200, seed=5)
    return folder


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace as the current directory, with its own MLflow sqlite store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def sets_args(*extra: str) -> list[str]:
    args: list[str] = []
    for s in (*FAST_SETS, *extra):
        args += ["--set", s]
    return args
