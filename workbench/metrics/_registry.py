"""The metric registry: one entry per metric, with the properties every consumer needs.

The policy reads ``greater_is_better`` instead of guessing from a name, the bootstrap gives
every registered metric a CI, and one invariance test covers them all. The task modules
register their metrics on import; importing them here (not lazily) is what fills the table.
"""

from __future__ import annotations

from collections.abc import Mapping

from workbench.metrics import _binary, _multiclass, _regression  # noqa: F401  (they register on import)
from workbench.metrics._spec import (  # noqa: F401  (re-exported for the package face)
    _REGISTRY,
    REASON_CLASS_ABSENT,
    REASON_CONSTANT_TARGET,
    REASON_NO_NEGATIVE,
    REASON_NO_NONZERO_TARGET,
    REASON_NO_POSITIVE,
    REASON_NO_PREDICTED_POSITIVE,
    REASON_NO_ROWS,
    REASON_ONE_CLASS,
    REASON_ZERO_DENOMINATOR,
    TASKS,
    MetricSpec,
    MetricValue,
    Task,
    as_weights,
    register,
)


def metrics_for(task: Task) -> Mapping[str, MetricSpec]:
    """Registered metrics of a task, in registration order.

    Examples
    --------
    >>> "roc_auc" in metrics_for("binary")
    True
    """
    return {name: spec for (t, name), spec in _REGISTRY.items() if t == task}


def get_metric(name: str, *, task: Task) -> MetricSpec:
    """Look up a metric; ``KeyError`` names the known metrics of the task."""
    try:
        return _REGISTRY[(task, name)]
    except KeyError:
        known = ", ".join(metrics_for(task))
        raise KeyError(f"unknown {task} metric {name!r}; known: {known}") from None


def greater_is_better(name: str, *, task: Task) -> bool:
    """Direction of a metric (True for scores such as ``roc_auc``, False for losses)."""
    return get_metric(name, task=task).greater_is_better




#: Direction of the calibration values under ``models.<role>.calibration`` (not registered
#: metrics): True higher is better, False lower is better, None "closer to a target" (slope 1,
#: intercept 0) or descriptive (uncertainty is the base rate's, not the model's).
CALIBRATION_DIRECTIONS: dict[str, bool | None] = {
    "ece": False, "ece_quantile": False, "mce": False, "brier_score": False, "reliability": False,
    "resolution": True, "uncertainty": None, "slope": None, "intercept": None,
}


def metric_direction(name: str, *, task: Task | None = None) -> bool | None:
    """Direction of a metric a policy names: a registered metric, or ``calibration.<value>``.

    Without ``task`` a registered name is looked up in every task (a policy is task-agnostic;
    a name means the same direction in every task that has it — a test checks). An unknown
    name is a ``KeyError`` listing the known ones: the direction is never guessed from a suffix.

    Examples
    --------
    >>> metric_direction("roc_auc"), metric_direction("abs_error_p95"), metric_direction("calibration.ece")
    (True, False, False)
    >>> metric_direction("auc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    KeyError: "unknown metric 'auc'; known: abs_error_p90, abs_error_p95, ..."
    """
    if name.startswith("calibration."):
        key = name.split(".", 1)[1]
        if key not in CALIBRATION_DIRECTIONS:
            raise KeyError(f"unknown calibration value {name!r}; known: "
                           + ", ".join(f"calibration.{k}" for k in CALIBRATION_DIRECTIONS))
        return CALIBRATION_DIRECTIONS[key]
    for t in (task,) if task is not None else TASKS:
        spec = _REGISTRY.get((t, name))
        if spec is not None:
            return spec.greater_is_better
    known = sorted({n for (t, n) in _REGISTRY if task is None or t == task})
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(known)}")


def known_metric_names() -> list[str]:
    """Every registered metric name of any task, sorted."""
    return sorted({n for (_t, n) in _REGISTRY})


#: Display names of metrics and of the other evidence values people read (app, PDF, HTML alike).
METRIC_LABELS: dict[str, str] = {
    "roc_auc": "ROC AUC", "roc_auc_ovr": "ROC AUC (one-vs-rest)", "average_precision": "Average precision (PR AUC)",
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "precision": "Precision",
    "recall": "Recall (TPR)", "specificity": "Specificity (TNR)", "f1": "F1", "mcc": "Matthews correlation (MCC)",
    "log_loss": "Log loss", "brier_score": "Brier score", "ece": "Expected calibration error (ECE)",
    "mce": "Maximum calibration error (MCE)", "selection_rate": "Selection rate", "tpr": "True-positive rate (TPR)",
    "fpr": "False-positive rate (FPR)", "fnr": "False-negative rate", "base_rate": "Base rate",
    "psi": "PSI", "ks_statistic": "KS statistic", "mae": "MAE", "rmse": "RMSE", "mape": "MAPE", "r2": "R²",
}


def metric_label(name: str) -> str:
    """``roc_auc`` → ``ROC AUC``: the one label table for metric and evidence names.

    Examples
    --------
    >>> metric_label("roc_auc"), metric_label("equalized_odds_difference")
    ('ROC AUC', 'Equalized odds difference')
    """
    return METRIC_LABELS.get(name) or name.replace("_", " ").capitalize()
