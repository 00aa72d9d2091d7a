"""The batched trainer: member independence, early stopping, learning, target scaling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from competition.models.mlp import (
    DropoutMasks,
    Layout,
    Member,
    MemberAdam,
    MLPConfig,
    clip_and_store,
    loss_and_gradients,
    predict_members,
    train_members,
)


def problem(n: int = 300, d: int = 8, folds: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n, d, generator=g).expand(folds, n, d).contiguous()
    coef = torch.randn(d, generator=g)
    y = 12 + 0.3 * torch.tanh(x[0] @ coef) + 0.05 * torch.randn(n, generator=g)
    return x, y


def members_for(n: int, folds: int, seeds: int) -> list[Member]:
    rng = np.random.default_rng(1)
    order = rng.permutation(n)
    chunks = np.array_split(order, folds)
    out = []
    for f in range(folds):
        valid = np.sort(chunks[f])
        train = np.sort(np.concatenate([c for j, c in enumerate(chunks) if j != f]))
        out += [Member(fold=f, seed=100 * s + f, train_idx=train, valid_idx=valid) for s in range(seeds)]
    return out


CFG = MLPConfig(hidden=16, depth=2, epochs=25, patience=6, batch_size=32, dropout=0.2)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_member_trains_identically_alone_or_in_a_batch(precision: str) -> None:
    x, y = problem(d=7)  # an odd width: bf16 training pads a zero column, the weights come back without it
    members = members_for(300, 3, 2)
    cfg = dataclasses.replace(CFG, precision=precision)
    together = train_members(x, y, members, cfg, steps_per_epoch=7)
    for j in (0, 3, 5):
        alone = train_members(x, y, [members[j]], cfg, steps_per_epoch=7)
        assert alone.best_epoch[0] == together.best_epoch[j]
        assert alone.history[0]["valid"] == together.history[j]["valid"]
        for w_alone, w_all in zip(alone.weights, together.weights, strict=True):
            assert torch.equal(w_alone[0], w_all[j])
    assert together.weights[0].shape == (len(members), 7, CFG.hidden)


def test_bf16_member_independence_at_the_real_model_size() -> None:
    """House Prices-sized members (321 inputs, 2 x 256 units, batch 128), all threads: a member
    trains bit for bit the same alone or with batch-mates in bf16 too."""
    x, y = problem(n=600, d=321)
    members = members_for(600, 3, 1)
    cfg = MLPConfig(epochs=2, patience=10, precision="bf16")
    together = train_members(x, y, members, cfg, steps_per_epoch=3)
    for j in range(3):
        alone = train_members(x, y, [members[j]], cfg, steps_per_epoch=3)
        assert alone.history[0]["valid"] == together.history[j]["valid"]
        for w_alone, w_all in zip(alone.weights, together.weights, strict=True):
            assert torch.equal(w_alone[0], w_all[j])


@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-3), ("bf16", 1e-2)])
def test_early_stopping_keeps_best_weights_and_freezes(precision: str, tolerance: float) -> None:
    """The best epoch is chosen on validation error in the training dtype; re-evaluating the kept
    weights in fp32 (as predictions are made) gives that score (to 0.1% in fp32, 1% in bf16)."""
    x, y = problem()
    members = members_for(300, 3, 1)
    cfg = MLPConfig(
        hidden=64,
        depth=2,
        epochs=200,
        patience=5,
        batch_size=32,
        dropout=0.0,
        lr=3e-3,
        weight_decay=0,
        precision=precision,
    )
    out = train_members(x, y, members, cfg, steps_per_epoch=7)
    for j, m in enumerate(members):
        valid = out.history[j]["valid"]
        assert len(valid) == out.best_epoch[j] + 1 + cfg.patience or len(valid) == cfg.epochs
        assert min(valid) == valid[out.best_epoch[j]] == out.best_valid[j]
        # the returned weights are the best epoch's: re-evaluating them gives the best score
        sl = [w[j : j + 1] for w in out.weights]
        pred = predict_members(sl, out.y_center[j : j + 1], out.y_scale[j : j + 1], x[m.fold, m.valid_idx], "silu")
        rmse = torch.sqrt(((pred[0] - y[m.valid_idx]) ** 2).mean()).item()
        assert abs(rmse - out.best_valid[j]) < tolerance * rmse


def test_learns_better_than_the_mean_and_refit_runs_fixed_epochs() -> None:
    x, y = problem(n=400)
    members = members_for(400, 3, 1)
    out = train_members(x, y, members, MLPConfig(hidden=32, epochs=60, patience=15, batch_size=32), 9)
    baseline = float(y.std())
    assert max(out.best_valid) < 0.7 * baseline
    refit = Member(fold=0, seed=7, train_idx=np.arange(400), valid_idx=np.zeros(0, dtype=np.int64), epochs=9)
    out = train_members(x, y, [refit], MLPConfig(hidden=8, epochs=60), 12)
    assert len(out.history[0]["train"]) == 9 and out.history[0]["valid"] == []


def test_target_scaling_uses_training_rows_only() -> None:
    x, y = problem()
    members = members_for(300, 3, 1)
    y2 = y.clone()
    y2[members[0].valid_idx] += 5.0  # validation targets change: the member's scaling must not
    a = train_members(x, y, members[:1], MLPConfig(hidden=8, epochs=2), 3)
    b = train_members(x, y2, members[:1], MLPConfig(hidden=8, epochs=2), 3)
    assert torch.equal(a.y_center, b.y_center) and torch.equal(a.y_scale, b.y_scale)
    assert torch.equal(a.weights[0], b.weights[0])


def test_members_of_different_sizes_take_their_own_epochs_and_stay_independent() -> None:
    x, y = problem(n=300)
    rows = np.arange(300)
    # forward-only time folds: training parts of 75, 150 and 225 rows
    members = [
        Member(fold=f, seed=f, train_idx=rows[: 75 * (f + 1)], valid_idx=rows[75 * (f + 1) : 75 * (f + 2)])
        for f in range(3)
    ]
    together = train_members(x, y, members, CFG)
    for j in range(3):
        alone = train_members(x, y, [members[j]], CFG)
        assert alone.history[0]["valid"] == together.history[j]["valid"]
        assert torch.equal(alone.weights[0][0], together.weights[0][j])


def test_member_without_dropout_ignores_batch_mates_that_use_it() -> None:
    x, y = problem()
    members = members_for(300, 3, 1)
    members[1].dropout = 0.0
    members[0].dropout = 0.4
    together = train_members(x, y, members, CFG)
    alone = train_members(x, y, [members[1]], CFG)
    assert alone.history[0]["valid"] == together.history[1]["valid"]


def test_bf16_training_learns_as_well_as_fp32() -> None:
    x, y = problem(n=400)
    members = members_for(400, 3, 2)
    scores = {}
    for precision in ("fp32", "bf16"):
        cfg = MLPConfig(hidden=32, epochs=60, patience=15, batch_size=32, precision=precision)
        scores[precision] = np.mean(train_members(x, y, members, cfg, 9).best_valid)
    assert scores["bf16"] < 0.7 * float(y.std())
    assert abs(scores["bf16"] - scores["fp32"]) < 0.05 * scores["fp32"]


def test_dropout_masks_keep_the_rounded_rate_and_expectation() -> None:
    masks = DropoutMasks([0.3, 0.0, 0.5], width=512, batch=128, seeds=[0, 1, 2], device=torch.device("cpu"))
    masks.begin_epoch([0, 1, 2], np.array([2, 2, 1]))
    first, second = masks.draw(3, 0), masks.draw(2, 1)  # member 2 takes one step this epoch
    assert first is not None and second is not None
    assert first.shape == (3, 128, 512) and second.shape == (2, 128, 512)
    assert torch.all(first[1] == 1.0) and torch.all(second[1] == 1.0)  # no dropout: all kept, unscaled
    for rows, level in ((torch.cat([first[0], second[0]]), round(0.7 * 256)), (first[2], 128)):
        kept = rows > 0
        assert torch.all(rows[kept] == 256 / level)
        assert abs(kept.float().mean().item() - level / 256) < 0.01  # >= 65,536 draws: sd <= 0.002
        assert abs(rows.mean().item() - 1.0) < 0.02  # inverted dropout keeps the expectation
    # a member's bytes come from its own generator only, whoever shares the epoch
    alone = DropoutMasks([0.5], 512, 128, [2], torch.device("cpu"))
    alone.begin_epoch([0], np.array([1]))
    assert torch.equal(alone.draw(1, 0)[0], first[2])


def test_fused_adam_step_matches_torch_adamw_per_member() -> None:
    """Our call of the fused kernel (weights decayed, biases not) is AdamW's update, member by
    member, and members that stopped stepping keep their own step counts."""
    torch.manual_seed(0)
    params = [torch.randn(3, 7), torch.randn(3, 4)]
    reference = [[p[j].clone().requires_grad_(True) for p in params] for j in range(3)]
    opts = [
        torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}], lr=1e-2)
        for w, b in reference
    ]
    adam = MemberAdam([p.clone() for p in params])
    for it in range(4):
        k = 3 if it < 2 else 2  # the last member takes fewer steps
        grads = [torch.randn(k, p.shape[1]) for p in params]
        for j in range(k):
            for r, g in zip(reference[j], grads, strict=True):
                r.grad = g[j].clone()
            opts[j].step()
        adam.step(grads, np.full(k, 1e-2), np.full(k, 0.1))
    for j in range(3):
        for p, r in zip(adam.params, reference[j], strict=True):
            torch.testing.assert_close(p[j], r.detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("activation", ["silu", "relu", "gelu", "tanh"])
def test_handwritten_backward_matches_autograd(activation: str) -> None:
    """The trainer's written-out backward pass gives autograd's gradients of the same loss
    (dropout masks, L1 on the first layer and the output unit included)."""
    g = torch.Generator().manual_seed(3)
    k, batch, dims = 3, 10, (6, 5, 4, 1)
    layout = Layout(dims)
    weights = torch.randn(k, layout.n_weights, generator=g) * 0.5
    biases = torch.randn(k, layout.n_biases, generator=g) * 0.1
    x = torch.randn(k, batch, dims[0], generator=g)
    y = torch.randn(k, batch, generator=g)
    masks = (torch.rand(k, batch, 9, generator=g) > 0.3).float() / 0.7
    grad_w, grad_b = torch.empty_like(weights), torch.empty_like(biases)
    loss, hidden = loss_and_gradients(
        layout, weights, biases, x, y, masks, activation, torch.float32, grad_w, grad_b, 0.01
    )
    clip_and_store(layout, hidden, grad_w, grad_b, max_norm=0.0)

    w_ref, b_ref = weights.clone().requires_grad_(True), biases.clone().requires_grad_(True)
    act = {"silu": torch.nn.functional.silu, "relu": torch.relu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh}
    h, offset = x, 0
    for layer in range(2):
        h = act[activation](torch.baddbmm(layout.bias(b_ref, layer), h, layout.weight(w_ref, layer)))
        h = h * masks[:, :, offset : offset + h.shape[2]]
        offset += h.shape[2]
    pred = torch.baddbmm(layout.bias(b_ref, 2), h, layout.weight(w_ref, 2))[:, :, 0]
    ref_loss = ((pred - y) ** 2).mean(1)
    (ref_loss.sum() + 0.01 * layout.weight(w_ref, 0).abs().sum()).backward()
    torch.testing.assert_close(loss, ref_loss.detach())
    torch.testing.assert_close(grad_w, w_ref.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad_b, b_ref.grad, rtol=1e-5, atol=1e-6)


def test_gradient_clipping_scales_each_member_to_the_max_norm() -> None:
    g = torch.Generator().manual_seed(4)
    layout = Layout((6, 5, 4, 1))
    hidden = [torch.randn(3, 6, 5, generator=g), torch.randn(3, 5, 4, generator=g)]
    hidden[0][2] *= 1e-3  # member 2's gradient is small: left as it is
    hidden[1][2] *= 1e-3
    grad_w = torch.randn(3, layout.n_weights, generator=g)
    grad_w[2] *= 1e-3
    grad_b = torch.randn(3, layout.n_biases, generator=g) * 1e-3
    unclipped_w, unclipped_b = grad_w.clone(), grad_b.clone()
    clip_and_store(layout, hidden, unclipped_w, unclipped_b, max_norm=0.0)
    clip_and_store(layout, hidden, grad_w, grad_b, max_norm=1.0)
    norms = torch.cat([grad_w, grad_b], 1).norm(dim=1)
    before = torch.cat([unclipped_w, unclipped_b], 1).norm(dim=1)
    torch.testing.assert_close(norms[:2], torch.ones(2))
    torch.testing.assert_close(grad_w[:2], unclipped_w[:2] / before[:2, None])
    assert torch.equal(grad_w[2], unclipped_w[2]) and torch.equal(grad_b[2], unclipped_b[2])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_torch_thread_count_never_changes_the_numbers(precision: str) -> None:
    """`devices.SpareCores` gives the MLP a second thread mid-run when a core falls idle: that is
    only sound because one thread and two, switched at any epoch, train the same bits. House
    Prices-sized members (321 inputs, 2 x 256 units, batch 128), 15 of them."""
    x, y = problem(n=600, d=321, folds=5)
    members = members_for(600, 5, 3)
    cfg = MLPConfig(epochs=6, patience=10, batch_size=128, precision=precision)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = train_members(x, y, members, cfg)

        def switch(epoch: int, active: int) -> None:
            torch.set_num_threads(2 if epoch % 2 == 0 else 1)  # two threads, then one, then two...

        both = train_members(x, y, members, cfg, on_epoch=switch)
    finally:
        torch.set_num_threads(before)
    assert [h["valid"] for h in one.history] == [h["valid"] for h in both.history]
    for w_one, w_both in zip(one.weights, both.weights, strict=True):
        assert torch.equal(w_one, w_both)


def test_stacked_block_holds_every_fold_once_and_the_fold_matrices_point_into_it() -> None:
    """`stack_matrices`: the (F, N_train + N_test, D_max) block of `stack_folds`, bit for bit, with
    zeros where a fold has fewer columns; afterwards each fold's matrices are views of the block
    (the separate arrays are freed) holding the same values as before."""
    from competition.models.base import FoldMatrices
    from competition.models.mlp_family import stack_folds, stack_matrices

    rng = np.random.default_rng(3)
    widths = [5, 7, 6]
    train = [rng.normal(size=(11, w)).astype(np.float32) for w in widths]
    test = [rng.normal(size=(4, w)).astype(np.float32) for w in widths]
    mats = FoldMatrices(train=list(train), test=list(test), names=[[f"c{j}" for j in range(w)] for w in widths])
    expected = stack_folds(train, "cpu", test)
    block = stack_matrices(mats, "cpu")
    assert torch.equal(block, expected)
    assert block.shape == (3, 15, 7)
    assert float(block[0, :, 5:].abs().sum()) == 0.0
    for f in range(3):
        assert np.shares_memory(mats.train[f], block.numpy()) and np.shares_memory(mats.test[f], block.numpy())
        np.testing.assert_array_equal(mats.train[f], train[f])
        np.testing.assert_array_equal(mats.test[f], test[f])
