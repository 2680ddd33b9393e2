"""Data and prediction drift between a reference sample and current data.

Numeric features
    * **PSI** over ``n_bins`` reference quantile bins (right-closed, edges from
      ``np.quantile`` of the reference, duplicate edges merged), plus one bin for missing
      values; an empty bin's proportion is replaced by ``epsilon``.
    * **KS** two-sample statistic and p-value (scipy's ``ks_2samp`` conventions: exact p-value
      when both samples have at most 10,000 values and the raw reference is at hand,
      Smirnov's asymptotic distribution otherwise).
    * **Wasserstein-1** distance, normalised by the reference inter-quartile range (by the
      reference standard deviation when the IQR is 0).
Categorical features
    * PSI over the reference categories plus an ``unseen`` and a ``missing`` bin,
      chi-square p-value of the 2 x k contingency table (no continuity correction), and the
      Jensen-Shannon distance (base 2) of the two distributions over the same bins.

Non-finite numeric values count as missing. Severity is banded by PSI:
``stable < bands[0] <= moderate < bands[1] <= major``.

The reference is summarised once in a :class:`ReferenceProfile` (``_drift_profile``: quantile grid, counts,
categories; JSON-serialisable) that replay windows and monitoring batches reuse; see
``workbench.metrics._drift_numeric`` for how one pass over a current column yields exact
KS and Wasserstein values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.metrics._drift_numeric import CellStats, scan_column, two_sample
from workbench.metrics._drift_profile import (
    FeatureProfile,
    ReferenceProfile,
    build_reference_profile,
    numeric_values,
)
from workbench.metrics._engine import map_columns

__all__ = [
    "FeatureProfile",
    "ReferenceProfile",
    "build_reference_profile",
    "categorical_drift_from_counts",
    "category_codes",
    "drift_evidence",
    "numeric_drift_from_cells",
    "score_drift",
    "severity_band",
]

W_TOLERANCE = 1e-3  # Wasserstein error bound allowed, as a share of the reference scale
_EXACT_P_MAX_N = 10_000


def severity_band(psi: float | None, bands: Sequence[float] = (0.1, 0.25)) -> str:
    """``stable`` / ``moderate`` / ``major`` for a PSI value (``unknown`` when undefined).

    Examples
    --------
    >>> [severity_band(v) for v in (0.05, 0.1, 0.3, None)]
    ['stable', 'moderate', 'major', 'unknown']
    """
    if psi is None or not np.isfinite(psi):
        return "unknown"
    return "stable" if psi < bands[0] else ("moderate" if psi < bands[1] else "major")


def _psi(ref_counts: np.ndarray, cur_counts: np.ndarray, epsilon: float) -> tuple[float, np.ndarray, np.ndarray]:
    p = ref_counts / max(ref_counts.sum(), 1)
    q = cur_counts / max(cur_counts.sum(), 1)
    pe, qe = np.where(ref_counts == 0, epsilon, p), np.where(cur_counts == 0, epsilon, q)
    return float(np.sum((qe - pe) * np.log(qe / pe))), p, q


def _numeric_drift(prof: FeatureProfile, x: np.ndarray, epsilon: float) -> dict[str, Any]:
    scan = scan_column(x, prof.binner()) if prof.n > 0 else None
    n_cur = scan.n_finite if scan is not None else int(np.isfinite(x).sum())
    return numeric_drift_from_cells(
        prof, scan.stats if scan is not None else None, n_cur=n_cur, n_cur_missing=int(x.size - n_cur),
        minimum=scan.minimum if scan is not None else None, maximum=scan.maximum if scan is not None else None,
        epsilon=epsilon, cur_values=x, cur_cells=scan.cells if scan is not None else None)


def numeric_drift_from_cells(
    prof: FeatureProfile,
    st: CellStats | None,
    *,
    n_cur: int,
    n_cur_missing: int,
    minimum: float | None,
    maximum: float | None,
    epsilon: float,
    cur_values: np.ndarray | None = None,
    cur_cells: np.ndarray | None = None,
) -> dict[str, Any]:
    """Drift entry of a numeric feature from the current data's statistics per reference grid cell.

    Shared by the in-memory path, which also passes the raw values (``cur_values``,
    ``cur_cells``) so KS and Wasserstein are refined exactly, and the scale executors, which
    count cells in SQL and get KS/Wasserstein with their stated error bounds.
    """
    out: dict[str, Any] = {
        "kind": "numeric", "n_reference": prof.n, "n_current": n_cur,
        "missing_rate_reference": prof.n_missing / max(prof.n + prof.n_missing, 1),
        "missing_rate_current": n_cur_missing / max(n_cur + n_cur_missing, 1),
    }
    if prof.n == 0 or n_cur == 0 or st is None:
        side = "reference" if prof.n == 0 else "current"
        return {**out, "defined": False, "reason": f"no non-missing values in the {side} data",
                "psi": None, "ks_statistic": None, "ks_p_value": None, "wasserstein": None,
                "wasserstein_normalised": None}
    # a numeric profile has its grid arrays; current data with values has a minimum and maximum
    assert prof.grid is not None and prof.psi_edges is not None and prof.counts is not None
    assert prof.sums is not None and prof.at_edge is not None and minimum is not None and maximum is not None
    # PSI bins are unions of grid cells: bin of x = #psi edges < x = #psi edges among grid[:cell]
    is_edge = np.isin(prof.grid, prof.psi_edges)
    to_bin = np.r_[0, np.cumsum(is_edge)]
    nb = prof.psi_edges.size + 1
    ref_bins = np.bincount(to_bin, weights=prof.counts, minlength=nb)
    cur_bins = np.bincount(to_bin, weights=st.counts, minlength=nb)
    psi, p, q = _psi(np.r_[ref_bins, prof.n_missing], np.r_[cur_bins, n_cur_missing], epsilon)
    scale_ok = bool(np.isfinite(prof.scale) and prof.scale > 0)
    lo, hi = min(prof.minimum, minimum), max(prof.maximum, maximum)
    ref_st = CellStats(prof.counts, prof.sums, prof.at_edge)
    exact = cur_values is not None and cur_cells is not None
    ts = two_sample(prof.grid, ref_st, st, lo=lo, hi=hi,
                    ref_sorted=prof.sorted_values if exact else None,
                    cur_values=cast(np.ndarray, cur_values) if exact else np.empty(0),
                    cur_cells=cast(np.ndarray, cur_cells) if exact else np.empty(0, np.int64),
                    w_tolerance=W_TOLERANCE * prof.scale if scale_ok else 0.0)
    p_value, p_method = _ks_p_value(ts.ks_statistic, prof, cast(np.ndarray, cur_values) if exact else np.empty(0), n_cur,
                                   exact=exact)
    return {
        **out, "defined": True, "psi": psi, "psi_bins": nb + 1,
        "bin_edges": prof.psi_edges.tolist(),
        "reference_proportions": p.tolist(), "current_proportions": q.tolist(),
        "ks_statistic": ts.ks_statistic, "ks_p_value": p_value, "ks_p_value_method": p_method,
        "ks_error_bound": ts.ks_bound,
        "wasserstein": ts.wasserstein, "wasserstein_error_bound": ts.wasserstein_bound,
        "wasserstein_normalised": ts.wasserstein / prof.scale if scale_ok else None,
        "wasserstein_scale": prof.scale_kind, "wasserstein_scale_value": prof.scale,
        "method": "psi(reference quantile bins, missing bin, epsilon) + ks_2samp + wasserstein_1/"
        + prof.scale_kind + ("" if ts.ks_bound == 0 else " (grid, bounded)"),
    }


def _ks_p_value(d: float, prof: FeatureProfile, x: np.ndarray, n_cur: int, *, exact: bool) -> tuple[float, str]:
    """KS p-value; scipy's exact one only when ``exact`` (the raw current values ``x`` are at
    hand) and the profile keeps its sorted reference values."""
    from scipy import stats

    n1, n2 = prof.n, n_cur
    if exact and max(n1, n2) <= _EXACT_P_MAX_N and prof.sorted_values is not None:
        cur = x[np.isfinite(x)]
        with warnings.catch_warnings():  # scipy falls back to asymptotic itself and says so
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful")
            return float(stats.ks_2samp(prof.sorted_values, cur).pvalue), "exact"
    m, n = max(n1, n2), min(n1, n2)
    en = m * n / (m + n)
    if en <= _EXACT_P_MAX_N:  # scipy's ks_2samp asymptotic branch
        return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1)), "asymptotic"
    # kstwo.sf costs ~0.2 s at large n; its Kolmogorov limit differs by < 1% relative there
    return float(np.clip(stats.kstwobign.sf(d * np.sqrt(en)), 0, 1)), "asymptotic (Kolmogorov limit)"


def category_codes(series: pd.Series, categories: Sequence[Any]) -> tuple[np.ndarray, int]:
    """Index of each value in ``categories`` (-1: unseen or missing) and the number missing.

    Arrow-backed strings (pandas' default string type) are matched by Arrow's hash lookup; the
    general path converts them to Python objects first, ten times slower at 1M rows.

    >>> category_codes(pd.Series(["b", None, "z", "a"], dtype="str"), ["a", "b"])
    (array([ 1, -1, -1,  0]), 1)
    """
    dtype = series.dtype
    if (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
            and all(isinstance(c, str) for c in categories)):
        import pyarrow as pa
        import pyarrow.compute as pc

        values = pa.array(series)
        found = pc.index_in(values, value_set=pa.array(list(categories), type=values.type))
        codes = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
        return codes, int(values.null_count)
    codes = pd.Index(list(categories)).get_indexer(series)
    return codes, int(series.isna().sum())


def _categorical_drift(prof: FeatureProfile, series: pd.Series, epsilon: float) -> dict[str, Any]:
    codes, n_missing = category_codes(series, prof.categories)
    cur = np.bincount(codes[codes >= 0], minlength=len(prof.categories))
    n_unseen = int((codes < 0).sum()) - n_missing
    return categorical_drift_from_counts(prof, cur, n_unseen=n_unseen, n_missing=n_missing, epsilon=epsilon)


def categorical_drift_from_counts(
    prof: FeatureProfile, counts: np.ndarray, *, n_unseen: int, n_missing: int, epsilon: float
) -> dict[str, Any]:
    """Drift entry of a categorical feature from current counts per reference category.

    Shared by the in-memory path and the scale executors, which count categories in SQL.
    ``counts[i]`` counts ``prof.categories[i]``; unseen and missing values are their own bins.
    """
    from scipy import stats
    from scipy.spatial import distance

    n_all = int(np.sum(counts)) + n_unseen + n_missing
    ref_t = np.r_[prof.counts, 0, prof.n_missing]
    cur_t = np.r_[counts, n_unseen, n_missing]
    psi, p, q = _psi(ref_t, cur_t, epsilon)
    used = (ref_t + cur_t) > 0
    out: dict[str, Any] = {
        "kind": "categorical", "n_reference": prof.n, "n_current": n_all - n_missing,
        "missing_rate_reference": prof.n_missing / max(prof.n + prof.n_missing, 1),
        "missing_rate_current": n_missing / max(n_all, 1),
        "unseen_rate": n_unseen / max(n_all, 1),
        "categories": [*prof.categories, "<unseen>", "<missing>"],
        "reference_proportions": p.tolist(), "current_proportions": q.tolist(),
        "psi": psi, "defined": True,
        "method": "psi(reference categories + unseen + missing bins, epsilon) + chi2 + jensen_shannon(base 2)",
    }
    if ref_t.sum() == 0 or cur_t.sum() == 0:
        return {**out, "defined": False, "psi": None, "chi2_p_value": None, "js_distance": None,
                "js_divergence": None, "reason": "one of the samples is empty"}
    if used.sum() >= 2:
        chi = stats.chi2_contingency(np.vstack([ref_t[used], cur_t[used]]), correction=False)
        out["chi2_statistic"], out["chi2_p_value"] = float(chi.statistic), float(chi.pvalue)
    else:
        out["chi2_statistic"] = out["chi2_p_value"] = None
        out["chi2_reason"] = "a single category occurs in both samples"
    js = float(distance.jensenshannon(p, q, base=2))
    out["js_distance"], out["js_divergence"] = js, js * js
    return out


def _feature_drift(prof: FeatureProfile, column: pd.Series, epsilon: float, bands) -> dict[str, Any]:
    if prof.kind == "numeric":
        entry = _numeric_drift(prof, numeric_values(column, "current"), epsilon)
    else:
        entry = _categorical_drift(prof, column, epsilon)
    entry["severity"] = severity_band(entry["psi"], bands)
    return entry


def drift_evidence(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    bands: Sequence[float] = (0.1, 0.25),
    n_bins: int = 10,
    epsilon: float = 1e-4,
) -> dict[str, Any]:
    """Per-feature drift of ``current`` against ``reference`` (a frame or a built profile).

    Returns
    -------
    dict
        ``{"features": {name: {...}}, "share_drifted", "n_drifted", "bands", "method", ...}``;
        ``share_drifted`` is the share of features whose severity is not ``stable``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=2000)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, 1.0, size=2000)})
    >>> drift_evidence(ref, cur, features=["x"])["features"]["x"]["severity"]
    'major'
    """
    if isinstance(reference, ReferenceProfile):
        profile = reference
        features = list(features) if features is not None else list(profile.features)
    else:
        if features is None:
            raise ValueError("features is required when reference is a DataFrame")
        profile = build_reference_profile(reference, features=features,
                                          categorical=categorical, n_bins=n_bins)
    absent = [f for f in features if f not in current.columns]
    if absent:
        raise DataError(f"current data lacks feature column(s) {absent}; the reference has them")
    unknown = [f for f in features if f not in profile.features]
    if unknown:
        raise DataError(f"reference profile has no feature(s) {unknown}; rebuild it with them")
    columns = {f: current[f] for f in features}  # pandas indexing on this thread only
    entries = dict(zip(features, map_columns(
        lambda f: _feature_drift(profile.features[f], columns[f], epsilon, bands), list(features),
        label="drift"), strict=True))
    drifted = [f for f, e in entries.items() if e["severity"] in ("moderate", "major")]
    return {
        "features": entries,
        "n_drifted": len(drifted),
        "share_drifted": len(drifted) / len(entries) if entries else 0.0,
        "drifted_features": drifted,
        "bands": {"moderate": bands[0], "major": bands[1]},
        "n_reference": profile.n_rows,
        "n_current": len(current),
        "method": {
            "numeric": f"PSI on {profile.n_bins} reference quantile bins + missing bin "
            f"(epsilon {epsilon}); KS (scipy conventions); Wasserstein-1 / reference IQR (std if IQR 0)",
            "categorical": "PSI over reference categories + unseen + missing (epsilon); "
            "chi-square without continuity correction; Jensen-Shannon distance base 2",
            "share_drifted": "share of features with PSI >= the moderate band",
        },
    }


def score_drift(
    reference_scores: np.ndarray,
    current_scores: np.ndarray,
    *,
    bands: tuple[float, float] = (0.1, 0.25),
    n_bins: int = 10,
    epsilon: float = 1e-4,
) -> dict[str, Any]:
    """Prediction drift: the numeric drift entry of a score distribution (binary P(positive)).

    Examples
    --------
    >>> s = np.linspace(0, 1, 1000)
    >>> score_drift(s, s)["psi"]
    0.0
    """
    ref = pd.DataFrame({"score": np.asarray(reference_scores, dtype=np.float64)})
    cur = pd.DataFrame({"score": np.asarray(current_scores, dtype=np.float64)})
    return drift_evidence(ref, cur, features=["score"], categorical=[], bands=bands,
                          n_bins=n_bins, epsilon=epsilon)["features"]["score"]
