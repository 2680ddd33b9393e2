"""The in-memory executor: the plan's aggregates from a pandas frame with numpy.

It builds the aggregates from the very objects the in-memory evidence path uses
(``BinaryPrepared.columns``, ``CalibrationPrepared.columns``, the fairness engine's
``point_aggregates``/``bootstrap_aggregates``, the drift path's ``scan_column`` on the
profile's grid), and its bootstrap uses the shared Philox Poisson weights of
``workbench.metrics.bootstrap``: the numpy executor is the reference every other executor is
tested against.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench import fairness as eng
from workbench.engine._plan import (
    Aggregates,
    BootstrapAggregates,
    CategoryCounts,
    FairnessAggregates,
    NumericCells,
    RoleAggregates,
    ScaleSpec,
)
from workbench.engine._ranks import histogram_bin, histogram_domain, histogram_scale
from workbench.errors import DataError
from workbench.metrics import BinaryPrepared
from workbench.metrics import scan_column
from workbench.metrics.bootstrap import fill_poisson_counts
from workbench.metrics.calibration import CalibrationPrepared

if TYPE_CHECKING:
    from workbench.metrics.drift import ReferenceProfile

ENGINE = "numpy"


def _labels(frame: pd.DataFrame, spec: ScaleSpec) -> np.ndarray:
    if spec.label not in frame.columns:
        raise DataError(f"evaluation data lacks the label column {spec.label!r}; fix `target` in the manifest")
    return (frame[spec.label] == spec.positive_label).to_numpy(dtype=bool)


def _role(y: np.ndarray, s: np.ndarray, spec: ScaleSpec) -> tuple[RoleAggregates, BinaryPrepared,
                                                                   CalibrationPrepared | None]:
    prep = BinaryPrepared(y, s, threshold=spec.threshold)
    linear = (np.ones((1, prep.n)) @ prep.columns)[0]  # as BinaryPrepared.point sums them
    agg = RoleAggregates(linear=linear, score_min=float(s.min(initial=np.inf)), score_max=float(s.max(initial=-np.inf)))
    if spec.auc == "exact":
        uniq, inv = np.unique(s, return_inverse=True)
        agg.ranks = (np.bincount(inv[~y], minlength=uniq.size), np.bincount(inv[y], minlength=uniq.size))
    else:
        agg.histogram = _histogram(y, s, agg, spec.histogram_bins)
    cal = None
    if prep.probabilities:
        cal = CalibrationPrepared(y, s, n_bins=spec.calibration_bins)
        agg.calibration = cal.columns.sum(axis=0)
        agg.quantile_edges = cal.quantile_edges
        agg.slope, agg.intercept = cal.slope_full, cal.intercept_full
    return agg, prep, cal


def _histogram(y: np.ndarray, s: np.ndarray, agg: RoleAggregates, bins: int, weights=None) -> np.ndarray:
    lo, hi = histogram_domain(agg.score_min, agg.score_max)
    b = histogram_bin(s, lo=lo, scale=histogram_scale(lo, hi, bins), bins=bins)
    return np.bincount(b * 2 + y, weights=weights, minlength=2 * bins).reshape(bins, 2).astype(
        np.int64 if weights is None else np.float64)


def _cells(frame: pd.DataFrame, spec: ScaleSpec, y: np.ndarray, preds: dict, scores: dict):
    part = eng.build_partition({f: frame[f] for f in spec.sensitive}, n_rows=len(frame), intersections=False)
    combos = {g.features[0]: [g.labels[c] for c in g.cell_to_group] for g in part.groupings}
    point = eng.point_aggregates(part.cells, part.n_cells, y.astype(np.int64), preds, scores, n_bins=spec.fairness_bins)
    joint = np.zeros((part.n_cells, 2) + (2,) * len(preds))
    key = part.cells * 2 + y.astype(np.int64)
    for role in preds:
        key = key * 2 + preds[role]
    joint = np.bincount(key, minlength=joint.size).reshape(joint.shape).astype(np.int64)
    return part, FairnessAggregates(combos=combos, joint=joint, calibration=dict(point.calibration))


def _drift(frame: pd.DataFrame, spec: ScaleSpec, profile) -> dict:
    out: dict = {}
    for name in spec.features:
        prof = profile.features[name]
        col = frame[name]
        if prof.kind == "numeric":
            x = col.to_numpy(dtype=np.float64, na_value=np.nan)
            # the in-memory drift path's compiled scan: cells, cell sums, minimum and maximum
            scan = scan_column(x, prof.binner()) if prof.n > 0 else None
            n_finite = scan.n_finite if scan is not None else int(np.isfinite(x).sum())
            if scan is None or n_finite == 0:
                out[name] = NumericCells(np.zeros(0), np.zeros(0), np.zeros(0), int(x.size - n_finite),
                                         np.nan, np.nan)
                continue
            st = scan.stats
            out[name] = NumericCells(st.counts, st.sums, st.at_edge, int(x.size - n_finite),
                                     scan.minimum, scan.maximum)
        else:
            counts = col.value_counts(dropna=False, sort=False)
            out[name] = CategoryCounts({(None if pd.isna(k) else k): int(c) for k, c in counts.items()})  # type: ignore[call-overload]  # pandas-stubs: a Hashable label
    return out


def numpy_aggregates(
    frame: pd.DataFrame,
    spec: ScaleSpec,
    *,
    profile: ReferenceProfile | None = None,
    progress: Callable[[str], None] | None = None,
) -> Aggregates:
    """Every aggregate of the plan for an in-memory evaluation frame.

    Examples
    --------
    >>> f = pd.DataFrame({"y": [0, 1, 0, 1], "s": [0.1, 0.8, 0.6, 0.4]})
    >>> a = numpy_aggregates(f, ScaleSpec(label="y", scores={"candidate": "s"}, n_boot=0))
    >>> a.roles["candidate"].linear[:4].tolist()
    [1.0, 1.0, 2.0, 4.0]
    """
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    y = _labels(frame, spec)
    roles, preps, cals, scores = {}, {}, {}, {}
    for role, col in spec.scores.items():
        if col not in frame.columns:
            raise DataError(f"evaluation data lacks the {role} score column {col!r}; fix the manifest")
        scores[role] = frame[col].to_numpy(dtype=np.float64)
        roles[role], preps[role], cals[role] = _role(y, scores[role], spec)
    agg = Aggregates(engine=ENGINE, n_rows=len(frame), roles=roles)
    preds = {r: (scores[r] >= spec.threshold).astype(np.int64) for r in roles}
    part = None
    if spec.sensitive:
        part, agg.fairness = _cells(frame, spec, y, preds, scores)
    if profile is not None and spec.features:
        agg.drift = _drift(frame, spec, profile)
    agg.timings["aggregates"] = time.perf_counter() - t0
    if spec.n_boot:
        t1 = time.perf_counter()
        say(f"bootstrap (numpy): {spec.n_boot} replicates over {len(frame)} rows")
        agg.boot = _bootstrap(y, scores, preps, cals, roles, spec, part=part, preds=preds)
        agg.timings["bootstrap"] = time.perf_counter() - t1
    return agg


def _bootstrap(y, scores, preps, cals, roles, spec: ScaleSpec, *, part, preds) -> BootstrapAggregates:
    names = list(roles)
    blocks = []
    for r in names:
        blocks.append(preps[r].columns)
        if cals[r] is not None:
            blocks.append(cals[r].columns)
    matrix = np.concatenate(blocks, axis=1).astype(np.float32)
    n = y.size
    k = max(1, min(64, (16 << 20) // max(n, 1)))
    lin = {r: np.empty((spec.n_boot, 6)) for r in names}
    cal = {r: np.empty((spec.n_boot, cals[r].columns.shape[1])) for r in names if cals[r] is not None}
    hist = {r: np.empty((spec.n_boot, spec.bootstrap_bins, 2)) for r in names}
    keys = {}
    for r in names:
        lo, hi = histogram_domain(roles[r].score_min, roles[r].score_max)
        keys[r] = histogram_bin(scores[r], lo=lo, scale=histogram_scale(lo, hi, spec.bootstrap_bins),
                                bins=spec.bootstrap_bins) * 2 + y
    fair = None
    if part is not None:
        joint_key = part.cells * 2 + y
        for r in names:
            joint_key = joint_key * 2 + preds[r]
        shape = (part.n_cells, 2) + (2,) * len(names)
        fb = spec.fairness_bins
        cal_keys = {r: part.cells * fb + np.clip((scores[r] * fb).astype(np.int64), 0, fb - 1)
                    for r in names if cals[r] is not None}
        fair = (joint_key, shape, np.empty((spec.n_boot, *shape)), cal_keys,
                {r: np.empty((spec.n_boot, part.n_cells, fb)) for r in cal_keys})
    counts = np.empty((k, n), dtype=np.uint8)
    for start in range(0, spec.n_boot, k):
        size = min(k, spec.n_boot - start)
        c = counts[:size]
        fill_poisson_counts(c, seed=spec.seed, start=start)
        sums = c.astype(np.float32) @ matrix
        col = 0
        for r in names:
            lin[r][start:start + size] = sums[:, col:col + 6]
            col += 6
            if r in cal:
                m = cal[r].shape[1]
                cal[r][start:start + size] = sums[:, col:col + m]
                col += m
            for i in range(size):
                hist[r][start + i] = np.bincount(keys[r], weights=c[i], minlength=2 * spec.bootstrap_bins).reshape(-1, 2)
        if fair is not None:
            joint_key, shape, joint, cal_keys, fcal = fair
            size_j = int(np.prod(shape))
            for i in range(size):
                joint[start + i] = np.bincount(joint_key, weights=c[i], minlength=size_j).reshape(shape)
                for r, key in cal_keys.items():
                    fcal[r][start + i] = np.bincount(key, weights=c[i] * (y - scores[r]),
                                                     minlength=fcal[r][0].size).reshape(fcal[r].shape[1:])
    out = BootstrapAggregates(linear=lin, histogram=hist, calibration=cal,
                              weights="philox poisson(1), workbench.metrics.bootstrap")
    if fair is not None:
        out.joint, out.fair_calibration = fair[2], fair[4]
    return out
