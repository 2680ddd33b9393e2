"""Subgroup fairness evidence, candidate against baseline (fairlearn is the test oracle).

For every sensitive feature and their intersection (``"sex×age_band"``) the module reports
per-group rates with bootstrap CIs, fairlearn's disparities (``between_groups`` and
``to_overall``), slice tests against the complement and proxies of the sensitive attributes.
One vectorised pass serves every grouping and both models (see ``_fairness_engine``); CIs
use the shared Poisson replicates of :mod:`workbench.metrics.bootstrap`, so candidate and
baseline are paired.

Evidence shape (``fairness_evidence`` returns ``{"models", "fairness_deltas", "proxies",
"settings"}``; ``evidence.py`` puts ``models[role]`` at ``evidence["models"][role]["fairness"]``,
``fairness_deltas`` at ``evidence["fairness_deltas"]``, ``proxies`` at
``evidence["fairness_proxies"]``). A *value* ``V`` is ``{"value", "ci_low", "ci_high",
"defined", "reason"?, "method"?}`` (undefined → ``value: null`` with a ``reason``)::

    models.<role>.fairness.<grouping>          grouping = feature name or "a×b"
        features: [str], kind: "feature" | "intersection"
        groups.<label>: {n, insufficient_data, base_rate: V, selection_rate: V, tpr: V, fpr: V,
                         fnr: V, precision: V, accuracy: V, roc_auc: V (method bootstrap|delong),
                         ece: V}
        excluded_groups: [label]               n < min_group_size: shown, not in disparities
        demographic_parity_difference: V       fairlearn method="between_groups"
        demographic_parity_ratio: V, equalized_odds_difference: V, equalized_odds_ratio: V,
        equal_opportunity_difference: V, equal_opportunity_ratio: V
        to_overall.<same six disparities>: V    fairlearn method="to_overall"
        four_fifths_rule: {threshold: 0.8, passes, ci_low_passes}
        overall.<count metric>: V
        slice_tests: [{group, metric, n, n_complement, difference, test: fisher_exact|g_test|none,
                       statistic, p_value, p_adjusted (Benjamini–Hochberg), significant,
                       insufficient_data, min_detectable_difference}]
    fairness_deltas.<grouping>                 candidate − baseline on the same replicates
        groups.<label>.<metric>: V
        <disparity>: V + {widened, significantly_widened, mde (80% power)}; to_overall.<disparity>: same
    fairness_proxies.<sensitive>: {used_as_input, top_proxies: [feature],
        associations: [{feature, cramers_v, mutual_information (nats), strength}]}

ECE per group uses ``n_bins`` (default 10) uniform bins over [0, 1]: ``Σ_b |Σ(y − p)| / n``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench.fairness import _engine as eng
from workbench.fairness._report import SectionBuilder, Settings, deltas
from workbench.fairness._stats import proxy_associations
from workbench.errors import DataError

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData

__all__ = ["compare_fairness", "fairness_evidence", "fairness_table", "proxy_associations"]

ERR_NOT_BINARY = "{name}: fairness needs binary 0/1 values, got {values}; encode the positive label as 1"
ERR_LENGTH = "{name} has {got} rows but y_true has {want}; pass one value per row"
ERR_NO_SENSITIVE = "no sensitive features given; list them under sensitive_features in review.yaml"


def _binary(values: Any, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if n is not None and arr.shape[0] != n:
        raise DataError(ERR_LENGTH.format(name=name, got=arr.shape[0], want=n))
    uniq = np.unique(arr)
    if not set(uniq.tolist()) <= {0, 1}:
        raise DataError(ERR_NOT_BINARY.format(name=name, values=uniq[:5].tolist()))
    return arr.astype(np.int64)


def compare_fairness(
    y_true: Any,
    models: Mapping[str, tuple[Any, Any]],
    sensitive: Mapping[str, Any],
    *,
    min_group_size: int = 30,
    n_boot: int = 1000,
    seed: int = 0,
    intersections: bool | Sequence[Sequence[str]] = True,
    confidence: float = 0.95,
    n_bins: int = 10,
    undefined: Literal["nan", "zero"] = "nan",
    auc_bootstrap_budget: float = 2e8,
    engine: Literal["auto", "blas", "scatter"] = "auto",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fairness sections for several models on the same rows and the same replicates.

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels (1 = positive label).
    models : mapping of role to ``(y_pred, y_score)``
        0/1 predictions and scores (``y_score`` may be None: no AUC/ECE). The first two roles
        (candidate, baseline) give ``deltas`` = first − second.
    sensitive : mapping of name to array-like
        Sensitive feature values per row; missing values form the group ``"(missing)"``.
    min_group_size : int
        Groups with fewer rows are reported with ``insufficient_data`` and left out of disparities.
    n_boot, seed, confidence
        Shared Poisson bootstrap (0 replicates: no CIs).
    intersections : bool or list of feature tuples
        True: the intersection of all sensitive features (when there are at least two).
    undefined : {"nan", "zero"}
        0/0 rates are undefined (``"nan"``, default) or 0 as scikit-learn/fairlearn report them.
    auc_bootstrap_budget : float
        Group AUC CIs are exact weighted-bootstrap CIs while ``n_rows * n_boot`` stays within
        this budget, otherwise DeLong intervals (``method`` says which).
    engine : {"auto", "blas", "scatter"}
        How bootstrap aggregates are summed: a dense BLAS product (small tables) or a compiled
        scatter-add (large tables); both give the same numbers.

    Returns
    -------
    dict
        ``{"models": {role: {grouping: section}}, "deltas": {grouping: ...} or {}}``.

    Examples
    --------
    >>> y = np.array([0, 1, 1, 0, 1, 0]); p = np.array([0, 1, 1, 0, 1, 1])
    >>> out = compare_fairness(y, {"m": (p, None)}, {"sex": ["F", "F", "F", "M", "M", "M"]},
    ...                        min_group_size=1, n_boot=0)
    >>> out["models"]["m"]["sex"]["demographic_parity_difference"]["value"]
    0.0
    """
    if not sensitive:
        raise DataError(ERR_NO_SENSITIVE)
    y = _binary(y_true, "y_true")
    preds: dict[str, np.ndarray]
    scores: dict[str, np.ndarray | None]
    preds, scores = {}, {}
    for role, (y_pred, y_score) in models.items():
        preds[role] = _binary(y_pred, f"{role} y_pred", y.shape[0])
        if y_score is None:
            scores[role] = None
        else:
            s = np.asarray(y_score, dtype=np.float64)
            if s.shape[0] != y.shape[0]:
                raise DataError(ERR_LENGTH.format(name=f"{role} y_score", got=s.shape[0], want=y.shape[0]))
            scores[role] = s
    try:
        part = eng.build_partition(sensitive, n_rows=y.shape[0], intersections=intersections)
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    settings = Settings(int(min_group_size), int(n_boot), int(seed), float(confidence), int(n_bins),
                        undefined, float(auc_bootstrap_budget), engine)
    sections, reps = SectionBuilder(y, preds, scores, part, settings).run(progress)
    roles = list(models)
    out: dict[str, Any] = {"models": sections, "deltas": {}}
    if len(roles) >= 2:
        out["deltas"] = deltas(sections, reps, roles[0], roles[1], confidence=settings.confidence)
    return out


def fairness_table(
    y_true: Any, y_pred: Any, y_score: Any, sensitive: Mapping[str, Any], **options: Any
) -> dict[str, Any]:
    """Fairness sections of one model: ``{grouping: section}`` (shape in the module docstring).

    Options are those of :func:`compare_fairness`.

    Examples
    --------
    >>> y = np.array([0, 1, 1, 0, 1, 0]); p = np.array([1, 1, 0, 0, 1, 0])
    >>> t = fairness_table(y, p, None, {"g": list("aaabbb")}, min_group_size=1, n_boot=0)
    >>> t["g"]["groups"]["a"]["selection_rate"]["value"], t["g"]["groups"]["b"]["tpr"]["value"]
    (0.6666666666666666, 1.0)
    """
    return compare_fairness(y_true, {"model": (y_pred, y_score)}, sensitive, **options)["models"]["model"]


def fairness_evidence(
    review: ReviewData,
    *,
    min_group_size: int = 30,
    n_boot: int = 1000,
    seed: int = 0,
    intersections: bool | Sequence[Sequence[str]] = True,
    confidence: float = 0.95,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fairness evidence of a review (``workbench.artefacts.ReviewData``), candidate vs baseline.

    Returns ``{"models": {role: sections}, "fairness_deltas": {...}, "proxies": {...},
    "settings": {...}}``; a non-binary task or a review without sensitive features returns
    ``{"status": "not_applicable", "reason": ...}`` with empty models.
    """
    sens = list(review.sensitive_features)
    settings = {"min_group_size": min_group_size, "n_boot": n_boot, "seed": seed, "confidence": confidence,
                "threshold": float(review.threshold), "intersections": intersections if isinstance(intersections, bool)
                else [list(c) for c in intersections]}
    if review.task != "binary" or not sens:
        reason = "fairness needs a binary task" if review.task != "binary" else ERR_NO_SENSITIVE
        return {"status": "not_applicable", "reason": reason, "models": {}, "fairness_deltas": {},
                "proxies": {}, "settings": settings}
    frame = review.evaluation
    models = {}
    for role in review.roles:
        if review.models.get(role) is None:
            continue
        score = np.asarray(review.scores(role), dtype=np.float64)
        models[role] = ((score >= review.threshold).astype(np.int64), score)
    if progress is not None:
        progress(f"fairness: {len(models)} model(s) × {len(sens)} sensitive feature(s), {n_boot} replicates")
    out = compare_fairness(review.y_true, models, {s: frame[s] for s in sens}, min_group_size=min_group_size,
                           n_boot=n_boot, seed=seed, intersections=intersections, confidence=confidence,
                           progress=progress)
    inputs = sorted({f for m in review.models.values() if m is not None for f in m.features} | set(review.features))
    inputs = [f for f in inputs if f in frame.columns]
    return {"status": "ok", "models": out["models"], "fairness_deltas": out["deltas"],
            "proxies": proxy_associations(frame, inputs, sens), "settings": settings}
