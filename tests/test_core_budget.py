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


class FakeClock:
    """A clock whose epochs take the seconds the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_epochs(budget: CoreBudget, clock: FakeClock, seconds: list[float]) -> list[int]:
    """Call `check` once per epoch of the given lengths; torch's thread count after each."""
    import torch

    seen = []
    for s in seconds:
        clock.now += s
        budget.check()
        seen.append(torch.get_num_threads())
    return seen


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    import torch

    from competition.devices import SpareCores

    fake = FakeClock()
    monkeypatch.setattr(SpareCores, "clock", staticmethod(fake))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield fake
    torch.set_num_threads(before)


def test_spare_cores_are_taken_once_ready_and_kept_while_epochs_get_faster(clock: FakeClock) -> None:
    import torch

    budget = CoreBudget(3)
    ready = threading.Event()
    with budget.take(1) as held, budget.lend_spare_cores(held, ready) as loan:
        # two warm-up epochs, then a full window at one thread; not ready yet: nothing taken
        assert run_epochs(budget, clock, [9.0, 9.0] + [1.0] * 8) == [1] * 10
        ready.set()
        threads = run_epochs(budget, clock, [1.0] + [0.6] * 10)
        assert threads == [3] * 11  # took the two free cores at once, kept them: 0.6 s < 1.0 s
        assert loan.kept_seconds == pytest.approx([0.6, 0.6])
        assert budget._free == 0  # nobody else gets them meanwhile
    assert torch.get_num_threads() == 1  # restored at the end of the block
    with budget.take(3) as got:  # and every core is back in the budget
        assert got == 3


def test_spare_cores_that_do_not_help_are_given_back_for_good(clock: FakeClock) -> None:
    import torch

    budget = CoreBudget(2)
    ready = threading.Event()
    ready.set()
    with budget.take(1) as held, budget.lend_spare_cores(held, ready) as loan:
        threads = run_epochs(budget, clock, [1.0] * 7 + [3.0] * 5 + [1.0] * 20)
        assert threads[:7] == [1] * 6 + [2]  # the first full window of one-thread epochs, then two
        assert threads[11:] == [1] * 21  # five slow epochs on two threads (a busy machine): dropped
        assert loan.tried and loan.extra == 0
    assert torch.get_num_threads() == 1


def test_a_later_slow_window_drops_the_spare_cores_too(clock: FakeClock) -> None:
    budget = CoreBudget(2)
    ready = threading.Event()
    ready.set()
    with budget.take(1) as held, budget.lend_spare_cores(held, ready) as loan:
        threads = run_epochs(budget, clock, [1.0] * 7 + [0.5] * 5 + [2.0] * 5 + [0.5] * 5)
        assert threads[7:12] == [2] * 5 and threads[16:] == [1] * 6
        assert loan.kept_seconds == pytest.approx([0.5])


def test_no_spare_cores_for_other_threads_or_when_none_are_free(clock: FakeClock) -> None:
    budget = CoreBudget(1)
    ready = threading.Event()
    ready.set()
    with budget.take(1) as held, budget.lend_spare_cores(held, ready):
        assert run_epochs(budget, clock, [1.0] * 10) == [1] * 10  # the only core is held already
    budget = CoreBudget(2)
    with budget.take(1) as held, budget.lend_spare_cores(held, ready):
        worker = threading.Thread(target=lambda: run_epochs(budget, clock, [1.0] * 10))
        worker.start()
        worker.join(5)
        with budget.take(1) as got:  # a check() from another thread never lends it the free core
            assert got == 1
