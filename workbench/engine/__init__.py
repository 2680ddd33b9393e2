"""The evidence engine beyond one machine: one aggregation plan, three executors.

numpy (in memory), DuckDB (larger than memory, spills to disk) and Spark (a cluster) compute
the same aggregates; pure finalisers turn them into the evidence. See docs/SCALE.md.
"""

from workbench.engine._evidence import evidence_from_aggregates
from workbench.engine._numpy import numpy_aggregates
from workbench.engine._plan import AggregateSpec, Aggregates, ScaleSpec, aggregation_plan
from workbench.engine._profile import build_profile, load_profile, profile_digest, save_profile

__all__ = [
    "AggregateSpec",
    "Aggregates",
    "ScaleSpec",
    "aggregation_plan",
    "build_profile",
    "evidence_from_aggregates",
    "load_profile",
    "numpy_aggregates",
    "profile_digest",
    "save_profile",
]
