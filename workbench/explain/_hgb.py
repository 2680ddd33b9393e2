"""Exact TreeSHAP for HistGradientBoosting models with native categorical splits.

shap's own parser reads only numeric thresholds, so a booster with categorical splits gives
non-additive values (it also misses the booster's internal re-encoding, which re-codes the
categorical columns and moves them first). The booster's own ``_preprocessor`` is applied
first; then each categorical split ``x_f in S`` is rewritten as a numeric split on a
synthetic indicator column ``z = 0 if x_f in S else 1`` (``z <= 0.5`` goes left, NaN follows
the split's missing direction). The trees keep their shape and node counts, so
path-dependent TreeSHAP stays exact and additive; the synthetic columns' attributions are
summed back into their raw feature, exactly as one-hot columns are.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class CategoricalBoosterAdapter:
    """A shap dict-model for a fitted binary ``HistGradientBoostingClassifier``."""

    def __init__(self, booster: Any) -> None:
        self.sources: list[int] = []  # transformed feature index of each synthetic column
        self.sets: list[np.ndarray] = []  # (256,) bool membership of each synthetic column
        self.pre = getattr(booster, "_preprocessor", None)
        cats = np.asarray(booster.is_categorical_, dtype=bool)
        # internal column order: categorical columns first, then numerical (see the preprocessor)
        self.internal_to_input = (np.r_[np.flatnonzero(cats), np.flatnonzero(~cats)] if self.pre is not None
                                  else np.arange(cats.shape[0]))
        n_features = int(cats.shape[0])
        keys: dict[tuple[int, bytes], int] = {}
        trees = []
        for stage in booster._predictors:
            for predictor in stage:
                nodes, bitsets = predictor.nodes, predictor.raw_left_cat_bitsets
                features = nodes["feature_idx"].astype(np.int64).copy()
                thresholds = nodes["num_threshold"].astype(np.float64).copy()
                for i in np.flatnonzero(nodes["is_categorical"] & ~nodes["is_leaf"].astype(bool)):
                    members = _members(bitsets[nodes["bitset_idx"][i]])
                    key = (int(features[i]), members.tobytes())
                    if key not in keys:
                        keys[key] = n_features + len(self.sources)
                        self.sources.append(int(features[i]))
                        self.sets.append(members)
                    features[i], thresholds[i] = keys[key], 0.5
                leaf = nodes["is_leaf"].astype(bool)
                left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
                trees.append({
                    "children_left": np.where(leaf, -1, left),
                    "children_right": np.where(leaf, -1, right),
                    "children_default": np.where(leaf, -1, np.where(nodes["missing_go_to_left"] == 1, left, right)),
                    "features": np.where(leaf, -2, features),
                    "thresholds": thresholds,
                    "values": nodes["value"].astype(np.float64)[:, None],
                    "node_sample_weight": nodes["count"].astype(np.float64),
                })
        base = np.asarray(booster._baseline_prediction, dtype=np.float64).ravel()
        if base.size != 1:
            raise ValueError("only binary HistGradientBoostingClassifier models are supported")
        self.model = {"trees": trees, "base_offset": float(base[0]), "tree_output": "log_odds",
                      "objective": "binary_crossentropy", "input_dtype": np.float64, "internal_dtype": np.float64}

    def input_columns(self) -> np.ndarray:
        """The booster-input column behind every column of :meth:`augment`'s output."""
        return np.r_[self.internal_to_input, self.internal_to_input[np.asarray(self.sources, dtype=np.int64)]]

    def augment(self, Xt: np.ndarray) -> np.ndarray:
        """Booster-internal columns plus the synthetic indicator columns."""
        if self.pre is not None:
            Xt = np.asarray(self.pre.transform(Xt), dtype=np.float64)
        extra = np.empty((Xt.shape[0], len(self.sources)))
        for k, (f, members) in enumerate(zip(self.sources, self.sets, strict=True)):
            x = Xt[:, f]
            ok = np.isfinite(x)
            # the booster casts category values to uint8 (an unknown -1 becomes 255)
            codes = np.where(ok, x, 0).astype(np.int64) % 256
            extra[:, k] = np.where(ok, np.where(members[codes], 0.0, 1.0), np.nan)
        return np.hstack([Xt, extra])


def _members(bitset: np.ndarray) -> np.ndarray:
    words = np.asarray(bitset, dtype=np.uint32)
    bits = (words[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    return bits.ravel().astype(bool)  # category c is bit c % 32 of word c // 32


def has_categorical_splits(model: Any) -> bool:
    cats = getattr(model, "is_categorical_", None)
    return cats is not None and bool(np.any(cats)) and type(model).__name__ == "HistGradientBoostingClassifier"
