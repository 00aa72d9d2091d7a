"""Whether a member costs more the more members train beside it: why a population of MLP trials
can be slower per trial than one trial at a time on a CPU (measured 1.37x at 120 members on one
2-core host, 1.03x on another; README).

Trains M members of the House Prices MLP shape (321 inputs, 2 x 256 units, batch 128, 5 folds of
1,460 rows; fp32 and the default precision) for a fixed number of epochs with no early stopping,
for M = 15 (one trial) up to 120 (a population of 8 trials), and prints the seconds per member
epoch and its ratio to M = 15, next to the bytes of per-member state the trainer touches every
step (weights, gradients, AdamW's two moments: 16 bytes a parameter). If a member-epoch costs more
as M grows, the batched trainer is limited by memory traffic, not arithmetic: the state of 120
members no longer fits in the CPU's caches (sizes from `lscpu`, printed).

    python -m bench.member_scaling [--epochs 6] [--threads 1]
"""

from __future__ import annotations

import argparse
import subprocess
import time


def main() -> None:
    import numpy as np
    import torch

    from competition.models.mlp import Member, MLPConfig, train_members

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    caches = [line for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
              if "cache" in line.lower()]
    print("\n".join(caches))
    n, d, folds = 1460, 321, 5
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, n, d, generator=g).expand(folds, n, d).contiguous()
    y = 12 + 0.3 * torch.tanh(x[0] @ torch.randn(d, generator=g))
    rng = np.random.default_rng(0)
    chunks = np.array_split(rng.permutation(n), folds)

    def members(m: int) -> list[Member]:
        out = []
        for j in range(m):
            f = j % folds
            train = np.sort(np.concatenate([c for i, c in enumerate(chunks) if i != f]))
            out.append(Member(fold=f, seed=j, train_idx=train, valid_idx=np.sort(chunks[f])))
        return out

    params = d * 256 + 256 + 256 * 256 + 256 + 256 + 1
    for precision in ("fp32", "auto"):
        cfg = MLPConfig(epochs=args.epochs, patience=args.epochs + 1, precision=precision)
        train_members(x, y, members(15), cfg)  # warm-up
        base = None
        for m in (15, 30, 60, 120):
            t0 = time.perf_counter()
            train_members(x, y, members(m), cfg)
            per = (time.perf_counter() - t0) / (m * args.epochs)
            base = base or per
            state_mb = m * params * 16 / 1e6
            print(f"{precision:5s} members {m:4d}: {1e3 * per:7.2f} ms per member-epoch, "
                  f"{per / base:5.2f}x of 15 members; state {state_mb:6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
