"""The evidence engine beyond one machine: one aggregation plan, three executors.

numpy (in memory), DuckDB (larger than memory, spills to disk) and Spark (a cluster) compute
the same aggregates; pure finalisers turn them into the evidence. See docs/SCALE.md.
The DuckDB and Spark executors live in ``workbench.engine._duckdb`` / ``._spark`` and import
their engines lazily (``duckdb_aggregates``, ``spark_aggregates``, ``local_spark_session``).
"""

from workbench.engine._evidence import evidence_from_aggregates
from workbench.engine._numpy import numpy_aggregates
from workbench.engine._plan import (
    Aggregates,
    AggregateSpec,
    ScaleSpec,
    aggregation_plan,
)
from workbench.engine._profile import (
    build_profile,
    load_profile,
    profile_digest,
    save_profile,
)
from workbench.engine._scale import (
    build_evidence_at_scale,
    check_spark_source,
    choose_engine,
    finish_review_evidence,
    is_database,
    is_glob,
    spec_from_manifest,
)

from workbench.engine._spark_scoring import prepare_models
from workbench.engine._duckdb import database_table
from workbench.engine._lineage import artefact_changes, evaluation_records, source_files
from workbench.engine._scale_review import (
    SAMPLE_ROWS,
    SAMPLE_SECTIONS,
    ScaleReviewData,
    is_scale_manifest,
    load_scale_review,
    open_review,
    sample_rows,
    sample_sections,
)

__all__ = [
    "SAMPLE_ROWS",
    "SAMPLE_SECTIONS",
    "ScaleReviewData",
    "artefact_changes",
    "evaluation_records",
    "is_scale_manifest",
    "load_scale_review",
    "open_review",
    "sample_rows",
    "sample_sections",
    "source_files",
    "AggregateSpec",
    "Aggregates",
    "ScaleSpec",
    "aggregation_plan",
    "build_evidence_at_scale",
    "build_profile",
    "check_spark_source",
    "choose_engine",
    "database_table",
    "evidence_from_aggregates",
    "finish_review_evidence",
    "is_database",
    "is_glob",
    "load_profile",
    "numpy_aggregates",
    "prepare_models",
    "profile_digest",
    "save_profile",
    "spec_from_manifest",
]
