"""Per-fold checkpoints: finished pieces of a run on disk, so `comp train --resume` goes on
from where an interrupted run stopped and ends with the same result.

A piece is one `family.fit` call: one fold for families trained fold by fold (LightGBM,
linear), all folds at once for the batched MLP, and the refit. Members are independent, so
training the unfinished pieces later gives exactly what an uninterrupted run would have.
Files are JSON, `.npy` (no pickles) and whatever the family's own `save` writes.

Pieces are written atomically and durably (`atomic.folder`: fsync of every file and folder
before the rename). A piece that is damaged anyway (a truncated or empty file, a bad
safetensors header, a shape that does not match its members) counts as absent: it is trained
again, and a line on stderr says so. A damaged `run.json` cannot be guessed around: `--resume`
stops with a CompError naming it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from competition import atomic
from competition.devices import CoreBudget
from competition.errors import CompError
from competition.models.base import FamilyResult
from competition.models.mlp import Member


def member_key(members: list[Member]) -> list[list[int]]:
    return [[int(m.fold), int(m.seed), len(m.train_idx), len(m.valid_idx), int(m.epochs or 0)] for m in members]


def _say(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr, flush=True)


class Checkpoint:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write_run(self, meta: dict[str, Any]) -> None:
        atomic.write_text(self.folder / "run.json", json.dumps(meta))

    def read_run(self) -> dict[str, Any] | None:
        """The run's config and data digest; None when there is no run.json.

        Raises CompError when run.json is damaged (not JSON, or without config/data_digest)."""
        path = self.folder / "run.json"
        if not path.exists():
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise CompError(
                f"The checkpoint {path} is damaged ({type(exc).__name__}: {str(exc)[:120]}), so run "
                f"{self.folder.name} cannot be resumed; start a new run (the finished pieces next to it "
                "cannot be trusted without it)."
            ) from None
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict) or "data_digest" not in meta:
            raise CompError(
                f"The checkpoint {path} is damaged (no config or data_digest in it), so run {self.folder.name} "
                "cannot be resumed; start a new run."
            )
        return meta

    def remove_temporary(self) -> None:
        """Delete half-written piece folders (hidden temp folders) left by a killed process."""
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)

    def load(self, key: str, family: Any, members: list[Member]) -> FamilyResult | None:
        """The saved piece `key` for exactly these members, or None (absent, another run shape,
        or damaged: then a warning is printed and the piece is trained again)."""
        from safetensors import SafetensorError

        piece = self.folder / key
        if not (piece / "piece.json").exists():
            return None
        try:
            meta = json.loads((piece / "piece.json").read_text(encoding="utf-8"))
            if meta["members"] != member_key(members):
                return None  # a different run shape: train this piece again
            result = FamilyResult(
                valid_pred=[np.asarray(v, dtype=np.float64) for v in meta["valid_pred"]],
                test_pred=np.load(piece / "test_pred.npy", allow_pickle=False),
                best_iteration=np.asarray(meta["best_iteration"], dtype=np.int64),
                history=meta["history"],
                importance=meta["importance"],
                extra=family.load_extra(piece / "model"),
            )
            shapes_ok = (
                len(result.valid_pred) == len(members)
                and all(len(v) == len(m.valid_idx) for v, m in zip(result.valid_pred, members, strict=True))
                and result.test_pred.shape[0] == len(members)
                and len(result.best_iteration) == len(members)
            )
            if not shapes_ok:
                raise ValueError("its arrays do not match its members")
        except (ValueError, KeyError, TypeError, IndexError, OSError, EOFError, SafetensorError) as exc:
            _say(f"checkpoint piece {piece} is damaged ({type(exc).__name__}: {str(exc)[:120]}); training it again.")
            shutil.rmtree(piece, ignore_errors=True)
            return None
        return result

    def save(self, key: str, family: Any, members: list[Member], result: FamilyResult) -> None:
        with atomic.folder(self.folder / key) as tmp:
            (tmp / "model").mkdir()
            family.save(result, tmp / "model")
            np.save(tmp / "test_pred.npy", np.asarray(result.test_pred), allow_pickle=False)
            meta = {
                "members": member_key(members),
                "valid_pred": [np.asarray(v, dtype=np.float64).tolist() for v in result.valid_pred],
                "best_iteration": np.asarray(result.best_iteration).astype(int).tolist(),
                "history": result.history,
                "importance": result.importance,
            }
            (tmp / "piece.json").write_text(json.dumps(meta))  # last: a piece without it is absent


def merge_results(family: Any, results: list[FamilyResult]) -> FamilyResult:
    """Concatenate pieces in member order."""
    if len(results) == 1:
        return results[0]
    importance: dict[str, float] = {}
    for r in results:
        for k, v in r.importance.items():
            importance[k] = importance.get(k, 0.0) + v
    return FamilyResult(
        valid_pred=[v for r in results for v in r.valid_pred],
        test_pred=np.concatenate([r.test_pred for r in results], axis=0),
        best_iteration=np.concatenate([np.asarray(r.best_iteration) for r in results]),
        history=[h for r in results for h in r.history],
        importance=importance,
        extra=family.merge_extra([r.extra for r in results]),
    )


def fit_in_pieces(
    family: Any,
    mats: Any,
    y_log: np.ndarray,
    members: list[Member],
    config: Any,
    device: str,
    progress: Any,
    checkpoint: Checkpoint | None,
    prefix: str,
    budget: CoreBudget | None = None,
) -> FamilyResult:
    """Fit a family piece by piece (one fold per piece unless the family batches all folds),
    reusing pieces a checkpoint already holds and saving each new one as soon as it is done.

    With a `budget`, the pieces of a family trained fold by fold train side by side, each holding
    `family.cores(piece, config)` of the budget's cores while it trains (whoever calls for a
    batched family holds its cores), and every piece polls the budget's stop flag; an error or
    Ctrl-C in one piece stops the others. Pieces are independent and keep their thread counts,
    so the result is the one they give trained one after another."""
    batched = getattr(family, "batched", False)
    if batched:
        pieces = [members]
    else:
        folds = sorted({m.fold for m in members})
        pieces = [[m for m in members if m.fold == f] for f in folds]
    keys = [f"{prefix}-fold-{'-'.join(str(f) for f in sorted({m.fold for m in piece}))}" for piece in pieces]
    results = [
        checkpoint.load(key, family, piece) if checkpoint is not None else None
        for key, piece in zip(keys, pieces, strict=True)
    ]
    todo = [i for i, r in enumerate(results) if r is None]
    task = None
    if progress is not None and not batched and todo:
        task = progress.add_task(f"{family.name} folds", total=len(todo))
    check_stop = budget.check if budget is not None else None

    def fit_piece(i: int) -> FamilyResult:
        shown = progress if batched else None  # a batched family draws its own bar (epochs)
        held = budget.take(family.cores(pieces[i], config)) if budget is not None and not batched else None
        with held or contextlib.nullcontext():
            try:
                result = family.fit(mats, y_log, pieces[i], config, device, shown, check_stop=check_stop)
            except BaseException:
                if budget is not None:
                    budget.stop()  # before its cores are free: no waiting piece starts after a failure
                raise
        if checkpoint is not None:
            checkpoint.save(keys[i], family, pieces[i], result)
        if task is not None:
            progress.advance(task)
        return result

    if budget is None or batched or len(todo) < 2:
        for i in todo:
            results[i] = fit_piece(i)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(len(todo), budget.total), thread_name_prefix=f"comp-{family.name}") as pool:
            futures = [(i, pool.submit(fit_piece, i)) for i in todo]
            try:
                for i, future in futures:
                    results[i] = future.result()
            except BaseException:
                budget.stop()  # the other pieces end at their next step; the pool waits for them
                raise
    return merge_results(family, [r for r in results if r is not None])
