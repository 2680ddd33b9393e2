"""One call for the CLI: pick an executor, run the plan, finalise the evidence."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.engine._evidence import evidence_from_aggregates
from workbench.engine._plan import ScaleSpec
from workbench.engine._sources import is_database, is_glob
from workbench.errors import ManifestError

if TYPE_CHECKING:
    from workbench.artefacts import Manifest
    from workbench.engine._scale_review import ScaleReviewData
    from workbench.metrics import Margin

Engine = Literal["auto", "numpy", "duckdb", "spark"]
#: Below this many bytes of input files ``auto`` stays in memory (numpy).
IN_MEMORY_BYTES = 256 << 20


def spec_from_manifest(manifest: Manifest, *, n_boot: int | None = None, score_models: bool = False,
                       **options: Any) -> ScaleSpec:
    """A ``ScaleSpec`` from a binary review manifest whose models are precomputed score columns —
    or, with ``score_models`` (Spark), model files scored in the workers into ``__wb_score_<role>``."""
    from workbench.engine._spark_scoring import SCORE_PREFIX

    if manifest.task != "binary":
        raise ManifestError(f"{manifest.display_file}: task: the scale engine runs binary reviews, not {manifest.task}")
    scores = {}
    for role in ("candidate", "baseline"):
        entry = getattr(manifest, role)
        if entry is None:
            continue
        if entry.predictions_file is not None:
            raise ManifestError(f"{manifest.display_file}: {role}.predictions_file: the scale engine reads score "
                                "columns of data.evaluation where it lives and joins no second file; add the scores "
                                "as a column of the evaluation data (`predictions: <column>`) or use --engine numpy")
        if entry.predictions is None and score_models:
            scores[role] = SCORE_PREFIX + role
            continue
        if entry.predictions is None:
            raise ManifestError(f"{manifest.display_file}: {role}: the duckdb engine needs precomputed scores; give "
                                "`predictions: <score column>` instead of a model path (or use --engine spark, "
                                "which scores skops/ONNX models where the data lives)")
        scores[role] = entry.predictions
    s = manifest.settings
    return ScaleSpec(label=manifest.target, scores=scores, positive_label=manifest.positive_label,
                     threshold=float(manifest.threshold), sensitive=tuple(manifest.sensitive_features),
                     features=tuple(manifest.features or ()), id_column=manifest.id_column,
                     n_boot=s.n_bootstrap if n_boot is None else n_boot, seed=s.seed, confidence=s.confidence,
                     calibration_bins=s.calibration_bins, min_group_size=s.min_group_size,
                     drift_bands=tuple(s.drift_bands), **options)


def choose_engine(source: str | Path, *, engine: Engine = "auto", table: str | None = None,
                  threshold_bytes: int = IN_MEMORY_BYTES, label: str = "data.evaluation"
                  ) -> Literal["numpy", "duckdb", "spark"]:
    """The concrete engine for ``source``, decided once: ``numpy``, ``duckdb`` or ``spark``.

    ``auto``: ``duckdb`` for globs, DuckDB databases (or a ``table``) and Parquet files larger
    than ``threshold_bytes``; ``numpy`` (in memory) for a single small file or one that is not
    Parquet (only the in-memory loader reads CSV and friends). Spark runs only when asked for.
    An engine asked for is returned after refusing a source it cannot read: ``numpy`` a glob,
    a database or a table, ``spark`` a DuckDB database (:func:`check_spark_source`). ``label``
    starts those messages (e.g. ``"review.yaml: data.evaluation"``).

    Examples
    --------
    >>> choose_engine("data/part-*.parquet")
    'duckdb'
    >>> choose_engine("data/eval.csv")
    'numpy'
    >>> choose_engine("data/part-*.parquet", engine="numpy")
    Traceback (most recent call last):
    ...
    workbench.errors.ManifestError: data.evaluation: --engine numpy reads one file, not part-*.parquet; use --engine duckdb (or auto)
    """
    src = str(source)
    if engine == "spark":
        check_spark_source(src, label=label)
        return "spark"
    if engine == "numpy":
        if table is not None or is_glob(src) or is_database(src):
            what = f"table {table!r}" if table is not None and not is_database(src) else Path(src).name
            raise ManifestError(f"{label}: --engine numpy reads one file, not {what}; use --engine duckdb (or auto)")
        return "numpy"
    if engine == "duckdb":
        return "duckdb"
    if engine != "auto":
        raise ManifestError(f"--engine: unknown engine {engine!r}; use numpy, duckdb, spark or auto")
    if table is not None or is_database(src) or is_glob(src):
        return "duckdb"
    if not src.endswith((".parquet", ".pq")):
        return "numpy"
    path = Path(src)
    return "numpy" if path.exists() and path.stat().st_size <= threshold_bytes else "duckdb"


def check_spark_source(source: str | Path, *, label: str = "data.evaluation") -> None:
    """Refuse a DuckDB database file for the Spark engine: Spark cannot open it, and a table name
    found in it would be looked up in Spark's own catalog instead.

    Examples
    --------
    >>> check_spark_source("lake/part-*.parquet")
    >>> check_spark_source("lake.duckdb")
    Traceback (most recent call last):
    ...
    workbench.errors.ManifestError: data.evaluation: lake.duckdb is a DuckDB database, which --engine spark cannot read; Spark reads Parquet files or globs (or tables of its own catalog); use --engine duckdb (or auto)
    """
    if is_database(source):
        raise ManifestError(f"{label}: {Path(source).name} is a DuckDB database, which --engine spark cannot read; "
                            "Spark reads Parquet files or globs (or tables of its own catalog); "
                            "use --engine duckdb (or auto)")


def build_evidence_at_scale(
    source: str | Path,
    *,
    engine: Engine = "auto",
    spec: ScaleSpec,
    table: str | None = None,
    profile: Any = None,
    profile_digest: str | None = None,
    memory_limit: str = "2GB",
    temp_directory: str | Path | None = None,
    spark: Any = None,
    models: dict | None = None,
    margin: float = 0.0,
    progress: Callable[[str], None] | None = None,
    margins: Mapping[str, Margin] | None = None,
) -> dict[str, Any]:
    """The evidence sections of a scored table, computed where the data lives.

    Parameters
    ----------
    source : str or Path
        Parquet file, Parquet glob, or (with ``table``) a DuckDB database file; for Spark a
        Parquet path/glob or, with ``table``, a Spark table name.
    engine : {"auto", "numpy", "duckdb", "spark"}
        ``auto``: :func:`choose_engine` picks one; an engine asked for is checked against the
        source by it. Spark runs only when asked for.
    spec : ScaleSpec
        Columns and settings (:func:`spec_from_manifest` builds it from a manifest).
    profile, profile_digest
        A reference profile (``load_profile``) for drift; its digest is recorded.
    spark : SparkSession, optional
        For ``engine="spark"``; default: a local session (``local_spark_session``).
    models : dict, optional
        Model files to score inside Spark (``_spark_scoring.prepare_models``); Spark only.

    Returns
    -------
    dict
        ``engine``, ``models``, ``deltas``, ``tests``, ``drift``, ``fairness_deltas``, ``plan``,
        ``digest`` and ``timings_s`` (see docs/SCALE.md).
    """
    chosen = choose_engine(source, engine=engine, table=table)
    if models and chosen != "spark":
        raise ManifestError(f"--engine {chosen}: model files are scored by the spark engine only; give score "
                            "columns (predictions) for the other engines")
    t0 = time.perf_counter()
    if chosen == "numpy":
        import pandas as pd

        from workbench.engine._numpy import numpy_aggregates

        frame = pd.read_parquet(source)
        agg = numpy_aggregates(frame, spec, profile=profile, progress=progress)
    elif chosen == "duckdb":
        from workbench.engine._duckdb import duckdb_aggregates

        agg = duckdb_aggregates(source, spec, table=table, profile=profile, memory_limit=memory_limit,
                                temp_directory=temp_directory, progress=progress)
    elif chosen == "spark":
        from workbench.engine._spark import local_spark_session, spark_aggregates

        session = spark if spark is not None else local_spark_session()
        agg = spark_aggregates(session, source, spec, table=table, profile=profile, models=models,
                               progress=progress)
    agg.timings["total"] = time.perf_counter() - t0
    return evidence_from_aggregates(agg, spec, profile=profile, profile_digest=profile_digest, margin=margin,
                                    margins=margins)


def finish_review_evidence(
    ev: dict[str, Any],
    review: ScaleReviewData,
    spec: ScaleSpec,
    *,
    scored_in_spark: Sequence[str] = (),
    table: str | None = None,
    sampled: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Turn :func:`build_evidence_at_scale`'s output into a review's evidence JSON.

    ``review`` is the :class:`~workbench.engine.ScaleReviewData` of the manifest
    (``load_scale_review``): its artefact records (every evaluation file or table, reference,
    model files and registry versions, model card) and ``evidence_digest`` are what `gate`,
    `signoff` and the rest re-derive from the manifest. ``sampled`` (``sample_sections``) adds
    the sections computed on the seeded sample, each saying so. Adds the manifest's header and —
    last, as ``workbench.evidence.build_evidence`` does — ``digest = content_digest(evidence)``.
    ``ev`` is not modified.
    """
    from workbench.canonical import to_jsonable
    from workbench.evidence import SCHEMA_VERSION, content_digest, review_block

    manifest = review.manifest
    artefacts = [a.to_dict() for a in review.artefacts]
    out = {k: v for k, v in ev.items() if k != "digest"}  # the engine's digest leaves the timings out
    out["schema_version"] = SCHEMA_VERSION
    out["review"] = review_block(manifest, **ev["review"], **({"table": table} if table else {}))
    out["models"] = dict(ev["models"])
    out["sections"] = dict(ev["sections"])
    computed = [k for k, v in ev["sections"].items() if v.get("status") != "skipped"]
    out["settings"] = {**ev["settings"], "margin": float(manifest.settings.margin), "ci_method":
                       "poisson_bootstrap_percentile", "include": [*computed, *(sampled["sections"] if sampled else ())]}
    for role in spec.scores:
        entry = getattr(manifest, role)
        kind = "precomputed" if role not in scored_in_spark else f"{entry.kind}, scored in spark"
        out["models"][role] = {**ev["models"][role], "name": entry.name, "version": entry.version, "kind": kind}
    if sampled is not None:
        for role, parts in sampled["models"].items():
            if role in out["models"]:
                out["models"][role].update(parts)
        out["sections"].update(sampled["sections"])
        for key in ("explanations", "operational_deltas", "fairness_proxies"):
            if key in sampled:
                out[key] = sampled[key]
        out["sample"] = sampled["sample"]
    out["artefacts"] = to_jsonable(artefacts)
    out["evidence_digest"] = review.evidence_digest
    out = to_jsonable(out)
    out["digest"] = content_digest(out)
    return out
