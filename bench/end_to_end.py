"""End-to-end `comp train --model mlp,lightgbm,lasso` on both competitions, this checkout against
an earlier release, phase by phase.

    python -m bench.end_to_end                       # House Prices + full-size California, 1 round
    python -m bench.end_to_end --rounds 3            # medians of 3 rounds (old and new alternate)
    python -m bench.end_to_end --old ae9818b         # the release to compare with (default)
    python -m bench.end_to_end --only house-prices --no-old

Each command runs in a fresh workspace (cold: empty feature cache, new MLflow store) under
`/usr/bin/time -v` (wall seconds, peak RSS). The earlier release runs from a `git worktree` of
`--old` in a temporary folder, with the same Python environment. Phase seconds come from the
`seconds.*` metrics each run logs on its MLflow parent run (older releases log fewer phases).
Old and new alternate within each round, so a machine whose load drifts (a shared box) affects
both alike; the printed ratios are old/new per round, and their median.
House Prices uses the real files when present, else synthetic data of the same size;
California uses generated data of the competition's full size (47,439 + 31,626 rows).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.train_speed import california_dir, house_prices_dir

ROOT = Path(__file__).resolve().parents[1]
MODEL = "mlp,lightgbm,lasso"


def time_v(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in GB, stdout) of `cmd` under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    parts = [float(p) for p in wall.group(1).split(":")] if wall else [float("nan")]
    seconds = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
    return seconds, (int(rss.group(1)) / 1e6 if rss else float("nan")), done.stdout


def run_metrics(workspace: Path, env: dict[str, str], code: Path) -> dict[str, float]:
    """Metrics of the one parent run in `workspace`'s MLflow store (read with `code`'s package)."""
    script = (
        "import json, mlflow\n"
        f"c = mlflow.MlflowClient('sqlite:///{workspace}/mlflow_runs/mlflow.db')\n"
        "runs = [r for e in c.search_experiments() for r in c.search_runs([e.experiment_id])"
        " if r.data.tags.get('comp_kind') == 'train']\n"
        "print(json.dumps(runs[0].data.metrics))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=code, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_run(code: Path, competition: str, data_dir: Path, extra: list[str]) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(code))
    with tempfile.TemporaryDirectory() as ws:
        cmd = [sys.executable, "-c", "from competition.cli import app; app()", "train", competition]
        cmd += ["--data-dir", str(data_dir), "--model", MODEL, *extra]
        wall, rss, _ = time_v(cmd, Path(ws), env)
        metrics = run_metrics(Path(ws), env, code)
    out = {"wall": wall, "peak_rss_gb": rss, "oof": metrics.get("oof_log_rmse", float("nan"))}
    out.update({k.removeprefix("seconds."): v for k, v in metrics.items() if k.startswith("seconds.")})
    return out


def old_checkout(commit: str, tmp: Path) -> Path:
    folder = tmp / f"old-{commit}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), commit], check=True,
                   capture_output=True)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--old", default="ae9818b", help="earlier release (commit) to compare with")
    ap.add_argument("--no-old", action="store_true", help="time this checkout only")
    ap.add_argument("--only", choices=["house-prices", "california-house-prices"], default=None)
    ap.add_argument("--set", action="append", default=[], help="extra --set for both versions")
    args = ap.parse_args()
    extra = [a for s in args.set for a in ("--set", s)]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        old = None if args.no_old else old_checkout(args.old, tmp)
        try:
            hp, hp_kind = house_prices_dir(tmp)
            cases = [("house-prices", hp, hp_kind)]
            cases.append(("california-house-prices", california_dir(tmp, 47_439, 31_626), "generated full size"))
            for competition, data_dir, kind in cases:
                if args.only and competition != args.only:
                    continue
                print(f"== {competition} ({kind}), --model {MODEL}, load {os.getloadavg()[0]:.1f}", flush=True)
                rows: dict[str, list[dict[str, float]]] = {"new": [], "old": []}
                for r in range(args.rounds):
                    versions = [("new", ROOT)] + ([("old", old)] if old else [])
                    for label, code in versions if r % 2 == 0 else versions[::-1]:
                        res = one_run(code, competition, data_dir, extra)
                        rows[label].append(res)
                        phases = " · ".join(
                            f"{k} {v:.1f}" for k, v in res.items() if k not in ("wall", "peak_rss_gb", "oof")
                        )
                        print(f"  round {r} {label}: wall {res['wall']:.1f}s, peak {res['peak_rss_gb']:.2f} GB, "
                              f"OOF {res['oof']:.5f}; phases: {phases}", flush=True)
                new = rows["new"]
                print(f"  new median wall {statistics.median(x['wall'] for x in new):.1f}s, "
                      f"peak {max(x['peak_rss_gb'] for x in new):.2f} GB")
                if rows["old"]:
                    ratios = [o["wall"] / n["wall"] for o, n in zip(rows["old"], new, strict=True)]
                    print(f"  old median wall {statistics.median(x['wall'] for x in rows['old']):.1f}s; "
                          f"old/new per round {', '.join(f'{x:.2f}' for x in ratios)}, "
                          f"median {statistics.median(ratios):.2f}x; OOF old {rows['old'][0]['oof']:.5f} "
                          f"new {new[0]['oof']:.5f}")
                    for phase in ("features", "train"):
                        if all(phase in x for x in rows["old"] + new):
                            pr = [o[phase] / n[phase] for o, n in zip(rows["old"], new, strict=True)]
                            print(f"  {phase}: old/new median {statistics.median(pr):.2f}x")
        finally:
            if old is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                               capture_output=True)


if __name__ == "__main__":
    main()
