"""What would most change one decision: a small, honest search over the actionable features.

The search moves only the features the manifest marks actionable (``actionable_features``), only
in their feasible direction and within their bounds, to values observed in the evaluation data
(its quantiles), and asks the model itself: it reports the model's response with every other
input held fixed, not a causal claim about the person.

1. One feature at a time: every feasible quantile value of each actionable feature.
2. Two features at a time: a coarser grid of feasible values for every pair.

Distance is the shift in percentile of the evaluation data (``|F(new) - F(old)|`` summed over
the changed features), so moving income and moving debt ratio are compared on one scale. The
nearest change that flips the decision wins; when none does, the change that moves the score
furthest towards the threshold is reported, marked as not flipping it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from typing import Any, Protocol

import numpy as np
import pandas as pd

from workbench.canonical import to_jsonable

N_SINGLE = 40  # quantile levels per feature, one-feature search
N_PAIR = 15  # per feature, two-feature grid
NOTE = ("the model's response to the change with every other input held fixed, searched over values "
        "seen in the evaluation data; not a causal claim about the person")


class ActionableSpec(Protocol):
    """What the search reads of a manifest's ``ActionableFeature``."""

    @property
    def direction(self) -> str: ...

    @property
    def min(self) -> float | None: ...

    @property
    def max(self) -> float | None: ...


def _numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _candidates(reference: pd.Series, current: float, spec: ActionableSpec, levels: int) -> np.ndarray:
    """Feasible observed values (quantiles of ``reference``) other than ``current``."""
    values = reference.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return values
    grid = np.unique(np.quantile(values, np.linspace(0.0, 1.0, levels + 1), method="inverted_cdf"))
    keep = grid != current
    if spec.direction == "increase":
        keep &= grid > current
    elif spec.direction == "decrease":
        keep &= grid < current
    if spec.min is not None:
        keep &= grid >= spec.min
    if spec.max is not None:
        keep &= grid <= spec.max
    return grid[keep]


def _ecdf(reference: pd.Series) -> Callable[[np.ndarray], np.ndarray]:
    values = np.sort(reference.to_numpy(dtype=np.float64, na_value=np.nan))
    values = values[np.isfinite(values)]
    return lambda x: np.searchsorted(values, np.asarray(x, dtype=np.float64), side="right") / max(values.size, 1)


def nearest_change(
    row: pd.DataFrame,
    *,
    score: Callable[[pd.DataFrame], np.ndarray],
    reference: pd.DataFrame,
    actionable: Mapping[str, ActionableSpec],
    threshold: float,
    features: Sequence[str],
) -> dict[str, Any]:
    """The nearest feasible change of the actionable features that flips the decision of ``row``.

    Parameters
    ----------
    row : DataFrame
        One row holding every model input.
    score : callable
        Raw rows → P(positive), the model itself.
    reference : DataFrame
        The evaluation data: candidate values are its quantiles; distances its percentiles.
    actionable : mapping
        Feature → spec with ``direction`` (increase/decrease/any), ``min``, ``max``.

    Returns
    -------
    dict
        ``{"available", "flips", "changes": [{feature, from, to}], "score_before", "score_after",
        "distance", "searched": {features, skipped, candidates}, "note"}``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"debt": np.linspace(0, 1, 50), "noise": np.tile([0.0, 1.0], 25)})
    >>> m = LogisticRegression().fit(X, (X.debt < 0.5).astype(int))
    >>> spec = type("S", (), {"direction": "decrease", "min": 0.0, "max": None})()
    >>> out = nearest_change(X.iloc[[40]], score=lambda f: m.predict_proba(f)[:, 1], reference=X,
    ...                      actionable={"debt": spec}, threshold=0.5, features=["debt", "noise"])
    >>> out["flips"], out["changes"][0]["feature"], out["changes"][0]["to"] < 0.5
    (True, 'debt', True)
    """
    before = float(np.asarray(score(row), dtype=float).reshape(-1)[0])
    positive = before >= threshold
    searched: list[str] = []
    skipped: dict[str, str] = {}
    grids: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for f, spec in actionable.items():
        if f not in features or f not in row.columns:
            skipped[f] = "not a model input"
            continue
        if not _numeric(reference[f]):
            skipped[f] = "categorical: not searched"
            continue
        current = float(row[f].iloc[0]) if pd.notna(row[f].iloc[0]) else np.nan
        if not np.isfinite(current):
            skipped[f] = "missing for this row"
            continue
        cdf = _ecdf(reference[f])
        cand = _candidates(reference[f], current, spec, N_SINGLE)
        if cand.size == 0:
            skipped[f] = "no feasible value in the data's range"
            continue
        searched.append(f)
        grids[f] = (cand, np.abs(cdf(cand) - cdf(np.array([current]))[0]))
    trials: list[tuple[dict[str, float], float]] = []
    for f in searched:
        trials.extend(({f: float(v)}, float(d)) for v, d in zip(*grids[f], strict=True))
    for f, g in combinations(searched, 2):
        fi = _thin(grids[f])
        gi = _thin(grids[g])
        trials.extend(({f: float(v), g: float(w)}, float(d + e))
                       for v, d in zip(*fi, strict=True) for w, e in zip(*gi, strict=True))
    out: dict[str, Any] = {"available": bool(trials), "score_before": before, "threshold": float(threshold),
                           "searched": {"features": searched, "skipped": skipped, "candidates": len(trials)},
                           "note": NOTE}
    if not trials:
        out.update(flips=False, changes=[], score_after=None, distance=None,
                   reason="no actionable feature could be searched" if actionable else
                   "the manifest marks no feature actionable (actionable_features)")
        return out
    batch = pd.concat([row[list(features)]] * len(trials), ignore_index=True)
    for f in searched:
        col = np.array([c.get(f, np.nan) for c, _ in trials])
        moved = np.where(np.isnan(col), float(row[f].iloc[0]), col)
        # quantiles of an integer column are observed integers: keep the column's dtype
        batch[f] = pd.Series(moved, index=batch.index).astype(batch[f].dtype) if pd.api.types.is_integer_dtype(batch[f]) else moved
    after = np.asarray(score(batch), dtype=float).reshape(-1)
    distance = np.array([d for _, d in trials])
    size = np.array([len(c) for c, _ in trials])
    flips = (after < threshold) if positive else (after >= threshold)
    if flips.any():
        idx = np.flatnonzero(flips)
        best = int(idx[np.lexsort((size[idx], distance[idx]))[0]])  # nearest, then fewest features
    else:
        toward = before - after if positive else after - before
        best = int(np.argmax(toward))
    change = trials[best][0]
    out.update(flips=bool(flips[best]), score_after=float(after[best]), distance=float(distance[best]),
               changes=[{"feature": f, "from": to_jsonable(row[f].iloc[0]), "to": v} for f, v in change.items()])
    return out


def _thin(grid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    values, dist = grid
    if values.size <= N_PAIR:
        return values, dist
    pick = np.unique(np.linspace(0, values.size - 1, N_PAIR).round().astype(int))
    return values[pick], dist[pick]
