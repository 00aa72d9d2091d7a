"""The naive reference trainer the batched one is measured against.

One model at a time, a per-row `DataLoader`, a Python step per mini-batch with
`torch.optim.AdamW`, an evaluation per epoch, and (optionally) one MLflow write per metric.
The model, loss, target scaling, schedule and early-stopping rule match `competition.models.mlp`
so the two reach the same quality; only the execution strategy differs.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from competition.models.mlp import Member, MLPConfig, _lr_factor


def make_module(n_in: int, cfg: MLPConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(cfg.depth):
        layers += [nn.Linear(width, cfg.hidden), nn.SiLU(), nn.Dropout(cfg.dropout)]
        width = cfg.hidden
    layers.append(nn.Linear(width, 1))
    module = nn.Sequential(*layers)
    for m in module:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return module


def train_one(
    x: torch.Tensor, y: torch.Tensor, member: Member, cfg: MLPConfig, epochs: int, log_metric: Any | None = None
) -> tuple[np.ndarray, float, int]:
    """Train one member; returns (validation predictions at the best epoch, best score, best epoch)."""
    torch.manual_seed(member.seed)
    tr = torch.as_tensor(member.train_idx)
    va = torch.as_tensor(member.valid_idx)
    center, scale = y[tr].mean(), y[tr].std(unbiased=False)
    loader = DataLoader(TensorDataset(x[tr], (y[tr] - center) / scale), batch_size=cfg.batch_size, shuffle=True)
    model = make_module(x.shape[1], cfg).to(x.device)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    best, best_epoch, best_state = math.inf, 0, copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * _lr_factor(epoch, cfg)
        model.train()
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = ((model(xb).squeeze(-1) - yb) ** 2).mean()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            total += loss.item()
        model.eval()
        with torch.no_grad():
            pred = model(x[va]).squeeze(-1) * scale + center
            valid = torch.sqrt(((pred - y[va]) ** 2).mean()).item()
        if log_metric is not None:
            log_metric("train_loss", total / len(loader), epoch)
            log_metric("valid_log_rmse", valid, epoch)
        if valid < best:
            best, best_epoch, best_state = valid, epoch, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = (model(x[va]).squeeze(-1) * scale + center).cpu().numpy()
    return pred.astype(np.float64), best, best_epoch
