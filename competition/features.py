"""FeaturePipeline: turn a prepared frame into a float32 matrix, fit on training rows only.

Every statistic (medians, skew decisions, means/stds, category levels, list items, target
encodings, text vocabulary, SVD axes) is learned in `fit` from the rows it is given, which the
training loop guarantees are the training part of one fold. The fitted state is plain JSON.

Work that depends on a row alone (casting, category codes, exploding lists, tokenizing text) is
done once per frame by `encode_frame`; every fold's pipeline then fits and transforms row subsets
of that `EncodedFrame` (`EncodedFrame.take`), so text is tokenized once per run, not once per
fold and per transform. `fit_transform(frame)` / `transform(frame)` encode and then take the
same path, so a saved pipeline applied to a raw frame (`comp predict`) gives the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from competition.competitions.base import FeatureSpec
from competition.feature_config import FeatureConfig

OTHER = "__other__"
MISSING = "__missing__"


# ------------------------------------------------------------------ row-wise encoding (stateless)
@dataclass
class Levels:
    """A text column as integer codes into its sorted distinct values (nulls are `MISSING`)."""

    codes: np.ndarray
    """(rows,) int64 index into `names`."""
    names: list[str]

    def take(self, rows: np.ndarray) -> Levels:
        return Levels(self.codes[rows], self.names)

    def lookup(self, table: dict[str, Any], default: Any) -> np.ndarray:
        """Per row, `table[value]` (or `default` for values not in the table)."""
        lut = np.array([table.get(name, default) for name in self.names], dtype=np.float64)
        return lut[self.codes] if len(lut) else np.full(len(self.codes), float(default))


@dataclass
class Bag:
    """A list or text column as a (rows x distinct items) count matrix over sorted item names."""

    counts: sp.csr_matrix
    names: list[str]
    lengths: np.ndarray
    """(rows,) list lengths (multi-label) or token counts (text), nulls as 0."""

    def take(self, rows: np.ndarray) -> Bag:
        return Bag(self.counts[rows], self.names, self.lengths[rows])

    def select(self, wanted: list[str]) -> sp.csr_matrix:
        """(rows x len(wanted)) counts of the `wanted` items, in that order (0 for unknown items)."""
        index = {name: j for j, name in enumerate(self.names)}
        lut = np.full(len(self.names), -1, dtype=np.int64)
        for j, name in enumerate(wanted):
            if name in index:
                lut[index[name]] = j
        new_cols = lut[self.counts.indices]
        keep = new_cols >= 0
        n = self.counts.shape[0]
        rows = np.repeat(np.arange(n), np.diff(self.counts.indptr))
        indptr = np.zeros(n + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(rows[keep], minlength=n))
        out = sp.csr_matrix(
            (self.counts.data[keep], new_cols[keep], indptr), shape=(self.counts.shape[0], len(wanted))
        )
        out.sort_indices()
        return out

    def item_totals(self) -> np.ndarray:
        """Occurrences of each item over these rows (duplicates within a row counted)."""
        return np.asarray(self.counts.sum(axis=0)).ravel()

    def document_frequency(self) -> np.ndarray:
        """Rows containing each item."""
        return np.bincount(self.counts.indices, minlength=len(self.names))


@dataclass
class EncodedFrame:
    """What the pipeline reads from a prepared frame, computed row by row (no statistic of the
    rows): float columns, category codes, item and token counts, flags. See `encode_frame`."""

    n_rows: int
    numeric: dict[str, np.ndarray]
    levels: dict[str, Levels]
    lists: dict[str, Bag]
    text: dict[str, Bag]
    flags: np.ndarray

    def take(self, rows: np.ndarray) -> EncodedFrame:
        """The same encoding restricted to `rows` (positions, in the given order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return EncodedFrame(
            n_rows=len(rows),
            numeric={k: v[rows] for k, v in self.numeric.items()},
            levels={k: v.take(rows) for k, v in self.levels.items()},
            lists={k: v.take(rows) for k, v in self.lists.items()},
            text={k: v.take(rows) for k, v in self.text.items()},
            flags=self.flags[rows],
        )


def _codes(values: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Each value's index into the sorted distinct values (polars string order)."""
    names = values.unique().sort()
    codes = values.replace_strict(names, pl.int_range(len(names), eager=True), return_dtype=pl.Int64)
    return codes.to_numpy(), names.to_list()


def _levels(values: pl.Series) -> Levels:
    codes, names = _codes(values.cast(pl.Utf8).fill_null(MISSING))
    return Levels(codes, names)


def _bag(rows: np.ndarray, items: pl.Series, n: int, lengths: np.ndarray) -> Bag:
    """Count matrix from (row, item) pairs; items sorted by name (polars string order)."""
    if len(items) == 0:
        return Bag(sp.csr_matrix((n, 0)), [], lengths)
    codes, names = _codes(items)
    counts = sp.csr_matrix((np.ones(len(codes)), (rows, codes)), shape=(n, len(names)))
    counts.sum_duplicates()
    return Bag(counts, names, lengths)


_TOKEN = r"[a-z0-9]{2,}"


def _token_bag(texts: pl.Series) -> Bag:
    """Lower-cased alphanumeric runs of 2+ characters, tokenized in polars, as row x token counts."""
    n = len(texts)
    frame = pl.DataFrame({"text": texts.cast(pl.Utf8).fill_null("")}).with_row_index("row")
    pairs = (
        frame.select("row", pl.col("text").str.to_lowercase().str.extract_all(_TOKEN).alias("token"))
        .explode("token")
        .drop_nulls("token")
    )
    rows = pairs["row"].to_numpy().astype(np.int64)
    bag = _bag(rows, pairs["token"], n, np.zeros(n))
    bag.lengths = np.asarray(bag.counts.sum(axis=1)).ravel()
    return bag


def encode_frame(spec: FeatureSpec, frame: pl.DataFrame) -> EncodedFrame:
    """Encode `frame`'s feature columns row by row (the same for any subset or order of rows)."""
    n = frame.height
    lists = {}
    for col in spec.multi_label:
        exploded = pl.DataFrame({"row": np.arange(n), "item": frame[col]}).explode("item").drop_nulls()
        lengths = frame[col].list.len().fill_null(0).to_numpy().astype(np.float64)
        lists[col] = _bag(exploded["row"].to_numpy().astype(np.int64), exploded["item"].cast(pl.Utf8), n, lengths)
    flags = (
        frame.select(spec.flags).fill_null(0.0).to_numpy().astype(np.float64)
        if spec.flags
        else np.zeros((n, 0))
    )
    return EncodedFrame(
        n_rows=n,
        numeric={col: frame[col].cast(pl.Float64).to_numpy() for col in spec.numeric},
        levels={col: _levels(frame[col]) for col in (*spec.categorical, *spec.high_cardinality)},
        lists=lists,
        text={col: _token_bag(frame[col]) for col in spec.text},
        flags=flags,
    )


# ------------------------------------------------------------------------------- the pipeline
def _skew(x: np.ndarray) -> float:
    sd = x.std()
    if sd == 0 or len(x) < 3:
        return 0.0
    return float(np.mean(((x - x.mean()) / sd) ** 3))


def _standardize_stats(x: np.ndarray) -> tuple[float, float]:
    mean = float(x.mean()) if len(x) else 0.0
    sd = float(x.std()) if len(x) else 1.0
    return mean, (sd if sd > 1e-12 else 1.0)


def _frequent(totals: np.ndarray, names: list[str], least: int, limit: int | None = None) -> list[str]:
    """Names with total >= least, the `limit` most frequent (ties by name), returned sorted by name."""
    idx = np.flatnonzero(totals >= least)
    if limit is not None:
        idx = idx[np.lexsort((idx, -totals[idx]))][:limit]
    return sorted(names[i] for i in idx)


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
        """Fit on `frame` (training rows) and return their matrix (see `fit_transform_encoded`)."""
        return self.fit_transform_encoded(encode_frame(self.spec, frame), y)

    def fit_transform_encoded(self, enc: EncodedFrame, y: np.ndarray | None = None) -> np.ndarray:
        """Fit on the encoded training rows and return their (rows x features) float32 matrix.

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
            "n_rows": enc.n_rows,
        }
        for col in self.spec.numeric:
            x = enc.numeric[col]
            finite = np.isfinite(x)
            present = x[finite]
            fill = float(np.median(present)) if len(present) else 0.0
            filled = np.where(finite, x, fill)
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
            lv = enc.levels[col]
            totals = np.bincount(lv.codes, minlength=len(lv.names))
            state["categorical"].append({"name": col, "levels": _frequent(totals, lv.names, cfg.min_category_count)})
        if self.spec.high_cardinality:
            if y is None:
                raise ValueError("high-cardinality target encoding needs the training target")
            prior = float(np.mean(y))
            for col in self.spec.high_cardinality:
                freq, means = self._level_stats(enc.levels[col], y, prior)
                state["high_cardinality"].append({"name": col, "prior": prior, "frequency": freq, "mean": means})
        for col in self.spec.multi_label:
            bag = enc.lists[col]
            kept = _frequent(bag.item_totals(), bag.names, cfg.min_category_count, cfg.max_list_items)
            state["multi_label"].append({"name": col, "items": kept})
        fitted_text: dict[str, np.ndarray] = {}
        for col in self.spec.text:
            text_state, fitted_text[col] = self._fit_text(col, enc.text[col])
            state["text"].append(text_state)
        self.state_ = state
        # Raw (unscaled) blocks for the training rows, with out-of-fold target encoding; the text
        # projection of these rows was computed while fitting.
        raw = self._raw_blocks(enc, oof_y=y, fitted_text=fitted_text)
        scaled_cols = []
        for block in raw:
            if block["scale"]:
                scaled_cols += [_standardize_stats(v) for v in _columns(block["values"])]
        state["secondary_scaling"] = [[c, s] for c, s in scaled_cols]
        return self._assemble(raw)

    def _level_stats(self, lv: Levels, y: np.ndarray, prior: float) -> tuple[dict, dict]:
        """Row count and smoothed target mean of each level present in these rows."""
        n = np.bincount(lv.codes, minlength=len(lv.names))
        s = np.bincount(lv.codes, weights=y, minlength=len(lv.names))
        m = self.config.target_smoothing
        seen = np.flatnonzero(n)
        freq = {lv.names[i]: int(n[i]) for i in seen}
        means = {lv.names[i]: float((s[i] + m * prior) / (n[i] + m)) for i in seen}
        return freq, means

    def _fit_text(self, col: str, bag: Bag) -> tuple[dict[str, Any], np.ndarray]:
        """Vocabulary (by document frequency), idf and SVD axes, all from the training rows;
        also returns those rows' projection (what `transform` gives for them)."""
        from sklearn.decomposition import TruncatedSVD

        cfg = self.config
        n_docs = bag.counts.shape[0]
        empty = ({"name": col, "vocabulary": [], "idf": [], "components": []}, np.zeros((n_docs, 0)))
        min_df = min(cfg.text_min_df, max(1, n_docs // 4))
        df = bag.document_frequency()
        vocab = _frequent(df, bag.names, min_df, cfg.text_max_features)
        if len(vocab) < 2:
            return empty
        index = {name: j for j, name in enumerate(bag.names)}
        df_vocab = df[[index[t] for t in vocab]]
        idf = np.log((1 + n_docs) / (1 + df_vocab)) + 1.0
        state = {"name": col, "vocabulary": vocab, "idf": idf.tolist(), "components": []}
        tfidf = _tfidf(bag, state)
        k = min(cfg.text_components, tfidf.shape[1] - 1, n_docs - 1)
        if k < 1:
            return empty
        svd = TruncatedSVD(n_components=k, random_state=cfg.seed, algorithm="randomized", n_iter=4)
        with np.errstate(divide="ignore", invalid="ignore"):  # explained-variance ratio of constant columns
            svd.fit(tfidf)
        state["components"] = svd.components_.astype(float).tolist()
        return state, _project(tfidf, state)

    # ------------------------------------------------------------ transform
    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Matrix of any rows with the fitted state (encodes `frame`, then `transform_encoded`)."""
        return self.transform_encoded(encode_frame(self.spec, frame))

    def transform_encoded(self, enc: EncodedFrame) -> np.ndarray:
        """(rows x features) float32 matrix of encoded rows with the fitted state."""
        if self.state_ is None:
            raise RuntimeError("FeaturePipeline.transform called before fit")
        return self._assemble(self._raw_blocks(enc, oof_y=None))

    def _raw_blocks(
        self, enc: EncodedFrame, oof_y: np.ndarray | None, fitted_text: dict[str, np.ndarray] | None = None
    ) -> list[dict[str, Any]]:
        """Blocks of columns; 'scale' marks blocks standardized by training-part statistics."""
        st = self.state_
        assert st is not None
        n = enc.n_rows
        blocks: list[dict[str, Any]] = []
        if st["numeric"]:
            cols, flags = [], []
            for s in st["numeric"]:
                x = enc.numeric[s["name"]]
                missing = ~np.isfinite(x)
                x = np.where(missing, s["fill"], x)
                if s["log"]:
                    x = np.log1p(np.maximum(x, 0.0))
                cols.append((x - s["center"]) / s["scale"])
                if s["missing_flag"]:
                    flags.append(missing)
            blocks.append({"values": cols, "scale": False, "clip": True})
            if flags:
                blocks.append({"values": flags, "scale": False, "clip": False})
        for s in st["categorical"]:
            blocks.append({"values": _one_hot(enc.levels[s["name"]], s["levels"]), "scale": False, "clip": False})
        for s in st["high_cardinality"]:
            lv = enc.levels[s["name"]]
            freq = lv.lookup(s["frequency"], 0)
            te = lv.lookup(s["mean"], s["prior"]) if oof_y is None else self._oof_target_encoding(lv, oof_y)
            blocks.append({"values": [np.log1p(freq), te], "scale": True, "clip": True})
        for s in st["multi_label"]:
            bag = enc.lists[s["name"]]
            block = np.zeros((n, len(s["items"]) + 1), dtype=np.float32)  # 0/1 and a log count: exact
            if s["items"]:
                block[:, :-1] = (bag.select(s["items"]) > 0).toarray()
            block[:, -1] = np.log1p(bag.lengths)
            blocks.append({"values": block, "scale": False, "clip": False})
        for s in st["text"]:
            if fitted_text:
                values = fitted_text[s["name"]]
            elif s["components"]:
                values = _project(_tfidf(enc.text[s["name"]], s), s)
            else:
                values = np.zeros((n, 0))
            blocks.append({"values": values, "scale": True, "clip": True})
        if st["flags"]:
            blocks.append({"values": enc.flags, "scale": False, "clip": False})
        return blocks

    def _oof_target_encoding(self, lv: Levels, y: np.ndarray) -> np.ndarray:
        """Target encoding of training rows from inner folds that exclude each row."""
        k = max(2, min(self.config.target_encoding_folds, len(y)))
        rng = np.random.default_rng(self.config.seed)
        inner = rng.permutation(len(y)) % k
        m = self.config.target_smoothing
        out = np.empty(len(y))
        for f in range(k):
            fit_rows = inner != f
            prior = float(y[fit_rows].mean())
            n = np.bincount(lv.codes[fit_rows], minlength=len(lv.names))
            s = np.bincount(lv.codes[fit_rows], weights=y[fit_rows], minlength=len(lv.names))
            means = np.where(n > 0, (s + m * prior) / np.maximum(n + m, 1e-12), prior)
            out[~fit_rows] = means[lv.codes[~fit_rows]]
        return out

    def _assemble(self, blocks: list[dict[str, Any]], chunk: int = 2048) -> np.ndarray:
        """Scale and clip each block in float64 and write it into one float32 (rows x features) matrix,
        a band of `chunk` rows at a time (a band of the output stays in cache while every block
        writes its columns into it)."""
        st = self.state_
        assert st is not None
        scaling = np.asarray(st.get("secondary_scaling", []), dtype=np.float64).reshape(-1, 2)
        scaled = "secondary_scaling" in st
        clip = self.config.clip
        arrays = [_as_2d(block["values"]) for block in blocks]
        width = sum(v.shape[1] for v in arrays)
        if width == 0:
            return np.zeros((0, 0), dtype=np.float32)
        n = arrays[0].shape[0]
        out = np.empty((n, width), dtype=np.float32)
        plan = []
        j = k = 0
        for block, v in zip(blocks, arrays, strict=True):
            w = v.shape[1]
            scale = scaling[k : k + w] if block["scale"] and scaled else None
            k += w if scale is not None else 0
            plan.append((v, j, w, scale, block["clip"]))
            j += w
        for r0 in range(0, n, chunk):
            r1 = min(n, r0 + chunk)
            for v, j, w, scale, clipped in plan:
                part = v[r0:r1]
                if scale is not None:
                    part = (part - scale[:, 0]) / scale[:, 1]
                if clipped:
                    part = np.clip(part, -clip, clip)
                out[r0:r1, j : j + w] = part
        return out

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


def _columns(values: Any) -> list[np.ndarray]:
    """A block's columns as 1-D arrays (blocks are lists of columns or 2-D arrays)."""
    if isinstance(values, list):
        return [np.asarray(v, dtype=np.float64) for v in values]
    return [values[:, j] for j in range(values.shape[1])]


def _as_2d(values: Any) -> np.ndarray:
    """A block as one (rows x columns) array."""
    if isinstance(values, list):
        return np.stack([np.asarray(v, dtype=np.float64) for v in values], axis=1)
    return np.asarray(values)


def _one_hot(lv: Levels, levels: list[str]) -> np.ndarray:
    """One column per known level plus one for rare or unseen levels."""
    index = {name: j for j, name in enumerate(levels)}
    lut = np.array([index.get(name, len(levels)) for name in lv.names], dtype=np.int64)
    codes = lut[lv.codes] if len(lut) else np.zeros(len(lv.codes), dtype=np.int64)
    out = np.zeros((len(codes), len(levels) + 1), dtype=np.float32)
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _tfidf(bag: Bag, s: dict[str, Any]) -> sp.csr_matrix:
    """Sublinear TF-IDF rows (L2-normalized) over the fitted vocabulary; unknown tokens dropped."""
    mat = bag.select(s["vocabulary"])
    rows = np.repeat(np.arange(mat.shape[0]), np.diff(mat.indptr))
    weights = (1.0 + np.log(mat.data)) * np.asarray(s["idf"])[mat.indices]
    norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=mat.shape[0]))
    weights /= np.where(norms > 0, norms, 1.0)[rows]
    return sp.csr_matrix((weights, mat.indices, mat.indptr), shape=mat.shape)


def _project(tfidf: sp.csr_matrix, s: dict[str, Any]) -> np.ndarray:
    """TF-IDF rows projected on the fitted SVD axes."""
    return np.asarray(tfidf @ np.asarray(s["components"]).T)
