"""Quantitative evidence: metric registry, bootstrap, paired comparisons, calibration.

Drift, operational, robustness and slices live in their own modules
(``workbench.metrics.drift`` ...), imported directly by their users.
"""

from workbench.metrics._binary import BINARY_METRICS, BinaryPrepared, binary_metrics
from workbench.metrics._engine import run_bootstrap
from workbench.metrics._multiclass import MULTICLASS_METRICS, MulticlassPrepared, multiclass_metrics
from workbench.metrics._paired import (
    two_by_two_test,
    delong_placements,
    delong_placements_sorted,
    bootstrap_p_value,
    bootstrap_mde,
    Margin,
    resolve_margin,
    delong_test,
    mcnemar_test,
    min_detectable_difference,
    paired_delta,
    reading,
)
from workbench.metrics._registry import (
    CALIBRATION_DIRECTIONS,
    METRIC_LABELS,
    MetricSpec,
    MetricValue,
    get_metric,
    greater_is_better,
    known_metric_names,
    metric_direction,
    metric_label,
    metrics_for,
)
from workbench.metrics._regression import REGRESSION_METRICS, RegressionPrepared, regression_metrics
from workbench.metrics.bootstrap import fill_poisson_counts, iter_weight_chunks, percentile_ci, poisson_weights

from workbench.metrics._spec import TASKS
from workbench.metrics._assemble import calibration_entry, metric_entry, quantitative_evidence
from workbench.metrics._binary import finalise_counts, linear_columns, reason
from workbench.metrics._drift_numeric import CellStats, GridBinner, LUT_SIZE, scan_column
from workbench.metrics._kernels import lazy_kernel
from workbench.metrics._engine import default_workers

__all__ = [
    "linear_columns",
    "two_by_two_test",
    "BINARY_METRICS",
    "CALIBRATION_DIRECTIONS",
    "METRIC_LABELS",
    "BinaryPrepared",
    "CellStats",
    "GridBinner",
    "LUT_SIZE",
    "MULTICLASS_METRICS",
    "MetricSpec",
    "MetricValue",
    "MulticlassPrepared",
    "REGRESSION_METRICS",
    "RegressionPrepared",
    "TASKS",
    "binary_metrics",
    "bootstrap_p_value",
    "calibration_entry",
    "default_workers",
    "delong_placements",
    "delong_placements_sorted",
    "delong_test",
    "fill_poisson_counts",
    "finalise_counts",
    "get_metric",
    "greater_is_better",
    "iter_weight_chunks",
    "known_metric_names",
    "lazy_kernel",
    "mcnemar_test",
    "metric_direction",
    "metric_entry",
    "metric_label",
    "metrics_for",
    "min_detectable_difference",
    "multiclass_metrics",
    "paired_delta",
    "bootstrap_mde",
    "Margin",
    "resolve_margin",
    "percentile_ci",
    "poisson_weights",
    "quantitative_evidence",
    "reading",
    "reason",
    "regression_metrics",
    "run_bootstrap",
    "scan_column",
]
