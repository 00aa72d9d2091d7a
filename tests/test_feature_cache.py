"""The fold-matrix cache under features/: a hit reuses exactly what fitting gives, anything that
changes the matrices misses, and a damaged entry is ignored and rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from competition.competitions import get_spec
from competition.config import build_config
from competition.data import load_competition
from competition.feature_cache import FeatureCache
from competition.features import FeaturePipeline
from competition.training import run_training

FAST = {"run.model": "lasso", "run.folds": 3}


@pytest.fixture()
def ca(ca_data_dir: Path):
    spec = get_spec("california-house-prices")
    return load_competition(spec, ca_data_dir)


def counting_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count FeaturePipeline fits (each one is a cache miss)."""
    calls: list[int] = []
    original = FeaturePipeline.fit_transform_encoded

    def counted(self, enc, y=None):
        calls.append(enc.n_rows)
        return original(self, enc, y)

    monkeypatch.setattr(FeaturePipeline, "fit_transform_encoded", counted)
    return calls


def test_second_run_reads_the_cache_and_gives_the_same_oof_bit_for_bit(ca, tmp_path, monkeypatch) -> None:
    calls = counting_fits(monkeypatch)
    config = build_config(ca.spec.config_defaults, FAST)
    cache = FeatureCache(tmp_path / "features", ca.digest)
    first = run_training(ca, config, "cpu", feature_cache=cache)
    assert len(calls) == 4  # 3 time folds + the refit on all rows
    assert {"features", "lasso.folds", "lasso.refit", "train", "blend"} <= set(first.timings)
    assert len(list((tmp_path / "features").iterdir())) == 4
    second = run_training(ca, config, "cpu", feature_cache=cache)
    assert len(calls) == 4  # nothing fit again
    assert np.array_equal(first.oof_log, second.oof_log, equal_nan=True)
    assert np.array_equal(first.test_log, second.test_log)
    assert [p.to_dict() for p in first.pipelines] == [p.to_dict() for p in second.pipelines]
    # ...and the same as a run without any cache
    plain = run_training(ca, config, "cpu")
    assert np.array_equal(first.oof_log, plain.oof_log, equal_nan=True)


def test_changed_setting_fold_rows_or_data_miss_the_cache(ca, tmp_path, monkeypatch) -> None:
    calls = counting_fits(monkeypatch)
    cache = FeatureCache(tmp_path / "features", ca.digest)
    base = {**FAST, "run.refit_full": "false"}
    run_training(ca, build_config(ca.spec.config_defaults, base), "cpu", feature_cache=cache)
    assert len(calls) == 3
    run_training(ca, build_config(ca.spec.config_defaults, base, {"features.clip": 3.0}), "cpu", feature_cache=cache)
    assert len(calls) == 6  # another feature setting: all folds fit again
    run_training(ca, build_config(ca.spec.config_defaults, base, {"run.folds": 4}), "cpu", feature_cache=cache)
    assert len(calls) == 10  # other fold rows
    other_data = FeatureCache(tmp_path / "features", "another-digest")
    run_training(ca, build_config(ca.spec.config_defaults, base), "cpu", feature_cache=other_data)
    assert len(calls) == 13  # other data
    # a settings change outside the features (the model) reuses the folds
    run_training(ca, build_config(ca.spec.config_defaults, base, {"run.model": "ridge"}), "cpu", feature_cache=cache)
    assert len(calls) == 13


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_meta"])
def test_damaged_entry_is_ignored_and_rebuilt(ca, tmp_path, monkeypatch, damage: str) -> None:
    calls = counting_fits(monkeypatch)
    config = build_config(ca.spec.config_defaults, FAST, {"run.refit_full": "false"})
    cache = FeatureCache(tmp_path / "features", ca.digest)
    first = run_training(ca, config, "cpu", feature_cache=cache)
    entry = sorted((tmp_path / "features").iterdir())[0]
    target = entry / "train.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:200])
    elif damage == "flip":
        raw = bytearray(target.read_bytes())
        raw[-5] ^= 0xFF
        target.write_bytes(bytes(raw))
    else:
        (entry / "meta.json").unlink()
    again = run_training(ca, config, "cpu", feature_cache=cache)
    assert len(calls) == 4  # exactly the damaged fold was fit again
    assert np.array_equal(first.oof_log, again.oof_log, equal_nan=True)
    assert (entry / "meta.json").exists()  # rebuilt in place
