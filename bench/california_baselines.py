"""California: our default model vs two baselines on the same time-ordered validation rows.

    python -m bench.california_baselines --data-dir DIR     # real or generated files
    python -m bench.california_baselines --rows 47439 --test-rows 31626   # generate full size

Baselines, scored on exactly the rows our CV validates:
- log(Listed Price) as the prediction (a strong naive baseline on this competition; a zero
  listed price falls back to the fold's training median),
- a plain LightGBM on the raw numeric columns, early-stopped on each fold's validation part.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl

from competition.competitions import get_spec
from competition.config import build_config
from competition.data import load_competition
from competition.metrics import log_rmse_from_logs
from competition.splits import fingerprint, make_folds
from competition.training import run_training


def plain_lightgbm(train_frame, y: np.ndarray, folds, seed: int = 0) -> np.ndarray:
    import lightgbm as lgb

    spec = get_spec("california-house-prices")
    cols = [c for c, t in spec.raw_columns.items() if t != "str" and c not in (spec.id_column, spec.target_column)]
    x = train_frame.select(cols).to_numpy().astype(np.float64)
    oof = np.full(len(y), np.nan)
    params = {
        "objective": "regression",
        "learning_rate": 0.05,
        "num_leaves": 63,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.9,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "num_threads": 2,
    }
    for f in folds:
        dtrain = lgb.Dataset(x[f.train], y[f.train])
        dvalid = lgb.Dataset(x[f.valid], y[f.valid], reference=dtrain)
        booster = lgb.train(
            params, dtrain, 3000, valid_sets=[dvalid], callbacks=[lgb.early_stopping(100, verbose=False)]
        )
        oof[f.valid] = booster.predict(x[f.valid], num_iteration=booster.best_iteration)
    return oof


def from_bundle(folder: Path, data) -> SimpleNamespace:
    """The saved OOF predictions of a run, with its folds rebuilt and checked by fingerprint."""
    meta = json.loads((folder / "bundle.json").read_text())
    cfg = meta["config"]["run"]
    spec = get_spec("california-house-prices")
    order = data.train[spec.time_order_column].to_numpy()
    folds = make_folds(meta["split"], data.train.height, cfg["folds"], cfg["seed"], order, cfg["holdout_share"])
    if fingerprint(folds) != meta["split_fingerprint"]:
        raise SystemExit("the rebuilt folds do not match the bundle's split fingerprint")
    oof = pl.read_csv(folder / "oof.csv")
    oof_log = oof["blend_log"].to_numpy()
    return SimpleNamespace(
        folds=folds,
        y_log=data.y_log,
        oof_log=oof_log,
        validated=np.isfinite(oof_log),
        oof_score=meta["oof_log_rmse"],
        split=meta["split"],
        timings={},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--rows", type=int, default=47439)
    parser.add_argument("--test-rows", type=int, default=31626)
    parser.add_argument("--set", dest="sets", action="append", default=[], help="config override key=value")
    parser.add_argument(
        "--bundle",
        type=Path,
        help="score the OOF predictions of this trained run's bundle "
        "(models/california-house-prices/<run_id>) instead of training again",
    )
    args = parser.parse_args()
    spec = get_spec("california-house-prices")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            from competition.synthetic import california

            data_dir = Path(tmp)
            california.write(data_dir, args.rows, args.test_rows, seed=0)
        data = load_competition(spec, data_dir)
    if args.bundle is not None:
        result = from_bundle(args.bundle, data)
        seconds = float("nan")
        config = build_config(
            {"run.model": json.loads((args.bundle / "bundle.json").read_text())["config"]["run"]["model"]}
        )
    else:
        config = build_config(spec.config_defaults, dict(s.split("=", 1) for s in args.sets))
        t = time.perf_counter()
        result = run_training(data, config, "cpu")
        seconds = time.perf_counter() - t
    y = result.y_log
    seen = result.validated
    listed = data.train["Listed Price"].to_numpy()
    naive = np.full(len(y), np.nan)
    for f in result.folds:
        fallback = float(np.median(y[f.train]))
        lp = listed[f.valid]
        naive[f.valid] = np.where(lp > 0, np.log(np.where(lp > 0, lp, 1.0)), fallback)
    lgb_oof = plain_lightgbm(data.train, y, result.folds)

    def per_fold(pred: np.ndarray) -> str:
        return " ".join(f"{log_rmse_from_logs(pred[f.valid], y[f.valid]):.4f}" for f in result.folds)

    print(
        f"split {result.split}, {len(result.folds)} folds, {int(seen.sum())} validated rows of {len(y)}; "
        f"training took {seconds:.1f}s ({', '.join(f'{k} {v:.1f}s' for k, v in result.timings.items())})"
    )
    print(f"ours ({config.run.model}) OOF {result.oof_score:.5f}   folds {per_fold(result.oof_log)}")
    print(f"log(Listed Price)   OOF {log_rmse_from_logs(naive[seen], y[seen]):.5f}   folds {per_fold(naive)}")
    print(f"plain LightGBM      OOF {log_rmse_from_logs(lgb_oof[seen], y[seen]):.5f}   folds {per_fold(lgb_oof)}")


if __name__ == "__main__":
    main()
