"""FeaturePipeline: everything is fit on the training part only (leakage tests) and round-trips as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from competition.competitions import get_spec
from competition.data import load_competition
from competition.features import FeatureConfig, FeaturePipeline, encode_frame
from competition.training import prepare_frames


@pytest.fixture(scope="module", params=["house-prices", "california-house-prices"])
def prepared(request: pytest.FixtureRequest, hp_data_dir: Path, ca_data_dir: Path) -> tuple:
    spec = get_spec(request.param)
    data = load_competition(spec, hp_data_dir if spec.name == "house-prices" else ca_data_dir)
    train, test, _ = prepare_frames(spec, data)
    return spec, train, test, data.y_log


@pytest.fixture(scope="module")
def ca_prepared(ca_data_dir: Path) -> tuple:
    """California has the target-encoded and free-text columns House Prices lacks."""
    spec = get_spec("california-house-prices")
    data = load_competition(spec, ca_data_dir)
    train, test, _ = prepare_frames(spec, data)
    return spec, train, test, data.y_log


def fitted_state(spec, frame: pl.DataFrame, y: np.ndarray) -> str:
    pipe = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=2))
    pipe.fit(frame, y)
    return json.dumps(pipe.state_, sort_keys=True)


def scramble(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Same schema, different rows: every column shuffled independently."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame({c: frame[c].gather(rng.permutation(frame.height)) for c in frame.columns})


def test_state_depends_only_on_training_rows(prepared: tuple) -> None:
    spec, train, test, y = prepared
    n = train.height
    train_rows = np.arange(0, int(n * 0.7))
    other = np.arange(int(n * 0.7), n)
    base = fitted_state(spec, train[train_rows], y[train_rows])
    # Fit sees only the training rows; validation rows, their targets and test rows can be anything.
    y_changed = y.copy()
    y_changed[other] += 3.0
    assert fitted_state(spec, train[train_rows], y_changed[train_rows]) == base
    pipe = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=2))
    x_before = pipe.fit_transform(train[train_rows], y[train_rows])
    a = pipe.transform(train[other])
    pipe.transform(scramble(test, 1))  # transforming other rows never changes the state
    assert json.dumps(pipe.state_, sort_keys=True) == base
    assert np.array_equal(a, pipe.transform(train[other]))
    # ...while changing a training row does change what was fit (the test above is not vacuous)
    changed = scramble(train[train_rows], 2)
    assert fitted_state(spec, changed, y[train_rows]) != base
    assert x_before.shape[0] == len(train_rows) and np.isfinite(x_before).all()


def test_json_round_trip_gives_identical_matrices(prepared: tuple, tmp_path: Path) -> None:
    spec, train, test, y = prepared
    pipe = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=2))
    pipe.fit(train, y)
    pipe.save(tmp_path / "state.json")
    again = FeaturePipeline.load(tmp_path / "state.json")
    assert np.array_equal(pipe.transform(test), again.transform(test))
    assert again.feature_names_ == pipe.feature_names_
    assert len(pipe.feature_names_) == pipe.transform(test).shape[1]


def test_target_encoding_of_a_training_row_ignores_its_own_target(ca_prepared: tuple) -> None:
    spec, train, _, y = ca_prepared
    pipe = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=2))
    values = encode_frame(spec.features, train).levels[spec.features.high_cardinality[0]]
    y2 = y.copy()
    y2[10] += 5.0
    before = pipe._oof_target_encoding(values, y)
    after = pipe._oof_target_encoding(values, y2)
    assert after[10] == before[10]  # the row's own target never reaches its own encoding
    assert np.any(after != before)  # other rows' encodings do use it (the test is not vacuous)


def test_text_vocabulary_comes_from_training_rows_only(ca_prepared: tuple) -> None:
    spec, train, test, y = ca_prepared
    col = spec.features.text[0]
    marker = "zzqqxmarker"
    test_marked = test.with_columns(pl.lit(f"{marker} {marker} {marker}").alias(col))
    pipe = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=1))
    pipe.fit(train, y)
    assert marker not in pipe.state_["text"][0]["vocabulary"]
    assert np.isfinite(pipe.transform(test_marked)).all()
    trained_marked = train.with_columns(pl.lit(f"{marker} words").alias(col))
    pipe.fit(trained_marked, y)
    assert marker in pipe.state_["text"][0]["vocabulary"]


def test_unseen_categories_map_to_other(prepared: tuple) -> None:
    spec, train, test, y = prepared
    col = spec.features.categorical[0]
    pipe = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3))
    pipe.fit(train, y)
    unseen = test.with_columns(pl.lit("never-seen-level").alias(col))
    x = pipe.transform(unseen)
    j = pipe.feature_names_.index(f"{col}=__other__")
    assert (x[:, j] == 1).all()


def test_training_rows_get_the_same_text_features_when_fitting_as_when_transforming(ca_prepared: tuple) -> None:
    spec, train, _, y = ca_prepared
    pipe = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=2))
    fitted = pipe.fit_transform(train, y)
    again = pipe.transform(train)
    text_cols = [j for j, nm in enumerate(pipe.feature_names_) if "__svd" in nm]
    assert text_cols
    assert np.array_equal(fitted[:, text_cols], again[:, text_cols])


def test_bag_select_matches_dense_column_picking() -> None:
    """Bag.select (the counts of chosen items, in the chosen order) against plain dense indexing,
    with empty rows, unknown items, an unsorted and an empty choice."""
    import scipy.sparse as sp

    from competition.features import Bag

    counts = sp.random(50, 30, density=0.2, random_state=1, format="lil")
    counts[5, :] = 0
    counts[49, :] = 0
    counts = sp.csr_matrix(np.ceil(counts.toarray() * 3))
    names = [f"t{i:02d}" for i in range(30)]
    bag = Bag(counts, names, np.zeros(50))
    dense = counts.toarray()
    for wanted in (["t03", "t01", "zz", "t29"], ["t00", "t07", "t11", "t12", "t28"], []):
        expected = np.zeros((50, len(wanted)))
        for j, w in enumerate(wanted):
            if w in names:
                expected[:, j] = dense[:, names.index(w)]
        assert np.array_equal(bag.select(wanted).toarray(), expected)


def test_encoded_subsets_give_the_same_matrix_as_the_frame(ca_prepared: tuple) -> None:
    """Fitting/transforming row subsets of one encoding equals encoding the subset frame itself."""
    spec, train, _test, y = ca_prepared
    rows = np.arange(0, train.height, 2)
    enc = encode_frame(spec.features, train)
    a = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=2))
    b = FeaturePipeline(spec.features, FeatureConfig(min_category_count=3, text_min_df=2))
    assert np.array_equal(a.fit_transform_encoded(enc.take(rows), y[rows]), b.fit_transform(train[rows], y[rows]))
    assert a.state_ == b.state_
    other = np.arange(1, train.height, 2)
    assert np.array_equal(a.transform_encoded(enc.take(other)), b.transform(train[other]))
