"""Metrics per slice: each value of a categorical column, each quantile band of a numeric one.

Every slice reuses the metric machinery of the registry (``BinaryPrepared`` and friends, the
same per-row columns and rank statistics as the main evidence), and its CI comes from the
same counter-based Poisson replicates: replicate ``r`` gives row ``i`` the same weight here as
in the model-level bootstrap, so slice CIs and global CIs are consistent.

Binary reviews (the default metrics, and any without log loss or Brier score) take every
slice of every feature from one compiled pass per model and four replicates over the rows in
descending score order (``workbench.metrics._slice_kernel``): the counts are generated once per
block of replicates, each row's slice codes are read once, and the confusion counts and exact
ROC AUC of each replicate equal the per-slice computation bit for bit. Other tasks (and
binary slices asked for log loss or Brier score) take each slice's columns of the counts and
one matrix product per slice, with ``BinaryPrepared``-style rank statistics.

Each slice also carries ``significance``: the slice against its complement (accuracy, or MAE
for regression), Benjamini–Hochberg-adjusted over every slice of the model, with ``mde``: the
smallest slice-vs-complement difference the test detects at 80% power (two-sided
``SLICE_ALPHA`` before the adjustment), so a slice that "does not differ" can be told from one
too small to tell.

Slices with fewer than ``min_size`` rows are reported with point values only and
``insufficient_data: true``. Results are ordered worst first by the first requested metric
(by its direction), then slices without a defined value, then insufficient slices.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.metrics import _registry as R
from workbench.metrics._paired import two_by_two_test
from workbench.metrics._assemble import metric_entry
from workbench.metrics._engine import default_chunk
from workbench.metrics.bootstrap import fill_poisson_counts

__all__ = ["DEFAULT_SLICE_METRICS", "SLICE_ALPHA", "slice_codes", "slice_evidence", "slice_evidence_models"]

#: Level of the BH-adjusted slice-vs-complement test (``significance.significant``).
SLICE_ALPHA = 0.05
DEFAULT_SLICE_METRICS = {
    "binary": ("accuracy", "roc_auc", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "f1_macro"),
    "regression": ("mae", "rmse"),
}
MISSING = "<missing>"


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _band_label(lo: float, hi: float) -> str:
    return f"({lo:.6g}, {hi:.6g}]"


def slice_codes(series: pd.Series, *, categorical: bool, n_quantile_bands: int = 4) -> tuple[np.ndarray, list[str]]:
    """Integer slice code per row and the slice labels (missing values form their own slice).

    Examples
    --------
    >>> codes, labels = slice_codes(pd.Series([1.0, 2.0, 3.0, 4.0, None]), categorical=False,
    ...                             n_quantile_bands=2)
    >>> codes.tolist(), labels
    ([0, 0, 1, 1, 2], ['(-inf, 2.5]', '(2.5, inf]', '<missing>'])
    """
    missing = series.isna().to_numpy()
    if categorical:
        # one hash pass (factorize), then the distinct values sorted (first-seen order if they
        # do not compare) and the codes renumbered to that order
        # string columns factorize as they are (5x faster than through object; same first-seen codes)
        plain = pd.api.types.is_string_dtype(series.dtype) and not isinstance(series.dtype, pd.CategoricalDtype)
        found, uniques = pd.factorize(series if plain else series.astype(object), use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object)  # type: ignore[assignment]  # the Index, as an object array
        try:
            rank = np.array(sorted(range(uniques.size), key=lambda i: uniques[i]), dtype=np.int64)
        except TypeError:
            rank = np.arange(uniques.size, dtype=np.int64)
        renumber = np.empty(uniques.size, dtype=np.int64)
        renumber[rank] = np.arange(uniques.size)
        missing = found < 0
        codes = np.where(missing, -1, renumber[np.maximum(found, 0)]) if uniques.size else np.full(found.size, -1)
        labels = [str(u) for u in uniques[rank]]
    else:
        x = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = ~np.isfinite(x)
        finite = x[~missing]
        levels = np.arange(1, n_quantile_bands) / n_quantile_bands
        edges = np.unique(np.quantile(finite, levels)) if finite.size else np.array([])
        codes = np.searchsorted(edges, x, side="left")
        bounds = np.r_[-np.inf, edges, np.inf]
        labels = [_band_label(bounds[i], bounds[i + 1]) for i in range(edges.size + 1)]
    codes = np.where(missing, len(labels), codes)
    if missing.any():
        labels.append(MISSING)
    return codes.astype(np.int64), labels


def _prepare(task: str, y: np.ndarray, score: np.ndarray, threshold: float, n_classes: int | None):
    if task == "binary":
        from workbench.metrics._binary import BinaryPrepared

        return BinaryPrepared(y, score, threshold=threshold)
    if task == "multiclass":
        from workbench.metrics._multiclass import MulticlassPrepared

        return MulticlassPrepared(y, score, n_classes=n_classes)
    from workbench.metrics._regression import RegressionPrepared

    return RegressionPrepared(y, score)


def _bootstrap(preps: dict[int, Any], rows: dict[int, np.ndarray], n_rows: int, *, n_boot: int,
               seed: int) -> dict[int, dict[str, np.ndarray]]:
    """Replicates per slice; the counts of every replicate are generated once for all rows."""
    out: dict[int, dict[str, list[np.ndarray]]] = {k: {} for k in preps}
    if n_boot <= 0 or not preps:
        return {k: {} for k in preps}
    k = default_chunk(n_rows)
    counts = np.empty((k, n_rows), dtype=np.uint8)
    for start in range(0, n_boot, k):
        size = min(k, n_boot - start)
        c = fill_poisson_counts(counts[:size], seed=seed, start=start)
        for code, prep in preps.items():
            cs = c[:, rows[code]]
            sums = cs.astype(np.float32) @ prep.columns.astype(np.float32)
            for stat, v in prep.finalise(sums.astype(np.float64), cs).items():
                out[code].setdefault(stat, []).append(np.asarray(v))
    return {code: {s: np.concatenate(v) for s, v in stats.items()} for code, stats in out.items()}


def _binary_fast(y: np.ndarray, scores: list[np.ndarray], threshold: float, coded: list[tuple[np.ndarray, int]],
                 *, n_boot: int, seed: int, want_ap: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Point and replicate accumulators of every slice of every feature, per score vector (binary).

    Returns, for each of ``scores``, ``(point (G, N_SLOTS), replicates (n_boot, G, N_SLOTS))``
    over the global slice codes (features' codes one after the other, in the order of
    ``coded``); see ``workbench.metrics._slice_kernel``. Every block of replicates draws its
    Poisson counts once for all models (paired, as the model-level bootstrap).
    """
    from workbench.metrics._engine import map_columns
    from workbench.metrics._slice_kernel import LANES, N_SLOTS, SortedSlices

    n = y.size
    offsets = np.cumsum([0] + [k for _, k in coded])
    n_slices = int(offsets[-1])
    dtype = np.uint16 if n_slices <= np.iinfo(np.uint16).max else np.int32
    codes = np.empty((n, len(coded)), dtype=dtype)
    for f, (c, _) in enumerate(coded):
        codes[:, f] = c + offsets[f]
    ones = np.ones((1, n), np.uint8)

    def prepare(sc: np.ndarray) -> tuple[SortedSlices, np.ndarray]:
        model = SortedSlices(y, sc, threshold, codes, n_slices)
        return model, model.replicate_sums(ones, 0, 1, want_ap=want_ap, w4=np.empty((n, LANES)))[:, :, 0]

    models, points = (list(t) for t in zip(*map_columns(prepare, scores, label="slices"))) if scores else ([], [])
    del codes
    reps = [np.empty((max(n_boot, 0), n_slices, N_SLOTS)) for _ in models]
    # one pass of LANES replicates per task (counts (8, n) uint8): 25 tasks for 200 replicates
    # leave the two threads at most one short pass apart (13 tasks of 16 left a whole pair of
    # passes on one thread); each thread keeps its (n, LANES) work array
    block = LANES
    local = threading.local()

    def run(start: int) -> None:
        size = min(block, n_boot - start)
        counts = fill_poisson_counts(np.empty((size, n), np.uint8), seed=seed, start=start)
        w4 = getattr(local, "w4", None)
        if w4 is None:
            w4 = local.w4 = np.empty((n, LANES))
        for r0 in range(0, size, LANES):
            lanes = min(LANES, size - r0)
            for model, out in zip(models, reps):
                acc = model.replicate_sums(counts, r0, lanes, want_ap=want_ap, w4=w4)
                out[start + r0:start + r0 + lanes] = np.moveaxis(acc[:, :, :lanes], 2, 0)

    if n_boot > 0:
        map_columns(run, list(range(0, n_boot, block)), label="slices")
    return list(zip(points, reps))


def _binary_values(acc: np.ndarray) -> dict[str, np.ndarray]:
    """Every binary metric from accumulators ``(..., N_SLOTS)`` (log loss and Brier not summed: NaN)."""
    from workbench.metrics._binary import BINARY_METRICS, finalise_counts
    from workbench.metrics._slice_kernel import AP, CUT_N, CUT_P, DSUM, RUN_N, RUN_P

    p, q = acc[..., RUN_P], acc[..., RUN_N]
    sums = np.stack([acc[..., CUT_P], acc[..., CUT_N], p, p + q, np.zeros_like(p), np.zeros_like(p)], axis=-1)
    out = finalise_counts(sums)
    pn = p * q
    with np.errstate(invalid="ignore", divide="ignore"):
        out["roc_auc"] = np.where(pn > 0, (2 * pn - acc[..., DSUM]) / 2 / np.where(pn > 0, pn, 1.0), np.nan)
        out["average_precision"] = np.where(p > 0, acc[..., AP] / np.where(p > 0, p, 1.0), np.nan)
    out["log_loss"] = np.full_like(p, np.nan)
    out["brier_score"] = np.full_like(p, np.nan)
    return {name: out[name] for name in BINARY_METRICS}


def _significance(task: str, y: np.ndarray, s: np.ndarray, threshold: float,
                  results: list[dict[str, Any]]) -> None:
    """Each slice against the rest of the rows (its complement), BH-adjusted over all slices.

    Each entry of ``results`` carries ``_codes`` (its feature's codes) and ``_code``. Classification: accuracy, a
    2x2 table of (slice, complement) x (correct, wrong), Fisher's exact test when an expected
    cell is below 5, else the G-test (as the fairness slice tests). Regression: mean absolute
    error, Welch's t-test. ``p_adjusted`` is Benjamini–Hochberg over every slice of the model
    (all features); ``significant`` when it is below ``SLICE_ALPHA``.
    """
    from scipy.stats import false_discovery_control, norm, ttest_ind_from_stats

    z = float(norm.ppf(1 - SLICE_ALPHA / 2) + norm.ppf(0.8))  # minimum detectable effect at 80% power

    if task == "regression":
        value = np.abs(np.asarray(y, dtype=np.float64) - s)
    elif task == "binary":
        value = ((s >= threshold) == np.asarray(y, dtype=bool)).astype(np.float64)
    else:
        value = (np.argmax(s, axis=1) == np.asarray(y).astype(np.int64)).astype(np.float64)
    n_all, sum_all, sq_all = value.size, float(value.sum()), float(np.dot(value, value))
    per_feature: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    tests: list[dict[str, Any]] = []
    for entry in results:
        codes, code = entry["_codes"], entry["_code"]
        if id(codes) not in per_feature:
            size = int(codes.max()) + 1 if codes.size else 0
            per_feature[id(codes)] = (np.bincount(codes, minlength=size), np.bincount(codes, value, size),
                                      np.bincount(codes, value * value, size))
        counts, sums, squares = per_feature[id(codes)]
        n_g, n_r = int(counts[code]), n_all - int(counts[code])
        sg, sr = float(sums[code]), sum_all - float(sums[code])
        diff = sg / n_g - sr / n_r if n_g and n_r else None
        if task == "regression":
            qg, qr = float(squares[code]), sq_all - float(squares[code])
            test, stat, p = "none", None, None
            if n_g >= 2 and n_r >= 2:
                mg, mr = sg / n_g, sr / n_r
                vg = max(qg - n_g * mg * mg, 0.0) / (n_g - 1)
                vr = max(qr - n_r * mr * mr, 0.0) / (n_r - 1)
                if vg + vr > 0:
                    res = ttest_ind_from_stats(mg, np.sqrt(vg), n_g, mr, np.sqrt(vr), n_r, equal_var=False)
                    test, stat, p = "welch_t", float(res.statistic), float(res.pvalue)
            mde = z * float(np.sqrt(vg / n_g + vr / n_r)) if test == "welch_t" else None
            tests.append({"metric": "mae", "difference": diff, "test": test, "statistic": stat, "p_value": p,
                          "mde": mde})
            continue
        hit_g, hit_r = int(round(sg)), int(round(sr))
        table = np.array([[hit_g, n_g - hit_g], [hit_r, n_r - hit_r]], dtype=np.int64)
        test, stat, p = two_by_two_test(table)
        pooled = (sg + sr) / n_all if n_all else 0.0  # the null of no difference: one accuracy for both
        mde = z * float(np.sqrt(pooled * (1 - pooled) * (1 / n_g + 1 / n_r))) if n_g and n_r else None
        tests.append({"metric": "accuracy", "difference": diff, "test": test, "statistic": stat, "p_value": p,
                      "mde": mde})
    ps = [t["p_value"] for t in tests if t["p_value"] is not None]
    adjusted: Iterator[Any] = iter(false_discovery_control(np.asarray(ps, dtype=float)) if ps else [])
    for entry, t in zip(results, tests):
        t["p_adjusted"] = float(next(adjusted)) if t["p_value"] is not None else None
        t["significant"] = bool(t["p_adjusted"] is not None and t["p_adjusted"] < SLICE_ALPHA)
        entry["significance"] = t


def _sort_key(entry: dict[str, Any], metric: str, greater: bool) -> tuple:
    m = entry["metrics"].get(metric, {})
    value = m.get("value")
    if value is None:
        return (entry["insufficient_data"], 1, 0.0)
    return (entry["insufficient_data"], 0, value if greater else -value)


def slice_evidence(
    frame: pd.DataFrame,
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    features: Sequence[str],
    threshold: float = 0.5,
    task: Literal["binary", "multiclass", "regression"] = "binary",
    categorical: Sequence[str] | None = None,
    min_size: int = 200,
    n_quantile_bands: int = 4,
    metrics: Sequence[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    n_classes: int | None = None,
) -> list[dict[str, Any]]:
    """Metrics with bootstrap CIs per slice of each feature, worst slice first.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows aligned with ``y_true`` and ``scores`` (e.g. the evaluation set).
    y_true, scores : numpy.ndarray
        Labels (binary: 0/1) and scores (binary: P(positive)) of one model.
    features : sequence of str
        Columns to slice by.
    min_size : int
        Slices with fewer rows get point values only and ``insufficient_data: true``.
    metrics : sequence of str, optional
        Registry metric names; default ``DEFAULT_SLICE_METRICS[task]``. The first orders the
        slices.

    Returns
    -------
    list of dict
        ``{feature, slice, n, insufficient_data, metrics: {name: {value, ci_low, ci_high,
        defined, reason?}}}``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"g": ["a"] * 300 + ["b"] * 300})
    >>> y = rng.integers(0, 2, 600)
    >>> s = np.where(df["g"] == "a", y * 0.8 + 0.1, rng.random(600))
    >>> out = slice_evidence(df, y, s, features=["g"], n_boot=20)
    >>> [e["slice"] for e in out]
    ['b', 'a']
    """
    return slice_evidence_models(
        frame, y_true, {"model": scores}, features=features, threshold=threshold, task=task,
        categorical=categorical, min_size=min_size, n_quantile_bands=n_quantile_bands, metrics=metrics,
        n_boot=n_boot, seed=seed, confidence=confidence, n_classes=n_classes)["model"]


def slice_evidence_models(
    frame: pd.DataFrame,
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    features: Sequence[str],
    threshold: float = 0.5,
    task: Literal["binary", "multiclass", "regression"] = "binary",
    categorical: Sequence[str] | None = None,
    min_size: int = 200,
    n_quantile_bands: int = 4,
    metrics: Sequence[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    n_classes: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """:func:`slice_evidence` for several models at once: ``{name: slices}``.

    The slice codes are computed once, and (binary) every block of replicates draws its
    Poisson counts once for all models; each model's result equals ``slice_evidence`` on it.
    """
    y = np.asarray(y_true)
    arrays = {name: np.asarray(sc, dtype=np.float64) for name, sc in scores.items()}
    for name, s in arrays.items():
        if len(frame) != y.shape[0] or s.shape[0] != y.shape[0]:
            raise DataError(f"slices: frame has {len(frame)} rows, y_true {y.shape[0]}, scores of {name} "
                            f"{s.shape[0]}; pass rows that belong together")
    absent = [f for f in features if f not in frame.columns]
    if absent:
        raise DataError(f"slices: data lacks column(s) {absent}; fix the slice features")
    names = tuple(metrics or DEFAULT_SLICE_METRICS[task])
    greater = R.greater_is_better(names[0], task=task)
    say = progress or (lambda _m: None)
    cat = set(categorical) if categorical is not None else {f for f in features if _is_categorical(frame[f])}
    from workbench.metrics._engine import map_columns

    coded = map_columns(lambda f: slice_codes(frame[f], categorical=f in cat, n_quantile_bands=n_quantile_bands),
                        list(features), label="slices")
    fast = task == "binary" and not {"log_loss", "brier_score"} & set(names)
    out: dict[str, list[dict[str, Any]]] = {}
    if fast:
        from workbench.metrics._binary import _as_binary, checked_scores

        yb = _as_binary(y)
        checked = {name: checked_scores(s, yb.size) for name, s in arrays.items()}
        say(f"slices: {len(features)} columns, {len(arrays)} model(s), one pass per block of replicates")
        accs = _binary_fast(yb, [c[0] for c in checked.values()], float(threshold),
                            [(c, len(lab)) for c, lab in coded], n_boot=n_boot, seed=seed,
                            want_ap="average_precision" in names)
        for (name, (s, probabilities)), (point_acc, rep_acc) in zip(checked.items(), accs):
            out[name] = _binary_results(yb, s, probabilities, point_acc, rep_acc, features, coded, names,
                                        threshold=threshold, min_size=min_size, n_boot=n_boot, confidence=confidence)
    else:
        for name, s in arrays.items():
            say(f"slices: {name}, {len(features)} columns")
            out[name] = _generic_results(task, y, s, features, coded, names, threshold=threshold, min_size=min_size,
                                         n_boot=n_boot, seed=seed, confidence=confidence, n_classes=n_classes)
    for name, results in out.items():
        _significance(task, y, arrays[name], float(threshold), results)
        for entry in results:
            entry.pop("_codes")
            entry.pop("_code")
        results.sort(key=lambda e: _sort_key(e, names[0], greater))
    return out


def _binary_results(y, s, probabilities, point_acc, rep_acc, features, coded, names, *, threshold, min_size,
                    n_boot, confidence) -> list[dict[str, Any]]:
    from workbench.metrics._binary import reason

    points_all, reps_all = _binary_values(point_acc), _binary_values(rep_acc)
    want_ap = "average_precision" in names
    results: list[dict[str, Any]] = []
    offset = 0
    for feature, (codes, labels) in zip(features, coded):
        sizes = np.bincount(codes, minlength=len(labels))
        for code, label in enumerate(labels):
            g = offset + code
            if sizes[code] == 0:
                continue
            if want_ap:  # the point AP summed in the per-slice order (bit-identical to the metric)
                idx = np.flatnonzero(codes == code)
                point = _prepare("binary", y[idx], s[idx], threshold, None).point()
            else:
                point = {m: R.MetricValue.of(points_all[m][g], reason(m, probabilities=probabilities))
                         for m in points_all}
            sufficient = bool(sizes[code] >= min_size)
            results.append({
                "feature": feature, "slice": label, "n": int(sizes[code]), "insufficient_data": not sufficient,
                "metrics": {m: metric_entry(point[m], reps_all[m][:, g] if sufficient and n_boot > 0 else None,
                                            confidence=confidence)
                            for m in names if m in point},
                "_codes": codes, "_code": code,
            })
        offset += len(labels)
    return results


def _generic_results(task, y, s, features, coded, names, *, threshold, min_size, n_boot, seed, confidence,
                     n_classes) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for feature, (codes, labels) in zip(features, coded):
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
        rows = {c: np.sort(order[bounds[c]:bounds[c + 1]]) for c in range(len(labels))}
        preps, points = {}, {}
        for code, idx in rows.items():
            if idx.size == 0:
                continue
            prep = _prepare(task, y[idx], s[idx], threshold, n_classes)
            points[code] = prep.point()
            if idx.size >= min_size:
                preps[code] = prep
        reps = _bootstrap(preps, rows, y.shape[0], n_boot=n_boot, seed=seed)
        for code, point in points.items():
            r = reps.get(code, {})
            results.append({
                "feature": feature, "slice": labels[code], "n": int(rows[code].size),
                "insufficient_data": code not in preps,
                "metrics": {m: metric_entry(point[m], r.get(m), confidence=confidence)
                            for m in names if m in point},
                "_codes": codes, "_code": code,
            })
    return results
