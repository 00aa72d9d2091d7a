"""A disk cache of fitted fold matrices under `features/<competition>/`, so a second run or a
tuning study with the same data, feature settings and fold rows skips feature fitting.

An entry is one fold: the (train rows x features) and (test rows x features) float32 matrices
as `.npy` (read with `allow_pickle=False`), the fitted pipeline as JSON, and `meta.json` with
the matrices' SHA-256. Its key hashes everything the matrices depend on: the data files' digest
(features and targets), the feature settings and column roles, the fold's training rows (so a
different split or fold seed is a different entry) and the code version (the source of the
feature, loading and parsing modules). A cached matrix is therefore exactly what fitting again
would give, and fitting only ever saw that fold's training rows: no leakage by reuse. Entries
are written atomically (`competition.atomic.folder`); a damaged or partial entry is ignored,
removed and rebuilt.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from competition import atomic
from competition.competitions.base import CompetitionSpec
from competition.features import FeatureConfig, FeaturePipeline

FORMAT = 1
"""Bumped when the entry layout changes."""


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_version(spec: CompetitionSpec) -> str:
    """SHA-256 (16 hex) of the source files on the path from CSV to fold matrix: CSV loading and
    normalising, the competition parsers, the feature pipeline and this cache."""
    package = Path(__file__).resolve().parent
    names = ["features.py", "data.py", "normalize.py", "sources.py", "feature_cache.py"]
    files = [package / n for n in names if (package / n).exists()]
    files += sorted((package / "competitions").glob("*.py"))
    prepare = inspect.getsourcefile(spec.prepare)
    if prepare and Path(prepare).resolve() not in {f.resolve() for f in files}:
        files.append(Path(prepare))
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class FeatureCache:
    """Fold matrices of one competition's data (`data_digest`) under `folder`."""

    folder: Path
    data_digest: str

    def key(self, spec: CompetitionSpec, config: FeatureConfig, train_rows: np.ndarray, shape: tuple[int, int]) -> str:
        """Entry name for one fold: `train_rows` (positions in the train frame) and the
        (train rows, test rows) `shape` of the frames the fold is built from."""
        head = {
            "format": FORMAT,
            "data": self.data_digest,
            "features": asdict(config),
            "roles": asdict(spec.features),
            "code": code_version(spec),
            "shape": list(shape),
        }
        h = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
        h.update(np.asarray(train_rows, dtype=np.int64).tobytes())
        return h.hexdigest()[:32]

    def load(self, key: str) -> tuple[np.ndarray, np.ndarray, FeaturePipeline] | None:
        """(train matrix, test matrix, fitted pipeline), or None when absent or damaged."""
        entry = self.folder / key
        if not entry.is_dir():
            return None
        try:
            meta = json.loads((entry / "meta.json").read_text())
            arrays = []
            for name in ("train", "test"):
                path = entry / f"{name}.npy"
                if _sha256_file(path) != meta["sha256"][name]:
                    raise ValueError(f"{path} does not match its checksum")
                arrays.append(np.load(path, allow_pickle=False))
            pipe = FeaturePipeline.load(entry / "pipeline.json")
            if [list(a.shape) for a in arrays] != meta["shapes"] or len(pipe.feature_names_) != arrays[0].shape[1]:
                raise ValueError("shapes do not match")
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
            shutil.rmtree(entry, ignore_errors=True)  # damaged: rebuilt by the caller
            return None
        return arrays[0], arrays[1], pipe

    def save(self, key: str, x_train: np.ndarray, x_test: np.ndarray, pipe: FeaturePipeline) -> None:
        """Write one entry atomically; when another process wrote the same entry first (two runs
        in one workspace), theirs is kept: it holds the same matrices."""
        if (self.folder / key / "meta.json").exists():
            return
        try:
            self._write(key, x_train, x_test, pipe)
        except OSError:
            if not (self.folder / key / "meta.json").exists():
                raise

    def _write(self, key: str, x_train: np.ndarray, x_test: np.ndarray, pipe: FeaturePipeline) -> None:
        with atomic.folder(self.folder / key) as tmp:
            np.save(tmp / "train.npy", x_train, allow_pickle=False)
            np.save(tmp / "test.npy", x_test, allow_pickle=False)
            pipe.save(tmp / "pipeline.json")
            meta = {
                "format": FORMAT,
                "shapes": [list(x_train.shape), list(x_test.shape)],
                "sha256": {"train": _sha256_file(tmp / "train.npy"), "test": _sha256_file(tmp / "test.npy")},
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
