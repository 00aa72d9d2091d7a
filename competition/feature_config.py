"""The feature pipeline's settings (`features.*`), free of scipy and scikit-learn so that reading
and checking a config stays cheap. `competition.features` re-exports `FeatureConfig`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureConfig:
    min_category_count: int = 10
    """A level (or list item) needs this many training rows to get its own column."""
    max_list_items: int = 60
    skew_threshold: float = 0.75
    """|skewness| above which a non-negative numeric column is log1p-transformed."""
    clip: float = 2.5
    """Standardized values are clipped to [-clip, clip] so extreme test rows stay sane."""
    target_smoothing: float = 20.0
    target_encoding_folds: int = 5
    text_max_features: int = 3000
    text_min_df: int = 5
    text_components: int = 24
    seed: int = 0
