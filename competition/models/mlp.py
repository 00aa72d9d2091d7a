"""A regularized MLP trained as a batched ensemble: every member (fold x seed x setting) at once.

Weights carry a leading member dimension and each layer is one `torch.baddbmm`, so k folds x s
seeds cost about one model's worth of Python overhead. Each member:
- draws mini-batches only from its own training rows (index slices of device tensors),
- standardizes the log target with its own training rows' mean/std,
- is evaluated on its own validation rows every epoch and early-stopped on its own; a stopped
  member is dropped from the batch (frozen) and its best weights are kept.
Randomness (init, batch order, dropout) comes from one torch.Generator per member, consumed in
the same order whatever the group, and every reduction and optimizer update is done per member
(products batched over members, AdamW's fused kernel fed one tensor per member and layer), so a
member's result does not depend on which other members share its batch: bit for bit, in fp32 and
bf16 (`tests/test_mlp_trainer.py`). Where the time goes and how it compares with a naive loop:
`python -m bench.train_speed`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


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
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Training matmuls in fp32, or bf16 (inputs, hidden activations and matmuls in bfloat16;
    weights, optimizer state, loss and evaluation stay fp32). "auto": bf16 where the hardware
    multiplies bfloat16 natively (CUDA with bf16, or a CPU with AVX512-BF16/AMX), else fp32."""


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
    """baddbmm of (M, B, D) activations with (M, D, O) weights, one product per member.

    `w_compute` is the weights already in the activations' dtype (a bf16 copy in bf16 training,
    the fp32 weights themselves otherwise); the gradient for the fp32 weights comes back fp32.
    Every product keeps the member as its batch dimension, so a member's numbers are the same
    whatever its batch-mates (checked at real sizes for fp32 and bf16)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, w_compute: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w_compute)
        return torch.baddbmm(b.to(x.dtype), x, w_compute)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, None]:
        x, w_compute = ctx.saved_tensors
        grad_x = torch.bmm(grad, w_compute.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(x.transpose(1, 2), grad)
        return grad_x, grad_w.float(), grad.sum(1, keepdim=True, dtype=torch.float32), None


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype training matmuls run in (see MLPConfig.precision)."""
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r}; choose fp32, bf16 or auto")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if _cpu_has_native_bf16() else torch.float32


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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
    dropout_masks: torch.Tensor | None = None,
    compute_weights: list[torch.Tensor | None] | None = None,
) -> torch.Tensor:
    """x: (M, B, D), or (B, D) shared by all members -> (M, B) standardized predictions.

    Training mode (autograd on) takes `compute_weights`, the weights in x's dtype, and
    `dropout_masks` (M, B, hidden * layers), each member's multipliers (0 or 1/keep) for its
    hidden units; without them the network runs in evaluation mode."""
    n_layers = len(weights) // 2
    h = x
    offset = 0
    for layer in range(n_layers):
        w, b = weights[2 * layer], weights[2 * layer + 1]
        if h.dim() == 2:  # shared rows (N, D) for every member: one GEMM against all members' weights
            m, d, o = w.shape
            h = (h @ w.permute(1, 0, 2).reshape(d, m * o)).view(-1, m, o).permute(1, 0, 2) + b
        elif w.shape[2] == 1:  # the output unit: a dot product (bmm's matrix-vector path rounds per batch size)
            h = (h.float() * w.transpose(1, 2)).sum(-1, keepdim=True) + b
        elif compute_weights is not None and torch.is_grad_enabled():
            h = _MemberLinear.apply(h, w, b, compute_weights[2 * layer])
        else:
            h = torch.baddbmm(b, h, w)
        if layer < n_layers - 1:
            h = act(h)
            if dropout_masks is not None:
                width = h.shape[2]
                h = h * dropout_masks[:, :, offset : offset + width]
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
    fixed_epochs = np.array([m.epochs or epochs for m in members])
    act = _activation(cfg.activation)
    bs = cfg.batch_size
    fold_of = torch.as_tensor([m.fold for m in members], device=device)
    generators = [torch.Generator(device=device).manual_seed(int(m.seed) + 1) for m in members]
    train_idx, n_train = _pad([m.train_idx for m in members], device)
    valid_idx, n_valid = _pad([m.valid_idx for m in members], device)
    has_valid = np.array([len(m.valid_idx) > 0 for m in members])
    valid_mask = torch.arange(valid_idx.shape[1], device=device).view(1, -1) < n_valid.view(-1, 1)
    valid_count = n_valid.clamp_min(1).float()

    lr = np.array([cfg.lr if m.lr is None else m.lr for m in members], dtype=np.float64)
    wd = np.array([cfg.weight_decay if m.weight_decay is None else m.weight_decay for m in members], dtype=np.float64)
    dtype = compute_dtype(cfg.precision, device)
    x_source = x_folds if dtype == x_folds.dtype else x_folds.to(dtype)
    dropout = [cfg.dropout if m.dropout is None else m.dropout for m in members]
    masks = DropoutMasks(dropout, cfg.hidden * cfg.depth, bs, generators, device, dtype)

    # Target scaling fit on each member's training rows only.
    y_train = y_log[train_idx]
    t_mask = torch.arange(train_idx.shape[1], device=device).view(1, -1) < n_train.view(-1, 1)
    y_center = (y_train * t_mask).sum(1) / n_train
    y_scale = torch.sqrt((((y_train - y_center[:, None]) ** 2) * t_mask).sum(1) / n_train).clamp_min(1e-6)

    # Each layer's parameters are one contiguous (M, ...) tensor; a prefix [:k] of members is then
    # contiguous too, so autograd, casts and the fused AdamW kernel work on it without copies.
    adam = MemberAdam(init_weights(members, x_folds.shape[2], cfg, device))
    params = adam.params
    best = [p.clone() for p in params]
    best_valid = np.full(n_members, np.inf)
    best_epoch = np.zeros(n_members, dtype=np.int64)
    # Per-active-member tensors shrink with `active` when members stop.
    x_valid = x_source[fold_of[:, None], valid_idx]
    y_valid = y_log[valid_idx]
    history: list[dict[str, list[float]]] = [{"train": [], "valid": []} for _ in members]
    epochs_run = np.zeros(n_members, dtype=np.int64)

    active = np.arange(n_members)  # ids of members still training (kept sorted)
    for epoch in range(epochs):
        a_list = active.tolist()
        a = torch.as_tensor(active, device=device)
        steps_a = own_steps[active]
        # Per-member shuffle of its own training rows, cycled to fill its last batch.
        perms = [torch.randperm(len(members[g].train_idx), generator=generators[g], device=device) for g in a_list]
        positions = torch.arange(int(steps_a[0]) * bs, device=device).view(1, -1)
        slots = _pad_tensors(perms, device).gather(1, positions % n_train[a].view(-1, 1))
        batch_rows = train_idx[a].gather(1, slots)
        masks.begin_epoch(a_list, steps_a)
        lr_a = lr[active] * _lr_factor(epoch, cfg)
        wd_a = wd[active]
        fold_a = fold_of[a][:, None]
        center_a, scale_a = y_center[a, None], y_scale[a, None]
        train_sq = torch.zeros(len(a_list), device=device)
        for s in range(int(steps_a[0])):
            k = int((steps_a > s).sum())  # members still stepping this epoch: a prefix
            rows = batch_rows[:k, s * bs : (s + 1) * bs]
            xb = x_source[fold_a[:k], rows]
            yb = (y_log[rows] - center_a[:k]) / scale_a[:k]
            leaves = [p[:k].detach().requires_grad_(True) for p in params]
            # hidden layers' weights in the training dtype (the output unit and biases stay fp32)
            compute_w = (
                leaves
                if dtype == torch.float32
                else [p[:k].to(dtype) if i % 2 == 0 and i < len(params) - 2 else None for i, p in enumerate(params)]
            )
            pred = forward(leaves, xb, act, masks.draw(k, s), compute_w)
            loss_per = ((pred - yb) ** 2).mean(1)
            loss = loss_per.sum()
            if cfg.l1 > 0:
                loss = loss + cfg.l1 * leaves[0].abs().sum()
            grads = torch.autograd.grad(loss, leaves)
            train_sq[:k] += loss_per.detach()
            with torch.no_grad():
                grad_rows = member_rows(grads)
                if cfg.grad_clip > 0:
                    factor = (cfg.grad_clip / (_member_norms(grad_rows, k) + 1e-6)).clamp_(max=1.0)
                    for g in grads:
                        g.mul_(factor.view(-1, *[1] * (g.dim() - 1)))
                adam.step(grad_rows, lr_a[:k], wd_a[:k])
        with torch.no_grad():
            train_rmse = torch.sqrt(train_sq / torch.as_tensor(steps_a, device=device)) * y_scale[a]
            # Validation runs in the training dtype too: it selects the epoch of the model as trained.
            eval_w = params if dtype == torch.float32 else [p.to(dtype) for p in params]
            pred = forward(eval_w, x_valid, act) * scale_a + center_a
            valid_rmse = torch.sqrt((((pred - y_valid) ** 2) * valid_mask).sum(1) / valid_count)
            metrics = torch.stack([train_rmse, valid_rmse]).cpu().numpy()  # one read-back per epoch
        # Early-stopping bookkeeping on the host; only improved members' rows are copied.
        stopped = np.zeros(len(a_list), dtype=bool)
        for j, g in enumerate(a_list):
            history[g]["train"].append(float(metrics[0, j]))
            epochs_run[g] = epoch + 1
            if has_valid[g]:
                history[g]["valid"].append(float(metrics[1, j]))
                if metrics[1, j] < best_valid[g]:
                    best_valid[g], best_epoch[g] = metrics[1, j], epoch
                    _copy_member(best, g, params, j)
                stopped[j] = epoch - best_epoch[g] >= cfg.patience
            else:
                best_valid[g], best_epoch[g] = 0.0, epoch
            stopped[j] |= epoch + 1 >= fixed_epochs[g]
            if stopped[j] and not has_valid[g]:  # no validation rows: the last epoch's weights are kept
                _copy_member(best, g, params, j)
        if on_epoch is not None:
            on_epoch(epoch, len(a_list))
        if stopped.all():
            break
        if stopped.any():
            keep = torch.as_tensor(~stopped, device=device)
            active = active[~stopped]
            adam.keep(keep)
            params = adam.params
            x_valid, y_valid, valid_mask, valid_count = (t[keep] for t in (x_valid, y_valid, valid_mask, valid_count))
    return TrainedMembers(
        weights=best,
        y_center=y_center,
        y_scale=y_scale,
        best_epoch=best_epoch,
        best_valid=best_valid,
        history=history,
        epochs_run=epochs_run,
    )


def member_rows(tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """Per-member views of per-layer (k, ...) tensors, member-major: [m0 layer0, m0 layer1, ...,
    m1 layer0, ...]. Per-member work on these (norms, the fused AdamW kernel) does not depend on
    the other members in the batch."""
    per_layer = [t.unbind() for t in tensors]
    return [rows[j] for j in range(tensors[0].shape[0]) for rows in per_layer]


def _member_norms(grad_rows: list[torch.Tensor], k: int) -> torch.Tensor:
    """Each member's gradient norm over all layers: (k,), from its member-major rows. One
    reduction per member and layer, so a member's norm is the same whatever its batch-mates."""
    sq = torch.stack(torch._foreach_norm(grad_rows)).view(k, -1) ** 2
    return sq.sum(1).sqrt()


class MemberAdam:
    """AdamW state for a batch of members whose parameters are per-layer (M, ...) tensors.

    Updates run PyTorch's fused AdamW kernel with each member's layer as its own tensor: the kernel
    splits work per tensor, so a member's numbers do not depend on its batch-mates (a whole
    (k, ...) tensor is split differently for different k), and each member keeps its own step
    count. Decoupled weight decay (the kernel's `weight_decay`) applies to weight matrices
    (even layers) only, never to biases. Per-member views are built once per set of members."""

    def __init__(self, params: list[torch.Tensor]) -> None:
        self._set(params, [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params])
        self.steps = torch.zeros(params[0].shape[0], device=params[0].device)
        self.step_rows = list(self.steps.unbind())

    def _set(self, params: list[torch.Tensor], exp_avg: list[torch.Tensor], exp_avg_sq: list[torch.Tensor]) -> None:
        self.params, self.exp_avg, self.exp_avg_sq = params, exp_avg, exp_avg_sq
        self.rows = [member_rows(ts) for ts in (params, exp_avg, exp_avg_sq)]

    def step(self, grad_rows: list[torch.Tensor], lr: np.ndarray, weight_decay: np.ndarray) -> None:
        """One update of the first k = len(lr) members (the prefix still stepping this epoch), from
        their gradients as `member_rows`."""
        k, n_layers = len(lr), len(self.params)
        self.steps[:k] += 1
        start = 0
        while start < k:  # one call per run of members sharing lr and decay (usually all of them)
            end = start + 1
            while end < k and lr[end] == lr[start] and weight_decay[end] == weight_decay[start]:
                end += 1
            for first, decay in ((0, weight_decay[start]), (1, 0.0)):  # weights, then biases
                picks = [j * n_layers + i for j in range(start, end) for i in range(first, n_layers, 2)]
                torch._fused_adamw_(
                    *([rows[i] for i in picks] for rows in (self.rows[0], grad_rows, self.rows[1], self.rows[2])),
                    [],
                    [self.step_rows[i // n_layers] for i in picks],
                    lr=float(lr[start]),
                    beta1=ADAM_BETAS[0],
                    beta2=ADAM_BETAS[1],
                    weight_decay=float(decay),
                    eps=ADAM_EPS,
                    amsgrad=False,
                    maximize=False,
                )
            start = end

    def keep(self, mask: torch.Tensor) -> None:
        """Drop stopped members (mask False); the others keep their state."""
        self._set(*([t[mask] for t in ts] for ts in (self.params, self.exp_avg, self.exp_avg_sq)))
        self.steps = self.steps[mask]
        self.step_rows = list(self.steps.unbind())


def _copy_member(dst: list[torch.Tensor], i: int, src: list[torch.Tensor], j: int) -> None:
    for d, s in zip(dst, src, strict=True):
        d[i].copy_(s[j])


class DropoutMasks:
    """Per-member dropout masks from each member's own generator.

    Masks are drawn as random bytes (64 random bits give 8 bytes, several times cheaper than one
    uniform float per unit), so keep probabilities are rounded to multiples of 1/256 and kept
    units are scaled by the inverse of the rounded probability. A member's bytes for a whole
    epoch are drawn in one call when the epoch begins (after its shuffle), and members without
    dropout draw nothing, so a member's stream is the same whatever its batch-mates. Thresholds
    and scales are stored at full (M, batch, width) shape: CPU kernels compare and multiply
    same-shape tensors an order of magnitude faster than broadcast ones."""

    def __init__(
        self,
        dropout: list[float],
        width: int,
        batch: int,
        generators: list[torch.Generator],
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        keep_levels = [min(256, max(1, round((1.0 - p) * 256))) for p in dropout]
        self.uses = [p > 0 for p in dropout]
        self.any = any(self.uses)
        self.uniform = len(set(keep_levels)) == 1
        self.width = width
        self.words = -(-width // 8)
        self.batch = batch
        self.generators = generators
        self.device = device
        self.dtype = dtype
        shape = (len(dropout), batch, width)
        levels = torch.as_tensor(keep_levels, device=device).view(-1, 1, 1)
        self.threshold = (levels - 1).to(torch.uint8).expand(shape).contiguous()
        self.scale = (256.0 / levels).to(dtype).expand(shape).contiguous()
        self.noise = torch.zeros(0, 0, self.words, dtype=torch.int64, device=device)

    def begin_epoch(self, ids: list[int], steps: np.ndarray) -> None:
        """Draw this epoch's bytes for members `ids` (those still training, in order), which take
        `steps` mini-batches each."""
        if not self.any:
            return
        lo, hi = -(2**63), 2**63 - 1
        self.noise = torch.zeros(
            len(ids), int(steps.max()) * self.batch, self.words, dtype=torch.int64, device=self.device
        )
        for j, (g, n) in enumerate(zip(ids, steps, strict=True)):
            if self.uses[g]:
                rows = int(n) * self.batch
                self.noise[j, :rows] = torch.randint(
                    lo, hi, (rows, self.words), generator=self.generators[g], device=self.device
                )
        if self.uniform:  # every member has the same rate: any rows of the tables will do
            self.epoch_threshold, self.epoch_scale = self.threshold[: len(ids)], self.scale[: len(ids)]
        else:
            idx = torch.as_tensor(ids, device=self.device)
            self.epoch_threshold, self.epoch_scale = self.threshold[idx], self.scale[idx]

    def draw(self, k: int, step: int) -> torch.Tensor | None:
        """(k, batch, width) multipliers (0 or 1/keep) for the first k members of the epoch's set at
        mini-batch `step`, or None without dropout."""
        if not self.any:
            return None
        rows = slice(step * self.batch, (step + 1) * self.batch)
        noise = self.noise[:k, rows].view(torch.uint8)[:, :, : self.width]
        keep = noise <= self.epoch_threshold[:k]
        return keep.view(torch.uint8).to(self.dtype).mul_(self.epoch_scale[:k])


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
