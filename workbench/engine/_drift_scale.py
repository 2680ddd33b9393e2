"""Drift entries from aggregates of the current data on a stored reference profile.

The current column arrives as per-grid-cell aggregates (numeric) or per-value counts
(categorical); the entries are those of ``workbench.metrics.drift`` for a profile loaded from
JSON (no raw reference values): PSI exact, KS and Wasserstein from the grid with their
stated error bounds, KS p-value asymptotic. The numeric and categorical tails below mirror
``drift._numeric_drift`` / ``drift._categorical_drift`` after their one pass over the values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.engine._plan import CategoryCounts, NumericCells
from workbench.metrics import drift as D
from workbench.metrics import CellStats


def numeric_entry(prof: D.FeatureProfile, cur: NumericCells, epsilon: float) -> dict[str, Any]:
    """Cell statistics from SQL → the in-memory path's numeric finaliser (KS/Wasserstein bounded)."""
    st = CellStats(np.asarray(cur.counts, np.int64), np.asarray(cur.sums, np.float64),
                   np.asarray(cur.at_edge, np.int64))
    return D.numeric_drift_from_cells(prof, st, n_cur=int(np.sum(cur.counts)), n_cur_missing=cur.n_missing,
                                      minimum=cur.minimum, maximum=cur.maximum, epsilon=epsilon)


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
                          bands: tuple[float, ...], epsilon: float, profile_digest: str | None) -> dict[str, Any]:
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
