"""Model bundles: everything `comp predict` needs, as JSON, CSV and safetensors/text files.

Loading a bundle never unpickles anything, so a bundle from someone else cannot run code.
Layout of models/<competition>/<run_id>/:
  bundle.json                 config, split, members, blend weights, versions, data digest, test schema
  features/fold_<i>.json      fitted FeaturePipeline state of each fold (refit.json for the refit)
  <family>/cv/...             the family's saved fold models (safetensors / LightGBM text / JSON)
  <family>/refit/...          models retrained on all rows, when that path made the submission
  oof.csv, test_predictions.csv
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from competition.config import RunConfig, config_from_dict, to_toml
from competition.ensemble import apply_blend
from competition.errors import CompError
from competition.features import FeaturePipeline
from competition.models import get_family
from competition.splits import fold_of_rows

FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("comp", "torch", "polars", "numpy", "scikit-learn", "lightgbm", "mlflow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def save_bundle(result: Any, folder: Path, run_id: str, digest: str, device: str, test_schema: dict[str, str]) -> None:
    """Write the bundle of a TrainingResult into `folder` (an empty temp folder)."""
    (folder / "features").mkdir()
    for i, pipe in enumerate(result.pipelines):
        pipe.save(folder / "features" / f"fold_{i}.json")
    if result.refit_pipeline is not None:
        result.refit_pipeline.save(folder / "features" / "refit.json")
    families = []
    for fam in result.families:
        family = get_family(fam.name)
        cv_dir = folder / fam.name / "cv"
        cv_dir.mkdir(parents=True)
        family.save(fam.result, cv_dir)
        entry: dict[str, Any] = {
            "name": fam.name,
            "prediction_path": fam.prediction_path,
            "oof_log_rmse": fam.oof_score,
            "fold_log_rmse": fam.fold_scores,
            "members": [
                {"fold": m.fold, "seed": m.seed, "best_iteration": int(b)}
                for m, b in zip(fam.members, fam.result.best_iteration, strict=True)
            ],
        }
        if fam.refit_result is not None:
            refit_dir = folder / fam.name / "refit"
            refit_dir.mkdir()
            family.save(fam.refit_result, refit_dir)
            entry["refit_members"] = [{"fold": 0, "seed": m.seed, "iterations": m.epochs} for m in fam.refit_members]
        families.append(entry)
    fold = fold_of_rows(result.folds, len(result.train_ids))
    oof = {"Id": result.train_ids, "fold": fold, "target_log": result.y_log}
    oof.update({f"{fam.name}_log": fam.oof_log for fam in result.families})
    oof["blend_log"] = result.oof_log
    pl.DataFrame(oof).write_csv(folder / "oof.csv")
    test = {"Id": result.test_ids}
    test.update({f"{fam.name}_log": fam.test_log for fam in result.families})
    test["blend_log"] = result.test_log
    pl.DataFrame(test).write_csv(folder / "test_predictions.csv")
    meta = {
        "format_version": FORMAT_VERSION,
        "run_id": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "competition": result.spec.name,
        "config": result.config.to_dict(),
        "split": result.split,
        "split_fingerprint": result.split_fingerprint,
        "n_folds": len(result.folds),
        "families": families,
        "blend_weights": result.blend_weights,
        "oof_log_rmse": result.oof_score,
        "fold_log_rmse": result.fold_scores,
        "data_digest": digest,
        "device": device,
        "test_schema": test_schema,
        "versions": versions(),
    }
    (folder / "bundle.json").write_text(json.dumps(meta, indent=2))
    (folder / "config.toml").write_text(to_toml(result.config))


@dataclass
class Bundle:
    folder: Path
    meta: dict[str, Any]

    @property
    def config(self) -> RunConfig:
        return config_from_dict(self.meta["config"])

    @property
    def run_id(self) -> str:
        return self.meta["run_id"]


def load_bundle(folder: Path) -> Bundle:
    path = folder / "bundle.json"
    if not path.exists():
        raise CompError(f"No model bundle at {folder} (bundle.json missing).")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CompError(f"{path} is not valid JSON: {exc}") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise CompError(f"{path}: unsupported bundle format {meta.get('format_version')!r}.")
    return Bundle(folder=folder, meta=meta)


def find_bundle(models_dir: Path, run: str) -> Path:
    """Resolve `latest` or a run id (or unique prefix) to a bundle folder."""
    if not models_dir.exists():
        raise CompError(f"No trained models in {models_dir}: run `comp train` first.")
    bundles = [p for p in models_dir.iterdir() if p.is_dir() and (p / "bundle.json").exists()]
    if not bundles:
        raise CompError(f"No trained models in {models_dir}: run `comp train` first.")
    if run == "latest":
        return max(bundles, key=lambda p: (p / "bundle.json").stat().st_mtime)
    matches = [p for p in bundles if p.name == run] or [p for p in bundles if p.name.startswith(run)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CompError(f"Unknown run id {run!r} in {models_dir}. `comp runs` lists the runs.")
    raise CompError(f"Run id prefix {run!r} is ambiguous: {', '.join(p.name for p in matches[:5])}.")


def predict_test(bundle: Bundle, test_prepared: pl.DataFrame, device: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Blended log predictions for prepared test rows, using only the bundle's files."""
    meta = bundle.meta
    config = bundle.config
    per_family: dict[str, np.ndarray] = {}
    for fam in meta["families"]:
        family = get_family(fam["name"])
        if fam["prediction_path"] == "refit-full":
            pipe = FeaturePipeline.load(bundle.folder / "features" / "refit.json")
            mats = [pipe.transform(test_prepared)]
            preds = family.predict(bundle.folder / fam["name"] / "refit", mats, fam["refit_members"], config, device)
        else:
            mats = [
                FeaturePipeline.load(bundle.folder / "features" / f"fold_{i}.json").transform(test_prepared)
                for i in range(meta["n_folds"])
            ]
            preds = family.predict(bundle.folder / fam["name"] / "cv", mats, fam["members"], config, device)
        per_family[fam["name"]] = preds.mean(axis=0)
    return apply_blend(meta["blend_weights"], per_family), per_family
