"""SHAP explanations in the original feature space, and how two models' explanations differ.

``import shap`` happens only when something is explained. The explainer is chosen from the
model (see ``_explain_shap``): TreeExplainer for tree ensembles, LinearExplainer for linear
models, PermutationExplainer over the whole pipeline otherwise — never KernelExplainer.
Pipelines are explained in raw columns: transformed columns' attributions are summed into
the raw column they came from.

A seeded sample of ``n_rows`` rows is explained against a seeded background of
``n_background`` rows; results are cached in process (LRU) and optionally on disk, keyed by
(model digest, data digest, settings).

Evidence shape (``explanation_evidence`` → ``evidence["explanations"]``)::

    explanations.<role>: {status: "ok", method: tree|linear|permutation, output_space:
        log_odds|probability|raw, n_rows, n_background, seed, base_value,
        importance: [{feature, rank, value (mean |SHAP|), ci_low, ci_high, share}],
        direction.<feature>: {correlation, sign, reason?},
        additivity: {max_abs_error, tolerance, holds, output_space}}
      or {status: "not_applicable", reason}
    explanations.diff: {n_features, spearman, kendall, top_k, top_k_overlap, top_k_candidate,
        top_k_baseline, rank_moves: [{feature, rank_candidate, rank_baseline, move}],
        direction_flips: [{feature, correlation_candidate, correlation_baseline}],
        reliance.<role>: {sensitive_share, proxy_share, sensitive_features_used, proxies{f: share}},
        proxies: [feature]}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.explain import _views as views
from workbench.canonical import digest, frame_digest
from workbench.errors import DataError

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData

__all__ = [
    "ModelExplanation", "beeswarm_data", "dependence_data", "explain_model", "explain_review",
    "explanation_diff", "explanation_evidence", "global_importance", "local_explanation", "review_explanation_diff",
    "summary",
    "typical_cases",
]

_LRU: OrderedDict[str, ModelExplanation] = OrderedDict()
_LRU_SIZE = 8


@dataclass(frozen=True, eq=False)
class ModelExplanation:
    """SHAP values of one model on a sample of rows, in raw feature space."""

    method: str
    output_space: str
    features: tuple[str, ...]
    values: np.ndarray  # (n, p)
    data: pd.DataFrame  # the explained raw rows
    ids: np.ndarray
    base_value: float
    output: np.ndarray  # model output in the explained space (from the model, not SHAP)
    settings: dict[str, Any]
    key: str
    explainer: Any = field(default=None, repr=False)

    @property
    def additivity(self) -> dict[str, Any]:
        """``base + Σ SHAP = model output`` on every explained row, within tolerance."""
        err = float(np.max(np.abs(self.base_value + self.values.sum(axis=1) - self.output), initial=0.0))
        tol = 1e-6 * max(1.0, float(np.max(np.abs(self.output), initial=0.0)))
        return {"max_abs_error": err, "tolerance": tol, "holds": bool(err <= tol), "output_space": self.output_space}


def explain_model(
    estimator: Any,
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    id_column: str | None = None,
    n_rows: int = 2000,
    n_background: int = 200,
    seed: int = 0,
    positive_index: int = 1,
    predict: Callable[[pd.DataFrame], np.ndarray] | None = None,
    max_agnostic_rows: int = 300,
    model_digest: str | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelExplanation:
    """Explain ``estimator`` (a fitted sklearn model or Pipeline) on a seeded sample of ``frame``.

    Parameters
    ----------
    estimator : sklearn estimator or None
        None with ``predict`` (raw frame → P(positive)) explains any model agnostically.
    frame : DataFrame
        Raw rows holding ``features`` (and ``id_column``).
    n_rows, n_background, seed
        Budget: a seeded sample of rows to explain and of background rows.
    max_agnostic_rows : int
        The model-agnostic (permutation) explainer explains at most this many of the sampled
        rows (``settings["capped_from"]`` records the cap).
    model_digest : str, optional
        Digest of the model file; defaults to ``joblib.hash`` of the estimator.
    cache_dir : path, optional
        Also cache results on disk (``<key>.npz``).

    Returns
    -------
    ModelExplanation

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5], "b": [1.0, 0, 1, 0, 1, 0]})
    >>> m = LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1])
    >>> ex = explain_model(m, X, features=["a", "b"], n_background=6)
    >>> ex.method, ex.additivity["holds"]
    ('linear', True)
    """
    from workbench.explain._shap import Explainer

    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise DataError(f"cannot explain: columns {missing} are missing from the data; "
                        "the frame must hold every model input")
    rng = np.random.default_rng(seed)
    n = len(frame)
    sample = np.sort(rng.choice(n, n_rows, replace=False)) if n > n_rows else np.arange(n)
    bg_idx = np.sort(rng.choice(n, n_background, replace=False)) if n > n_background else np.arange(n)
    rows, background = frame.iloc[sample], frame.iloc[bg_idx]
    if model_digest is None:
        import joblib

        model_digest = joblib.hash(estimator) if estimator is not None else "agnostic"
    settings: dict[str, Any] = {"n_rows": len(rows), "n_background": len(background),
                                "seed": int(seed), "positive_index": int(positive_index)}
    key = digest({"model": model_digest, "data": frame_digest(frame[list(features)]), "settings": settings})
    if key in _LRU:
        _LRU.move_to_end(key)
        return _LRU[key]
    if progress is not None:
        progress(f"SHAP: explaining {len(rows)} rows against {len(background)} background rows")
    explainer = Explainer(estimator, features, background, positive_index=positive_index, seed=seed, predict=predict)
    settings = {**settings, "fallback_reason": explainer.fallback_reason}
    if explainer.kind == "permutation" and len(rows) > max_agnostic_rows:
        # model-agnostic SHAP costs ~(2p+1) x background model calls per row: keep the budget bounded
        rows = rows.iloc[np.sort(rng.choice(len(rows), max_agnostic_rows, replace=False))]
        settings = {**settings, "n_rows": len(rows), "capped_from": len(sample)}
    cached = _load(cache_dir, key)
    if cached is not None:
        values, base, output = cached
    else:
        raw = explainer.explain(rows, progress=progress)
        values, base, output = raw.values, raw.base_value, raw.output
        _save(cache_dir, key, values, base, output)
    ids = rows[id_column].to_numpy() if id_column and id_column in rows else rows.index.to_numpy()
    result = ModelExplanation(explainer.kind, explainer.output_space, tuple(features), values,
                              rows[list(features)].reset_index(drop=True), ids, float(base), output,
                              settings, key, explainer)
    _LRU[key] = result
    while len(_LRU) > _LRU_SIZE:
        _LRU.popitem(last=False)
    return result


def _load(cache_dir: str | Path | None, key: str) -> tuple | None:
    if cache_dir is None or not (Path(cache_dir) / f"{key}.npz").exists():
        return None
    with np.load(Path(cache_dir) / f"{key}.npz") as z:
        return z["values"], float(z["base"]), z["output"]


def _save(cache_dir: str | Path | None, key: str, values: np.ndarray, base: float, output: np.ndarray) -> None:
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        np.savez(Path(cache_dir) / f"{key}.npz", values=values, base=np.array(base), output=output)


def global_importance(expl: ModelExplanation, *, n_boot: int = 1000, seed: int = 0,
                      confidence: float = 0.95) -> list[dict[str, Any]]:
    """Mean |SHAP| per raw feature with bootstrap CIs over the explained rows, largest first."""
    return views.importance(expl.values, expl.features, n_boot=n_boot, seed=seed, confidence=confidence)


def beeswarm_data(expl: ModelExplanation, *, max_points: int = 2000) -> dict[str, Any]:
    """Per feature, in importance order: each row's SHAP value, raw value and a 0–1 colour."""
    order = [r["feature"] for r in global_importance(expl, n_boot=0)]
    return views.beeswarm(expl.values, expl.data, expl.features, order, max_points=max_points)


def dependence_data(expl: ModelExplanation, feature: str) -> dict[str, Any]:
    """Raw value of ``feature`` against its attribution, with the strongest interacting feature."""
    if feature not in expl.features:
        raise DataError(f"feature {feature!r} is not a model input; choose one of {list(expl.features)}")
    return views.dependence(expl.values, expl.data, expl.features, feature)


def local_explanation(expl: ModelExplanation, row_id: Any, *, frame: pd.DataFrame | None = None,
                      id_column: str | None = None) -> dict[str, Any]:
    """Waterfall data for one row: base value, contributions and prediction (explained space).

    Rows outside the explained sample are explained on demand from ``frame`` (looked up by
    ``id_column``).
    """
    hit = np.flatnonzero(expl.ids == row_id)
    if hit.size:
        i = int(hit[0])
        return views.waterfall(expl.values[i], expl.data.iloc[i], expl.features, base_value=expl.base_value,
                               output=float(expl.output[i]), output_space=expl.output_space, row_id=row_id)
    if frame is None or id_column is None or id_column not in frame:
        raise DataError(f"row id {row_id!r} is not among the explained rows; pass the data frame and its "
                        "id column to explain it on demand")
    rows = frame[frame[id_column] == row_id]
    if rows.empty:
        raise DataError(f"no row with {id_column} = {row_id!r} in the data")
    raw = expl.explainer.explain(rows.iloc[:1])
    return views.waterfall(raw.values[0], rows.iloc[0], expl.features, base_value=raw.base_value,
                           output=float(raw.output[0]), output_space=raw.output_space, row_id=row_id)


def typical_cases(expl: ModelExplanation, *, threshold: float, top: int = 4) -> list[dict[str, Any]]:
    """A few local explanations a reviewer should read: the most and least likely cases and the
    one closest to the decision threshold, each with its largest contributions (flat records).

    Examples
    --------
    >>> expl = ModelExplanation("linear", "probability", ("a", "b"), np.array([[0.3, -0.1], [-0.2, 0.0], [0.05, 0.0]]),
    ...                         pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}), np.array(["r1", "r2", "r3"]),
    ...                         0.5, np.array([0.7, 0.3, 0.55]), {}, "k")
    >>> [(c["case"], c["row_id"]) for c in typical_cases(expl, threshold=0.5)]
    [('highest score', 'r1'), ('lowest score', 'r2'), ('closest to the threshold', 'r3')]
    >>> typical_cases(expl, threshold=0.5)[0]["largest contributions"]
    'a=1 (+0.300), b=4 (-0.100)'
    """
    if len(expl.output) == 0:
        return []
    cut = float(np.log(threshold / (1 - threshold))) if expl.output_space == "log_odds" and 0 < threshold < 1 else threshold
    picks = [("highest score", int(np.argmax(expl.output))), ("lowest score", int(np.argmin(expl.output))),
             ("closest to the threshold", int(np.argmin(np.abs(expl.output - cut))))]
    cases = []
    for case, i in picks:
        w = views.waterfall(expl.values[i], expl.data.iloc[i], expl.features, base_value=expl.base_value,
                            output=float(expl.output[i]), output_space=expl.output_space, row_id=expl.ids[i])
        parts = [f"{c['feature']}={c['value']} ({c['shap']:+.3f})" for c in w["contributions"][:top]]
        cases.append({"case": case, "row_id": w["row_id"], "prediction": round(w["prediction"], 4),
                      "base value": round(w["base_value"], 4), "output space": w["output_space"],
                      "largest contributions": ", ".join(parts)})
    return cases


def summary(expl: ModelExplanation, *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The JSON-ready evidence of one model's explanation."""
    return {"status": "ok", "method": expl.method, "output_space": expl.output_space, **expl.settings,
            "base_value": expl.base_value, "importance": global_importance(expl, n_boot=n_boot, seed=seed),
            "direction": views.direction(expl.values, expl.data, expl.features), "additivity": expl.additivity}


def explanation_diff(candidate: dict[str, Any], baseline: dict[str, Any], *, top_k: int = 5,
                     sensitive: Sequence[str] = (), proxies: Sequence[str] = ()) -> dict[str, Any]:
    """Compare two :func:`summary` dicts: rank correlation, top-k overlap, rank moves, flips, reliance."""
    out = views.diff(candidate, baseline, top_k=top_k, sensitive=sensitive, proxies=proxies)
    out["proxies"] = list(proxies)
    return out


def explain_review(review: ReviewData, role: str, *, n_rows: int = 2000, n_background: int = 200, seed: int = 0,
                   cache_dir: str | Path | None = None, progress: Callable[[str], None] | None = None) -> ModelExplanation:
    """Explain one model of a review (``workbench.artefacts.ReviewData``) on its evaluation data."""
    model = review.models.get(role)
    if model is None or model.is_precomputed:
        raise DataError(f"the {role} model has no executable form (precomputed scores); nothing to explain")
    pos = model.positive_index if model.positive_index is not None else 1
    predict = None if model.estimator is not None else model.predict_scores
    record = getattr(model, "record", None)
    return explain_model(model.estimator, review.evaluation, features=list(model.features), id_column=review.id_column,
                         n_rows=n_rows, n_background=n_background, seed=seed, positive_index=pos, predict=predict,
                         model_digest=getattr(record, "sha256", None), cache_dir=cache_dir, progress=progress)


def explanation_evidence(review: ReviewData, *, n_rows: int = 2000, n_background: int = 200, seed: int = 0,
                         n_boot: int = 1000, top_k: int = 5, cache_dir: str | Path | None = None,
                         progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``evidence["explanations"]`` = ``{candidate, baseline, diff}`` (shape in the module docstring)."""
    out: dict[str, Any] = {}
    if review.task != "binary":
        reason = "explanations are computed for binary tasks"
        return {"candidate": {"status": "not_applicable", "reason": reason}, "baseline": None, "diff": None}
    for role in ("candidate", "baseline"):
        if review.models.get(role) is None:
            out[role] = None
            continue
        try:
            expl = explain_review(review, role, n_rows=n_rows, n_background=n_background, seed=seed,
                                  cache_dir=cache_dir, progress=progress)
            out[role] = {**summary(expl, n_boot=n_boot, seed=seed),
                         "local": typical_cases(expl, threshold=float(review.threshold))}
        except DataError as exc:
            out[role] = {"status": "not_applicable", "reason": str(exc)}
    ok = all(out.get(r) and out[r].get("status") == "ok" for r in ("candidate", "baseline"))
    out["diff"] = review_explanation_diff(review, out["candidate"], out["baseline"], top_k=top_k) if ok else None
    return out


def review_explanation_diff(review: ReviewData, candidate: dict[str, Any], baseline: dict[str, Any], *,
                            top_k: int = 5) -> dict[str, Any]:
    """:func:`explanation_diff` with the review's sensitive features and their proxies (the
    features most associated with them on the evaluation data): the evidence's and the app's."""
    from workbench.fairness import proxy_associations

    sens = list(review.sensitive_features)
    proxies: list[str] = []
    if sens:
        inputs = [f for f in review.features if f in review.evaluation.columns]
        assoc = proxy_associations(review.evaluation, inputs, sens)
        proxies = sorted({p for s in sens for p in assoc[s]["top_proxies"]})
    return explanation_diff(candidate, baseline, top_k=top_k, sensitive=sens, proxies=proxies)
