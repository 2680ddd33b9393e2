"""Metric values and specs, and the table task modules register into (read through ``_registry``).

The policy reads ``greater_is_better`` instead of guessing from a name, the bootstrap gives
every registered metric a CI, and one invariance test covers them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
#: Every task the registry knows, in a fixed order.
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
Needs = Literal["scores", "labels"]

#: Reasons a metric is undefined; tests assert on these constants.
REASON_ONE_CLASS = "only one class present in y_true"
REASON_NO_PREDICTED_POSITIVE = "no predicted positives (TP + FP = 0)"
REASON_NO_POSITIVE = "no positive rows in y_true (TP + FN = 0)"
REASON_NO_NEGATIVE = "no negative rows in y_true (TN + FP = 0)"
REASON_ZERO_DENOMINATOR = "zero denominator"
REASON_NO_ROWS = "no rows (total weight is 0)"
REASON_CONSTANT_TARGET = "y_true is constant (total sum of squares is 0)"
REASON_NO_NONZERO_TARGET = "every target is 0 (MAPE needs non-zero targets)"
REASON_CLASS_ABSENT = "a class is absent from y_true"


@dataclass(frozen=True)
class MetricValue:
    """A point estimate that is either defined (a finite float) or undefined with a reason."""

    value: float | None
    defined: bool
    reason: str | None = None

    @classmethod
    def of(cls, value: float, reason_if_undefined: str) -> MetricValue:
        """Wrap a float; NaN/inf becomes ``defined=False`` with ``reason_if_undefined``."""
        v = float(value)
        if math.isfinite(v):
            return cls(v, True, None)
        return cls(None, False, reason_if_undefined)


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric.

    ``function(y_true, y_score, *, threshold=0.5, sample_weight=None) -> MetricValue``;
    ``needs`` says whether it reads scores/probabilities or only the predicted labels.
    """

    name: str
    task: Task
    greater_is_better: bool
    needs: Needs
    function: Callable[..., MetricValue]
    description: str = ""


_REGISTRY: dict[tuple[Task, str], MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    key = (spec.task, spec.name)
    if key in _REGISTRY:
        raise ValueError(f"metric {spec.name!r} is already registered for task {spec.task!r}")
    _REGISTRY[key] = spec
    return spec


def as_weights(sample_weight: object, n: int) -> np.ndarray:
    """float64 weights of length ``n`` (ones when ``sample_weight`` is None)."""
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64).ravel()
    if w.shape != (n,):
        raise ValueError(f"sample_weight has {w.size} entries, expected {n}")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    return w
