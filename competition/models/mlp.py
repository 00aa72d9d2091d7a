"""A regularized MLP trained as a batched ensemble: every member (fold x seed x setting) at once.

Weights carry a leading member dimension and each layer is one `torch.baddbmm`, so k folds x s
seeds cost about one model's worth of Python overhead. Each member:
- draws mini-batches only from its own training rows (index slices of device tensors),
- standardizes the log target with its own training rows' mean/std,
- is evaluated on its own validation rows every epoch and early-stopped on its own; a stopped
  member is dropped from the batch (frozen) and its best weights are kept.
Randomness (init, batch order, dropout) comes from one torch.Generator per member, consumed in
the same order whatever the group, so a member's result does not depend on which other
members share its batch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class MLPConfig:
    hidden: int = 256
    depth: int = 2
    dropout: float = 0.3
    activation: str = "silu"
    lr: float = 5e-4
    weight_decay: float = 1.0
    """AdamW decoupled weight decay (applied to weights, not biases)."""
    l1: float = 0.0
    """Optional L1 penalty on the first layer's weights (feature selection pressure)."""
    batch_size: int = 128
    epochs: int = 300
    patience: int = 40
    min_lr_ratio: float = 0.05
    """Cosine schedule from lr down to lr * min_lr_ratio over `epochs`; warmup_epochs linear ramp."""
    warmup_epochs: int = 5
    grad_clip: float = 1.0
    """Per-member gradient-norm clipping."""


@dataclass
class Member:
    """One model of the ensemble: which fold's features it reads and which rows it trains on."""

    fold: int
    seed: int
    train_idx: np.ndarray
    valid_idx: np.ndarray
    lr: float | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    epochs: int | None = None
    """For members without validation rows (refit on all rows): how many epochs to train."""


@dataclass
class TrainedMembers:
    weights: list[torch.Tensor]
    """Best weights, each with leading member dimension: [W0, b0, W1, b1, ...]."""
    y_center: torch.Tensor
    y_scale: torch.Tensor
    best_epoch: np.ndarray
    best_valid: np.ndarray
    history: list[dict[str, list[float]]] = field(default_factory=list)
    """Per member: 'train' and 'valid' log-RMSE per epoch (valid empty when no valid rows)."""
    epochs_run: np.ndarray | None = None


class _MemberLinear(torch.autograd.Function):
    """baddbmm whose backward multiplies contiguous operands only.

    Autograd's own bmm backward takes a different kernel path for one member than for many,
    which changes float rounding; with contiguous operands a member's numbers are the same
    whatever the batch, so a member trained alone reproduces itself inside an ensemble."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        w = w.contiguous()
        ctx.save_for_backward(x, w)
        return torch.baddbmm(b, x, w)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        x, w = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = torch.bmm(grad, w.transpose(1, 2).contiguous()) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(x.transpose(1, 2).contiguous(), grad)
        return grad_x, grad_w, grad.sum(1, keepdim=True)


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    acts = {"relu": torch.relu, "silu": torch.nn.functional.silu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh}
    if name not in acts:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(acts)}")
    return acts[name]


def init_weights(members: list[Member], n_in: int, cfg: MLPConfig, device: torch.device) -> list[torch.Tensor]:
    """Kaiming-uniform weights (fan-in, for ReLU-like units), zero biases, one generator per member seed."""
    dims = [n_in] + [cfg.hidden] * cfg.depth + [1]
    params: list[list[torch.Tensor]] = [[] for _ in range(2 * (len(dims) - 1))]
    for m in members:
        g = torch.Generator().manual_seed(int(m.seed))
        for layer, (a, b) in enumerate(itertools.pairwise(dims)):
            gain = math.sqrt(2.0) if layer < len(dims) - 2 else 1.0
            bound = gain * math.sqrt(3.0 / max(a, 1))
            params[2 * layer].append((torch.rand(a, b, generator=g) * 2 - 1) * bound)
            params[2 * layer + 1].append(torch.zeros(1, b))
    return [torch.stack(p).to(device) for p in params]


def forward(
    weights: list[torch.Tensor],
    x: torch.Tensor,
    act: Callable,
    noise: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """x: (M, B, D), or (B, D) shared by all members -> (M, B) standardized predictions.

    `noise` (M, B, hidden * layers) holds each member's uniform draws for dropout and `keep`
    (M, 1, 1) its keep probability; without them the network runs in evaluation mode."""
    n_layers = len(weights) // 2
    h = x
    offset = 0
    for layer in range(n_layers):
        w, b = weights[2 * layer], weights[2 * layer + 1]
        if h.dim() == 2:  # shared rows (N, D) for every member: one GEMM against all members' weights
            m, d, o = w.shape
            h = (h @ w.permute(1, 0, 2).reshape(d, m * o)).view(-1, m, o).permute(1, 0, 2) + b
        elif w.shape[2] == 1:  # the output unit: a dot product (bmm's matrix-vector path rounds per batch size)
            h = (h * w.transpose(1, 2)).sum(-1, keepdim=True) + b
        elif torch.is_grad_enabled():
            h = _MemberLinear.apply(h, w, b)
        else:
            h = torch.baddbmm(b, h, w)
        if layer < n_layers - 1:
            h = act(h)
            if noise is not None and keep is not None:
                width = h.shape[2]
                h = h * (noise[:, :, offset : offset + width] < keep) / keep
                offset += width
    return h.squeeze(-1)


def _pad(rows: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max(len(r) for r in rows))
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.as_tensor(out, device=device), torch.as_tensor([len(r) for r in rows], device=device)


def _pad_tensors(rows: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    width = max(1, max(len(r) for r in rows))
    out = torch.zeros((len(rows), width), dtype=torch.long, device=device)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _lr_factor(epoch: int, cfg: MLPConfig) -> float:
    if epoch < cfg.warmup_epochs:
        return (epoch + 1) / (cfg.warmup_epochs + 1)
    t = min(1.0, (epoch - cfg.warmup_epochs) / max(1, cfg.epochs - cfg.warmup_epochs))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def train_members(
    x_folds: torch.Tensor,
    y_log: torch.Tensor,
    members: list[Member],
    cfg: MLPConfig,
    steps_per_epoch: int | None = None,
    epochs: int | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> TrainedMembers:
    """Train all members together on `x_folds` (F, N, D) with log targets `y_log` (N,).

    An epoch is one pass over each member's own training rows (ceil(rows / batch) steps), so a
    member with fewer rows (an early time fold) takes fewer steps and costs less; pass
    `steps_per_epoch` to give every member the same number of steps instead. Either way a
    member trains identically alone or in any group. Members without validation rows train for
    exactly `epochs` epochs (refit on all rows); the others early-stop on validation log-RMSE."""
    device = x_folds.device
    n_members = len(members)
    bs = cfg.batch_size
    own_steps = np.array([steps_per_epoch or max(1, math.ceil(len(m.train_idx) / bs)) for m in members])
    # Members sorted by steps (descending): at any step the members still stepping are a prefix,
    # so a step computes on a contiguous slice and members that finished their epoch cost nothing.
    order = np.argsort(-own_steps, kind="stable")
    out = _train_sorted(x_folds, y_log, [members[i] for i in order], cfg, own_steps[order], epochs, on_epoch)
    inverse = np.argsort(order)
    inv_t = torch.as_tensor(inverse, device=device)
    return (
        TrainedMembers(
            weights=[w[inv_t] for w in out.weights],
            y_center=out.y_center[inv_t],
            y_scale=out.y_scale[inv_t],
            best_epoch=out.best_epoch[inverse],
            best_valid=out.best_valid[inverse],
            history=[out.history[i] for i in inverse],
            epochs_run=None if out.epochs_run is None else out.epochs_run[inverse],
        )
        if n_members > 1
        else out
    )


def _train_sorted(
    x_folds: torch.Tensor,
    y_log: torch.Tensor,
    members: list[Member],
    cfg: MLPConfig,
    own_steps: np.ndarray,
    epochs: int | None,
    on_epoch: Callable[[int, int], None] | None,
) -> TrainedMembers:
    device = x_folds.device
    n_members = len(members)
    epochs = epochs or max([cfg.epochs] + [m.epochs or 0 for m in members])
    fixed_epochs = torch.as_tensor([m.epochs or epochs for m in members], device=device)
    act = _activation(cfg.activation)
    bs = cfg.batch_size
    fold_of = torch.as_tensor([m.fold for m in members], device=device)
    generators = [torch.Generator(device=device).manual_seed(int(m.seed) + 1) for m in members]
    train_idx, n_train = _pad([m.train_idx for m in members], device)
    valid_idx, n_valid = _pad([m.valid_idx for m in members], device)
    v_mask = torch.arange(valid_idx.shape[1], device=device).view(1, -1) < n_valid.view(-1, 1)
    has_valid = n_valid > 0
    steps_t = torch.as_tensor(own_steps, device=device, dtype=torch.float32)

    def per_member(values: list[float | None], default: float) -> torch.Tensor:
        return torch.as_tensor([default if v is None else v for v in values], device=device, dtype=torch.float32)

    lr = per_member([m.lr for m in members], cfg.lr)
    wd = per_member([m.weight_decay for m in members], cfg.weight_decay)
    dropout = per_member([m.dropout for m in members], cfg.dropout)
    use_dropout = bool((dropout > 0).any())
    dropout_list = dropout.tolist()
    noise_width = cfg.hidden * cfg.depth

    # Target scaling fit on each member's training rows only.
    y_train = y_log[train_idx]
    t_mask = torch.arange(train_idx.shape[1], device=device).view(1, -1) < n_train.view(-1, 1)
    y_center = (y_train * t_mask).sum(1) / n_train
    y_scale = torch.sqrt((((y_train - y_center[:, None]) ** 2) * t_mask).sum(1) / n_train).clamp_min(1e-6)

    # All of a member's parameters live in one row of a flat (M, P) buffer; layers are views.
    # Adam, weight decay, clipping, best-weight copies and freezing are then a few ops on one tensor.
    init = init_weights(members, x_folds.shape[2], cfg, device)
    shapes = [w.shape[1:] for w in init]
    flat = torch.cat([w.reshape(n_members, -1) for w in init], dim=1).requires_grad_(True)
    decay_mask = torch.cat(
        [torch.full((int(math.prod(sh)),), float(i % 2 == 0), device=device) for i, sh in enumerate(shapes)]
    ).view(1, -1)
    adam_m = torch.zeros_like(flat)
    adam_v = torch.zeros_like(flat)
    adam_steps = torch.zeros(n_members, 1, device=device)
    best = flat.detach().clone()
    best_valid = torch.full((n_members,), float("inf"), device=device)
    best_epoch = torch.zeros(n_members, dtype=torch.long, device=device)
    x_valid = x_folds[fold_of[:, None], valid_idx]
    y_valid = y_log[valid_idx]
    history: list[dict[str, list[float]]] = [{"train": [], "valid": []} for _ in members]
    epochs_run = np.zeros(n_members, dtype=np.int64)

    active = torch.arange(n_members, device=device)  # global ids of members still training (sorted)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for epoch in range(epochs):
        a = active
        a_list = a.tolist()
        steps_a = own_steps[a_list]
        # Per-member shuffle of its own training rows, cycled to fill its last batch.
        perms = [torch.randperm(len(members[g].train_idx), generator=generators[g], device=device) for g in a_list]
        positions = torch.arange(int(steps_a[0]) * bs, device=device).view(1, -1)
        slots = _pad_tensors(perms, device).gather(1, positions % n_train[a].view(-1, 1))
        batch_rows = train_idx[a].gather(1, slots)
        lr_a = lr[a].view(-1, 1) * _lr_factor(epoch, cfg)
        decay_a = 1 - lr_a * wd[a].view(-1, 1) * decay_mask
        keep_a = (1.0 - dropout[a]).view(-1, 1, 1)
        fold_a = fold_of[a][:, None]
        center_a, scale_a = y_center[a, None], y_scale[a, None]
        train_sq = torch.zeros(len(a), device=device)
        for s in range(int(steps_a[0])):
            k = int((steps_a > s).sum())  # members still stepping this epoch: a prefix
            rows = batch_rows[:k, s * bs : (s + 1) * bs]
            xb = x_folds[fold_a[:k], rows]
            yb = (y_log[rows] - center_a[:k]) / scale_a[:k]
            noise = None
            if use_dropout:
                # Only members that use dropout draw from their generator, so a member without
                # dropout trains the same whether or not its batch-mates use it.
                noise = torch.stack(
                    [
                        torch.rand(rows.shape[1], noise_width, generator=generators[g], device=device)
                        if dropout_list[g] > 0
                        else torch.zeros(rows.shape[1], noise_width, device=device)
                        for g in a_list[:k]
                    ]
                )
            weights = _views(flat[:k], shapes)
            pred = forward(weights, xb, act, noise, keep_a[:k])
            loss_per = ((pred - yb) ** 2).mean(1)
            loss = loss_per.sum()
            if cfg.l1 > 0:
                loss = loss + cfg.l1 * weights[0].abs().sum()
            (grad,) = torch.autograd.grad(loss, flat)
            grad = grad[:k]
            train_sq[:k] += loss_per.detach()
            with torch.no_grad():
                if cfg.grad_clip > 0:
                    norms = grad.pow(2).sum(1, keepdim=True).sqrt_()
                    grad.mul_((cfg.grad_clip / (norms + 1e-6)).clamp_(max=1.0))
                adam_steps[:k] += 1
                m_k, v_k, p_k = adam_m[:k], adam_v[:k], flat[:k]
                m_k.lerp_(grad, 1 - b1)
                v_k.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                denom = (v_k / (1 - b2 ** adam_steps[:k])).sqrt_().add_(eps)
                p_k.mul_(decay_a[:k])
                p_k.sub_(m_k / denom * (lr_a[:k] / (1 - b1 ** adam_steps[:k])))
        with torch.no_grad():
            weights = _views(flat, shapes)
            train_rmse = torch.sqrt(train_sq / steps_t[a]) * y_scale[a]
            pred = forward(weights, x_valid[a], act) * scale_a + center_a
            sq = ((pred - y_valid[a]) ** 2) * v_mask[a]
            valid_rmse = torch.sqrt(sq.sum(1) / n_valid[a].clamp_min(1))
            valid_rmse = torch.where(has_valid[a], valid_rmse, torch.zeros_like(valid_rmse))
            improved = has_valid[a] & (valid_rmse < best_valid[a]) | ~has_valid[a]
            best_valid[a] = torch.where(improved, valid_rmse, best_valid[a])
            best_epoch[a] = torch.where(improved, torch.full_like(best_epoch[a], epoch), best_epoch[a])
            best[a] = torch.where(improved.view(-1, 1), flat, best[a])
            stop = (has_valid[a] & (epoch - best_epoch[a] >= cfg.patience)) | (epoch + 1 >= fixed_epochs[a])
        metrics = torch.stack([train_rmse, valid_rmse]).cpu().numpy()  # one read-back per epoch
        for j, g in enumerate(a_list):
            history[g]["train"].append(float(metrics[0, j]))
            if len(members[g].valid_idx):
                history[g]["valid"].append(float(metrics[1, j]))
            epochs_run[g] = epoch + 1
        if on_epoch is not None:
            on_epoch(epoch, len(a))
        if bool(stop.any()):
            keep = ~stop
            if not bool(keep.any()):
                break
            active = a[keep]
            flat = flat.detach()[keep].requires_grad_(True)
            adam_m, adam_v, adam_steps = adam_m[keep], adam_v[keep], adam_steps[keep]
    return TrainedMembers(
        weights=[w.contiguous() for w in _views(best, shapes)],
        y_center=y_center,
        y_scale=y_scale,
        best_epoch=best_epoch.cpu().numpy(),
        best_valid=best_valid.cpu().numpy(),
        history=history,
        epochs_run=epochs_run,
    )


def _views(flat: torch.Tensor, shapes: list[torch.Size]) -> list[torch.Tensor]:
    """Per-layer views (M, ...) of the flat (M, P) parameter buffer."""
    out, offset = [], 0
    for sh in shapes:
        size = int(math.prod(sh))
        out.append(flat[:, offset : offset + size].view(flat.shape[0], *sh))
        offset += size
    return out


@torch.no_grad()
def predict_members(
    weights: list[torch.Tensor],
    y_center: torch.Tensor,
    y_scale: torch.Tensor,
    x_by_member: torch.Tensor,
    activation: str,
    chunk: int = 8192,
) -> torch.Tensor:
    """Log-price predictions (M, N) for member-specific inputs (M, N, D) or shared rows (N, D)."""
    act = _activation(activation)
    outs = []
    for start in range(0, x_by_member.shape[-2], chunk):
        xb = x_by_member[start : start + chunk] if x_by_member.dim() == 2 else x_by_member[:, start : start + chunk]
        outs.append(forward(weights, xb, act) * y_scale[:, None] + y_center[:, None])
    return torch.cat(outs, dim=1)
