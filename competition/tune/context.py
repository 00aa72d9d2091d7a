"""What every trial of a study shares, built once per worker: data, folds, fold feature matrices.

The folds and matrices come from the same functions `comp train` uses (`competition.training`),
so a trial's members see exactly the rows and features a `comp train --config` run would, and
the matrices are fit once per fold for the whole study, not once per trial.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from competition.competitions.base import CompetitionSpec
from competition.config import RunConfig
from competition.data import CompetitionData
from competition.feature_cache import FeatureCache
from competition.models.base import FoldMatrices
from competition.splits import Fold, fingerprint
from competition.training import build_fold_matrices, drops_outliers, folds_for, prepare_frames


@dataclass
class TuneContext:
    spec: CompetitionSpec
    data: CompetitionData
    base: RunConfig
    """The study's fixed settings (defaults < competition < --set < space-file pins), precision pinned."""
    device: str
    split: str
    folds: list[Fold]
    split_fingerprint: str
    mats: FoldMatrices
    y_log: np.ndarray
    keep: np.ndarray
    """Training rows the family learns from (outlier-rule rows dropped where the config says so)."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Per-study objects reused by every trial (e.g. the MLP's stacked device tensor)."""

    @property
    def family(self) -> str:
        return self.base.run.model


def settings_digest(config: RunConfig, searched: list[str]) -> dict[str, str]:
    """The fixed settings of a study (everything not searched), as text, for its fingerprint."""
    return {k: repr(v) for k, v in config.flat().items() if k not in searched and k not in ("run.threads",)}


def build_context(
    spec: CompetitionSpec,
    data: CompetitionData,
    base: RunConfig,
    device: str,
    feature_cache: FeatureCache | None = None,
) -> TuneContext:
    """Prepare frames, folds and fold matrices once for the whole study; with `feature_cache`
    (the workspace's features/ folder) the fold matrices of an earlier run or worker are reused."""
    train, test, _ = prepare_frames(spec, data)
    split, folds = folds_for(data, base)
    y_log = data.y_log
    mats, _ = build_fold_matrices(spec, base, train, test, y_log, folds, cache=feature_cache)
    keep = np.ones(train.height, dtype=bool)
    if spec.outlier_rule is not None and drops_outliers(base.run.model, base):
        keep = ~spec.outlier_rule(data.train).to_numpy().astype(bool)
    return TuneContext(
        spec=spec,
        data=data,
        base=base,
        device=device,
        split=split,
        folds=folds,
        split_fingerprint=fingerprint(folds),
        mats=mats,
        y_log=y_log,
        keep=keep,
    )


def config_digest(config: RunConfig) -> str:
    """Short digest of every setting (names a configuration in tags and file names)."""
    text = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
