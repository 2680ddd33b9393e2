"""Operational evidence: latency, throughput, model size and memory while scoring.

* **Latency**: single-row calls, ``warmup`` unrecorded calls first, then up to ``latency_calls``
  timed calls (``time.perf_counter_ns`` around the predict call only; the one-row frames are
  views of one seeded sample of rows taken before timing). The loop stops early once
  ``latency_budget_s`` seconds of timed calls are spent and at least ``MIN_LATENCY_CALLS`` were
  made (``stopped: "time_budget"``): a slow model is timed for as long as the budget allows, not
  for a fixed count. When at least 368 calls are asked for and, at ``MIN_LATENCY_CALLS`` calls,
  their pace shows that the 368 the p99's upper end needs would not fit in the budget, it stops
  there (``stopped: "p99_beyond_budget"``): the calls up to the budget would bound no further
  interval end and narrow the p95's interval only a little (order statistics 184..197 of 200
  against 268..283 of 290 at 3.4 ms a call), so a 3-4 ms model is timed for 0.7 s instead of
  1 s. It also stops once the calls suffice (``stopped: "precision"``): every percentile has
  both interval ends (368 calls for the p99) and the p95's interval is within
  ``LATENCY_PRECISION`` (5%) of its value either side, checked every 50 calls outside the timed
  region, so a steady model is not timed for longer than its figures need. ``p50``, ``p95`` and ``p99`` are metric objects ``{value, ci_low, ci_high,
  defined, ci_method}`` like every other metric of the evidence: the interval is the
  distribution-free confidence interval of the quantile from the order statistics of the calls
  made (binomial; no extra calls), so fewer calls show as a wider interval, and an end the calls
  cannot bound is ``null`` with a ``ci_reason`` (the p99's upper end needs >= 368 calls at 95%).
  Native thread pools (OpenMP/BLAS) are limited to one thread while warming up and timing, as in
  a request handler that scores one row: a multi-threaded pool only adds hand-off overhead to a
  one-row call, and under CPU contention that overhead, not the model, would dominate the figure.
* **Throughput** (reviews of fewer than ``2 * SCORING_BATCH_ROWS`` rows, or whose scores were
  already computed; larger ones: the last bullet but one): one batch of up to ``batch_size``
  rows scored after a small warm-up call, in ``THROUGHPUT_PARTS`` consecutive equal parts each
  timed on its own (the same rows and calls as one batch, bar a few per-call overheads):
  ``throughput_rows_per_s`` is a metric object whose value is rows per second of the whole
  batch, with the spread of the parts (``spread{min, max, parts}``) and a t-interval over the
  parts' seconds per row, inverted.
* **Peak memory** (the same reviews): ``tracemalloc`` peak of Python and numpy allocations
  during a separate scoring of the same batch (allocations made by native runtimes outside
  numpy, e.g. onnxruntime's arena, are not seen), in MiB; one traced scoring at a time in the
  process.
* **Measured while the review scores**: ``build_evidence`` scores a review of at least
  ``2 * SCORING_BATCH_ROWS`` evaluation rows in batches of ``SCORING_BATCH_ROWS``
  (``score_in_batches``) instead of one call and, when the operational section is asked for
  and every model it times was scored so, measures that work rather than scoring rows again:
  the first batch is the traced batch of the peak memory, the remaining rows (in at least
  ``THROUGHPUT_PARTS`` parts of at most ``SCORING_BATCH_ROWS``) are the timed parts of the
  throughput. Its parts are then larger (100,000 rows instead of 20,000) and timed at the start
  of the review rather than at its end, still with nothing else running: a throughput bound
  set on one side of 200,000 rows reads the same figure measured a little differently.
  The scores are those of one call for a row-wise model (each row scored on its own values),
  and batches of 100,000 rows score faster than one call of 1,000,000 (3.5 s against 5.2 s for
  a gradient-boosting pipeline, tracing included): one call's temporaries are ten times larger.
* **Model size**: the artefact's bytes on disk when known.

Precomputed predictions have no model to time: the result is ``not_applicable``. A model
that raises gives ``status: "error"`` with the error text, never an exception.
"""

from __future__ import annotations

import math
import threading
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:
    from workbench.artefacts import LoadedModel

__all__ = ["LATENCY_BUDGET_S", "LATENCY_PRECISION", "MIN_LATENCY_CALLS", "SCORING_BATCH_ROWS", "THROUGHPUT_PARTS",
           "BatchMeasure", "calls_for_quantile_ci", "compare_operational", "latency_quantile", "operational_evidence",
           "quantile_ci", "score_in_batches", "throughput_entry"]

#: Seconds of timed single-row calls per model before the latency loop may stop early (1.0 s since
#: issue 21: with the intervals the figures state their precision, and operational + robustness
#: must fit 8 s at 1M rows; 4 ms calls still make 250, enough for the p95's interval).
LATENCY_BUDGET_S = 1.0
#: Timed calls made whatever the budget (the p95 needs a few hundred for a useful interval).
MIN_LATENCY_CALLS = 200
#: The latency loop may stop once the p95's interval is within this share of the p95 either side.
LATENCY_PRECISION = 0.05
_PRECISION_EVERY = 50
#: Consecutive parts the throughput batch is timed in (the repetitions its spread comes from).
THROUGHPUT_PARTS = 5
#: Rows of the batches a review of at least twice as many evaluation rows is scored in
#: (``score_in_batches``), and of the batch the throughput and peak memory are measured on.
SCORING_BATCH_ROWS = 100_000
#: Rows of the untimed warm-up call before a batch is measured.
_WARMUP_ROWS = 100
_LATENCY_METHOD = "percentile_of_timed_calls"
_THROUGHPUT_METHOD = "rows_over_seconds"
#: tracemalloc is one per process: two measurements at once (two reviews in the app server) would
#: reset each other's peak and one's stop would end the other's tracing.
_TRACE_LOCK = threading.Lock()

Scorer = Callable[[pd.DataFrame], Any]


@dataclass(frozen=True, eq=False)
class BatchMeasure:
    """Peak memory and throughput parts measured while scoring the evaluation rows in batches."""

    #: rows of the traced batch (the first ``SCORING_BATCH_ROWS`` evaluation rows)
    batch_rows: int
    peak_memory_mb: float
    #: rows and wall seconds of each timed part (the rows after the traced batch)
    part_rows: np.ndarray
    part_seconds: np.ndarray


def score_in_batches(score: Scorer, X: pd.DataFrame, *, batch_size: int | None = None,
                     measure: bool = True) -> tuple[np.ndarray, BatchMeasure | None]:
    """Scores of ``X`` in batches, and with ``measure`` the model measured while scoring them.

    Fewer than ``2 * batch_size`` rows (default ``SCORING_BATCH_ROWS``) are scored in one call
    and measure nothing (``None``: ``operational_evidence`` then scores a batch of its own).
    Otherwise consecutive batches of ``batch_size`` rows; with ``measure``, a small untimed
    warm-up call on the first rows, then the first batch under ``tracemalloc`` (the peak
    memory), then the rest in at least ``THROUGHPUT_PARTS`` timed consecutive parts of at most
    ``batch_size`` rows (the throughput). A model whose output for a batch has another number
    of rows than the batch, another shape, or no rows at all, is called once on all of ``X``
    instead, so what the caller checks is what one call returns; a model that raises raises.

    Examples
    --------
    >>> X = pd.DataFrame({"a": np.arange(1000.0)})
    >>> scores, measure = score_in_batches(lambda f: f["a"].to_numpy() * 2, X, batch_size=200)
    >>> bool((scores == X["a"].to_numpy() * 2).all()), measure.batch_rows, measure.part_rows.tolist()
    (True, 200, [160.0, 160.0, 160.0, 160.0, 160.0])
    >>> score_in_batches(lambda f: f["a"].to_numpy(), X, batch_size=600)[1] is None
    True
    """
    size = SCORING_BATCH_ROWS if batch_size is None else int(batch_size)
    n = len(X)
    if size < 1 or n < 2 * size:
        return np.asarray(score(X)), None
    measured: BatchMeasure | None = None
    if measure:
        score(X.iloc[: min(_WARMUP_ROWS, size)])  # untimed warm-up: first-call work is not the model's cost
        peak, first = _peak_memory_mb(score, X.iloc[:size])
        rest = X.iloc[size:]
        part_rows, seconds, outputs = _timed_parts(score, rest, parts=min(len(rest), max(
            THROUGHPUT_PARTS, math.ceil(len(rest) / size))), keep=True)
        outputs, rows = [np.asarray(first), *outputs], [size, *part_rows.astype(int).tolist()]
        measured = BatchMeasure(batch_rows=size, peak_memory_mb=peak, part_rows=part_rows, part_seconds=seconds)
    else:
        starts = range(0, n, size)
        outputs = [np.asarray(score(X.iloc[lo:lo + size])) for lo in starts]
        rows = [min(size, n - lo) for lo in starts]
    joined = _joined(outputs, rows)
    if joined is None:  # what one call returns, for the caller's checks to read
        return np.asarray(score(X)), None
    return joined, measured


def _joined(outputs: list[np.ndarray], rows: list[int]) -> np.ndarray | None:
    """The batches' outputs as one, when they are one output per row of each batch, all of one
    shape; else None."""
    if all(o.ndim >= 1 for o in outputs) and [o.shape[0] for o in outputs] == rows \
            and len({o.shape[1:] for o in outputs}) == 1:
        return np.concatenate(outputs, axis=0)
    return None


def _scorer(model: Any) -> tuple[Scorer | None, int | None, str | None]:
    """(callable, model_bytes, reason-if-not-applicable)."""
    if getattr(model, "is_precomputed", False):
        return None, None, "precomputed predictions: the model is not run by the workbench"
    record = getattr(model, "record", None)
    size = int(record.bytes) if record is not None and getattr(record, "bytes", None) else None
    if hasattr(model, "predict_scores"):
        return model.predict_scores, size, None
    if callable(model):
        return model, size, None
    raise TypeError(f"operational_evidence needs a LoadedModel or a callable, got {type(model).__name__}")


def operational_evidence(
    model: LoadedModel | Scorer,
    X: pd.DataFrame,
    *,
    latency_calls: int = 1000,
    warmup: int = 20,
    batch_size: int = SCORING_BATCH_ROWS,
    seed: int = 0,
    model_bytes: int | None = None,
    latency_budget_s: float | None = LATENCY_BUDGET_S,
    measured: BatchMeasure | None = None,
) -> dict[str, Any]:
    """Measure single-row latency, batch throughput and peak memory of ``model`` on ``X``.

    Parameters
    ----------
    model : LoadedModel or callable
        ``model.predict_scores(frame)`` or ``model(frame)`` is timed.
    X : pandas.DataFrame
        Rows to score (e.g. the evaluation set; the model picks its columns).
    latency_calls, warmup : int
        Timed calls at most, and untimed single-row calls.
    latency_budget_s : float or None
        Stop timing once this many seconds of timed calls are spent and at least
        ``min(latency_calls, MIN_LATENCY_CALLS)`` calls were made; None times all calls.
    batch_size : int
        Rows scored in the throughput and memory runs (capped at ``len(X)``).
    measured : BatchMeasure, optional
        The peak memory and throughput parts ``score_in_batches`` measured while the review
        scored ``X``: used instead of scoring a batch again (``batch_size`` is then not used).

    Returns
    -------
    dict
        ``{"status": "measured", "latency_ms": {p50, p95, p99, mean, calls, ...}, "throughput_rows_per_s",
        "throughput_rows", "batch_rows", "model_bytes", "peak_memory_mb", "memory_method", "method"}`` (the
        percentiles and the throughput are metric objects ``{value, ci_low, ci_high, defined}``), or
        ``{"status": "not_applicable" | "error", "reason"}``.

    Examples
    --------
    >>> X = pd.DataFrame({"a": np.arange(100.0)})
    >>> out = operational_evidence(lambda f: f["a"].to_numpy() * 2, X, latency_calls=20, warmup=2)
    >>> lat = out["latency_ms"]
    >>> out["status"], lat["p50"]["value"] <= lat["p99"]["value"], lat["p50"]["ci_low"] <= lat["p50"]["value"]
    ('measured', True, True)
    """
    score, size, reason = _scorer(model)
    if score is None:
        return {"status": "not_applicable", "reason": reason}
    if len(X) == 0:
        return {"status": "not_applicable", "reason": "no rows to score"}
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(X), size=warmup + latency_calls)
    # One gather of the sampled rows, then one-row views of it: a per-row ``X.iloc[[i]]`` on a
    # large frame costs a take per column (0.5 ms each on Arrow strings: 3.5 s per model at 1M rows).
    sample = X.iloc[picks]
    rows = [sample.iloc[k:k + 1] for k in range(len(sample))]
    batch = X.iloc[: min(batch_size, len(X))]
    try:
        timings = np.empty(latency_calls, dtype=np.float64)
        floor = min(latency_calls, MIN_LATENCY_CALLS)
        enough = max(floor, calls_for_quantile_ci(0.99))  # from here every percentile has both ends
        budget_ms = np.inf if latency_budget_s is None else 1e3 * float(latency_budget_s)
        spent, made, stopped = 0.0, 0, "calls"
        with threadpool_limits(limits=1):
            for frame in rows[:warmup]:
                score(frame)
            for frame in rows[warmup:]:
                t0: float = time.perf_counter_ns()
                score(frame)
                timings[made] = (time.perf_counter_ns() - t0) / 1e6
                spent += timings[made]
                made += 1
                if made >= floor and spent >= budget_ms and made < latency_calls:
                    stopped = "time_budget"
                    break
                if made == floor < enough <= latency_calls and spent / made * enough > budget_ms:
                    stopped = "p99_beyond_budget"  # the calls between would only narrow the p95 a little
                    break
                if made >= enough and made % _PRECISION_EVERY == 0 and made < latency_calls \
                        and _precise(timings[:made]):
                    stopped = "precision"
                    break
        timings = timings[:made]
        if measured is None:
            score(batch.iloc[: min(_WARMUP_ROWS, len(batch))])
            part_rows, part_seconds, _ = _timed_parts(score, batch)
            peak, _ = _peak_memory_mb(score, batch)
            batch_rows, source = len(batch), "a separate scoring of the first evaluation rows"
        else:
            part_rows, part_seconds, peak = measured.part_rows, measured.part_seconds, measured.peak_memory_mb
            batch_rows, source = measured.batch_rows, "the review's scoring of the evaluation rows in batches"
    except Exception as exc:  # noqa: BLE001 - a failing model is evidence, not a crash
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    return {
        "status": "measured",
        "latency_ms": {**{f"p{q}": latency_quantile(timings, q / 100) for q in (50, 95, 99)},
                       "mean": float(timings.mean()) if timings.size else None,
                       "calls": int(timings.size), "warmup": int(warmup),
                       "requested_calls": int(latency_calls), "stopped": stopped,
                       "budget_s": None if latency_budget_s is None else float(latency_budget_s)},
        "throughput_rows_per_s": throughput_entry(part_rows, part_seconds),
        "throughput_rows": int(np.sum(part_rows)),
        "batch_rows": int(batch_rows),
        "model_bytes": model_bytes if model_bytes is not None else size,
        "peak_memory_mb": peak,
        "memory_method": f"tracemalloc peak (Python + numpy allocations) while scoring a batch of {batch_rows} rows, "
                         f"in {source}",
        "method": "single-row perf_counter_ns after warm-up, one native thread; "
                  f"throughput from {len(part_rows)} consecutive timed parts of {source}",
    }


def _precise(timings: np.ndarray) -> bool:
    """Whether the p95's interval lies within ``LATENCY_PRECISION`` of the p95 either side."""
    lo, hi = quantile_ci(timings, 0.95) or (None, None)
    if lo is None or hi is None:
        return False
    p95 = float(np.percentile(timings, 95))
    return p95 > 0 and lo >= p95 * (1 - LATENCY_PRECISION) and hi <= p95 * (1 + LATENCY_PRECISION)


def _timed_parts(score: Scorer, batch: pd.DataFrame, *, parts: int = THROUGHPUT_PARTS,
                 keep: bool = False) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Rows and wall seconds of each of ``parts`` consecutive equal parts of ``batch`` (at most one
    a row), and with ``keep`` each part's output (else an empty list)."""
    k = max(1, min(parts, len(batch)))
    edges = np.linspace(0, len(batch), k + 1).round().astype(int)
    seconds, outputs = np.empty(k), []
    for i in range(k):
        part = batch.iloc[edges[i]:edges[i + 1]]
        t0 = time.perf_counter()
        out = score(part)
        seconds[i] = time.perf_counter() - t0
        if keep:
            outputs.append(np.asarray(out))
    return np.diff(edges).astype(np.float64), seconds, outputs


def throughput_entry(rows: np.ndarray, seconds: np.ndarray, *, confidence: float = 0.95) -> dict[str, Any]:
    """Rows per second of a batch timed in parts, as a metric object with the parts' spread.

    The value is all rows over all seconds. The interval is a Student-t interval of the mean
    seconds per row over the parts, inverted (rows/s is 1 / seconds per row): parts are the
    repetitions, so a machine whose speed varies while scoring shows a wide interval. An upper
    end is ``None`` when the interval of seconds per row reaches 0.

    Examples
    --------
    >>> e = throughput_entry(np.array([100.0] * 4), np.array([0.010, 0.011, 0.009, 0.010]))
    >>> round(e["value"]), e["ci_low"] < e["value"] < e["ci_high"], e["spread"]["parts"]
    (10000, True, 4)
    """
    from scipy.stats import t as student_t

    rows, seconds = np.asarray(rows, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    total = float(seconds.sum())
    if total <= 0 or rows.sum() == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "defined": False,
                "reason": "the batch took no measurable time", "method": _THROUGHPUT_METHOD}
    rates = np.divide(rows, seconds, out=np.full(rows.size, np.inf), where=seconds > 0)
    entry: dict[str, Any] = {"value": float(rows.sum() / total), "ci_low": None, "ci_high": None, "defined": True,
                             "method": _THROUGHPUT_METHOD, "spread": {"min": float(rates.min()), "max": float(rates.max()), "parts": int(rows.size)}}
    if rows.size < 2:
        entry["ci_reason"] = "one timed part: no spread to estimate"
        return entry
    per_row = seconds / rows
    half = float(student_t.ppf((1 + confidence) / 2, rows.size - 1) * per_row.std(ddof=1) / np.sqrt(rows.size))
    lo, hi = float(per_row.mean()) - half, float(per_row.mean()) + half
    entry["ci_low"] = 1.0 / hi
    if lo > 0:
        entry["ci_high"] = 1.0 / lo
    else:
        entry["ci_reason"] = "the parts vary too much to bound the throughput from above"
    entry["ci_method"] = "student_t_over_timed_parts"
    return entry


def latency_quantile(timings: np.ndarray, q: float, *, confidence: float = 0.95) -> dict[str, Any]:
    """The ``q`` quantile of the timed calls as a metric object with its order-statistic interval.

    Examples
    --------
    >>> e = latency_quantile(np.arange(1.0, 1001.0), 0.95)
    >>> e["value"], e["ci_low"], e["ci_high"], e["ci_method"]
    (950.05, 936.0, 964.0, 'order_statistic_binomial')
    >>> e = latency_quantile(np.arange(1.0, 201.0), 0.99)
    >>> e["ci_high"] is None, e["ci_reason"]
    (True, 'the upper end needs at least 368 calls (200 made)')
    """
    x = np.asarray(timings, dtype=np.float64)
    if x.size == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "defined": False, "reason": "no timed calls",
                "method": _LATENCY_METHOD}
    lo, hi = quantile_ci(x, q, confidence=confidence, one_sided_ok=True) or (None, None)
    entry: dict[str, Any] = {"value": float(np.percentile(x, 100 * q)), "ci_low": lo, "ci_high": hi,
                             "defined": True, "method": _LATENCY_METHOD, "ci_method": "order_statistic_binomial"}
    missing = [end for end, v in (("lower", lo), ("upper", hi)) if v is None]
    if missing:
        need = calls_for_quantile_ci(q, confidence=confidence)
        entry["ci_reason"] = f"the {' and '.join(missing)} end{'s' if len(missing) > 1 else ''} " \
                             f"need{'' if len(missing) > 1 else 's'} at least {need} calls ({x.size} made)"
    return entry


def calls_for_quantile_ci(q: float, *, confidence: float = 0.95) -> int:
    """Fewest values whose order statistics bound the ``q`` quantile from both sides at ``confidence``.

    Examples
    --------
    >>> calls_for_quantile_ci(0.99), calls_for_quantile_ci(0.95), calls_for_quantile_ci(0.5)
    (368, 72, 6)
    """
    import math

    tail = (1.0 - confidence) / 2
    return int(math.ceil(math.log(tail) / math.log(max(q, 1.0 - q))))


def quantile_ci(values: np.ndarray, q: float, *, confidence: float = 0.95,
                one_sided_ok: bool = False) -> tuple[float | None, float | None] | None:
    """Distribution-free CI of the ``q`` quantile from order statistics (binomial), or None.

    The interval ``[x_(l), x_(u)]`` (1-based order statistics) with ``l`` and ``u`` the
    binomial(n, q) quantiles at (1 - confidence) / 2 and (1 + confidence) / 2 (plus one) covers the true
    quantile with probability >= ``confidence`` (conservative: the binomial is discrete). When the
    sample is too small for one end (fewer than 72 values for the p95's upper end), None; with
    ``one_sided_ok`` the end that exists is kept (a one-sided bound at (1 + confidence) / 2) and the
    other is None.

    Examples
    --------
    >>> quantile_ci(np.arange(1.0, 1001.0), 0.95)
    (936.0, 964.0)
    >>> quantile_ci(np.arange(10.0), 0.95) is None, quantile_ci(np.arange(10.0), 0.95, one_sided_ok=True)
    (True, (7.0, None))
    """
    from scipy.stats import binom

    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return None
    alpha = 1.0 - confidence
    lo = int(binom.ppf(alpha / 2, n, q))
    hi = int(binom.ppf(1 - alpha / 2, n, q)) + 1
    low = float(x[lo - 1]) if lo >= 1 else None
    high = float(x[hi - 1]) if hi <= n else None
    if (low is None or high is None) and not one_sided_ok:
        return None
    return low, high


def _peak_memory_mb(score: Scorer, batch: pd.DataFrame) -> tuple[float, Any]:
    """``tracemalloc`` peak (MiB) above what was allocated before, while scoring ``batch``; and the scores."""
    with _TRACE_LOCK:
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        try:
            out = score(batch)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            if not was_tracing:
                tracemalloc.stop()
    return max(peak - base, 0) / 2**20, out


_COMPARED = {
    "latency_ms.p50": ("latency_ms", "p50"),
    "latency_ms.p95": ("latency_ms", "p95"),
    "latency_ms.p99": ("latency_ms", "p99"),
    "throughput_rows_per_s": ("throughput_rows_per_s", None),
    "model_bytes": ("model_bytes", None),
    "peak_memory_mb": ("peak_memory_mb", None),
}


# The compared metrics where more is better; for the others (latency, size, memory) less is.
HIGHER_IS_BETTER = frozenset({"throughput_rows_per_s"})


def relative_worsening(metric: str, candidate: float, baseline: float) -> float:
    """The candidate's relative change vs the baseline in the direction that hurts: a throughput
    drop, a latency, size or memory increase (negative when the candidate is better).

    Examples
    --------
    >>> relative_worsening("throughput_rows_per_s", 800.0, 1000.0), relative_worsening("latency_ms.p95", 12.0, 10.0)
    (0.19999999999999996, 0.19999999999999996)
    """
    ratio = candidate / baseline
    return 1.0 - ratio if metric.split(".")[0] in HIGHER_IS_BETTER else ratio - 1.0


def _get(entry: Mapping[str, Any], key: str, sub: str | None) -> float | None:
    value = entry.get(key)
    if sub is not None:
        value = value.get(sub) if isinstance(value, Mapping) else None
    if isinstance(value, Mapping):  # a metric object (evidence written before issue 21 held bare numbers)
        value = value.get("value") if value.get("defined", True) is not False else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) else None


def compare_operational(candidate: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> dict[str, Any]:
    """Relative change candidate vs baseline for each operational figure.

    ``relative_change = (candidate - baseline) / baseline``; ``None`` with a reason when either
    side was not measured or the baseline is 0.

    Examples
    --------
    >>> c = {"status": "measured", "latency_ms": {"p50": 2.0}, "model_bytes": 300}
    >>> b = {"status": "measured", "latency_ms": {"p50": 1.0}, "model_bytes": 100}
    >>> compare_operational(c, b)["latency_ms.p50"]["relative_change"]
    1.0
    """
    out: dict[str, Any] = {}
    for name, (key, sub) in _COMPARED.items():
        c = _get(candidate, key, sub) if candidate else None
        b = _get(baseline, key, sub) if baseline else None
        item: dict[str, Any] = {"candidate": c, "baseline": b, "relative_change": None}
        if c is None or b is None:
            item["reason"] = "not measured for both models"
        elif b == 0:
            item["reason"] = "baseline value is 0"
        else:
            item["relative_change"] = (c - b) / b
        out[name] = item
    return out
