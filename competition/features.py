"""FeaturePipeline: turn a prepared frame into a float32 matrix, fit on training rows only.

Every statistic (medians, skew decisions, means/stds, category levels, list items, target
encodings, text vocabulary, SVD axes) is learned in `fit` from the rows it is given, which the
training loop guarantees are the training part of one fold. The fitted state is plain JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from competition.competitions.base import FeatureSpec
from competition.feature_config import FeatureConfig

OTHER = "__other__"
MISSING = "__missing__"


def _skew(x: np.ndarray) -> float:
    sd = x.std()
    if sd == 0 or len(x) < 3:
        return 0.0
    return float(np.mean(((x - x.mean()) / sd) ** 3))


def _standardize_stats(x: np.ndarray) -> tuple[float, float]:
    mean = float(x.mean()) if len(x) else 0.0
    sd = float(x.std()) if len(x) else 1.0
    return mean, (sd if sd > 1e-12 else 1.0)


class FeaturePipeline:
    """Fit on one fold's training rows; transform any rows with the same columns."""

    def __init__(self, spec: FeatureSpec, config: FeatureConfig | None = None) -> None:
        self.spec = spec
        self.config = config or FeatureConfig()
        self.state_: dict[str, Any] | None = None

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pl.DataFrame, y: np.ndarray | None = None) -> FeaturePipeline:
        self.fit_transform(frame, y)
        return self

    def fit_transform(self, frame: pl.DataFrame, y: np.ndarray | None = None) -> np.ndarray:
        """Fit on `frame` (training rows) and return their matrix.

        Target encodings of these rows are out-of-fold (inner folds), so a row's own target
        never leaks into its own features."""
        cfg = self.config
        state: dict[str, Any] = {
            "numeric": [],
            "categorical": [],
            "high_cardinality": [],
            "multi_label": [],
            "text": [],
            "flags": list(self.spec.flags),
            "n_rows": frame.height,
        }
        for col in self.spec.numeric:
            x = frame[col].cast(pl.Float64).to_numpy()
            present = x[np.isfinite(x)]
            fill = float(np.median(present)) if len(present) else 0.0
            filled = np.where(np.isfinite(x), x, fill)
            use_log = bool(len(present) and present.min() >= 0 and abs(_skew(filled)) > cfg.skew_threshold)
            t = np.log1p(filled) if use_log else filled
            center, scale = _standardize_stats(t)
            state["numeric"].append(
                {
                    "name": col,
                    "fill": fill,
                    "log": use_log,
                    "center": center,
                    "scale": scale,
                    "missing_flag": bool(len(present) < len(x)),
                }
            )
        for col in self.spec.categorical:
            values = frame[col].cast(pl.Utf8).fill_null(MISSING)
            counts = values.value_counts(sort=True)
            levels = [str(v) for v, n in counts.iter_rows() if n >= cfg.min_category_count]
            state["categorical"].append({"name": col, "levels": sorted(levels)})
        if self.spec.high_cardinality:
            if y is None:
                raise ValueError("high-cardinality target encoding needs the training target")
            prior = float(np.mean(y))
            for col in self.spec.high_cardinality:
                values = frame[col].cast(pl.Utf8).fill_null(MISSING)
                freq, means = self._level_stats(values, y, prior)
                state["high_cardinality"].append({"name": col, "prior": prior, "frequency": freq, "mean": means})
        for col in self.spec.multi_label:
            items = frame[col].explode().drop_nulls().value_counts(sort=True)
            kept = [str(v) for v, n in items.iter_rows() if n >= cfg.min_category_count][: cfg.max_list_items]
            state["multi_label"].append({"name": col, "items": sorted(kept)})
        fitted_text: dict[str, np.ndarray] = {}
        for col in self.spec.text:
            text_state, fitted_text[col] = self._fit_text(col, frame[col])
            state["text"].append(text_state)
        self.state_ = state
        # Raw (unscaled) blocks for the training rows, with out-of-fold target encoding; the text
        # projection of these rows was computed while fitting and is not tokenized again.
        raw = self._raw_blocks(frame, oof_y=y, fitted_text=fitted_text)
        scaled_cols = []
        for block in raw:
            if block["scale"]:
                for j in range(block["values"].shape[1]):
                    scaled_cols.append(_standardize_stats(block["values"][:, j]))
        state["secondary_scaling"] = [[c, s] for c, s in scaled_cols]
        return self._assemble(raw)

    def _level_stats(self, values: pl.Series, y: np.ndarray, prior: float) -> tuple[dict, dict]:
        frame = pl.DataFrame({"v": values, "y": y})
        stats = frame.group_by("v").agg(pl.len().alias("n"), pl.col("y").sum().alias("s"))
        m = self.config.target_smoothing
        freq = {str(v): int(n) for v, n, _ in stats.iter_rows()}
        means = {str(v): float((s + m * prior) / (n + m)) for v, n, s in stats.iter_rows()}
        return freq, means

    def _fit_text(self, col: str, texts: pl.Series) -> tuple[dict[str, Any], np.ndarray]:
        """Vocabulary (by document frequency), idf and SVD axes, all from the training rows;
        also returns those rows' projection (what `_text_svd` would give for them)."""
        from sklearn.decomposition import TruncatedSVD

        cfg = self.config
        empty = ({"name": col, "vocabulary": [], "idf": [], "components": []}, np.zeros((len(texts), 0)))
        tokens = _tokens(texts)
        n_docs = len(texts)
        min_df = min(cfg.text_min_df, max(1, n_docs // 4))
        df = (
            tokens.unique(["row", "token"])
            .group_by("token")
            .len()
            .filter(pl.col("len") >= min_df)
            .sort(["len", "token"], descending=[True, False])
            .head(cfg.text_max_features)
            .sort("token")
        )
        if df.height < 2:
            return empty
        vocab = df["token"].to_list()
        idf = np.log((1 + n_docs) / (1 + df["len"].to_numpy())) + 1.0
        state = {"name": col, "vocabulary": vocab, "idf": idf.tolist(), "components": []}
        tfidf = _tfidf(tokens, n_docs, state)
        k = min(cfg.text_components, tfidf.shape[1] - 1, n_docs - 1)
        if k < 1:
            return empty
        svd = TruncatedSVD(n_components=k, random_state=cfg.seed, algorithm="randomized", n_iter=4)
        with np.errstate(divide="ignore", invalid="ignore"):  # explained-variance ratio of constant columns
            svd.fit(tfidf)
        state["components"] = svd.components_.astype(float).tolist()
        return state, np.asarray(tfidf @ np.asarray(state["components"]).T)

    # ------------------------------------------------------------ transform
    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        if self.state_ is None:
            raise RuntimeError("FeaturePipeline.transform called before fit")
        return self._assemble(self._raw_blocks(frame, oof_y=None))

    def _raw_blocks(
        self, frame: pl.DataFrame, oof_y: np.ndarray | None, fitted_text: dict[str, np.ndarray] | None = None
    ) -> list[dict[str, Any]]:
        """Blocks of columns; 'scale' marks blocks standardized by training-part statistics."""
        st = self.state_
        assert st is not None
        n = frame.height
        blocks: list[dict[str, Any]] = []
        if st["numeric"]:
            cols, flags = [], []
            for s in st["numeric"]:
                x = frame[s["name"]].cast(pl.Float64).to_numpy()
                missing = ~np.isfinite(x)
                x = np.where(missing, s["fill"], x)
                if s["log"]:
                    x = np.log1p(np.maximum(x, 0.0))
                cols.append((x - s["center"]) / s["scale"])
                if s["missing_flag"]:
                    flags.append(missing.astype(np.float64))
            blocks.append({"values": np.column_stack(cols), "scale": False, "clip": True})
            if flags:
                blocks.append({"values": np.column_stack(flags), "scale": False, "clip": False})
        for s in st["categorical"]:
            values = frame[s["name"]].cast(pl.Utf8).fill_null(MISSING)
            blocks.append({"values": _one_hot(values, s["levels"]), "scale": False, "clip": False})
        for s in st["high_cardinality"]:
            values = frame[s["name"]].cast(pl.Utf8).fill_null(MISSING)
            freq = values.replace_strict(s["frequency"], default=0, return_dtype=pl.Float64).to_numpy()
            if oof_y is None:
                te = values.replace_strict(s["mean"], default=s["prior"], return_dtype=pl.Float64).to_numpy()
            else:
                te = self._oof_target_encoding(values, oof_y)
            blocks.append({"values": np.column_stack([np.log1p(freq), te]), "scale": True, "clip": True})
        for s in st["multi_label"]:
            lists = frame[s["name"]]
            block = np.zeros((n, len(s["items"]) + 1))
            if s["items"]:
                index = {item: j for j, item in enumerate(s["items"])}
                exploded = pl.DataFrame({"row": np.arange(n), "item": lists}).explode("item").drop_nulls()
                codes = exploded["item"].replace_strict(index, default=-1, return_dtype=pl.Int64).to_numpy()
                rows = exploded["row"].to_numpy()
                keep = codes >= 0
                block[rows[keep], codes[keep]] = 1.0
            block[:, -1] = np.log1p(lists.list.len().fill_null(0).to_numpy())
            blocks.append({"values": block, "scale": False, "clip": False})
        for s in st["text"]:
            values = fitted_text[s["name"]] if fitted_text else _text_svd(frame[s["name"]], s)
            blocks.append({"values": values, "scale": True, "clip": True})
        if st["flags"]:
            blocks.append(
                {
                    "values": frame.select(st["flags"]).fill_null(0.0).to_numpy().astype(np.float64),
                    "scale": False,
                    "clip": False,
                }
            )
        return blocks

    def _oof_target_encoding(self, values: pl.Series, y: np.ndarray) -> np.ndarray:
        """Target encoding of training rows from inner folds that exclude each row."""
        k = max(2, min(self.config.target_encoding_folds, len(y)))
        rng = np.random.default_rng(self.config.seed)
        inner = rng.permutation(len(y)) % k
        out = np.empty(len(y))
        for f in range(k):
            fit_rows = inner != f
            prior = float(y[fit_rows].mean())
            _, means = self._level_stats(values.filter(pl.Series(fit_rows)), y[fit_rows], prior)
            out[~fit_rows] = (
                values.filter(pl.Series(~fit_rows))
                .replace_strict(means, default=prior, return_dtype=pl.Float64)
                .to_numpy()
            )
        return out

    def _assemble(self, blocks: list[dict[str, Any]]) -> np.ndarray:
        st = self.state_
        assert st is not None
        scaling = iter(st.get("secondary_scaling", []))
        parts = []
        clip = self.config.clip
        for block in blocks:
            v = block["values"]
            if block["scale"] and "secondary_scaling" in st:
                v = v.copy()
                for j in range(v.shape[1]):
                    c, s = next(scaling)
                    v[:, j] = (v[:, j] - c) / s
            if block["clip"]:
                v = np.clip(v, -clip, clip)
            parts.append(v)
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.ascontiguousarray(np.column_stack(parts), dtype=np.float32)

    # ----------------------------------------------------------- names/io
    @property
    def feature_names_(self) -> list[str]:
        st = self.state_
        assert st is not None
        names = [s["name"] for s in st["numeric"]] + [
            f"{s['name']}__missing" for s in st["numeric"] if s["missing_flag"]
        ]
        for s in st["categorical"]:
            names += [f"{s['name']}={lv}" for lv in s["levels"]] + [f"{s['name']}={OTHER}"]
        for s in st["high_cardinality"]:
            names += [f"{s['name']}__log_count", f"{s['name']}__target_mean"]
        for s in st["multi_label"]:
            names += [f"{s['name']}∋{it}" for it in s["items"]] + [f"{s['name']}__n_items"]
        for s in st["text"]:
            names += [f"{s['name']}__svd{j}" for j in range(len(s["components"]))]
        return names + list(st["flags"])

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "spec": asdict(self.spec), "state": self.state_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeaturePipeline:
        spec = FeatureSpec(**{k: tuple(v) for k, v in data["spec"].items()})
        pipe = cls(spec, FeatureConfig(**data["config"]))
        pipe.state_ = data["state"]
        return pipe

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path) -> FeaturePipeline:
        return cls.from_dict(json.loads(path.read_text()))


def _one_hot(values: pl.Series, levels: list[str]) -> np.ndarray:
    """One column per known level plus one for rare or unseen levels."""
    index = {lv: j for j, lv in enumerate(levels)}
    codes = values.replace_strict(index, default=len(levels), return_dtype=pl.Int64).to_numpy()
    out = np.zeros((len(values), len(levels) + 1))
    out[np.arange(len(values)), codes] = 1.0
    return out


_TOKEN = r"[a-z0-9]{2,}"


def _tokens(texts: pl.Series) -> pl.DataFrame:
    """(row, token) pairs: lower-cased alphanumeric runs of 2+ characters, tokenized in polars."""
    frame = pl.DataFrame({"text": texts.cast(pl.Utf8).fill_null("")}).with_row_index("row")
    return (
        frame.select("row", pl.col("text").str.to_lowercase().str.extract_all(_TOKEN).alias("token"))
        .explode("token")
        .drop_nulls("token")
    )


def _tfidf(tokens: pl.DataFrame, n_docs: int, s: dict[str, Any]) -> sp.csr_matrix:
    """Sublinear TF-IDF rows (L2-normalized) over the fitted vocabulary; unknown tokens dropped."""
    index = {t: j for j, t in enumerate(s["vocabulary"])}
    counts = (
        tokens.with_columns(pl.col("token").replace_strict(index, default=-1, return_dtype=pl.Int64).alias("col"))
        .filter(pl.col("col") >= 0)
        .group_by(["row", "col"])
        .len()
    )
    tf = 1.0 + np.log(counts["len"].to_numpy().astype(np.float64))
    mat = sp.csr_matrix(
        (tf * np.asarray(s["idf"])[counts["col"].to_numpy()], (counts["row"].to_numpy(), counts["col"].to_numpy())),
        shape=(n_docs, len(s["vocabulary"])),
    )
    norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1))).ravel()
    return sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ mat


def _text_svd(texts: pl.Series, s: dict[str, Any]) -> np.ndarray:
    """TF-IDF with the fitted vocabulary and idf, projected on the fitted SVD axes."""
    n = len(texts)
    if not s["components"]:
        return np.zeros((n, 0))
    return np.asarray(_tfidf(_tokens(texts), n, s) @ np.asarray(s["components"]).T)
