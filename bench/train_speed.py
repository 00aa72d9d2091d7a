"""Training speed benchmark: naive sequential vs batched ensemble trainer, FLOPs, end-to-end runs.

    python -m bench.train_speed            # full benchmark (several minutes on 2 cores)
    python -m bench.train_speed --quick    # smaller settings, for a smoke run
    python -m bench.train_speed --device cuda   # on a GPU machine

The naive trainer is timed twice: as a bare loop, and writing each metric to MLflow as it goes
(the issue's "database write per metric"); the batched trainer in fp32 and in the precision
`mlp.precision=auto` picks on this machine (bf16 where the hardware multiplies it natively).

Everything is measured in one process on one machine, so the printed ratios compare like with like.
House Prices uses the real files when present (../shared/data/... or data/house-prices), else
synthetic data of the same size; California uses generated full-size data.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.naive import train_one
from competition.competitions import get_spec
from competition.config import build_config
from competition.data import load_competition
from competition.metrics import log_rmse_from_logs
from competition.models.mlp import Member, MLPConfig, compute_dtype, train_members
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
            return p.resolve(), "real files"
    from competition.synthetic import house_prices

    house_prices.write(tmp / "hp", 1460, 1459, seed=0)
    return tmp / "hp", "synthetic (real files not found)"


def california_dir(tmp: Path, rows: int, test_rows: int) -> Path:
    from competition.synthetic import california

    california.write(tmp / "ca", rows, test_rows, seed=0)
    return tmp / "ca"


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: str, dtype: torch.dtype = torch.float32) -> float:
    """Measured GFLOP/s of one large matrix product (the machine's practical ceiling)."""
    n = 2048 if device == "cpu" else 8192
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps = 10
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def member_epoch_flops(n_rows: int, n_valid: int, d: int, cfg: MLPConfig) -> float:
    """Forward+backward (3x forward) over the epoch's rows plus the validation forward pass."""
    params = d * cfg.hidden + (cfg.depth - 1) * cfg.hidden * cfg.hidden + cfg.hidden
    return 2 * params * (3 * n_rows + n_valid)


def hp_setup(
    data_dir: Path, seeds: int, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, list[Member], MLPConfig, int]:
    spec = get_spec("house-prices")
    data = load_competition(spec, data_dir)
    config = build_config(spec.config_defaults)
    train, test, _ = prepare_frames(spec, data)
    folds = make_folds("kfold", train.height, 5, 42, None)
    mats, _ = build_fold_matrices(spec, config, train, test, data.y_log, folds)
    x = stack_folds(mats.train, device)
    keep = ~spec.outlier_rule(data.train).to_numpy()
    members = make_members(folds, seeds, 42, keep)
    y = torch.as_tensor(data.y_log, dtype=torch.float32, device=device)
    return x, y, members, config.mlp, train.height


def oof_score(members: list[Member], preds: list[np.ndarray], y: np.ndarray) -> float:
    total, count = np.zeros(len(y)), np.zeros(len(y))
    for m, p in zip(members, preds, strict=True):
        total[m.valid_idx] += p
        count[m.valid_idx] += 1
    seen = count > 0
    return log_rmse_from_logs(total[seen] / count[seen], y[seen])


def batched_valid_preds(
    x: torch.Tensor, y: torch.Tensor, members: list[Member], cfg: MLPConfig, epochs: int, logger: Any = None
) -> tuple[list[np.ndarray], float]:
    """Train all members at once; with `logger`, also write every member's per-epoch curves to
    MLflow as `comp train` does (batched writes), inside the timed span."""
    from competition.models.mlp import predict_members

    spe = steps_per_epoch(members, cfg.batch_size)
    sync(x.device.type)
    t = time.perf_counter()
    out = train_members(x, y, members, cfg, spe, epochs=epochs)
    sync(x.device.type)
    if logger is not None:
        run = logger.start("batched", {})
        logger.metric_series(
            run,
            (
                (f"{name}_log_rmse_member{j}", value, epoch)
                for j, history in enumerate(out.history)
                for name in ("train", "valid")
                for epoch, value in enumerate(history[name])
            ),
        )
    seconds = time.perf_counter() - t
    preds = []
    for j, m in enumerate(members):
        sl = [w[j : j + 1] for w in out.weights]
        p = predict_members(sl, out.y_center[j : j + 1], out.y_scale[j : j + 1], x[m.fold, m.valid_idx], "silu")
        preds.append(p[0].cpu().numpy().astype(np.float64))
    return preds, seconds


def naive_run(
    x: torch.Tensor, y: torch.Tensor, members: list[Member], cfg: MLPConfig, epochs: int, log_metric: Any = None
) -> tuple[list[np.ndarray], float]:
    preds = []
    sync(x.device.type)
    t = time.perf_counter()
    for m in members:
        p, _, _ = train_one(x[m.fold], y, m, cfg, epochs, log_metric)
        preds.append(p)
    sync(x.device.type)
    return preds, time.perf_counter() - t


def warm_up(x: torch.Tensor, y: torch.Tensor, members: list[Member], cfg: MLPConfig) -> None:
    """One untimed epoch of each trainer and precision: the first call of a process pays one-off
    costs (thread pools, allocator growth, kernel dispatch caches) that are not training speed."""
    train_one(x[members[0].fold], y, members[0], cfg, 1)
    for precision in ("fp32", "auto"):
        train_members(x, y, members, dataclasses.replace(cfg, precision=precision), epochs=1)


def fresh_logger(folder: Path, experiment: str) -> Any:
    """A RunLogger on a new sqlite MLflow store under `folder`, like a fresh workspace's."""
    from competition.paths import Workspace
    from competition.tracking import RunLogger

    ws = Workspace(folder)
    ws.mlflow_dir.mkdir(parents=True)
    return RunLogger(ws.default_tracking_uri, experiment, ws)


def mlflow_writer(tmp: Path) -> Any:
    """log_metric(key, value, step) writing one value per call to a fresh sqlite MLflow store."""
    logger = fresh_logger(tmp / "mlflow_naive", "bench-naive")
    run = logger.start("naive", {})
    return lambda key, value, step: logger.client.log_metric(run, key, value, step=step)


def compare_trainers(
    x: torch.Tensor,
    y: torch.Tensor,
    members: list[Member],
    cfg: MLPConfig,
    epochs: int,
    peaks: dict[str, float],
    tmp: Path,
    rounds: int = 3,
) -> None:
    cfg = dataclasses.replace(cfg, patience=10**6, epochs=epochs)
    d = x.shape[2]
    print(
        f"\n== House Prices, {len(members)} members (5 folds x {len(members) // 5} seeds), {epochs} epochs each, "
        f"width {cfg.hidden} x depth {cfg.depth}, {d} features, batch {cfg.batch_size}"
    )
    y_np = y.cpu().numpy().astype(np.float64)
    member_epochs = len(members) * epochs
    n_rows = steps_per_epoch(members, cfg.batch_size) * cfg.batch_size
    flops = member_epoch_flops(n_rows, len(members[0].valid_idx), d, cfg) * member_epochs
    auto = str(compute_dtype("auto", x.device)).removeprefix("torch.")

    def line(name: str, times: list[float], preds: list[np.ndarray], peak_key: str | None) -> None:
        seconds = float(np.median(times))
        spread = f" (runs {min(times) / member_epochs * 1e3:.2f}-{max(times) / member_epochs * 1e3:.2f})"
        text = (
            f"{name:<40}: {seconds:6.1f} s  {seconds / member_epochs * 1e3:6.2f} ms/member-epoch"
            f"{spread if len(times) > 1 else ''}  OOF {oof_score(members, preds, y_np):.5f}"
        )
        if peak_key is not None:
            rate = flops / seconds / 1e9
            text += f"  ({rate:.1f} GFLOP/s = {rate / peaks[peak_key]:.0%} of measured {peak_key} matmul peak)"
        print(text, flush=True)

    warm_up(x, y, members, cfg)
    # Every variant once per round, rounds repeated: on a shared machine the speed drifts by tens
    # of percent within minutes, so each variant is reported by its median over the rounds.
    variants = ["naive", "naive + one MLflow write per metric", "batched fp32", "batched auto", "batched auto + writes"]
    times: dict[str, list[float]] = {v: [] for v in variants}
    preds: dict[str, list[np.ndarray]] = {}
    for r in range(rounds):
        for v in variants:
            if v == "naive":
                preds[v], seconds = naive_run(x, y, members, cfg, epochs)
            elif v.startswith("naive"):
                preds[v], seconds = naive_run(x, y, members, cfg, epochs, mlflow_writer(tmp / f"naive{r}"))
            elif v == "batched fp32":
                fp32 = dataclasses.replace(cfg, precision="fp32")
                preds[v], seconds = batched_valid_preds(x, y, members, fp32, epochs)
            elif v == "batched auto":
                preds[v], seconds = batched_valid_preds(x, y, members, cfg, epochs)
            else:
                logger = fresh_logger(tmp / f"mlflow_batched{r}", "bench-batched")
                preds[v], seconds = batched_valid_preds(x, y, members, cfg, epochs, logger)
            times[v].append(seconds)
    print(f"median of {rounds} rounds, each variant once per round:")
    line("naive sequential", times["naive"], preds["naive"], None)
    line(variants[1], times[variants[1]], preds[variants[1]], None)
    line("batched ensemble, float32", times["batched fp32"], preds["batched fp32"], "float32")
    line(f"batched ensemble, {auto}", times["batched auto"], preds["batched auto"], auto)
    line(f"batched {auto} + batched MLflow writes", times[variants[4]], preds[variants[4]], None)
    med = {v: float(np.median(t)) for v, t in times.items()}
    for v, name in (("batched fp32", "float32"), ("batched auto", auto)):
        per_round = ", ".join(f"{a / b:.1f}x" for a, b in zip(times["naive"], times[v], strict=True))
        print(
            f"speed-up batched {name} vs naive at equal epochs (training loops alone): {med['naive'] / med[v]:.1f}x "
            f"(per round: {per_round})"
        )
    per_round = ", ".join(f"{a / b:.1f}x" for a, b in zip(times[variants[1]], times[variants[4]], strict=True))
    print(
        f"speed-up of the whole loop with its metrics written to MLflow (the issue's naive loop: one write per "
        f"metric; batched: log_batch): {med[variants[1]] / med[variants[4]]:.1f}x (per round: {per_round})"
    )


def scaling(
    x: torch.Tensor, y: torch.Tensor, base: list[Member], cfg: MLPConfig, epochs: int, peak: float, sizes: list[int]
) -> None:
    """Naive vs batched (default precision) by ensemble size; 'x 1 member' is the batched wall
    time relative to training one member alone (the GPU bar: 15 members under 2x)."""
    cfg = dataclasses.replace(cfg, patience=10**6, epochs=epochs)
    print(f"\n== Time per member-epoch by ensemble size ({epochs} epochs, naive vs batched)")
    print(
        f"{'members':>8} {'naive ms':>10} {'batched ms':>11} {'ratio':>7} {'batched GFLOP/s':>16} {'of peak':>8} "
        f"{'x 1 member':>11}"
    )
    one_member_s = None
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
        _, naive_s = naive_run(x, y, naive_members, cfg, epochs)
        naive_ms = naive_s / (len(naive_members) * epochs) * 1e3
        _, batched_s = batched_valid_preds(x, y, members, cfg, epochs)
        one_member_s = one_member_s or batched_s
        batched_ms = batched_s / (size * epochs) * 1e3
        n_rows = steps_per_epoch(members, cfg.batch_size) * cfg.batch_size
        gflops = member_epoch_flops(n_rows, len(members[0].valid_idx), x.shape[2], cfg) / (batched_ms / 1e3) / 1e9
        print(
            f"{size:>8} {naive_ms:>10.2f} {batched_ms:>11.2f} {naive_ms / batched_ms:>6.1f}x {gflops:>16.1f} "
            f"{gflops / peak:>8.0%} {batched_s / one_member_s:>10.1f}x",
            flush=True,
        )


def mlflow_logging(tmp: Path, n: int = 400) -> None:
    """One write per metric (the naive way) vs one batched write, to a fresh sqlite store."""
    logger = fresh_logger(tmp / "mlflow_bench", "bench")
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
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--skip-end-to-end", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    auto = compute_dtype("auto", torch.device(device))
    peaks = {"float32": matmul_peak(device)}
    if auto != torch.float32:
        peaks[str(auto).removeprefix("torch.")] = matmul_peak(device, auto)
    name = torch.cuda.get_device_name() if device == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(
        f"device {name}, torch {torch.__version__}; measured matmul peak "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peaks.items())
        + f"; mlp.precision=auto trains in {str(auto).removeprefix('torch.')}"
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        hp_dir, origin = house_prices_dir(tmp)
        print(f"House Prices data: {origin}")
        x, y, members, cfg, _ = hp_setup(hp_dir, seeds=3, device=device)
        epochs = 8 if args.quick else 40
        compare_trainers(x, y, members, cfg, epochs, peaks, tmp, rounds=1 if args.quick else 3)
        auto_peak = peaks[str(auto).removeprefix("torch.")]
        scaling(x, y, members, cfg, 3 if args.quick else 6, auto_peak, [1, 5, 15] if args.quick else [1, 5, 15, 50])
        mlflow_logging(tmp, 100 if args.quick else 400)
        if not args.skip_end_to_end:
            end_to_end("house-prices", hp_dir, tmp)
            rows, test_rows = (4000, 2000) if args.quick else (47439, 31626)
            end_to_end("california-house-prices", california_dir(tmp, rows, test_rows), tmp)


if __name__ == "__main__":
    main()
