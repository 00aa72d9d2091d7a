"""The MLP family: pads per-fold matrices into one device tensor and trains all members at once."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from competition.models.base import FamilyResult, FoldMatrices
from competition.models.mlp import Member, MLPConfig, predict_members, train_members


def stack_folds(train: list[np.ndarray], device: str = "cpu", test: list[np.ndarray] | None = None,
                views: bool = False) -> torch.Tensor:
    """(F, N, D_max) float32 from per-fold matrices: training rows, then test rows if given.

    Folds may have different widths (one-hot levels seen per fold); missing columns are zero,
    which the first layer simply ignores. Blocks are copied straight into the tensor, so no
    stacked intermediate copy of the data is ever made, and the block is filled fold by fold
    (only the padding is zeroed), so its memory is touched as it fills. With `views` on the CPU,
    each entry of `train` and `test` is replaced by its (strided) view of the block as soon as
    that fold is copied, so the caller's separate arrays can be freed before the next fold's part
    is touched: never two copies of the data at once."""
    parts = [train] if test is None else [train, test]
    folds = len(train)
    width = max(m.shape[1] for block in parts for m in block)
    rows = sum(block[0].shape[0] for block in parts)
    out = torch.empty((folds, rows, width), dtype=torch.float32, device=device)
    views = views and out.device.type == "cpu"
    for f in range(folds):
        start = 0
        for block in parts:
            m = block[f]
            stop, used = start + m.shape[0], m.shape[1]
            out[f, start:stop, :used] = torch.from_numpy(np.asarray(m, dtype=np.float32)).to(device)
            out[f, start:stop, used:] = 0.0
            if views:
                block[f] = out[f, start:stop, :used].numpy()
            start = stop
    return out


def stack_matrices(mats: FoldMatrices, device: str = "cpu") -> torch.Tensor:
    """`stack_folds` of every fold's training then test rows, holding the data once on the CPU.

    On the CPU the matrices in `mats` are re-pointed at views of the stacked block fold by fold
    as it fills (`views`), so later families read the same memory: one copy of the fold matrices
    instead of two, and no moment holding both (on full-size California, 6 matrices of 79,065
    rows x 466 float32 columns, 0.9 GB: zero-filling the whole block first had peak memory jump
    by that much for a moment). The values are unchanged; the trainer only reads the block. On
    CUDA the block lives on the device and `mats` is left alone."""
    return stack_folds(mats.train, device, mats.test, views=True)


def steps_per_epoch(members: list[Member], batch_size: int) -> int:
    """Steps of the largest member's epoch (for callers that want every member to take as many)."""
    return max(1, math.ceil(max(len(m.train_idx) for m in members) / batch_size))


class MLPFamily:
    name = "mlp"
    batched = True
    """All folds train in one call (checkpoints hold the whole family, not single folds)."""

    def cores(self, members: list[Member], config: Any) -> int:
        """torch's CPU threads (`devices.resolve_threads`); on CUDA they run the CPU side."""
        return torch.get_num_threads()

    def load_extra(self, folder: Path) -> dict[str, Any]:
        meta = json.loads((folder / "mlp_meta.json").read_text())
        tensors = load_file(str(folder / "mlp_weights.safetensors"))
        return {
            "weights": [tensors[f"w{i}"] for i in range(meta["n_tensors"])],
            "y_center": tensors["y_center"],
            "y_scale": tensors["y_scale"],
            "width": meta["width"],
        }

    def merge_extra(self, extras: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "weights": [torch.cat(ws) for ws in zip(*(e["weights"] for e in extras), strict=True)],
            "y_center": torch.cat([e["y_center"] for e in extras]),
            "y_scale": torch.cat([e["y_scale"] for e in extras]),
            "width": extras[0]["width"],
        }

    def fit(
        self,
        mats: FoldMatrices,
        y_log: np.ndarray,
        members: list[Member],
        config: Any,
        device: str,
        progress: Any | None = None,
        check_stop: Callable[[], None] | None = None,
    ) -> FamilyResult:
        """Train every member at once (`train_members`); `check_stop` is called after each epoch
        (it raises to end the fit early)."""
        cfg: MLPConfig = config.mlp
        x = stack_matrices(mats, device)
        n_train = mats.train[0].shape[0]
        y = torch.as_tensor(y_log, dtype=torch.float32, device=device)
        y_full = torch.cat([y, torch.zeros(x.shape[1] - n_train, device=device)])
        task = progress.add_task("MLP epochs", total=cfg.epochs) if progress is not None else None

        def on_epoch(epoch: int, active: int) -> None:
            if check_stop is not None:
                check_stop()
            if progress is not None:
                progress.update(task, completed=epoch + 1, description=f"MLP epochs ({active} members training)")

        trained = train_members(x, y_full, members, cfg, on_epoch=on_epoch)
        if progress is not None:
            progress.update(task, completed=cfg.epochs)
        fold_of = torch.as_tensor([m.fold for m in members], device=device)
        valid_pred = []
        for j, m in enumerate(members):
            if len(m.valid_idx) == 0:
                valid_pred.append(np.zeros(0))
                continue
            rows = torch.as_tensor(m.valid_idx, device=device)
            xv = x[m.fold, rows].unsqueeze(0)
            sl = [w[j : j + 1] for w in trained.weights]
            p = predict_members(sl, trained.y_center[j : j + 1], trained.y_scale[j : j + 1], xv, cfg.activation)
            valid_pred.append(p[0].cpu().numpy().astype(np.float64))
        test_pred = self._predict_tensor(
            trained.weights, trained.y_center, trained.y_scale, x[:, n_train:], fold_of, cfg.activation
        )
        return FamilyResult(
            valid_pred=valid_pred,
            test_pred=test_pred,
            best_iteration=trained.best_epoch,
            history=trained.history,
            extra={
                "weights": trained.weights,
                "y_center": trained.y_center,
                "y_scale": trained.y_scale,
                "width": x.shape[2],
            },
        )

    @staticmethod
    def _predict_tensor(
        weights: list[torch.Tensor],
        y_center: torch.Tensor,
        y_scale: torch.Tensor,
        x_test: torch.Tensor,
        fold_of: torch.Tensor,
        activation: str,
    ) -> np.ndarray:
        out = np.zeros((len(fold_of), x_test.shape[1]))
        for f in torch.unique(fold_of).tolist():
            idx = torch.nonzero(fold_of == f).flatten()
            sl = [w[idx] for w in weights]
            pred = predict_members(sl, y_center[idx], y_scale[idx], x_test[f], activation)
            out[idx.cpu().numpy()] = pred.cpu().numpy()
        return out

    def save(self, result: FamilyResult, folder: Path) -> None:
        tensors = {f"w{i}": w.detach().cpu().contiguous() for i, w in enumerate(result.extra["weights"])}
        tensors["y_center"] = result.extra["y_center"].detach().cpu().contiguous()
        tensors["y_scale"] = result.extra["y_scale"].detach().cpu().contiguous()
        save_file(tensors, str(folder / "mlp_weights.safetensors"))
        (folder / "mlp_meta.json").write_text(
            json.dumps({"width": result.extra["width"], "n_tensors": len(result.extra["weights"])})
        )

    def predict(
        self, folder: Path, test: list[np.ndarray], members: list[dict[str, int]], config: Any, device: str
    ) -> np.ndarray:
        meta = json.loads((folder / "mlp_meta.json").read_text())
        tensors = load_file(str(folder / "mlp_weights.safetensors"), device=device)
        weights = [tensors[f"w{i}"] for i in range(meta["n_tensors"])]
        x = torch.zeros((len(test), test[0].shape[0], meta["width"]), dtype=torch.float32, device=device)
        for i, m in enumerate(test):
            x[i, :, : m.shape[1]] = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32)).to(device)
        fold_of = torch.as_tensor([m["fold"] for m in members], device=device)
        return self._predict_tensor(weights, tensors["y_center"], tensors["y_scale"], x, fold_of, config.mlp.activation)
