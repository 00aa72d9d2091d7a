"""A regularized MLP trained as a batched ensemble: every member (fold x seed x setting) at once.

Weights carry a leading member dimension and each layer is one batched product (`torch.bmm`),
so k folds x s seeds cost about one model's worth of Python overhead. The backward pass is
written out by hand (no autograd graph) and gradients land in preallocated per-member rows, so a
training step is about thirty tensor operations whatever the ensemble size. Each member:
- draws mini-batches only from its own training rows (index slices of device tensors),
- standardizes the log target with its own training rows' mean/std,
- is evaluated on its own validation rows every epoch and early-stopped on its own; a stopped
  member is dropped from the batch (frozen) and its best weights are kept.
Randomness (init, batch order, dropout) comes from each member's own seeded streams, consumed in
the same order whatever the group, and every reduction and optimizer update is done per member
(products batched over members, row-wise norms, AdamW's fused kernel fed one tensor per member),
so on the CPU a member's result does not depend on which other members share its batch: bit for
bit, in fp32 and bf16 (`tests/test_mlp_trainer.py`; tiny bf16 products go through `member_bmm`).
On CUDA this is not so today: reruns of the same group are bit-identical, but a member alone
differed from itself among 15 by up to 8e-4 in its weights (H200, torch 2.11). Where the time goes
and how it compares with a naive loop: `python -m bench.train_speed`."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from competition.models.mlp_config import MLPConfig

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
_DROPOUT_STREAM = 0xD0
"""Mixed into each member's seed for its dropout stream (its shuffles use the seed itself)."""


StopHook = Callable[[int, "list[Member]", np.ndarray, np.ndarray], np.ndarray]
"""(epoch, members, best validation log-RMSE per member, ids of members still training) -> which of
those to stop now (bool per id); `members` and the scores are in the trainer's own order."""


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
    patience: int | None = None
    """Epochs without a better validation score before this member stops (None: the config's)."""


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


@dataclass(frozen=True)
class Layout:
    """Where each layer's parameters sit in a member's two flat fp32 rows: every weight matrix in
    one row, every bias in another. Per-member work (gradient norms, AdamW) then touches two
    tensors a member, whatever the depth, and the first k members are one contiguous block."""

    dims: tuple[int, ...]
    """Layer widths, input first: (n_in, hidden, ..., 1)."""

    @property
    def n_layers(self) -> int:
        return len(self.dims) - 1

    @functools.cached_property
    def _weight_starts(self) -> list[int]:
        return [0, *itertools.accumulate(a * b for a, b in itertools.pairwise(self.dims))]

    @functools.cached_property
    def _bias_starts(self) -> list[int]:
        return [0, *itertools.accumulate(self.dims[1:])]

    @property
    def n_weights(self) -> int:
        return self._weight_starts[-1]

    @property
    def n_biases(self) -> int:
        return self._bias_starts[-1]

    def weight(self, flat: torch.Tensor, layer: int) -> torch.Tensor:
        """(k, fan_in, fan_out) view of layer `layer`'s weights in (k, n_weights) rows."""
        a, b = self.dims[layer], self.dims[layer + 1]
        start = self._weight_starts[layer]
        return flat[:, start : start + a * b].view(-1, a, b)

    def bias(self, flat: torch.Tensor, layer: int) -> torch.Tensor:
        """(k, 1, fan_out) view of layer `layer`'s biases in (k, n_biases) rows."""
        start = self._bias_starts[layer]
        return flat[:, start : start + self.dims[layer + 1]].view(-1, 1, self.dims[layer + 1])

    def layers(self, weights: torch.Tensor, biases: torch.Tensor) -> list[torch.Tensor]:
        """[W0, b0, W1, b1, ...] views, the layout `forward` and the saved bundles use."""
        return [t for i in range(self.n_layers) for t in (self.weight(weights, i), self.bias(biases, i))]

    @staticmethod
    def flatten(layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Inverse of `layers`: per-layer (M, ...) tensors to (M, n_weights) and (M, n_biases) rows."""
        return tuple(torch.cat([t.flatten(1) for t in layers[first::2]], 1) for first in (0, 1))  # type: ignore[return-value]


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


def _silu_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.silu_backward(grad, pre)


def _relu_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.threshold_backward(grad, pre, 0)


def _gelu_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.gelu_backward(grad, pre)


def _tanh_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.tanh_backward(grad, torch.tanh(pre))


_ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[..., torch.Tensor]]] = {
    "relu": (torch.relu, _relu_backward),
    "silu": (torch.nn.functional.silu, _silu_backward),
    "gelu": (torch.nn.functional.gelu, _gelu_backward),
    "tanh": (torch.tanh, _tanh_backward),
}
"""Each activation with its derivative as a function of (output gradient, pre-activation)."""


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    return _activation_pair(name)[0]


def _activation_pair(name: str) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[..., torch.Tensor]]:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


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


# torch hands a CPU bf16 `bmm` to oneDNN only when members x rows x inner x columns > 4096 (`checksize`
# in aten/src/ATen/native/mkldnn/Utils.cpp) and computes smaller ones with its own gemm, which rounds
# differently: a tiny member alone (4096 multiply-adds) and the same member among others took different
# paths (found on an AMX CPU). Products that small are computed in fp32 from the bf16 values (each
# product of two bf16 numbers is exact in fp32) and rounded once, whatever the member count.
_ONEDNN_MIN_PRODUCT = 16 * 16 * 16


def member_bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`torch.bmm` of (k, m, n) by (k, n, p) whose row for each member is the same bits whatever k.

    Equal to `torch.bmm` except for CPU bf16 products of at most 4,096 multiply-adds per member,
    which run in fp32 and are rounded to bf16 (see `_ONEDNN_MIN_PRODUCT`)."""
    tiny = a.shape[1] * a.shape[2] * b.shape[2] <= _ONEDNN_MIN_PRODUCT
    if tiny and a.dtype == torch.bfloat16 and a.device.type == "cpu":
        return torch.bmm(a.float(), b.float()).to(torch.bfloat16)
    return torch.bmm(a, b)


def forward(weights: list[torch.Tensor], x: torch.Tensor, act: Callable) -> torch.Tensor:
    """Evaluation-mode network: x (M, B, D), or (B, D) shared by all members -> (M, B)
    standardized predictions. Training uses `loss_and_gradients`, the same network with dropout
    and its backward pass written out."""
    n_layers = len(weights) // 2
    h = x
    for layer in range(n_layers):
        w, b = weights[2 * layer], weights[2 * layer + 1]
        if h.dim() == 2:  # shared rows (N, D) for every member: one GEMM against all members' weights
            m, d, o = w.shape
            h = (h @ w.permute(1, 0, 2).reshape(d, m * o)).view(-1, m, o).permute(1, 0, 2) + b
        elif w.shape[2] == 1:  # the output unit: a dot product (bmm's matrix-vector path rounds per batch size)
            h = (h.float() * w.transpose(1, 2)).sum(-1, keepdim=True) + b
        else:  # product, then bias: bf16 baddbmm rounds its fused bias differently for a lone member
            h = member_bmm(h, w).add_(b)
        if layer < n_layers - 1:
            h = act(h)
    return h.squeeze(-1)


def loss_and_gradients(
    layout: Layout,
    weights: torch.Tensor,
    biases: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    masks: torch.Tensor | None,
    activation: str,
    dtype: torch.dtype,
    grad_weights: torch.Tensor,
    grad_biases: torch.Tensor,
    l1: float = 0.0,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Each of k members' mean squared error on its mini-batch (k,), and its gradients.

    x (k, B, D) in the training dtype, y (k, B) standardized targets, `masks` (k, B, hidden units)
    dropout multipliers. Hidden layers multiply in `dtype` (fp32 weights cast once per step);
    the output unit and the loss are fp32. The backward pass is written out (no autograd graph,
    no zero-filled gradient buffers): the output unit's and every bias's gradients are written
    into `grad_weights` (k, n_weights) / `grad_biases` (k, n_biases); the hidden layers' weight
    gradients, one batched product each, are returned in `dtype` for `clip_and_store` to scale
    and write."""
    act, act_backward = _activation_pair(activation)
    n = layout.n_layers
    batch = x.shape[1]
    inputs, pres, mats, mask_of = [], [], [], []
    h, offset = x, 0
    for layer in range(n - 1):
        mat = layout.weight(weights, layer).to(dtype)
        pre = member_bmm(h, mat).add_(layout.bias(biases, layer).to(dtype))  # not baddbmm: see `forward`
        inputs.append(h)
        pres.append(pre)
        mats.append(mat)
        h = act(pre)
        if masks is not None:
            mask_of.append(masks[:, :, offset : offset + h.shape[2]])
            offset += h.shape[2]
            h.mul_(mask_of[-1])
    # output unit in fp32: a dot product per row (as `forward`), then the squared error
    h32 = h.float()
    w_out = layout.weight(weights, n - 1).transpose(1, 2)  # (k, 1, width)
    err = (h32 * w_out).sum(-1) + layout.bias(biases, n - 1)[:, :, 0] - y
    loss = (err * err).mean(1)
    g = (err * (2.0 / batch)).unsqueeze(-1)  # d loss / d prediction, (k, B, 1)
    torch.sum(h32 * g, 1, out=layout.weight(grad_weights, n - 1)[:, :, 0])
    torch.sum(g, 1, out=layout.bias(grad_biases, n - 1)[:, :, 0])
    grad_h = (g * w_out).to(dtype)
    hidden_grads: list[torch.Tensor] = [grad_h] * (n - 1)
    for layer in reversed(range(n - 1)):
        if masks is not None:
            grad_h.mul_(mask_of[layer])
        grad_pre = act_backward(grad_h, pres[layer])
        hidden_grads[layer] = member_bmm(inputs[layer].transpose(1, 2), grad_pre)
        layout.bias(grad_biases, layer).copy_(grad_pre.sum(1, keepdim=True))
        if layer > 0:
            grad_h = member_bmm(grad_pre, mats[layer].transpose(1, 2))
    if l1 > 0:  # in fp32, like the weights it pulls towards zero
        hidden_grads[0] = hidden_grads[0].float().add_(torch.sign(layout.weight(weights, 0)), alpha=l1)
    return loss, hidden_grads


def clip_and_store(
    layout: Layout,
    hidden_grads: list[torch.Tensor],
    grad_weights: torch.Tensor,
    grad_biases: torch.Tensor,
    max_norm: float,
) -> None:
    """Clip each member's whole gradient to norm `max_norm` and write the hidden layers' weight
    gradients, scaled, into their fp32 rows (one pass: the scaling rides on the write).

    Norms are exact per member whatever its batch-mates and the thread count: each reduction runs
    over rows, every row reduced by one thread (a flat (k, n) sum would split a lone member's row
    across threads and round differently). Hidden layers' partial norms are taken in their own
    dtype (a bf16 gradient is not copied to fp32 just to be measured)."""
    n = layout.n_layers
    k = grad_weights.shape[0]
    if max_norm <= 0:
        for layer, grad in enumerate(hidden_grads):
            layout.weight(grad_weights, layer).copy_(grad)
        return
    norm = torch.linalg.vector_norm
    parts = [norm(norm(grad, dim=2), dim=1, dtype=torch.float32) for grad in hidden_grads]
    parts.append(norm(layout.weight(grad_weights, n - 1)[:, :, 0], dim=1))
    parts.append(norm(grad_biases, dim=1))
    total = torch.stack(parts, 1).square_().sum(1).sqrt_()
    factor = (max_norm / (total + 1e-6)).clamp_(max=1.0).view(k, 1, 1)
    # Clipping acts in the first few percent of steps only; on the CPU, where reading the flag
    # back costs nothing, the other steps skip the scaling pass (a factor of 1 changes no bits).
    clipped = factor.device.type != "cpu" or bool((factor < 1).any())
    for layer, grad in enumerate(hidden_grads):
        target = layout.weight(grad_weights, layer)
        target.copy_(grad)
        if clipped:
            target.mul_(factor)
    if clipped:
        layout.weight(grad_weights, n - 1).mul_(factor)
        grad_biases.mul_(factor[:, :, 0])


def _pad(rows: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max(len(r) for r in rows))
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.as_tensor(out, device=device), torch.as_tensor([len(r) for r in rows], device=device)


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
    stop_members: StopHook | None = None,
) -> TrainedMembers:
    """Train all members together on `x_folds` (F, N, D) with log targets `y_log` (N,).

    An epoch is one pass over each member's own training rows (ceil(rows / batch) steps), so a
    member with fewer rows (an early time fold) takes fewer steps and costs less; pass
    `steps_per_epoch` to give every member the same number of steps instead. Either way a
    member trains identically alone or in any group. Members without validation rows train for
    exactly `epochs` epochs (refit on all rows); the others early-stop on validation log-RMSE.
    `stop_members` (optional) is asked after every epoch which still-training members to stop
    now (e.g. pruned trials of a tuning population); a stopped member keeps its best weights."""
    device = x_folds.device
    n_members = len(members)
    bs = cfg.batch_size
    own_steps = np.array([steps_per_epoch or max(1, math.ceil(len(m.train_idx) / bs)) for m in members])
    # Members sorted by steps (descending): at any step the members still stepping are a prefix,
    # so a step computes on a contiguous slice and members that finished their epoch cost nothing.
    order = np.argsort(-own_steps, kind="stable")
    out = _train_sorted(
        x_folds, y_log, [members[i] for i in order], cfg, own_steps[order], epochs, on_epoch, stop_members
    )
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


@torch.no_grad()
def _train_sorted(
    x_folds: torch.Tensor,
    y_log: torch.Tensor,
    members: list[Member],
    cfg: MLPConfig,
    own_steps: np.ndarray,
    epochs: int | None,
    on_epoch: Callable[[int, int], None] | None,
    stop_members: StopHook | None = None,
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
    patience = np.array([cfg.patience if m.patience is None else m.patience for m in members])
    dtype = compute_dtype(cfg.precision, device)
    n_in = x_folds.shape[2]
    # bf16 dot products take input pairs: an odd width makes the first layer's products ~10%
    # slower (measured). A zero column is added for training; its weights never touch a
    # prediction and are dropped from the returned weights.
    width = n_in + 1 if dtype == torch.bfloat16 and n_in % 2 else n_in

    def as_input(rows: torch.Tensor) -> torch.Tensor:
        """(..., n_in) rows of the block in the training dtype and width. Rows are converted as they
        are gathered, never the whole block: a training-dtype copy of it would hold 0.44 GB more on
        full-size California. Conversion is elementwise, so the values are the same either way."""
        rows = rows.to(dtype)
        return rows if width == n_in else torch.nn.functional.pad(rows, (0, width - n_in))

    dropout = [cfg.dropout if m.dropout is None else m.dropout for m in members]
    masks = DropoutMasks(dropout, cfg.hidden * cfg.depth, bs, [m.seed for m in members], device, dtype)

    # Target scaling fit on each member's training rows only.
    y_train = y_log[train_idx]
    t_mask = torch.arange(train_idx.shape[1], device=device).view(1, -1) < n_train.view(-1, 1)
    y_center = (y_train * t_mask).sum(1) / n_train
    y_scale = torch.sqrt((((y_train - y_center[:, None]) ** 2) * t_mask).sum(1) / n_train).clamp_min(1e-6)

    # Each member's weights are one row of a (M, n_weights) fp32 tensor and its biases one row of
    # (M, n_biases): the members still stepping are a prefix [:k], one contiguous block, and the
    # per-member norms and AdamW updates take two tensors a member.
    layout = Layout((width, *[cfg.hidden] * cfg.depth, 1))
    adam = MemberAdam(list(layout.flatten(init_weights(members, width, cfg, device))))
    params = adam.params
    grad_w = torch.empty(n_members, layout.n_weights, device=device)
    grad_b = torch.empty(n_members, layout.n_biases, device=device)
    best = [p.clone() for p in params]
    best_valid = np.full(n_members, np.inf)
    best_epoch = np.zeros(n_members, dtype=np.int64)
    # Training rows are gathered by one flat index into (folds x rows, features).
    x_rows = x_folds.reshape(-1, n_in)
    rows_per_fold = x_folds.shape[1]
    # Per-active-member tensors shrink with `active` when members stop.
    x_valid = torch.zeros((n_members, valid_idx.shape[1], width), dtype=dtype, device=device)
    for j, m in enumerate(members):  # member by member: no full-precision copy of all of them
        x_valid[j, :, :n_in] = x_folds[m.fold, valid_idx[j]]
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
        slots = torch.nn.utils.rnn.pad_sequence(perms, batch_first=True).gather(1, positions % n_train[a].view(-1, 1))
        batch_rows = train_idx[a].gather(1, slots)
        flat_rows = batch_rows + fold_of[a][:, None] * rows_per_fold
        center_a, scale_a = y_center[a, None], y_scale[a, None]
        y_batches = (y_log[batch_rows] - center_a) / scale_a
        masks.begin_epoch(a_list, steps_a)
        lr_a = lr[active] * _lr_factor(epoch, cfg)
        wd_a = wd[active]
        train_sq = torch.zeros(len(a_list), device=device)
        for s in range(int(steps_a[0])):
            k = int((steps_a > s).sum())  # members still stepping this epoch: a prefix
            batch = slice(s * bs, (s + 1) * bs)
            xb = as_input(x_rows.index_select(0, flat_rows[:k, batch].reshape(-1))).view(k, bs, -1)
            loss_per, hidden_grads = loss_and_gradients(
                layout,
                *(p[:k] for p in params),
                xb,
                y_batches[:k, batch],
                masks.draw(k, s),
                cfg.activation,
                dtype,
                grad_w[:k],
                grad_b[:k],
                cfg.l1,
            )
            train_sq[:k] += loss_per
            clip_and_store(layout, hidden_grads, grad_w[:k], grad_b[:k], cfg.grad_clip)
            adam.step([grad_w[:k], grad_b[:k]], lr_a[:k], wd_a[:k])
        train_rmse = torch.sqrt(train_sq / torch.as_tensor(steps_a, device=device)) * y_scale[a]
        # Validation runs in the training dtype too: it selects the epoch of the model as trained.
        eval_w = [w.to(dtype) for w in layout.layers(*params)]
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
                stopped[j] = epoch - best_epoch[g] >= patience[g]
            else:
                best_valid[g], best_epoch[g] = 0.0, epoch
            stopped[j] |= epoch + 1 >= fixed_epochs[g]
            if stopped[j] and not has_valid[g]:  # no validation rows: the last epoch's weights are kept
                _copy_member(best, g, params, j)
        if stop_members is not None:
            stopped |= np.asarray(stop_members(epoch, members, best_valid, active), dtype=bool)
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
        weights=[t[:, :n_in].contiguous() if i == 0 else t.contiguous() for i, t in enumerate(layout.layers(*best))],
        y_center=y_center,
        y_scale=y_scale,
        best_epoch=best_epoch,
        best_valid=best_valid,
        history=history,
        epochs_run=epochs_run,
    )


class MemberAdam:
    """AdamW state for a batch of members whose parameters are rows of (M, n) tensors: [weights,
    biases], each member one row of each.

    Updates run PyTorch's fused AdamW kernel fed each member's row as its own tensor: the kernel
    splits its work per tensor, so a member's numbers do not depend on its batch-mates (a whole
    (k, n) block is split at other places for other k, and the kernel rounds its split remainders
    differently: measured, not bit-exact), and each member keeps its own step count. Decoupled
    weight decay (the kernel's `weight_decay`) applies to the weights rows only, never to biases.
    Per-member views are built once per set of members.

    The fused kernel is the private op `torch._fused_adamw_`. A torch without it gets `_plain_step`:
    the same update (Loshchilov & Hutter's AdamW, as `torch.optim.AdamW` computes it) written with
    public elementwise tensor ops on the members' block; it agrees with the fused kernel to float32
    rounding (`tests/test_member_adam.py`)."""

    def __init__(self, params: list[torch.Tensor]) -> None:
        self._set(params, [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params])
        self.steps = torch.zeros(params[0].shape[0], device=params[0].device)
        self.step_rows = list(self.steps.unbind())

    def _set(self, params: list[torch.Tensor], exp_avg: list[torch.Tensor], exp_avg_sq: list[torch.Tensor]) -> None:
        self.params, self.exp_avg, self.exp_avg_sq = params, exp_avg, exp_avg_sq
        self.rows = [[list(t.unbind()) for t in ts] for ts in (params, exp_avg, exp_avg_sq)]

    def step(self, grads: list[torch.Tensor], lr: np.ndarray, weight_decay: np.ndarray) -> None:
        """One update of the first k = len(lr) members (the prefix still stepping this epoch), from
        their gradients [(k, n_weights), (k, n_biases)]."""
        k = len(lr)
        self.steps[:k] += 1
        fused = getattr(torch, "_fused_adamw_", None)  # looked up per call: a test removes it to force the fallback
        grad_rows = [g.unbind() for g in grads]
        start = 0
        while start < k:  # one call per run of members sharing lr and decay (usually all of them)
            end = start + 1
            while end < k and lr[end] == lr[start] and weight_decay[end] == weight_decay[start]:
                end += 1
            param_rows, avg_rows, sq_rows = self.rows
            for i, decay in enumerate((weight_decay[start], 0.0)):  # weights, then biases
                if fused is None:
                    self._plain_step(i, grads[i][start:end], start, end, float(lr[start]), float(decay))
                    continue
                fused(
                    param_rows[i][start:end],
                    list(grad_rows[i][start:end]),
                    avg_rows[i][start:end],
                    sq_rows[i][start:end],
                    [],
                    self.step_rows[start:end],
                    lr=float(lr[start]),
                    beta1=ADAM_BETAS[0],
                    beta2=ADAM_BETAS[1],
                    weight_decay=float(decay),
                    eps=ADAM_EPS,
                    amsgrad=False,
                    maximize=False,
                )
            start = end

    def _plain_step(self, i: int, grad: torch.Tensor, start: int, end: int, lr: float, decay: float) -> None:
        """AdamW on members start..end-1 of tensor i (0: weights, 1: biases) in public torch ops:
        p -= lr*decay*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
        p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps), t each member's own step count.
        Only elementwise ops (no reductions), so a member's numbers do not depend on its batch-mates."""
        beta1, beta2 = ADAM_BETAS
        param, exp_avg, exp_avg_sq = (ts[i][start:end] for ts in (self.params, self.exp_avg, self.exp_avg_sq))
        t = self.steps[start:end].to(torch.float64).unsqueeze(1)
        step_size = (lr / (1 - beta1**t)).to(param.dtype)
        bias2_sqrt = (1 - beta2**t).sqrt().to(param.dtype)
        if decay:
            param.mul_(1 - lr * decay)
        exp_avg.mul_(beta1).add_(grad * (1 - beta1))
        exp_avg_sq.mul_(beta2).add_(grad * grad * (1 - beta2))
        denom = exp_avg_sq.sqrt().div_(bias2_sqrt).add_(ADAM_EPS)
        param.sub_(exp_avg.div(denom).mul_(step_size))

    def keep(self, mask: torch.Tensor) -> None:
        """Drop stopped members (mask False); the others keep their state."""
        self._set(*([t[mask] for t in ts] for ts in (self.params, self.exp_avg, self.exp_avg_sq)))
        self.steps = self.steps[mask]
        self.step_rows = list(self.steps.unbind())


def _copy_member(dst: list[torch.Tensor], i: int, src: list[torch.Tensor], j: int) -> None:
    for d, s in zip(dst, src, strict=True):
        d[i].copy_(s[j])


class DropoutMasks:
    """Per-member dropout masks from each member's own random stream.

    Masks are drawn as random bytes (64 random bits give 8 bytes, several times cheaper than one
    uniform float per unit), so keep probabilities are rounded to multiples of 1/256 and kept
    units are scaled by the inverse of the rounded probability. A member's bytes for a whole
    epoch are drawn in one call when the epoch begins, and members without dropout draw nothing,
    so a member's stream is the same whatever its batch-mates. The stream is seeded from the
    member's seed: on the CPU numpy's SFC64 generator (about 3x faster than torch's Mersenne
    Twister for raw bits), on a GPU a torch generator on the device. Thresholds and scales are
    stored at full (M, batch, width) shape: CPU kernels compare and multiply same-shape tensors
    an order of magnitude faster than broadcast ones."""

    def __init__(
        self,
        dropout: list[float],
        width: int,
        batch: int,
        seeds: list[int],
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
        self.streams: list[Any] = [
            np.random.Generator(np.random.SFC64(np.random.SeedSequence([int(seed), _DROPOUT_STREAM])))
            if device.type == "cpu"
            else torch.Generator(device=device).manual_seed(int(seed) * 1_000_003 + _DROPOUT_STREAM)
            for seed in seeds
        ]
        self.device = device
        self.dtype = dtype
        shape = (len(dropout), batch, width)
        levels = torch.as_tensor(keep_levels, device=device).view(-1, 1, 1)
        self.threshold = (levels - 1).to(torch.uint8).expand(shape).contiguous()
        self.scale = (256.0 / levels).to(dtype).expand(shape).contiguous()
        self.noise = torch.zeros(0, 0, self.words, dtype=torch.int64, device=device)

    def _fill(self, row: torch.Tensor, member: int) -> None:
        """Fill `row` (a contiguous int64 block of the noise buffer) from the member's stream."""
        stream = self.streams[member]
        if isinstance(stream, np.random.Generator):  # CPU: numpy writes straight into the buffer's memory
            row.numpy()[...] = stream.bit_generator.random_raw(row.numel()).view(np.int64).reshape(row.shape)
        else:
            row.random_(-(2**63), 2**63 - 1, generator=stream)

    def begin_epoch(self, ids: list[int], steps: np.ndarray) -> None:
        """Draw this epoch's bytes for members `ids` (those still training, in order), which take
        `steps` mini-batches each."""
        if not self.any:
            return
        rows = int(steps.max()) * self.batch
        if self.noise.shape[0] < len(ids) or self.noise.shape[1] < rows:  # reused across epochs
            self.noise = torch.zeros(len(ids), rows, self.words, dtype=torch.int64, device=self.device)
        for j, (g, n) in enumerate(zip(ids, steps, strict=True)):
            if self.uses[g]:
                own = int(n) * self.batch
                self._fill(self.noise[j, :own], g)
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
