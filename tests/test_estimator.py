"""MLPEnsembleRegressor: scikit-learn's own estimator checks, Pipeline/cross_val_score/GridSearchCV,
and the same trainer as `comp train` underneath."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import parametrize_with_checks

from competition import MLPEnsembleRegressor

# Small and quick, yet enough to fit the checks' regression data (R^2 > 0.5 in check_regressors_train).
TINY = {"hidden": 8, "epochs": 40, "patience": 10, "lr": 1e-2, "batch_size": 32, "folds": 3, "warmup_epochs": 1}


@parametrize_with_checks([MLPEnsembleRegressor(**TINY)])
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def regression(n: int = 150, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * [1, 10, 100, 0.1, 5][:d] + 3
    y = np.exp(11 + 0.5 * np.tanh(x[:, 0] - 3) + 0.02 * x[:, 1] + 0.05 * rng.normal(size=n))
    return x, y


def test_pipeline_cross_val_score_and_grid_search() -> None:
    x, y = regression()
    model = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), MLPEnsembleRegressor(**TINY, weight_decay=0.01)), func=np.log,
        inverse_func=np.exp,
    )
    scores = cross_val_score(model, x, y, cv=3, scoring="neg_root_mean_squared_log_error")
    baseline = np.std(np.log(y))
    assert scores.shape == (3,) and np.all(-scores < 0.5 * baseline)  # far better than the mean log
    search = GridSearchCV(model, {"regressor__mlpensembleregressor__hidden": [4, 8]}, cv=2)
    search.fit(x, y)
    assert search.best_params_["regressor__mlpensembleregressor__hidden"] in (4, 8)
    assert search.best_estimator_.regressor_[-1].n_members_ == 3
    assert np.all(search.predict(x[:5]) > 0)
    est = MLPEnsembleRegressor(**TINY)
    assert est.set_params(hidden=16) is est and est.get_params()["hidden"] == 16
    assert clone(est).get_params() == est.get_params()


def test_same_trainer_as_comp_train() -> None:
    """The regressor's members are `train_members` members: the same inputs give the same weights."""
    from competition.models.mlp import Member, MLPConfig, predict_members, train_members

    x, y = regression(n=60, d=3)
    params = {**TINY, "folds": 1, "seeds": 2, "epochs": 7, "precision": "fp32", "random_state": 5}
    est = MLPEnsembleRegressor(**params).fit(x, y)
    base = int(check_random_state(5).randint(0, 2**31 - 1))
    members = [Member(fold=0, seed=base + 1000 * s, train_idx=np.arange(60), valid_idx=np.zeros(0, dtype=np.int64),
                      epochs=7) for s in range(2)]
    cfg = MLPConfig(hidden=8, epochs=7, patience=10, lr=1e-2, batch_size=32, warmup_epochs=1, precision="fp32")
    trained = train_members(torch.tensor(x, dtype=torch.float32)[None], torch.tensor(y, dtype=torch.float32),
                            members, cfg)
    for ours, theirs in zip(est.weights_, trained.weights, strict=True):
        assert torch.equal(ours, theirs)
    direct = predict_members(trained.weights, trained.y_center, trained.y_scale, torch.tensor(x, dtype=torch.float32),
                             "silu").double().mean(0).numpy()
    np.testing.assert_array_equal(est.predict(x), direct)
    assert [len(h["train"]) for h in est.history_] == [7, 7]


def test_bad_parameters_and_too_few_rows_raise_value_errors() -> None:
    x, y = regression(n=20)
    for bad in ({"dropout": 1.5}, {"hidden": 0}, {"activation": "swish"}, {"lr": -1.0}, {"precision": "fp8"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            MLPEnsembleRegressor(**{**TINY, **bad}).fit(x, y)
    with pytest.raises(ValueError, match="needs at least 3 samples"):
        MLPEnsembleRegressor(**TINY).fit(x[:2], y[:2])
    assert MLPEnsembleRegressor(**{**TINY, "folds": 1}).fit(x[:2], y[:2]).n_members_ == 1
