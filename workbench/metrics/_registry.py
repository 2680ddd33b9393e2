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


