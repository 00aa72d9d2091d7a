"""Training speed benchmark: naive sequential vs batched ensemble trainer, FLOPs, end-to-end runs.

    python -m bench.train_speed            # full benchmark (several minutes on 2 cores)
    python -m bench.train_speed --quick    # smaller settings, for a smoke run

Everything is measured in one process on one machine, so the printed ratios compare like with like.
House Prices uses the real files when present (../shared/data/... or data/house-prices), else
synthetic data of the same size; California uses generated full-size data.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.naive import train_one
from competition.competitions import get_spec
from competition.config import build_config
from competition.data import load_competition
from competition.metrics import log_rmse_from_logs
from competition.models.mlp import Member, MLPConfig, train_members
from competition.models.mlp_family import stack_folds, steps_per_epoch
from competition.splits import make_folds
from competition.training import build_fold_matrices, make_members, prepare_frames

HP_CANDIDATES = [
    Path("../shared/data/house-prices-advanced-regression-techniques"),
    Path(__file__).resolve().parents[2] / "shared/data/house-prices-advanced-regression-techniques",
    Path("data/house-prices"),
]


def house_prices_dir(tmp: Path) -> tuple[Path, str]:
    for p in HP_CANDIDATES:
        if (p / "train.csv").exists():
            return p, "real files"
    from competition.synthetic import house_prices

    house_prices.write(tmp / "hp", 1460, 1459, seed=0)
    return tmp / "hp", "synthetic (real files not found)"


def california_dir(tmp: Path, rows: int, test_rows: int) -> Path:
    from competition.synthetic import california

    california.write(tmp / "ca", rows, test_rows, seed=0)
    return tmp / "ca"


def matmul_peak(device: str) -> float:
    """Measured fp32 GFLOP/s of one large matrix product (the machine's practical ceiling)."""
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    reps = 10
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def member_epoch_flops(n_rows: int, n_valid: int, d: int, cfg: MLPConfig) -> float:
    """Forward+backward (3x forward) over the epoch's rows plus the validation forward pass."""
    params = d * cfg.hidden + (cfg.depth - 1) * cfg.hidden * cfg.hidden + cfg.hidden
    return 2 * params * (3 * n_rows + n_valid)


def hp_setup(data_dir: Path, seeds: int) -> tuple[torch.Tensor, torch.Tensor, list[Member], MLPConfig, int]:
    spec = get_spec("house-prices")
    data = load_competition(spec, data_dir)
    config = build_config(spec.config_defaults)
    train, test, _ = prepare_frames(spec, data)
    folds = make_folds("kfold", train.height, 5, 42, None)
    mats, _ = build_fold_matrices(spec, config, train, test, data.y_log, folds)
    x = stack_folds(mats.train, "cpu")
    keep = ~spec.outlier_rule(data.train).to_numpy()
    members = make_members(folds, seeds, 42, keep)
    return x, torch.as_tensor(data.y_log, dtype=torch.float32), members, config.mlp, train.height


def oof_score(members: list[Member], preds: list[np.ndarray], y: np.ndarray) -> float:
    total, count = np.zeros(len(y)), np.zeros(len(y))
    for m, p in zip(members, preds, strict=True):
        total[m.valid_idx] += p
        count[m.valid_idx] += 1
    seen = count > 0
    return log_rmse_from_logs(total[seen] / count[seen], y[seen])


def batched_valid_preds(
    x: torch.Tensor, y: torch.Tensor, members: list[Member], cfg: MLPConfig, epochs: int
) -> tuple[list[np.ndarray], float]:
    from competition.models.mlp import predict_members

    spe = steps_per_epoch(members, cfg.batch_size)
    t = time.perf_counter()
    out = train_members(x, y, members, cfg, spe, epochs=epochs)
    seconds = time.perf_counter() - t
    preds = []
    for j, m in enumerate(members):
        sl = [w[j : j + 1] for w in out.weights]
        p = predict_members(sl, out.y_center[j : j + 1], out.y_scale[j : j + 1], x[m.fold, m.valid_idx], "silu")
        preds.append(p[0].numpy().astype(np.float64))
    return preds, seconds


def compare_trainers(
    x: torch.Tensor, y: torch.Tensor, members: list[Member], cfg: MLPConfig, epochs: int, peak: float
) -> None:
    cfg = MLPConfig(**{**cfg.__dict__, "patience": 10**6, "epochs": epochs})
    d = x.shape[2]
    print(
        f"\n== House Prices, {len(members)} members (5 folds x {len(members) // 5} seeds), {epochs} epochs each, "
        f"width {cfg.hidden} x depth {cfg.depth}, {d} features, batch {cfg.batch_size}"
    )
    naive_preds, t0 = [], time.perf_counter()
    for m in members:
        p, _, _ = train_one(x[m.fold], y, m, cfg, epochs)
        naive_preds.append(p)
    naive_s = time.perf_counter() - t0
    batched_preds, batched_s = batched_valid_preds(x, y, members, cfg, epochs)
    y_np = y.numpy().astype(np.float64)
    member_epochs = len(members) * epochs
    rows = max(len(m.train_idx) for m in members)
    n_rows = steps_per_epoch(members, cfg.batch_size) * cfg.batch_size
    flops = member_epoch_flops(n_rows, len(members[0].valid_idx), d, cfg) * member_epochs
    print(
        f"naive sequential : {naive_s:7.1f} s  {naive_s / member_epochs * 1e3:7.2f} ms/member-epoch  "
        f"OOF {oof_score(members, naive_preds, y_np):.5f}"
    )
    print(
        f"batched ensemble : {batched_s:7.1f} s  {batched_s / member_epochs * 1e3:7.2f} ms/member-epoch  "
        f"OOF {oof_score(members, batched_preds, y_np):.5f}  ({flops / batched_s / 1e9:.1f} GFLOP/s = "
        f"{flops / batched_s / 1e9 / peak:.0%} of measured matmul peak; {rows} training rows per member)"
    )
    print(f"speed-up batched vs naive at equal epochs: {naive_s / batched_s:.1f}x")


def scaling(
    x: torch.Tensor, y: torch.Tensor, base: list[Member], cfg: MLPConfig, epochs: int, peak: float, sizes: list[int]
) -> None:
    cfg = MLPConfig(**{**cfg.__dict__, "patience": 10**6, "epochs": epochs})
    print(f"\n== Time per member-epoch by ensemble size ({epochs} epochs, naive vs batched)")
    print(f"{'members':>8} {'naive ms':>10} {'batched ms':>11} {'ratio':>7} {'batched GFLOP/s':>16} {'of peak':>8}")
    for size in sizes:
        members = [
            Member(
                fold=base[i % len(base)].fold,
                seed=1000 + i,
                train_idx=base[i % len(base)].train_idx,
                valid_idx=base[i % len(base)].valid_idx,
            )
            for i in range(size)
        ]
        naive_members = members[: min(size, 5)]  # naive cost is linear in members: time 5, scale
        t0 = time.perf_counter()
        for m in naive_members:
            train_one(x[m.fold], y, m, cfg, epochs)
        naive_ms = (time.perf_counter() - t0) / (len(naive_members) * epochs) * 1e3
        _, batched_s = batched_valid_preds(x, y, members, cfg, epochs)
        batched_ms = batched_s / (size * epochs) * 1e3
        n_rows = steps_per_epoch(members, cfg.batch_size) * cfg.batch_size
        gflops = member_epoch_flops(n_rows, len(members[0].valid_idx), x.shape[2], cfg) / (batched_ms / 1e3) / 1e9
        print(
            f"{size:>8} {naive_ms:>10.2f} {batched_ms:>11.2f} {naive_ms / batched_ms:>6.1f}x {gflops:>16.1f} "
            f"{gflops / peak:>8.0%}"
        )


def mlflow_logging(tmp: Path, n: int = 400) -> None:
    """One write per metric (the naive way) vs one batched write, to a fresh sqlite store."""
    from competition.paths import Workspace
    from competition.tracking import RunLogger

    ws = Workspace(tmp / "mlflow_bench")
    ws.mlflow_dir.mkdir(parents=True)
    logger = RunLogger(ws.default_tracking_uri, "bench", ws)
    run = logger.start("per-metric", {})
    t = time.perf_counter()
    for i in range(n):
        logger.client.log_metric(run, "valid_log_rmse", 0.1, step=i)
    single = time.perf_counter() - t
    run2 = logger.start("batched", {})
    t = time.perf_counter()
    logger.metric_series(run2, (("valid_log_rmse", 0.1, i) for i in range(n)))
    batched = time.perf_counter() - t
    print(
        f"\n== MLflow: {n} metric values, one call each {single:.2f} s vs log_batch {batched:.3f} s "
        f"({single / batched:.0f}x)"
    )


def end_to_end(name: str, data_dir: Path, tmp: Path) -> None:
    from competition.paths import Workspace
    from competition.predict import predict_submission
    from competition.run import train

    spec = get_spec(name)
    ws = Workspace(tmp / f"ws_{name}")
    ws.root.mkdir()
    config = build_config(spec.config_defaults)
    t = time.perf_counter()
    outcome = train(spec, data_dir, config, ws)
    total = time.perf_counter() - t
    t = time.perf_counter()
    predict_submission(spec, outcome.run_id, data_dir, tmp / f"{name}_pred.csv", ws)
    predict_s = time.perf_counter() - t
    r = outcome.result
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in outcome.timings.items())
    print(f"\n== End to end: default `comp train {name}` ({r.split}, {len(r.folds)} folds x {config.run.seeds} seeds)")
    print(f"wall {total:.1f} s  [{parts}]  predict from bundle {predict_s:.1f} s")
    print(
        f"CV mean {np.mean(r.fold_scores):.5f} ± {np.std(r.fold_scores):.5f}, OOF {r.oof_score:.5f} "
        f"({int(r.validated.sum())} validated rows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and members, small California data")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--skip-end-to-end", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cpu"
    peak = matmul_peak(device)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"measured fp32 matmul peak {peak:.1f} GFLOP/s"
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        hp_dir, origin = house_prices_dir(tmp)
        print(f"House Prices data: {origin}")
        x, y, members, cfg, _ = hp_setup(hp_dir, seeds=3)
        epochs = 8 if args.quick else 40
        compare_trainers(x, y, members, cfg, epochs, peak)
        scaling(x, y, members, cfg, 3 if args.quick else 6, peak, [1, 5, 15] if args.quick else [1, 5, 15, 50])
        mlflow_logging(tmp, 100 if args.quick else 400)
        if not args.skip_end_to_end:
            end_to_end("house-prices", hp_dir, tmp)
            rows, test_rows = (4000, 2000) if args.quick else (47439, 31626)
            end_to_end("california-house-prices", california_dir(tmp, rows, test_rows), tmp)


if __name__ == "__main__":
    main()
