"""Quantitative evidence: metric registry, bootstrap, paired comparisons, calibration.

Drift, operational, robustness and slices live in their own modules
(``workbench.metrics.drift`` ...), imported directly by their users.
"""

from workbench.metrics.bootstrap import iter_weight_chunks, percentile_ci, poisson_weights

__all__ = ["iter_weight_chunks", "percentile_ci", "poisson_weights"]
