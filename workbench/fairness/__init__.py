"""Subgroup metrics, disparities with bootstrap CIs, candidate-vs-baseline deltas, proxy associations.

The public face of ``workbench.fairness``: import from here; the ``_`` modules are private.
"""


from workbench.fairness._evidence import (
    compare_fairness,
    fairness_evidence,
    fairness_table,
    proxy_associations,
)

from workbench.fairness._engine import CellAggregates, Partition, build_partition, point_aggregates, score_bins
from workbench.fairness._report import SectionBuilder, Settings, deltas, metric_value

__all__ = [
    "score_bins",
    "CellAggregates",
    "Partition",
    "SectionBuilder",
    "Settings",
    "build_partition",
    "compare_fairness",
    "deltas",
    "fairness_evidence",
    "fairness_table",
    "metric_value",
    "point_aggregates",
    "proxy_associations",
]
