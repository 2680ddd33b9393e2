"""Operational evidence: latency, throughput, model size and memory while scoring.

* **Latency**: single-row calls, ``warmup`` unrecorded calls first, then up to ``latency_calls``
  timed calls (``time.perf_counter_ns`` around the predict call only; the one-row frames are
  built before timing), rows drawn with a seeded generator. p50/p95/p99/mean in ms. The loop
  stops early once ``latency_budget_s`` seconds of timed calls are spent and at least
  ``MIN_LATENCY_CALLS`` were made (``stopped: "time_budget"``): a slow model is timed for as
  long as the budget allows, not for a fixed count. Its precision is stated:
  ``p95_ci_ms`` is the distribution-free 95% confidence interval of the p95 from the order
  statistics of the calls made (binomial), so fewer calls show as a wider interval. Native
  thread pools (OpenMP/BLAS) are limited to one thread while timing, as in a request handler
  that scores one row: a multi-threaded pool only adds hand-off overhead to a one-row call,
  and under CPU contention that overhead, not the model, would dominate the figure.
* **Throughput**: one batch of up to ``batch_size`` rows scored after a small warm-up call;
  rows per second of wall-clock time.
* **Peak memory**: ``tracemalloc`` peak of Python and numpy allocations during a separate
  scoring of the same batch (allocations made by native runtimes outside numpy, e.g.
  onnxruntime's arena, are not seen), in MiB.
* **Model size**: the artefact's bytes on disk when known.

Precomputed predictions have no model to time: the result is ``not_applicable``. A model
that raises gives ``status: "error"`` with the error text, never an exception.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:
    from workbench.artefacts import LoadedModel

__all__ = ["LATENCY_BUDGET_S", "MIN_LATENCY_CALLS", "operational_evidence", "compare_operational", "quantile_ci"]

#: Seconds of timed single-row calls per model before the latency loop may stop early.
LATENCY_BUDGET_S = 1.5
#: Timed calls made whatever the budget (the p95 needs a few hundred for a useful interval).
MIN_LATENCY_CALLS = 200

Scorer = Callable[[pd.DataFrame], Any]


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
    warmup: int = 50,
    batch_size: int = 100_000,
    seed: int = 0,
    model_bytes: int | None = None,
    latency_budget_s: float | None = LATENCY_BUDGET_S,
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

    Returns
    -------
    dict
        ``{"status": "measured", "latency_ms": {p50, p95, p99, mean, calls}, "throughput_rows_per_s",
        "batch_rows", "model_bytes", "peak_memory_mb", "memory_method", "method"}``, or
        ``{"status": "not_applicable" | "error", "reason"}``.

    Examples
    --------
    >>> X = pd.DataFrame({"a": np.arange(100.0)})
    >>> out = operational_evidence(lambda f: f["a"].to_numpy() * 2, X, latency_calls=20, warmup=2)
    >>> out["status"], out["latency_ms"]["p50"] <= out["latency_ms"]["p99"]
    ('measured', True)
    """
    score, size, reason = _scorer(model)
    if score is None:
        return {"status": "not_applicable", "reason": reason}
    if len(X) == 0:
        return {"status": "not_applicable", "reason": "no rows to score"}
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(X), size=warmup + latency_calls)
    rows = [X.iloc[[int(i)]] for i in picks]
    batch = X.iloc[: min(batch_size, len(X))]
    try:
        for frame in rows[:warmup]:
            score(frame)
        timings = np.empty(latency_calls, dtype=np.float64)
        floor = min(latency_calls, MIN_LATENCY_CALLS)
        budget_ms = np.inf if latency_budget_s is None else 1e3 * float(latency_budget_s)
        spent, made, stopped = 0.0, 0, "calls"
        with threadpool_limits(limits=1):
            for frame in rows[warmup:]:
                t0: float = time.perf_counter_ns()
                score(frame)
                timings[made] = (time.perf_counter_ns() - t0) / 1e6
                spent += timings[made]
                made += 1
                if made >= floor and spent >= budget_ms and made < latency_calls:
                    stopped = "time_budget"
                    break
        timings = timings[:made]
        score(batch.iloc[: min(100, len(batch))])
        t0 = time.perf_counter()
        score(batch)
        elapsed = time.perf_counter() - t0
        peak = _peak_memory_mb(score, batch)
    except Exception as exc:  # noqa: BLE001 - a failing model is evidence, not a crash
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    p50, p95, p99 = np.percentile(timings, [50, 95, 99]) if timings.size else (np.nan,) * 3
    return {
        "status": "measured",
        "latency_ms": {"p50": float(p50), "p95": float(p95), "p99": float(p99),
                       "mean": float(timings.mean()) if timings.size else None,
                       "calls": int(timings.size), "warmup": int(warmup),
                       "requested_calls": int(latency_calls), "stopped": stopped,
                       "budget_s": None if latency_budget_s is None else float(latency_budget_s),
                       "p95_ci_ms": quantile_ci(timings, 0.95)},
        "throughput_rows_per_s": len(batch) / elapsed if elapsed > 0 else None,
        "batch_rows": int(len(batch)),
        "model_bytes": model_bytes if model_bytes is not None else size,
        "peak_memory_mb": peak,
        "memory_method": "tracemalloc peak (Python + numpy allocations) while scoring the batch",
        "method": "single-row perf_counter_ns after warm-up, one native thread; one batch for throughput",
    }


def quantile_ci(values: np.ndarray, q: float, *, confidence: float = 0.95) -> list[float] | None:
    """Distribution-free CI of the ``q`` quantile from order statistics (binomial), or None.

    The interval ``[x_(l), x_(u)]`` (1-based order statistics) with ``l`` and ``u`` the
    binomial(n, q) quantiles at (1 - confidence) / 2 and (1 + confidence) / 2 (plus one) covers the true
    quantile with probability >= ``confidence`` (conservative: the binomial is discrete); None when the
    sample is too small for an upper bound (about 100 values or fewer for the p95).

    Examples
    --------
    >>> quantile_ci(np.arange(1.0, 1001.0), 0.95)
    [936.0, 964.0]
    >>> quantile_ci(np.arange(10.0), 0.95) is None
    True
    """
    from scipy.stats import binom

    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return None
    alpha = 1.0 - confidence
    lo = int(binom.ppf(alpha / 2, n, q))
    hi = int(binom.ppf(1 - alpha / 2, n, q)) + 1
    if lo < 1 or hi > n:
        return None
    return [float(x[lo - 1]), float(x[hi - 1])]


def _peak_memory_mb(score: Scorer, batch: pd.DataFrame) -> float:
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        score(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - base, 0) / 2**20


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
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


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
