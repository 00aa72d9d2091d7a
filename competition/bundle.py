"""Model bundles: everything `comp predict` needs, as JSON, CSV and safetensors/text files.

Loading a bundle never unpickles anything, so a bundle from someone else cannot run code.
Layout of models/<competition>/<run_id>/:
  bundle.json                 config, split, members, blend weights, versions, data digest, test schema
  features/fold_<i>.json      fitted FeaturePipeline state of each fold (refit.json for the refit)
  <family>/cv/...             the family's saved fold models (safetensors / LightGBM text / JSON)
  <family>/refit/...          models retrained on all rows, when that path made the submission
  oof.csv, test_predictions.csv
  config.toml                 the run's settings, for `comp train --config`
bundle.json is written last, in a hidden temporary folder renamed into place (see
`competition.runids`), so a visible folder with bundle.json is a finished bundle. `load_bundle`
checks the parts against each other (members listed vs models saved, feature states, config,
run id) and names the file and what is wrong when they disagree.
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
    (folder / "config.toml").write_text(to_toml(result.config))
    (folder / "bundle.json").write_text(json.dumps(meta, indent=2))  # last: it marks the bundle complete


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


def saved_member_count(folder: Path) -> int:
    """How many member models a family's saved folder holds, read from its own files
    (safetensors header, LightGBM or linear JSON) without loading the weights.

    Raises CompError naming the file when it is missing or unreadable."""
    from safetensors import SafetensorError, safe_open

    mlp, lgb, linear = folder / "mlp_weights.safetensors", folder / "lightgbm_meta.json", folder / "linear.json"
    try:
        if (folder / "mlp_meta.json").exists():
            with safe_open(str(mlp), framework="numpy") as f:
                return int(f.get_slice("y_center").get_shape()[0])
        if lgb.exists():
            names = json.loads(lgb.read_text())["models"]
            missing = [n for n in names if not (folder / n).is_file()]
            if missing:
                raise CompError(f"{folder / missing[0]} is missing: {lgb} lists {len(names)} LightGBM models.")
            return len(names)
        if linear.exists():
            return len(json.loads(linear.read_text())["coef"])
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise CompError(f"The bundle of run {folder.parent.parent.name} could not be loaded: the saved models in "
                        f"{folder} ({type(exc).__name__}: {str(exc)[:120]}); it is damaged or was not written "
                        "by comp. Retrain the run.") from None
    raise CompError(f"No saved models in {folder} (no mlp_meta.json, lightgbm_meta.json or linear.json); "
                    "the bundle is damaged. Retrain the run.")


def check_bundle(folder: Path, meta: dict[str, Any]) -> None:
    """Check a bundle's parts against each other; raise CompError naming the file and the problem.

    Checks: run_id and competition present (run_id equal to the folder name), config parseable,
    and for a train bundle: every family's listed members match the models saved for it (cv and
    refit), folds within n_folds, a feature state per fold (and for the refit), blend weights
    naming exactly the families. Blend bundles: weights and members name the same runs."""
    path = folder / "bundle.json"

    def bad(what: str) -> CompError:
        return CompError(f"{path} is damaged: {what}. Retrain the run (or restore the bundle folder).")

    for key in ("run_id", "competition", "test_schema"):
        if key not in meta:
            raise bad(f"it has no {key!r}")
    if not isinstance(meta["run_id"], str) or meta["run_id"] != folder.name:
        raise bad(f"its run_id {meta['run_id']!r} is not the folder's name {folder.name!r}")
    weights = meta.get("blend_weights")
    if not isinstance(weights, dict) or not weights:
        raise bad("it has no blend_weights")
    if meta.get("kind") == "blend":
        listed = [m.get("run_id") for m in meta.get("members", []) if isinstance(m, dict)]
        if sorted(listed) != sorted(weights):
            raise bad(f"its members {listed} differ from its blend weights {sorted(weights)}")
        return
    try:
        config_from_dict(meta["config"])
    except (CompError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad(f"its config cannot be read ({exc})") from None
    families = meta.get("families")
    n_folds = meta.get("n_folds")
    if not isinstance(families, list) or not families:
        raise bad("it lists no model families")
    if not isinstance(n_folds, int) or n_folds < 1:
        raise bad(f"n_folds is {n_folds!r}")
    names = [f.get("name") for f in families if isinstance(f, dict)]
    if sorted(names) != sorted(weights):
        raise bad(f"its families {names} differ from its blend weights {sorted(weights)}")
    for i in range(n_folds):
        if not (folder / "features" / f"fold_{i}.json").is_file():
            raise CompError(f"{folder / 'features' / f'fold_{i}.json'} is missing: the bundle is damaged "
                            f"({path} says {n_folds} folds). Retrain the run.")
    for fam in families:
        name = fam["name"]
        get_family(name)
        parts = [("cv", "members")]
        if fam.get("prediction_path") == "refit-full":
            parts.append(("refit", "refit_members"))
            if not (folder / "features" / "refit.json").is_file():
                raise CompError(f"{folder / 'features' / 'refit.json'} is missing: the bundle is damaged. "
                                "Retrain the run.")
        for sub, key in parts:
            listed = fam.get(key)
            if not isinstance(listed, list) or not listed:
                raise bad(f"family {name!r} lists no {key}")
            if any(not isinstance(m, dict) or not 0 <= int(m.get("fold", -1)) < n_folds for m in listed):
                raise bad(f"family {name!r} has {key} with a fold outside 0..{n_folds - 1}")
            saved = saved_member_count(folder / name / sub)
            if saved != len(listed):
                raise bad(f"family {name!r} lists {len(listed)} {key} but {folder / name / sub} holds {saved} "
                          "saved models (edited or mixed with another run's files)")


def load_bundle(folder: Path) -> Bundle:
    """Read and check a bundle folder (see `check_bundle`); raises CompError naming the file and
    what is wrong for a missing, unreadable or inconsistent bundle."""
    path = folder / "bundle.json"
    if not path.exists():
        raise CompError(f"No model bundle at {folder} (bundle.json missing).")
    try:
        meta = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise CompError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise CompError(f"{path} is damaged: it holds no JSON object.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CompError(f"{path}: unsupported bundle format {meta.get('format_version')!r}.")
    check_bundle(folder, meta)
    return Bundle(folder=folder, meta=meta)


def find_bundle(models_dir: Path, run: str) -> Path:
    """Resolve `latest`, a run id or a unique prefix to a finished bundle folder
    (`competition.runids.resolve_bundle`: the one rule for every command)."""
    from competition.runids import resolve_bundle

    return resolve_bundle(models_dir, run)


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
