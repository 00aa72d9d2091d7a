"""`comp tune` speed, as ratios from one run (the shared machine drifts; compare within a run only).

1. MLP trials per minute: K trials trained as one population (one batched network) vs the same K
   trials one at a time (no pruning, so both do the same work; their scores are checked equal).
2. Two workers vs one against PostgreSQL, one torch thread each: wall time of `comp tune` finishing
   N trials of one study.

    python -m bench.tune_speed [--data-dir DIR] [--k 8] [--epochs 60] [--trials 8] [--postgres URL]

Without --data-dir, synthetic House Prices data (1,460 + 1,459 rows) is generated. Without --postgres,
a private PostgreSQL cluster is started on loopback if Debian's server packages are installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class _Trial:
    def report(self, value: float, step: int) -> None:
        pass

    def should_prune(self) -> bool:
        return False


def population_vs_sequential(data_dir: Path, k: int, epochs: int, threads: int) -> dict[str, float]:
    import numpy as np
    import torch

    from competition.competitions import get_spec
    from competition.config import build_config
    from competition.data import load_competition
    from competition.tune.context import build_context
    from competition.tune.evaluate import evaluate_population
    from competition.tune.runner import pin_resolved

    torch.set_num_threads(threads)
    spec = get_spec("house-prices")
    data = load_competition(spec, data_dir)
    shared = {"run.model": "mlp", "mlp.epochs": epochs, "mlp.patience": epochs}
    ctx = build_context(spec, data, pin_resolved(build_config(spec.config_defaults, shared), "cpu"), "cpu")
    rng = np.random.default_rng(0)
    configs = [
        pin_resolved(build_config(spec.config_defaults, shared, {
            "mlp.lr": float(10 ** rng.uniform(-4, -2.5)),
            "mlp.weight_decay": float(10 ** rng.uniform(-2, 1)),
            "mlp.dropout": float(rng.uniform(0, 0.5)),
        }), "cpu")
        for _ in range(k)
    ]
    evaluate_population(ctx, configs[:1], [_Trial()])  # warm-up (allocations, first-call costs)
    t0 = time.perf_counter()
    together = evaluate_population(ctx, configs, [_Trial() for _ in configs])
    t_pop = time.perf_counter() - t0
    t0 = time.perf_counter()
    alone = [evaluate_population(ctx, [c], [_Trial()])[0] for c in configs]
    t_seq = time.perf_counter() - t0
    assert [o.oof_digest for o in together] == [o.oof_digest for o in alone], "population != trials alone"
    return {"k": k, "population_s": t_pop, "sequential_s": t_seq,
            "population_trials_per_min": 60 * k / t_pop, "sequential_trials_per_min": 60 * k / t_seq}


@contextlib.contextmanager
def private_postgres() -> Iterator[str | None]:
    import glob
    import socket

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        yield None
        return
    bindir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="comp-bench-pg-"))
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = folder / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "-l", str(folder / "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def workers_wall(server: str, data_dir: Path, trials: int, n_workers: int, family: str, epochs: int) -> float:
    import psycopg

    name = f"bench_{n_workers}w_{int(time.time())}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    args = [sys.executable, "-c", "from competition.cli import app; app()", "tune", "house-prices",
            "--data-dir", str(data_dir), "--model", family, "--trials", str(trials), "--storage", f"{server}/{name}",
            "--study", name, "--rescore-seeds", "0", "--no-keep-best", "--population", "1",
            "--set", "run.threads=1", "--set", f"mlp.epochs={epochs}", "--set", f"mlp.patience={epochs}"]
    with tempfile.TemporaryDirectory() as ws:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        t0 = time.perf_counter()
        procs = [subprocess.Popen(args, cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(n_workers)]
        for p in procs:
            _, err = p.communicate()
            if p.returncode:
                raise SystemExit(f"worker failed: {err[-2000:]}")
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--k", type=int, default=8, help="population size")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trials", type=int, default=8, help="trials of the one- vs two-worker study")
    parser.add_argument("--family", default="mlp", help="family of the one- vs two-worker study")
    parser.add_argument("--postgres", help="server URL without a database, e.g. postgresql://user:pw@127.0.0.1:5432")
    parser.add_argument("--skip-workers", action="store_true")
    args = parser.parse_args()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed bench still stops its PostgreSQL

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            from competition.synthetic import house_prices

            data_dir = Path(tmp) / "hp"
            house_prices.write(data_dir, 1460, 1459, seed=0)
        pop = population_vs_sequential(data_dir, args.k, args.epochs, args.threads)
        print(f"MLP trials ({args.epochs} epochs, no pruning, {args.threads} thread): population of {pop['k']}: "
              f"{pop['population_s']:.1f} s ({pop['population_trials_per_min']:.1f} trials/min); one at a time: "
              f"{pop['sequential_s']:.1f} s ({pop['sequential_trials_per_min']:.1f} trials/min); "
              f"speed-up {pop['sequential_s'] / pop['population_s']:.2f}x (identical scores)")
        if args.skip_workers:
            return
        with contextlib.ExitStack() as stack:
            server = args.postgres or stack.enter_context(private_postgres())
            if server is None:
                print("two workers vs one: skipped (no PostgreSQL; pass --postgres URL)")
                return
            one = workers_wall(server, data_dir, args.trials, 1, args.family, args.epochs)
            two = workers_wall(server, data_dir, args.trials, 2, args.family, args.epochs)
            print(f"{args.trials} {args.family} trials against PostgreSQL, one thread per worker: "
                  f"one worker {one:.1f} s, "
                  f"two workers {two:.1f} s; two take {two / one:.2f} of one's wall time "
                  f"({os.cpu_count()} cores; each worker also loads data and fits fold matrices itself)")


if __name__ == "__main__":
    main()
