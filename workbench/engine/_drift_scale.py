"""Drift entries from aggregates of the current data on a stored reference profile.

The current column arrives as per-grid-cell aggregates (numeric) or per-value counts
(categorical); the entries are those of ``workbench.metrics.drift`` for a profile loaded from
JSON (no raw reference values): PSI exact, KS and Wasserstein from the grid with their
stated error bounds, KS p-value asymptotic. The numeric and categorical tails below mirror
``drift._numeric_drift`` / ``drift._categorical_drift`` after their one pass over the values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from workbench.engine._plan import CategoryCounts, NumericCells
from workbench.metrics import drift as D
from workbench.metrics._drift_numeric import CellStats, two_sample


def numeric_entry(prof: D.FeatureProfile, cur: NumericCells, epsilon: float) -> dict[str, Any]:
    n_cur = int(np.sum(cur.counts))
    total = n_cur + cur.n_missing
    out: dict[str, Any] = {
        "kind": "numeric", "n_reference": prof.n, "n_current": n_cur,
        "missing_rate_reference": prof.n_missing / max(prof.n + prof.n_missing, 1),
        "missing_rate_current": cur.n_missing / max(total, 1),
    }
    if prof.n == 0 or n_cur == 0:
        side = "reference" if prof.n == 0 else "current"
        return {**out, "defined": False, "reason": f"no non-missing values in the {side} data",
                "psi": None, "ks_statistic": None, "ks_p_value": None, "wasserstein": None,
                "wasserstein_normalised": None}
    st = CellStats(np.asarray(cur.counts, np.int64), np.asarray(cur.sums, np.float64),
                   np.asarray(cur.at_edge, np.int64))
    is_edge = np.isin(prof.grid, prof.psi_edges)
    to_bin = np.r_[0, np.cumsum(is_edge)]
    nb = prof.psi_edges.size + 1
    ref_bins = np.bincount(to_bin, weights=prof.counts, minlength=nb)
    cur_bins = np.bincount(to_bin, weights=st.counts, minlength=nb)
    psi, p, q = D._psi(np.r_[ref_bins, prof.n_missing], np.r_[cur_bins, cur.n_missing], epsilon)
    scale_ok = bool(np.isfinite(prof.scale) and prof.scale > 0)
    lo, hi = min(prof.minimum, cur.minimum), max(prof.maximum, cur.maximum)
    ref_st = CellStats(prof.counts, prof.sums, prof.at_edge)
    ts = two_sample(prof.grid, ref_st, st, lo=lo, hi=hi, ref_sorted=None, cur_values=np.empty(0),
                    cur_cells=np.empty(0, np.int64), w_tolerance=D.W_TOLERANCE * prof.scale if scale_ok else 0.0)
    stored = dataclasses.replace(prof, sorted_values=None) if prof.sorted_values is not None else prof
    p_value, p_method = D._ks_p_value(ts.ks_statistic, stored, np.empty(0), n_cur)
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


def categorical_entry(prof: D.FeatureProfile, cur: CategoryCounts, epsilon: float) -> dict[str, Any]:
    """Counts per value from SQL → the in-memory path's categorical finaliser."""
    index = {c: i for i, c in enumerate(prof.categories)}
    counts = np.zeros(len(prof.categories), dtype=np.int64)
    n_missing = n_unseen = 0
    for value, c in cur.counts.items():
        if value is None:
            n_missing += c
        elif value in index:
            counts[index[value]] += c
        else:
            n_unseen += c
    return D.categorical_drift_from_counts(prof, counts, n_unseen=n_unseen, n_missing=n_missing, epsilon=epsilon)


def drift_from_aggregates(profile: D.ReferenceProfile, cells: dict, *, n_current: int,
                          bands: tuple[float, float], epsilon: float, profile_digest: str | None) -> dict[str, Any]:
    """The ``drift`` evidence section (same keys as ``drift_evidence``)."""
    entries = {}
    for name, cur in cells.items():
        prof = profile.features[name]
        entry = numeric_entry(prof, cur, epsilon) if prof.kind == "numeric" else categorical_entry(prof, cur, epsilon)
        entry["severity"] = D.severity_band(entry["psi"], bands)
        entries[name] = entry
    drifted = [f for f, e in entries.items() if e["severity"] in ("moderate", "major")]
    return {
        "status": "ok", "features": entries, "n_drifted": len(drifted),
        "share_drifted": len(drifted) / len(entries) if entries else 0.0,
        "drifted_features": drifted, "bands": {"moderate": bands[0], "major": bands[1]},
        "n_reference": profile.n_rows, "n_current": n_current,
        "reference_profile_digest": profile_digest,
        "method": {
            "numeric": f"PSI on {profile.n_bins} reference quantile bins + missing bin (epsilon {epsilon}); "
            "KS and Wasserstein-1 / reference IQR from the stored reference grid (with error bounds)",
            "categorical": "PSI over reference categories + unseen + missing (epsilon); "
            "chi-square without continuity correction; Jensen-Shannon distance base 2",
            "share_drifted": "share of features with PSI >= the moderate band",
        },
        "prediction": {},
    }
