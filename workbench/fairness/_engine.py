"""Vectorised engine behind :mod:`workbench.fairness`: group coding, counts, finalisers.

Everything is an aggregation over the *finest* partition of the rows (the full intersection
of the sensitive features, ``F`` cells): confusion counts per (cell, y, prediction of every
model) and signed calibration sums per (cell, score bin) per model. Each reported grouping
(one sensitive feature, or the intersection) is a coarsening of that partition, so one pass
over the rows serves every grouping and both models. Point estimates use ``np.bincount``
in float64; the bootstrap multiplies each chunk of shared Poisson weights (replicates x rows)
by one dense indicator matrix (rows x columns) — a single BLAS call per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.metrics.bootstrap import (
    default_weight_chunk,
    fill_poisson_counts,
    iter_weight_chunks,
)

MISSING_LABEL = "(missing)"
BLAS_MAX_CELLS = 16_000_000  # rows x columns of the dense indicator (64 MB of float32)
COUNT_METRICS = ("base_rate", "selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy")
SCORE_METRICS = ("roc_auc", "ece")
GROUP_METRICS = COUNT_METRICS + SCORE_METRICS
UNDEFINED_REASON = {
    "tpr": "no positive labels in the group",
    "fnr": "no positive labels in the group",
    "fpr": "no negative labels in the group",
    "precision": "no positive predictions in the group",
    "roc_auc": "only one class present in the group",
    "ece": "no scores in the group",
    "base_rate": "empty group",
    "selection_rate": "empty group",
    "accuracy": "empty group",
}


@dataclass(frozen=True)
class Grouping:
    """One reported grouping: a sensitive feature or an intersection, as a coarsening of cells."""

    name: str
    features: tuple[str, ...]
    labels: tuple[str, ...]
    cell_to_group: np.ndarray  # (F,) group code of every fine cell


@dataclass(frozen=True)
class Partition:
    """The finest partition: a cell code per row plus every reported grouping."""

    cells: np.ndarray  # (n,) int64 in [0, F)
    n_cells: int
    groupings: tuple[Grouping, ...]
    group_codes: dict[str, np.ndarray]  # grouping name -> (n,) group code per row


def _code_labels(values: object) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group code per row and sorted text labels; hash-based, so strings are touched once."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    text = [str(u) for u in uniques] + [MISSING_LABEL]
    labels, merged = np.unique(np.asarray(text, dtype=object), return_inverse=True)  # 1 and "1" are one group
    return merged[codes].astype(np.int64), tuple(str(x) for x in labels)


def build_partition(
    sensitive: Mapping[str, object], *, n_rows: int, intersections: bool | Sequence[Sequence[str]] = True
) -> Partition:
    """Code every sensitive feature (missing values form their own group) and the intersections."""
    names = list(sensitive)
    codes, labels = [], []
    for name in names:
        code, label = _code_labels(sensitive[name])
        if code.shape[0] != n_rows:
            raise ValueError(
                f"sensitive feature {name!r} has {code.shape[0]} rows but y_true has {n_rows}; "
                "pass one value per row"
            )
        used = np.unique(code)  # drop the missing label when nothing is missing
        codes.append(np.searchsorted(used, code))
        labels.append(tuple(label[u] for u in used))
    # mixed-radix code over all features, then compress to the cells that occur
    full = np.zeros(n_rows, dtype=np.int64)
    for c, lab in zip(codes, labels, strict=True):
        full = full * len(lab) + c
    occurring, cells = np.unique(full, return_inverse=True)
    per_feature = []  # (F,) code of feature k for each occurring cell
    rest = occurring.copy()
    for lab in reversed(labels):
        per_feature.append(rest % len(lab))
        rest //= len(lab)
    per_feature.reverse()
    if intersections is True:
        combos = [tuple(names)] if len(names) >= 2 else []
    elif intersections is False:
        combos = []
    else:
        combos = [tuple(c) for c in intersections]
    specs = [(name,) for name in names] + combos
    groupings, group_codes = [], {}
    for spec in specs:
        idx = [names.index(f) for f in spec]
        key = np.zeros(occurring.shape[0], dtype=np.int64)
        for k in idx:
            key = key * len(labels[k]) + per_feature[k]
        gkeys, cell_to_group = np.unique(key, return_inverse=True)
        glabels = []
        for gk in gkeys:
            parts, rem = [], int(gk)
            for k in reversed(idx):
                parts.append(labels[k][rem % len(labels[k])])
                rem //= len(labels[k])
            glabels.append("×".join(reversed(parts)))
        name = "×".join(spec)
        groupings.append(Grouping(name, spec, tuple(glabels), cell_to_group.astype(np.int64)))
        group_codes[name] = cell_to_group[cells]
    return Partition(cells.astype(np.int64), int(occurring.shape[0]), tuple(groupings), group_codes)


def score_bins(y_score: np.ndarray, n_bins: int) -> np.ndarray:
    """Uniform calibration bins over [0, 1]; a score of exactly 1 falls in the last bin."""
    return np.clip((np.asarray(y_score, dtype=np.float64) * n_bins).astype(np.int64), 0, n_bins - 1)


def rates(counts: np.ndarray, *, undefined: str = "nan") -> dict[str, np.ndarray]:
    """Group rates from confusion counts ``(..., G, 4)`` ordered ``[tn, fp, fn, tp]``.

    ``undefined="nan"`` leaves 0/0 as NaN (reported as undefined); ``"zero"`` reproduces
    scikit-learn/fairlearn, whose confusion-matrix normalisation and ``zero_division=0``
    turn 0/0 into 0.
    """
    tn, fp, fn, tp = (counts[..., k] for k in range(4))
    n = tn + fp + fn + tp
    pos, neg, sel = tp + fn, tn + fp, tp + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "base_rate": pos / n,
            "selection_rate": sel / n,
            "tpr": tp / pos,
            "fpr": fp / neg,
            "fnr": fn / pos,
            "precision": tp / sel,
            "accuracy": (tp + tn) / n,
        }
    if undefined == "zero":
        for key in ("tpr", "fpr", "fnr", "precision"):
            out[key] = np.where(np.isnan(out[key]), 0.0, out[key])
    return out


def ece_from_sums(signed: np.ndarray, n: np.ndarray) -> np.ndarray:
    """ECE = sum over bins |sum(y - p)| / n, from signed sums ``(..., G, bins)`` and n ``(..., G)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(signed).sum(axis=-1) / n


def coarsen(cell_values: np.ndarray, grouping: Grouping, n_groups: int) -> np.ndarray:
    """Sum cell aggregates ``(..., F, k)`` into group aggregates ``(..., G, k)``."""
    onehot = np.zeros((grouping.cell_to_group.shape[0], n_groups))
    onehot[np.arange(onehot.shape[0]), grouping.cell_to_group] = 1.0
    return np.einsum("...fk,fg->...gk", cell_values, onehot)


@dataclass(frozen=True)
class CellAggregates:
    """Per-cell aggregates, point (leading axis absent) or per replicate (leading axis B)."""

    confusion: dict[str, np.ndarray]  # role -> (..., F, 4)
    calibration: dict[str, np.ndarray]  # role -> (..., F, bins) signed sums of y - p


def point_aggregates(
    cells: np.ndarray, n_cells: int, y_true: np.ndarray, preds: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray | None], *, n_bins: int,
) -> CellAggregates:
    """Exact float64 aggregates with ``np.bincount``."""
    confusion, calibration = {}, {}
    for role, y_pred in preds.items():
        key = cells * 4 + y_true * 2 + y_pred
        confusion[role] = np.bincount(key, minlength=n_cells * 4).astype(np.float64).reshape(n_cells, 4)
        s = scores.get(role)
        if s is not None:
            key = cells * n_bins + score_bins(s, n_bins)
            sums = np.bincount(key, weights=y_true - s, minlength=n_cells * n_bins)
            calibration[role] = sums.reshape(n_cells, n_bins)
    return CellAggregates(confusion, calibration)


def bootstrap_aggregates(
    cells: np.ndarray, n_cells: int, y_true: np.ndarray, preds: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray | None], *, n_bins: int, n_boot: int, seed: int,
    chunk_size: int | None = None, progress: Callable[[str], None] | None = None,
    consumers: Sequence[Callable[[np.ndarray], None]] = (),
    engine: str = "auto",
) -> CellAggregates:
    """Aggregates for every replicate of the shared Poisson bootstrap.

    Every row touches one column per block: the joint key (cell, y, prediction of each model)
    among ``F * 2**(M+1)`` columns, and per model its calibration bin among ``F * n_bins``.
    Small tables use one dense ``weights @ indicator`` BLAS call per chunk (``engine="blas"``);
    large ones a compiled scatter-add that reads each weight once (``"scatter"``), since
    BLAS with few replicates and a million-row inner dimension is slow and the indicator big.
    """
    roles = list(preds)
    n = y_true.shape[0]
    n_keys = 2 ** (len(roles) + 1)
    joint = cells * 2 + y_true
    for role in roles:
        joint = joint * 2 + preds[role]
    blocks = [(joint, np.ones(n, dtype=np.float32), n_cells * n_keys)]
    cal_roles = [r for r in roles if scores.get(r) is not None]
    for role in cal_roles:
        s = scores[role]
        assert s is not None  # cal_roles have scores
        blocks.append((cells * n_bins + score_bins(s, n_bins), (y_true - s).astype(np.float32), n_cells * n_bins))
    width = sum(b[2] for b in blocks)
    offsets = np.cumsum([0] + [b[2] for b in blocks[:-1]])
    keys = np.stack([key + off for (key, _, _), off in zip(blocks, offsets, strict=True)], axis=1).astype(np.int64)
    values = np.stack([val for _, val, _ in blocks], axis=1).astype(np.float32)
    if engine == "auto":
        engine = "blas" if n * width <= BLAS_MAX_CELLS else "scatter"
    if engine == "blas":
        indicator = np.zeros((n, width), dtype=np.float32)
        np.put_along_axis(indicator, keys, values, axis=1)
        out = np.empty((n_boot, width), dtype=np.float64)
        done = 0
        for chunk in iter_weight_chunks(n, n_boot=n_boot, seed=seed, chunk_size=chunk_size):
            out[done : done + chunk.shape[0]] = chunk @ indicator
            for consume in consumers:  # e.g. group AUCs, on the same replicates
                consume(chunk)
            done += chunk.shape[0]
            if progress is not None:
                progress(f"fairness bootstrap {done}/{n_boot} replicates")
    else:
        out = _scatter_bootstrap(keys, values, width, n_rows=n, n_boot=n_boot, seed=seed,
                                 chunk_size=chunk_size, progress=progress, consumers=consumers)
    joint_counts = out[:, : n_cells * n_keys].reshape(n_boot, n_cells, 2, *([2] * len(roles)))
    confusion = {}
    for m, role in enumerate(roles):
        other = tuple(3 + k for k in range(len(roles)) if k != m)
        c = joint_counts.sum(axis=other) if other else joint_counts  # (B, F, y, pred)
        confusion[role] = c.reshape(n_boot, n_cells, 4)
    calibration, offset = {}, n_cells * n_keys
    for role in cal_roles:
        calibration[role] = out[:, offset : offset + n_cells * n_bins].reshape(n_boot, n_cells, n_bins)
        offset += n_cells * n_bins
    return CellAggregates(confusion, calibration)


def _scatter_bootstrap(
    keys: np.ndarray, values: np.ndarray, width: int, *, n_rows: int, n_boot: int, seed: int,
    chunk_size: int | None, progress: Callable[[str], None] | None,
    consumers: Sequence[Callable[[np.ndarray], None]],
) -> np.ndarray:
    """Compiled scatter-add over chunks of replicates, one chunk per worker thread.

    Each worker fills its chunk's uint8 Poisson counts (the same values as
    :func:`~workbench.metrics.bootstrap.poisson_weights`) and scatters them; both release the
    GIL. Consumers receive the chunk as float32 weights, in replicate order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from workbench.fairness._kernel import prepare, scatter_into
    from workbench.metrics import default_workers

    k32, v32 = prepare(keys, values)
    out = np.zeros((n_boot, width), dtype=np.float64)
    if chunk_size is None:
        chunk_size = default_weight_chunk(n_rows)
    starts = list(range(0, n_boot, chunk_size))

    def task(start: int) -> np.ndarray:
        counts = np.empty((min(n_boot, start + chunk_size) - start, n_rows), dtype=np.uint8)
        fill_poisson_counts(counts, seed=seed, start=start)
        scatter_into(out[start : start + counts.shape[0]], counts, k32, v32)
        return counts

    workers = max(1, min(default_workers(), len(starts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fairness") as pool:
        for wave in range(0, len(starts), workers):
            wave_starts = starts[wave : wave + workers]
            futures = [pool.submit(task, start) for start in wave_starts]
            for start, future in zip(wave_starts, futures, strict=True):
                counts = future.result()
                if consumers:
                    chunk = counts.astype(np.float32)
                    for consume in consumers:  # e.g. group AUCs, on the same replicates
                        consume(chunk)
                if progress is not None:
                    progress(f"fairness bootstrap {start + counts.shape[0]}/{n_boot} replicates")
                del counts
    return out


def disparities(
    values: Mapping[str, np.ndarray], overall: Mapping[str, np.ndarray], eligible: np.ndarray,
    *, undefined: str = "nan",
) -> dict[str, dict[str, np.ndarray]]:
    """fairlearn's disparities from group rates ``(..., G)`` and overall rates ``(...)``.

    Groups not ``eligible`` (too small) are left out; NaN group values are skipped, as
    pandas does inside ``MetricFrame.difference`` / ``ratio``. A ratio whose largest group
    rate is 0 (every group at 0) is 0/0: undefined (NaN), as in fairlearn.

    Equalized odds is the worse of the TPR and FPR disparity. With ``undefined="nan"`` an
    undefined part is skipped (the other part is reported). With ``"zero"`` (reproducing
    fairlearn) the parts combine as fairlearn's ``equalized_odds_*(agg="worst_case")`` does,
    with Python's ``max`` / ``min`` over the pair ``[tpr, fpr]``: an undefined TPR part makes
    the result undefined, an undefined FPR part is passed over.
    """

    def masked(v: np.ndarray) -> np.ndarray:
        return np.where(eligible, v, np.nan)

    def diff(metric: str, method: str) -> np.ndarray:
        v = masked(values[metric])
        with np.errstate(invalid="ignore"):
            if method == "between_groups":
                return _nanmax(v) - _nanmin(v)
            return _nanmax(np.abs(v - overall[metric][..., None]))

    def ratio(metric: str, method: str) -> np.ndarray:
        v = masked(values[metric])
        with np.errstate(invalid="ignore", divide="ignore"):
            if method == "between_groups":
                return _nanmin(v) / _nanmax(v)
            r = v / overall[metric][..., None]
            r = np.where(r > 1, 1.0 / r, r)
            return _nanmin(r)

    def worse(tpr: np.ndarray, fpr: np.ndarray, larger: bool) -> np.ndarray:
        if undefined == "zero":  # Python's max/min over [tpr, fpr]: fpr replaces tpr only if it compares worse
            with np.errstate(invalid="ignore"):
                return np.where(fpr > tpr if larger else fpr < tpr, fpr, tpr)
        return np.fmax(tpr, fpr) if larger else np.fmin(tpr, fpr)

    out: dict[str, dict[str, np.ndarray]] = {}
    for method in ("between_groups", "to_overall"):
        out[method] = {
            "demographic_parity_difference": diff("selection_rate", method),
            "demographic_parity_ratio": ratio("selection_rate", method),
            "equalized_odds_difference": worse(diff("tpr", method), diff("fpr", method), larger=True),
            "equalized_odds_ratio": worse(ratio("tpr", method), ratio("fpr", method), larger=False),
            "equal_opportunity_difference": diff("tpr", method),
            "equal_opportunity_ratio": ratio("tpr", method),
        }
    return out


def _nanmax(v: np.ndarray) -> np.ndarray:
    all_nan = np.all(np.isnan(v), axis=-1)
    filled = np.where(np.isnan(v), -np.inf, v).max(axis=-1)
    return np.where(all_nan, np.nan, filled)


def _nanmin(v: np.ndarray) -> np.ndarray:
    all_nan = np.all(np.isnan(v), axis=-1)
    filled = np.where(np.isnan(v), np.inf, v).min(axis=-1)
    return np.where(all_nan, np.nan, filled)
