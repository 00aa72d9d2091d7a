"""Families and folds that train side by side: the shared core budget, same numbers as one after
another, and one failure stopping the rest."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from competition.checkpoints import fit_in_pieces
from competition.config import build_config
from competition.devices import CoreBudget, Stopped
from competition.models.base import FoldMatrices
from competition.models.lightgbm_family import LightGBMFamily
from competition.splits import make_folds
from competition.training import make_members


def test_take_caps_at_the_total_waits_for_free_cores_and_stop_wakes_waiters() -> None:
    budget = CoreBudget(2)
    with budget.take(5) as got:
        assert got == 2  # never more than the budget holds
    order: list[str] = []
    with budget.take(1):
        started = threading.Event()

        def second() -> None:
            started.set()
            with budget.take(2):  # needs both cores: waits for the first block to end
                order.append("second")

        worker = threading.Thread(target=second)
        worker.start()
        started.wait()
        time.sleep(0.05)
        order.append("first")
    worker.join(5)
    assert order == ["first", "second"]

    failed: list[BaseException] = []
    with budget.take(2):

        def waiter() -> None:
            try:
                with budget.take(1):
                    pass
            except Stopped as exc:
                failed.append(exc)

        worker = threading.Thread(target=waiter)
        worker.start()
        time.sleep(0.05)
        budget.stop()
        worker.join(5)
    assert not worker.is_alive() and len(failed) == 1
    with pytest.raises(Stopped):
        budget.check()


def small_problem(n: int = 240, d: int = 6, folds: int = 4) -> tuple[FoldMatrices, np.ndarray, list]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ rng.normal(size=d) * 0.3 + 12).astype(np.float64)
    test = rng.normal(size=(50, d)).astype(np.float32)
    mats = FoldMatrices(train=[x] * folds, test=[test] * folds, names=[[f"f{j}" for j in range(d)]] * folds)
    members = make_members(make_folds("kfold", n, folds, 0, None), 2, 0, np.ones(n, dtype=bool))
    return mats, y, members


def lightgbm_config():  # type: ignore[no-untyped-def]
    return build_config({"lightgbm.max_rounds": 40, "lightgbm.num_threads": 1})


def test_lightgbm_folds_side_by_side_give_the_numbers_of_one_after_another(monkeypatch: pytest.MonkeyPatch) -> None:
    mats, y, members = small_problem()
    config = lightgbm_config()
    family = LightGBMFamily()
    alone = fit_in_pieces(family, mats, y, members, config, "cpu", None, None, "lgb")

    active = {"now": 0, "most": 0}
    lock = threading.Lock()
    real_fit = LightGBMFamily.fit

    def watched(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            active["now"] += 1
            active["most"] = max(active["most"], active["now"])
        try:
            time.sleep(0.05)  # long enough for a second fold to start beside this one
            return real_fit(self, *args, **kwargs)
        finally:
            with lock:
                active["now"] -= 1

    monkeypatch.setattr(LightGBMFamily, "fit", watched)
    together = fit_in_pieces(family, mats, y, members, config, "cpu", None, None, "lgb", CoreBudget(2))
    assert active["most"] == 2  # two folds trained at once, never more than the two cores
    assert together.extra["models"] == alone.extra["models"]  # the same boosters, as text
    np.testing.assert_array_equal(together.test_pred, alone.test_pred)
    for a, b in zip(together.valid_pred, alone.valid_pred, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_failing_fold_stops_the_folds_beside_it_and_its_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    mats, y, members = small_problem()
    config = lightgbm_config()
    real_fit = LightGBMFamily.fit
    started: list[int] = []

    def fail_on_fold_1(self, mats, y_log, piece, *args, **kwargs):  # type: ignore[no-untyped-def]
        started.append(piece[0].fold)
        if piece[0].fold == 1:
            raise RuntimeError("fold 1 broke")
        return real_fit(self, mats, y_log, piece, *args, **kwargs)

    monkeypatch.setattr(LightGBMFamily, "fit", fail_on_fold_1)
    budget = CoreBudget(1)  # one fold at a time: fold 2 and 3 wait for the core fold 1 held
    with pytest.raises(RuntimeError, match="fold 1 broke"):
        fit_in_pieces(LightGBMFamily(), mats, y, members, config, "cpu", None, None, "lgb", budget)
    assert budget.stopped.is_set()
    assert sorted(started) == [0, 1]  # no fold started after the failure
