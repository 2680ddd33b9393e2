"""Robustness and stress tests: how much a metric degrades when the input is perturbed.

Each test perturbs a copy of (a seeded sample of) the evaluation rows and re-scores it:

* ``gaussian_noise``: numeric features + N(0, (level * column std)^2), per level;
* ``missing_values``: a share of every feature's values set missing, per rate;
* ``unseen_category``: a share of every categorical feature's values set to a value never
  seen in training (``"__unseen__"``);
* ``extreme_high`` / ``extreme_low``: a share of numeric values pushed beyond the observed
  range by ``extreme_factor`` times the range;
* ``permutation:<feature>``: the feature's column shuffled (permutation-importance ablation).

``degradation`` is signed so that positive means worse (clean - perturbed for a score,
perturbed - clean for a loss). ``clean``, ``perturbed`` and ``degradation`` are metric objects
``{value, ci_low, ci_high, defined, ci_method}`` like every metric of the evidence: the
intervals come from the workbench's counter-based Poisson bootstrap over the sampled rows
(``n_boot`` replicates, the same replicates for the clean and every perturbed scoring), so the
degradation's interval is paired: replicate ``r`` of the degradation is the clean metric minus
the perturbed metric on the same weighted rows, and the noise the two share cancels.
A model that raises, or returns non-finite scores, gives a test entry with ``error`` set and
``perturbed: null``; the function never raises for a failing model.

Speed, with the same numbers: copies whose columns and dtypes are equal (the clean sample and
its permutations; the noisy and extreme copies; ...) are scored in one call of up to
``BATCH_ROWS`` rows and split back, with a per-copy fallback (``_Batcher``); for the ROC AUC
(the binary default) the point values and the replicates come from one compiled pass per
replicate over each scoring's sorted rows (``_auc_boot``), bit-identical to the bootstrap
executor's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd

from workbench.metrics import _registry as R
from workbench.metrics._assemble import metric_entry
from workbench.metrics._auc_boot import auc_replicates, roc_auc_point
from workbench.metrics._binary import BinaryPrepared
from workbench.metrics._engine import run_bootstrap
from workbench.metrics._multiclass import MulticlassPrepared
from workbench.metrics._regression import RegressionPrepared
from workbench.metrics._spec import MetricValue

if TYPE_CHECKING:
    from workbench.artefacts import LoadedModel

__all__ = ["BATCH_ROWS", "BOOTSTRAP_CAP", "UNSEEN", "robustness_evidence"]

UNSEEN = "__unseen__"
#: Replicates of the robustness intervals at most: ~30 re-scorings per model are bootstrapped
#: together (as slices, exploratory and numerous, use the first 200 of the shared set).
BOOTSTRAP_CAP = 200
#: Rows scored in one call at most when perturbed copies of the sample are batched (10 copies
#: of the default 20,000-row sample): one call instead of ten saves the pipeline's per-call
#: work (validation, column transforms, thread start-up) without holding many copies at once.
BATCH_ROWS = 200_000


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _scorer(model: Any) -> Callable[[pd.DataFrame], Any] | None:
    if getattr(model, "is_precomputed", False):
        return None
    if hasattr(model, "predict_scores"):
        return model.predict_scores
    if callable(model):
        return model
    raise TypeError(f"robustness_evidence needs a LoadedModel or a callable, got {type(model).__name__}")


def _as_object(frame: pd.DataFrame, column: str) -> None:
    if not pd.api.types.is_object_dtype(frame[column]):
        frame[column] = frame[column].astype(object)


def _perturbations(X: pd.DataFrame, numeric: list[str], categorical: list[str], *, noise_levels,
                   missing_rates, unseen_rate, extreme_rate, extreme_factor, permute, rng):
    """Yield (name, params, perturbed frame) lazily, so one copy lives at a time."""
    n = len(X)
    std = {c: float(np.nanstd(X[c].to_numpy(dtype=float, na_value=np.nan))) for c in numeric}
    for level in noise_levels:
        Z = X.copy()
        for c in numeric:
            Z[c] = Z[c].astype(float) + rng.normal(0.0, level * std[c], n)
        yield "gaussian_noise", {"sigma": level, "features": numeric}, Z
    for rate in missing_rates:
        Z = X.copy()
        for c in numeric + categorical:
            mask = rng.random(n) < rate
            if c in numeric:
                Z[c] = Z[c].astype(float).mask(mask)
            else:
                _as_object(Z, c)
                Z.loc[mask, c] = None
        yield "missing_values", {"rate": rate, "features": numeric + categorical}, Z
    if categorical and unseen_rate > 0:
        Z = X.copy()
        for c in categorical:
            _as_object(Z, c)
            Z.loc[rng.random(n) < unseen_rate, c] = UNSEEN
        yield "unseen_category", {"rate": unseen_rate, "value": UNSEEN, "features": categorical}, Z
    if numeric and extreme_rate > 0:
        for side in ("high", "low"):
            Z = X.copy()
            for c in numeric:
                col = Z[c].astype(float)
                lo, hi = float(np.nanmin(col)), float(np.nanmax(col))
                span = max(hi - lo, 1.0)
                value = hi + extreme_factor * span if side == "high" else lo - extreme_factor * span
                Z[c] = col.mask(rng.random(n) < extreme_rate, value)
            yield f"extreme_{side}", {"rate": extreme_rate, "factor": extreme_factor,
                                      "features": numeric}, Z
    for c in permute:
        Z = X.copy()
        Z[c] = X[c].to_numpy()[rng.permutation(n)]
        yield f"permutation:{c}", {"feature": c}, Z


def _model_view(model: Any, X: pd.DataFrame, perturbed: list[str]) -> pd.DataFrame:
    """The sample the ~30 perturbed copies are made from: for a model that names its inputs (a
    ``LoadedModel``'s ``features``, which its ``predict_scores`` selects), those and the perturbed
    columns only (the other columns would be copied and concatenated for nothing), so the scores
    are the same. A scorer that names no inputs may read any column and gets them all. (Holding
    string columns as Python objects once was tried and dropped: the encoders were slower on
    object columns, 0.76 s against 0.65 s for a logistic pipeline.)"""
    names = getattr(model, "features", None)
    if names and not getattr(model, "is_precomputed", False) and set(names) <= set(X.columns):
        return X.loc[:, list(dict.fromkeys([*names, *perturbed]))]
    return X


K = TypeVar("K")
Scored = tuple[np.ndarray | None, str | None]


def _score_one(score: Callable[[pd.DataFrame], Any], frame: pd.DataFrame) -> Scored:
    """``(scores, None)`` or ``(None, "ExceptionType: message")`` for a model that raises."""
    try:
        return np.asarray(score(frame)), None
    except Exception as exc:  # noqa: BLE001 - a failing model is evidence, not a crash
        return None, f"{type(exc).__name__}: {exc}"


class _Batcher:
    """Scores the perturbed copies in few calls, with the same scores as one call per copy.

    Copies whose columns and dtypes are identical are concatenated (up to ``max_rows`` rows),
    scored in one call and split back. A batch call that raises, returns another number of
    rows, or whose concatenation changed a dtype is redone copy by copy, so each copy keeps its
    own error (a model rejecting missing values fails on those copies only). The first batch
    is checked against its first copy scored on its own: a model whose scores depend on the
    other rows of the call (not row-wise) must equal that exactly, otherwise every copy is
    scored on its own from then on.
    """

    def __init__(self, score: Callable[[pd.DataFrame], Any], *, max_rows: int) -> None:
        self.score, self.max_rows = score, max_rows
        self.row_wise: bool | None = None  # unknown until the first batch is checked

    def score_all(self, items: Iterable[tuple[K, pd.DataFrame]]) -> list[tuple[K, np.ndarray | None, str | None]]:
        """``(key, scores, error)`` for each ``(key, frame)``, in order; frames are consumed lazily."""
        keys: list[K] = []
        results: dict[int, Scored] = {}
        pending: dict[Hashable, list[tuple[int, pd.DataFrame]]] = {}
        for i, (key, frame) in enumerate(items):
            keys.append(key)
            sig = self._signature(frame)
            if sig is None:
                results[i] = self._one(frame)
                continue
            group = pending.setdefault(sig, [])
            group.append((i, frame))
            if sum(len(f) for _, f in group) >= self.max_rows:
                results.update(self._flush(pending.pop(sig)))
        for group in pending.values():
            results.update(self._flush(group))
        return [(key, *results[i]) for i, key in enumerate(keys)]

    @staticmethod
    def _signature(frame: pd.DataFrame) -> Hashable | None:
        sig = (tuple(frame.columns), tuple(frame.dtypes))
        try:
            hash(sig)
        except TypeError:
            return None
        return sig

    def _one(self, frame: pd.DataFrame) -> Scored:
        return _score_one(self.score, frame)

    def _flush(self, group: list[tuple[int, pd.DataFrame]]) -> dict[int, Scored]:
        if len(group) == 1 or self.row_wise is False:
            return {i: self._one(f) for i, f in group}
        frames = [f for _, f in group]
        batch = pd.concat(frames)  # each copy keeps its own index, as when scored alone
        out, _ = (None, None) if list(batch.dtypes) != list(frames[0].dtypes) else self._one(batch)
        if out is None or out.ndim == 0 or out.shape[0] != len(batch):
            return {i: self._one(f) for i, f in group}
        edges = np.cumsum([0, *(len(f) for f in frames)])
        parts: dict[int, Scored] = {i: (out[lo:hi], None) for (i, _), lo, hi in zip(group, edges[:-1], edges[1:])}
        if self.row_wise is None:
            first, _ = self._one(frames[0])
            self.row_wise = first is not None and _identical(first, out[: len(frames[0])])
            if not self.row_wise:
                return {i: self._one(f) for i, f in group}
        return parts


def _identical(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return bool(np.array_equal(a, b, equal_nan=True))
    except TypeError:  # non-numeric output: NaN cannot be compared as equal
        return bool(np.array_equal(a, b))


def robustness_evidence(
    model: LoadedModel | Callable[[pd.DataFrame], Any],
    X: pd.DataFrame,
    y_true: np.ndarray,
    *,
    metric: str = "roc_auc",
    task: Literal["binary", "multiclass", "regression"] = "binary",
    threshold: float = 0.5,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    noise_levels: Sequence[float] = (0.1, 0.2, 0.3, 0.5),
    missing_rates: Sequence[float] = (0.1, 0.3),
    unseen_rate: float = 0.2,
    extreme_rate: float = 0.05,
    extreme_factor: float = 10.0,
    permutation: bool = True,
    max_rows: int = 20_000,
    batch_rows: int = BATCH_ROWS,
    seed: int = 0,
    n_boot: int = BOOTSTRAP_CAP,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Metric degradation of ``model`` under noise, missing values, unseen and extreme values.

    Parameters
    ----------
    model : LoadedModel or callable
        Scored as ``model.predict_scores(frame)`` or ``model(frame)``.
    X : pandas.DataFrame
        Evaluation rows (the model picks its columns); ``y_true`` aligned with them.
    metric : str
        Registry metric name for ``task``.
    features : sequence of str, optional
        Columns to perturb (default: every column of ``X``).
    max_rows : int
        A seeded sample of at most this many rows is used.
    batch_rows : int
        Perturbed copies with the same columns and dtypes are scored together, up to this many
        rows a call (see ``_Batcher``); at most ``len(sample)`` scores each copy on its own call.
    n_boot, confidence : int, float
        Bootstrap replicates (0: no intervals) and the intervals' level.

    Returns
    -------
    dict
        ``{"status", "metric", "greater_is_better", "n_rows", "clean", "tests": [{name, params, metric,
        clean, perturbed, degradation, error}]}``; ``clean``, ``perturbed`` and ``degradation``
        are metric objects with bootstrap intervals.

    Examples
    --------
    >>> X = pd.DataFrame({"a": np.linspace(-1, 1, 200)})
    >>> y = (X["a"] > 0).astype(int).to_numpy()
    >>> out = robustness_evidence(lambda f: 1 / (1 + np.exp(-5 * f["a"].to_numpy())), X, y,
    ...                           noise_levels=(0.5,), missing_rates=(), extreme_rate=0)
    >>> d = out["tests"][0]["degradation"]
    >>> out["tests"][0]["name"], d["value"] > 0, d["ci_low"] <= d["value"] <= d["ci_high"]
    ('gaussian_noise', True, True)
    """
    score = _scorer(model)
    if score is None:
        return {"status": "not_applicable", "reason": "precomputed predictions cannot be re-scored on perturbed input"}
    spec = R.get_metric(metric, task=task)
    y = np.asarray(y_true)
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        idx = np.sort(rng.choice(len(X), max_rows, replace=False))
        X, y = X.iloc[idx].reset_index(drop=True), y[idx]
    else:
        X = X.reset_index(drop=True)
    cols = list(features) if features is not None else list(X.columns)
    cat = [c for c in cols if (c in categorical if categorical is not None else _is_categorical(X[c]))]
    num = [c for c in cols if c not in cat]
    X = _model_view(model, X, cols)

    fast = task == "binary" and metric == "roc_auc"  # the robustness default: compiled rank passes
    prepared: dict[int, BinaryPrepared] = {}

    def judge(raw: np.ndarray | None, failure: str | None) -> tuple[R.MetricValue | None, np.ndarray | None, str | None]:
        if raw is None:
            return None, None, failure
        try:
            s = np.asarray(raw, dtype=float)
        except (TypeError, ValueError) as exc:
            return None, None, f"{type(exc).__name__}: {exc}"
        if not np.isfinite(s).all():
            return None, None, f"model returned {int((~np.isfinite(s)).sum())} non-finite scores"
        if fast:  # the same value as spec.function, from the preparation the replicates reuse
            prep = BinaryPrepared(y, s, threshold=threshold)
            value = roc_auc_point(prep)
            if value.defined:  # kept by the id of a score vector that stays alive in ``runs``
                prepared[id(s)] = prep
        else:
            value = spec.function(y, s, threshold=threshold)
        return (value, s, None) if value.defined else (None, None, f"metric undefined: {value.reason}")

    clean_raw, clean_failure = _score_one(score, X)
    clean, clean_scores, error = judge(clean_raw, clean_failure)
    base = {"status": "measured", "metric": metric, "greater_is_better": spec.greater_is_better,
            "n_rows": int(len(X)), "seed": seed, "clean": None if clean is None else clean.value}
    if clean is None or clean_scores is None:
        return {**base, "status": "error", "reason": f"clean input: {error}", "tests": []}
    perturbed = _perturbations(
        X, num, cat, noise_levels=noise_levels, missing_rates=missing_rates, unseen_rate=unseen_rate,
        extreme_rate=extreme_rate, extreme_factor=extreme_factor, permute=cols if permutation else (),
        rng=rng,
    )
    batcher = _Batcher(score, max_rows=max(batch_rows, len(X)))
    runs_raw = batcher.score_all(((name, params), frame) for name, params, frame in perturbed)
    runs: list[tuple[str, dict[str, Any], R.MetricValue | None, np.ndarray | None, str | None]] = [
        (name, params, *judge(raw, failure)) for (name, params), raw, failure in runs_raw]
    scored = [clean_scores, *(s for *_, s, _ in runs if s is not None)]
    if fast:
        reps = auc_replicates([prepared[id(s)] for s in scored], n_boot=n_boot, seed=seed) if n_boot > 0 else None
    else:
        reps = _replicates(task, metric, y, scored, threshold=threshold, n_boot=n_boot, seed=seed)
    clean_reps = reps[0] if reps else None
    clean_entry = metric_entry(clean, clean_reps, confidence=confidence)
    sign = 1.0 if spec.greater_is_better else -1.0  # degradation = sign * (clean - perturbed)
    tests, k = [], 1
    for name, params, perturbed, _, error in runs:
        entry: dict[str, Any] = {"name": name, "params": params, "metric": metric, "clean": clean_entry,
                                 "perturbed": None, "degradation": None, "error": error}
        if perturbed is not None:
            p_reps = reps[k] if reps else None
            k += 1
            assert perturbed.value is not None and clean.value is not None
            deg = MetricValue.of(sign * (clean.value - perturbed.value), "undefined")
            entry["perturbed"] = metric_entry(perturbed, p_reps, confidence=confidence)
            entry["degradation"] = metric_entry(
                deg, None if p_reps is None or clean_reps is None else sign * (clean_reps - p_reps),
                confidence=confidence)
        tests.append(entry)
    return {**base, "clean": clean_entry, "tests": tests, "n_boot": int(n_boot), "confidence": confidence,
            "method": "seeded perturbations of a row sample; degradation > 0 means worse; intervals: paired "
                      "Poisson bootstrap over the sampled rows"}


def _replicates(task: str, metric: str, y: np.ndarray, scores: list[np.ndarray], *, threshold: float,
                n_boot: int, seed: int) -> list[np.ndarray] | None:
    """The metric's bootstrap replicates for each score vector, all on the same replicates."""
    if n_boot <= 0:
        return None
    components: dict[str, Any] = {}
    for i, s in enumerate(scores):
        if task == "binary":
            components[str(i)] = BinaryPrepared(y, s, threshold=threshold)
        elif task == "multiclass":
            components[str(i)] = MulticlassPrepared(y, s, n_classes=s.shape[1] if s.ndim == 2 else None)
        else:
            components[str(i)] = RegressionPrepared(y, s)
    out = run_bootstrap(components, n_rows=y.shape[0], n_boot=n_boot, seed=seed)
    return [np.asarray(out[str(i)][metric], dtype=np.float64) for i in range(len(scores))]
