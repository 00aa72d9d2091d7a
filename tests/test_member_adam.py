"""MemberAdam without the private fused kernel: the public fallback is the same AdamW update."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from competition.models.mlp import MemberAdam


def run_steps(n_steps: int = 6, lrs: tuple[float, ...] = (1e-2, 1e-2, 3e-3)) -> tuple[list[torch.Tensor], MemberAdam]:
    """Three members ([weights, biases] rows), the last with its own lr, stopping after 3 steps."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 50, generator=gen), torch.randn(3, 9, generator=gen)]
    adam = MemberAdam([p.clone() for p in params])
    for it in range(n_steps):
        k = 3 if it < 3 else 2  # the last member stops stepping: members keep their own step counts
        grads = [torch.randn(k, p.shape[1], generator=gen) for p in params]
        adam.step(grads, np.array(lrs[:k]), np.full(k, 0.5))
    return params, adam


def test_fallback_without_the_private_op_matches_the_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    assert hasattr(torch, "_fused_adamw_"), "the installed torch has the fused kernel: compare against it"
    _, fused = run_steps()
    monkeypatch.delattr(torch, "_fused_adamw_")
    _, plain = run_steps()
    for a, b in zip(
        fused.params + fused.exp_avg + fused.exp_avg_sq, plain.params + plain.exp_avg + plain.exp_avg_sq, strict=True
    ):
        torch.testing.assert_close(b, a, rtol=2e-6, atol=1e-7)
    assert not torch.equal(plain.params[0], run_steps(0)[0][0])  # it did update
    assert plain.steps.tolist() == fused.steps.tolist() == [6, 6, 3]


def test_fallback_is_torch_adamw_member_by_member(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each member against its own torch.optim.AdamW (weights decayed, biases not, own lr, own steps)."""
    monkeypatch.delattr(torch, "_fused_adamw_")
    lrs = (1e-2, 1e-2, 3e-3)
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 50, generator=gen), torch.randn(3, 9, generator=gen)]
    reference = [[p[j].clone().requires_grad_(True) for p in params] for j in range(3)]
    opts = [
        torch.optim.AdamW(
            [{"params": [w], "weight_decay": 0.5}, {"params": [b], "weight_decay": 0.0}], lr=lrs[j], foreach=False
        )
        for j, (w, b) in enumerate(reference)
    ]
    adam = MemberAdam([p.clone() for p in params])
    for it in range(6):
        k = 3 if it < 3 else 2
        grads = [torch.randn(k, p.shape[1], generator=gen) for p in params]
        for j in range(k):
            for r, g in zip(reference[j], grads, strict=True):
                r.grad = g[j].clone()
            opts[j].step()
        adam.step(grads, np.array(lrs[:k]), np.full(k, 0.5))
    for j in range(3):
        for i in range(2):
            torch.testing.assert_close(adam.params[i][j], reference[j][i].detach(), rtol=2e-6, atol=1e-7)


def test_fallback_member_does_not_depend_on_its_batch_mates(monkeypatch: pytest.MonkeyPatch) -> None:
    """A member alone and among others: bit-identical (elementwise ops only)."""
    monkeypatch.delattr(torch, "_fused_adamw_")
    gen = torch.Generator().manual_seed(1)
    params = [torch.randn(4, 333, generator=gen), torch.randn(4, 17, generator=gen)]
    grads = [[torch.randn(4, p.shape[1], generator=gen) for p in params] for _ in range(3)]
    together = MemberAdam([p.clone() for p in params])
    alone = MemberAdam([p[2:3].clone() for p in params])
    for g in grads:
        together.step(g, np.full(4, 1e-3), np.full(4, 0.1))
        alone.step([t[2:3] for t in g], np.full(1, 1e-3), np.full(1, 0.1))
    for a, b in zip(together.params, alone.params, strict=True):
        assert torch.equal(a[2:3], b)


def test_pyproject_admits_the_torch_under_test() -> None:
    """pyproject's torch range contains the torch this suite runs on (and nothing older than it)."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.version import Version

    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    (req,) = [Requirement(r) for r in meta["project"]["dependencies"] if Requirement(r).name == "torch"]
    installed = Version(torch.__version__.split("+")[0])
    assert req.specifier.contains(installed), (str(req), torch.__version__)
    assert not req.specifier.contains(Version(f"{installed.major}.{installed.minor - 1}"))


def test_trainer_runs_on_the_fallback_and_learns_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole batched trainer without the private op: same stopping epochs, weights close."""
    from competition.models.mlp import train_members
    from tests.test_mlp_trainer import CFG, members_for, problem

    x, y = problem(d=7)
    members = members_for(300, 3, 1)
    fused = train_members(x, y, members, CFG, steps_per_epoch=7)
    monkeypatch.delattr(torch, "_fused_adamw_")
    plain = train_members(x, y, members, CFG, steps_per_epoch=7)
    assert plain.best_epoch.tolist() == fused.best_epoch.tolist()
    np.testing.assert_allclose(plain.best_valid, fused.best_valid, rtol=1e-4)
    for a, b in zip(plain.weights, fused.weights, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
