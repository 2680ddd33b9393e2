"""Reference profiles for drift: the reference sample summarised once, reused for every window.

A numeric column becomes a fine quantile grid (``GRID_PER_BIN`` cells per PSI bin) with per-cell
counts, sums of ``value - anchor`` and on-anchor counts, the PSI edges (a subset of the grid),
min, max and scale; a categorical column its categories and counts. Profiles serialise to JSON
(``to_dict``/``from_dict``); the raw sorted values are kept in memory only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.metrics._drift_numeric import GridBinner, sort_values, sorted_cell_stats
from workbench.metrics._engine import map_columns  # re-exported: its home was here

__all__ = ["GRID_PER_BIN", "FeatureProfile", "ReferenceProfile", "build_reference_profile", "map_columns",
           "numeric_values"]

GRID_PER_BIN = 256  # fine grid cells per PSI bin


@dataclass(frozen=True, eq=False)
class FeatureProfile:
    """Summary of one reference column; ``sorted_values`` is kept in memory only."""

    name: str
    kind: str  # "numeric" | "categorical"
    n: int
    n_missing: int
    grid: np.ndarray | None = None
    psi_edges: np.ndarray | None = None
    counts: np.ndarray | None = None  # numeric: per grid cell; categorical: per category
    sums: np.ndarray | None = None
    at_edge: np.ndarray | None = None
    minimum: float = float("nan")
    maximum: float = float("nan")
    scale: float = float("nan")
    scale_kind: str = "iqr"
    categories: tuple = ()
    sorted_values: np.ndarray | None = field(default=None, repr=False)
    _binner: list = field(default_factory=list, repr=False)

    def binner(self) -> GridBinner:
        if not self._binner:
            assert self.grid is not None  # only a numeric profile is binned
            self._binner.append(GridBinner.build(self.grid))
        return self._binner[0]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "n": self.n,
                               "n_missing": self.n_missing}
        assert self.counts is not None  # every profile counts
        if self.kind == "numeric":
            assert self.grid is not None and self.psi_edges is not None and self.sums is not None
            assert self.at_edge is not None
            out.update(grid=self.grid.tolist(), psi_edges=self.psi_edges.tolist(),
                       counts=self.counts.tolist(), sums=self.sums.tolist(),
                       at_edge=self.at_edge.tolist(),
                       minimum=self.minimum, maximum=self.maximum, scale=self.scale,
                       scale_kind=self.scale_kind)
        else:
            out.update(categories=list(self.categories), counts=self.counts.tolist())
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureProfile:
        kw = dict(data)
        for key in ("grid", "psi_edges", "sums"):
            if key in kw:
                kw[key] = np.asarray(kw[key], dtype=np.float64)
        for key in ("counts", "at_edge"):
            if key in kw:
                kw[key] = np.asarray(kw[key], dtype=np.int64)
        for key in ("minimum", "maximum", "scale"):
            if key in kw and kw[key] is None:
                kw[key] = float("nan")
        if "categories" in kw:
            kw["categories"] = tuple(kw["categories"])
        return cls(**kw)


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Reference summaries for every feature, built once and reused for every window."""

    features: Mapping[str, FeatureProfile]
    n_rows: int
    n_bins: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (without raw values: KS/Wasserstein then carry an error bound)."""
        return {"n_rows": self.n_rows, "n_bins": self.n_bins,
                "features": {k: v.to_dict() for k, v in self.features.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        feats = {k: FeatureProfile.from_dict(v) for k, v in data["features"].items()}
        return cls(features=feats, n_rows=int(data["n_rows"]), n_bins=int(data["n_bins"]))


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def numeric_values(series: pd.Series, where: str) -> np.ndarray:
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"column {series.name!r} of the {where} data is not numeric ({exc}); "
            "list it under categorical features or fix its values"
        ) from exc


def _numeric_profile(name: str, x: np.ndarray, n_bins: int) -> FeatureProfile:
    finite = np.isfinite(x)
    v = sort_values(x[finite])
    n_missing = int(x.size - v.size)
    if v.size == 0:
        return FeatureProfile(name, "numeric", 0, n_missing)
    k = n_bins * GRID_PER_BIN
    levels = _sorted_quantiles(v, np.arange(1, k) / k)
    grid = np.unique(levels)
    psi_edges = np.unique(levels[GRID_PER_BIN - 1 :: GRID_PER_BIN])  # a subset of the grid
    st = sorted_cell_stats(v, grid)
    q1, q3 = _sorted_quantiles(v, np.array([0.25, 0.75]))
    scale, kind = float(q3 - q1), "iqr"
    if scale <= 0:
        scale, kind = float(np.std(v)), "std"
    return FeatureProfile(
        name, "numeric", int(v.size), n_missing, grid=grid, psi_edges=psi_edges,
        counts=st.counts, sums=st.sums, at_edge=st.at_edge, minimum=float(v[0]), maximum=float(v[-1]), scale=scale,
        scale_kind=kind, sorted_values=v,
    )


def _sorted_quantiles(v: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles of sorted ``v`` by linear interpolation (numpy's default method)."""
    pos = q * (v.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, v.size - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def _categorical_profile(name: str, series: pd.Series) -> FeatureProfile:
    missing = series.isna()
    counts = series[~missing].value_counts(sort=False)
    try:
        counts = counts.sort_index()
    except TypeError:  # mixed types: keep first-seen order
        pass
    cats = tuple(counts.index.tolist())
    return FeatureProfile(
        name, "categorical", int((~missing).sum()), int(missing.sum()),
        counts=counts.to_numpy(dtype=np.int64), categories=cats,
    )


def build_reference_profile(
    reference: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str] | None = None,
    n_bins: int = 10,
) -> ReferenceProfile:
    """Summarise the reference columns once (sorted values, quantile grid, categories).

    Parameters
    ----------
    reference : pandas.DataFrame
        Reference sample (usually training data).
    features : sequence of str
        Columns to profile.
    categorical : sequence of str, optional
        Columns treated as categorical; default: every non-numeric (or bool) column.
    n_bins : int
        Number of PSI quantile bins.

    Examples
    --------
    >>> ref = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    >>> profile = build_reference_profile(ref, features=["x", "c"])
    >>> profile.features["x"].kind, profile.features["c"].categories
    ('numeric', ('a', 'b'))
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    missing = [f for f in features if f not in reference.columns]
    if missing:
        raise DataError(f"reference data lacks feature column(s) {missing}; add them or fix `features`")
    cat = set(categorical) if categorical is not None else {
        f for f in features if _is_categorical(reference[f])
    }
    columns = {name: reference[name] for name in features}  # pandas indexing on this thread only

    def profile(name: str) -> FeatureProfile:
        col = columns[name]
        if name in cat:
            return _categorical_profile(name, col)
        return _numeric_profile(name, numeric_values(col, "reference"), n_bins)

    profiles = dict(zip(features, map_columns(profile, list(features), label="drift"), strict=True))
    return ReferenceProfile(features=profiles, n_rows=len(reference), n_bins=n_bins)

