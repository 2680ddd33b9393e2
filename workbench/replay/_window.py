"""One replay window: score both models robustly and summarise what happened.

A model that raises on a batch is retried on halves of it (bisection) down to single rows,
so a few bad rows cost O(k log n) calls instead of one call per row; rows it cannot score
(or scores as NaN/inf) are counted as errors and left out of the comparisons. After 512
calls on one batch the rows still unresolved are counted as failed too (a model failing on
a large share of the traffic is broken either way, and isolating each row would take hours).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.metrics import get_metric
from workbench.metrics.drift import ReferenceProfile, build_reference_profile, drift_evidence

if TYPE_CHECKING:
    from workbench.artefacts import LoadedModel, ReviewData

_MAX_ERROR_SAMPLES = 3
_MAX_GROUPS = 30
_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


_FALLBACK_CALLS = 512  # bisection calls allowed per batch before the rest counts as failed


@dataclass
class Scored:
    scores: np.ndarray
    errors: int = 0
    messages: list[str] = field(default_factory=list)
    batch_seconds: float = 0.0
    latency_ms: list[float] = field(default_factory=list)
    calls: int = 0


def _score(model: LoadedModel, frame: pd.DataFrame, out: Scored, offset: int) -> None:
    out.calls += 1
    if out.calls > _FALLBACK_CALLS:
        out.errors += len(frame)
        if len(out.messages) < _MAX_ERROR_SAMPLES:
            out.messages.append(f"{len(frame)} rows not scored: too many failing rows to isolate")
        return
    try:
        s = np.asarray(model.predict_scores(frame), dtype=float).reshape(len(frame), -1)[:, -1]
        if s.shape[0] != len(frame):
            raise ValueError(f"model returned {s.shape[0]} scores for {len(frame)} rows")
    except Exception as exc:  # noqa: BLE001 - a failing model is evidence, not a crash
        if len(frame) == 1:
            out.errors += 1
            if len(out.messages) < _MAX_ERROR_SAMPLES:
                out.messages.append(f"{type(exc).__name__}: {exc}"[:300])
            return
        half = len(frame) // 2
        _score(model, frame.iloc[:half], out, offset)
        _score(model, frame.iloc[half:], out, offset + half)
        return
    bad = ~np.isfinite(s)
    if bad.any():
        out.errors += int(bad.sum())
        if len(out.messages) < _MAX_ERROR_SAMPLES:
            out.messages.append(f"model returned {int(bad.sum())} non-finite scores")
    out.scores[offset : offset + len(frame)] = np.where(bad, np.nan, s)


def score_window(model: LoadedModel, frame: pd.DataFrame, *, latency_sample: int, rng: np.random.Generator) -> Scored:
    """Scores (NaN where the model failed), error count and a single-row latency sample."""
    out = Scored(np.full(len(frame), np.nan))
    if not len(frame):
        return out
    t0 = time.perf_counter()
    _score(model, frame, out, 0)
    out.batch_seconds = time.perf_counter() - t0
    for i in rng.integers(0, len(frame), size=min(latency_sample, len(frame))):
        row = frame.iloc[[int(i)]]
        t = time.perf_counter_ns()
        try:
            model.predict_scores(row)
        except Exception:  # noqa: BLE001 - already counted above
            continue
        out.latency_ms.append((time.perf_counter_ns() - t) / 1e6)
    return out


def reference_profiles(review: ReviewData, *, reference_scores: Mapping[str, Any] | None = None,
                       ) -> tuple[ReferenceProfile, ReferenceProfile, list[str]]:
    """(input profile, profile of each model's scores on the reference, model roles): drift baselines
    of the replay windows and of monitoring batches, with the manifest's ``drift_bins``.

    ``reference_scores`` are the models' scores on ``review.reference`` already computed by the
    caller (the evidence scores them for the prediction drift): a role with one finite-or-not score
    per reference row is not scored again (non-finite scores count as missing, as when scored here).
    """
    reference = review.reference if review.reference is not None else review.evaluation
    features = list(review.features)
    profile = build_reference_profile(reference, features=features, n_bins=review.manifest.settings.drift_bins)
    roles = list(review.models)
    rng = np.random.default_rng(0)  # unused: no latency sample on the reference
    known = {} if reference_scores is None or review.reference is None else reference_scores

    def scored(role: str) -> np.ndarray:
        given = known.get(role)
        if isinstance(given, np.ndarray) and given.ndim == 1 and given.shape[0] == len(reference):
            s = np.asarray(given, dtype=float)
            return np.where(np.isfinite(s), s, np.nan)
        return score_window(review.models[role], reference, latency_sample=0, rng=rng).scores

    frame = pd.DataFrame({role: scored(role) for role in roles})
    scores = build_reference_profile(frame, features=roles, categorical=[], n_bins=review.manifest.settings.drift_bins)
    return profile, scores, roles


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Limit native thread pools (OpenMP, BLAS) while scoring; None leaves them alone."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def _latency(s: Scored) -> dict[str, Any]:
    if not s.latency_ms:
        return {"p50": None, "p95": None, "p99": None, "calls": 0}
    p50, p95, p99 = np.percentile(s.latency_ms, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "calls": len(s.latency_ms)}


def model_summary(s: Scored, n: int) -> dict[str, Any]:
    return {
        "errors": s.errors, "error_rate": s.errors / n if n else None, "error_samples": s.messages,
        "latency_ms": _latency(s),
        "throughput_rows_per_s": n / s.batch_seconds if s.batch_seconds > 0 else None,
        "mean_score": float(np.nanmean(s.scores)) if n and np.isfinite(s.scores).any() else None,
    }


def flips_by_group(frame: pd.DataFrame, columns: Sequence[str], dec_c: np.ndarray, dec_b: np.ndarray,
                   ok: np.ndarray) -> dict[str, Any]:
    """Decision flips (candidate vs baseline) per value of each segment / sensitive column."""
    out: dict[str, Any] = {}
    up = (dec_c & ~dec_b & ok).astype(np.int64)
    down = (~dec_c & dec_b & ok).astype(np.int64)
    for col in columns:
        if col not in frame.columns:
            continue
        codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
        if len(uniques) > _MAX_GROUPS:
            continue
        codes = np.where(codes < 0, len(uniques), codes)
        k = len(uniques) + 1
        n = np.bincount(codes, weights=ok, minlength=k)
        u = np.bincount(codes, weights=up, minlength=k)
        d = np.bincount(codes, weights=down, minlength=k)
        labels = [str(v) for v in uniques] + ["<missing>"]
        out[col] = {labels[g]: {"n": int(n[g]), "to_positive": int(u[g]), "to_negative": int(d[g]),
                                "flip_rate": float((u[g] + d[g]) / n[g])}
                    for g in range(k) if n[g] > 0}
    return out


def data_quality(frame: pd.DataFrame, profile: ReferenceProfile, features: Sequence[str],
                 drift: Mapping[str, Any]) -> dict[str, Any]:
    """Schema violations, null spikes, out-of-range values and unseen categories."""
    findings: list[dict[str, Any]] = []
    for f in features:
        prof = profile.features[f]
        if f not in frame.columns:
            findings.append({"kind": "schema", "feature": f, "detail": "column missing"})
            continue
        entry = drift.get(f)
        if entry is None:
            findings.append({"kind": "schema", "feature": f, "detail": "values do not fit the reference type"})
            continue
        ref_rate, cur_rate = entry["missing_rate_reference"], entry["missing_rate_current"]
        if cur_rate > max(2 * ref_rate, ref_rate + 0.05):
            findings.append({"kind": "null_spike", "feature": f, "reference": ref_rate, "current": cur_rate})
        if prof.kind == "numeric" and prof.n:
            x = pd.to_numeric(frame[f], errors="coerce").to_numpy(dtype=float)
            share = float(np.mean((x < prof.minimum) | (x > prof.maximum))) if len(x) else 0.0
            if share > 0:
                findings.append({"kind": "out_of_range", "feature": f, "share": share,
                                 "reference_range": [prof.minimum, prof.maximum]})
        if entry.get("unseen_rate", 0) > 0:
            findings.append({"kind": "unseen_category", "feature": f, "share": entry["unseen_rate"]})
    return {"n_findings": len(findings), "findings": findings}


def window_drift(frame: pd.DataFrame, profile: ReferenceProfile, features: Sequence[str], *, bands,
                 epsilon: float = 1e-4) -> dict[str, Any]:
    """Drift per feature against the reference profile; a feature that cannot be read is skipped.

    One call for the window's features (their columns side by side on the worker threads); only
    when one of them cannot be read, feature by feature to skip it (the same entries either way).
    """
    present = [f for f in features if f in frame.columns]
    try:
        return dict(drift_evidence(profile, frame, features=present, bands=bands, epsilon=epsilon)["features"])
    except DataError:
        pass
    entries: dict[str, Any] = {}
    for f in present:
        try:
            entries[f] = drift_evidence(profile, frame, features=[f], bands=bands, epsilon=epsilon)["features"][f]
        except DataError:
            continue
    return entries


def performance(y: np.ndarray, scores: Mapping[str, np.ndarray], *, threshold: float,
                metrics: Sequence[str], min_labelled: int) -> dict[str, Any]:
    """Registry metrics per model on the labelled rows both models scored."""
    ok = np.isfinite(y)
    for s in scores.values():
        ok &= np.isfinite(s)
    n = int(ok.sum())
    out: dict[str, Any] = {"n_labelled": n}
    if n < min_labelled:
        out["reason"] = f"{n} labelled rows (< {min_labelled}): labels not yet available"
        return out
    yl = y[ok].astype(int)
    out["label_rate"] = float(yl.mean())
    for role, s in scores.items():
        vals = {}
        for name in metrics:
            v = get_metric(name, task="binary").function(yl, s[ok], threshold=threshold)
            vals[name] = v.value if v.defined else None
        out[role] = vals
    return out


def score_quantiles(diff: np.ndarray) -> dict[str, Any]:
    d = diff[np.isfinite(diff)]
    if not d.size:
        return {"n": 0}
    q = np.quantile(d, _QUANTILES)
    return {"n": int(d.size), "mean": float(d.mean()), "mean_abs": float(np.abs(d).mean()),
            "std": float(d.std()), **{f"p{int(p * 100):02d}": float(v) for p, v in zip(_QUANTILES, q)}}
