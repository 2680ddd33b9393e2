"""`workbench review MANIFEST --out evidence.json`: compute the evidence JSON.

``--engine auto|numpy|duckdb|spark``: large, globbed or DuckDB-database evaluation data with
precomputed score columns runs on the scale engine (``workbench.engine``), which never reads
the table into memory; everything else keeps the in-memory evidence path
(``workbench.evidence.build_evidence``). See docs/SCALE.md.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.cli._common import add_keys_option, keys_dir, progress
from workbench.errors import ArtefactError, ManifestError

if TYPE_CHECKING:
    from workbench.artefacts import Manifest

ENGINES = ("auto", "numpy", "duckdb", "spark")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "review",
        help="compute the evidence JSON of a review (progress on stderr)",
        description="Load the manifest's models and data, compute metrics with bootstrap CIs, "
        "calibration, paired candidate-vs-baseline tests, drift and fairness, and write the evidence JSON. "
        "Large Parquet files, Parquet globs and DuckDB databases with precomputed score columns run on "
        "the scale engine (DuckDB, spills to disk; or Spark when asked).",
    )
    p.add_argument("manifest", type=Path, help="review manifest (review.yaml)")
    p.add_argument("--out", type=Path, required=True, help="where to write the evidence JSON")
    add_keys_option(p)
    p.add_argument("--bootstrap", type=int, default=None, metavar="N", help="bootstrap replicates (default: manifest settings, 1000)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: manifest settings, 0)")
    p.add_argument("--skip", default="", metavar="SECTIONS",
                   help="comma-separated sections to skip: metrics, calibration, drift, fairness, "
                   "operational, robustness, slices, explanations (in-memory engine only)")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto (default): in memory for one small file, DuckDB for globs, DuckDB databases and "
                   "large files; spark only when asked")
    p.add_argument("--memory-limit", default="2GB", metavar="SIZE", help="DuckDB memory limit (default 2GB); spills beyond it")
    p.add_argument("--table", default=None, help="table name when data.evaluation is a DuckDB database "
                   "(default: its only table)")
    p.add_argument("--reference-profile", type=Path, default=None, metavar="PATH",
                   help="stored reference profile (JSON) for drift on the scale engine; default: built from data.reference")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from workbench.engine import choose_engine, is_glob
    from workbench.evidence import SECTIONS
    from workbench.artefacts import check_files, load_manifest

    skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    unknown = sorted(set(skip) - set(SECTIONS))
    if unknown:
        raise ManifestError(f"--skip: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    if args.bootstrap is not None and not 0 <= args.bootstrap <= 100_000:
        raise ManifestError(f"--bootstrap must be between 0 and 100000, got {args.bootstrap}")
    if args.seed is not None and not 0 <= args.seed < 2**64:
        raise ManifestError(f"--seed must be between 0 and 2**64-1, got {args.seed}")
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*[KMGT]?i?B\s*", args.memory_limit, flags=re.IGNORECASE):
        raise ManifestError(f"--memory-limit: {args.memory_limit!r} is not a size; use e.g. 2GB or 512MB")
    manifest = load_manifest(args.manifest, check_files=False)  # a glob is not a file: checked below
    overrides = {k: v for k, v in (("n_bootstrap", args.bootstrap), ("seed", args.seed)) if v is not None}
    if overrides:  # before loading, so the evidence digest covers the settings actually used
        manifest = manifest.model_copy(update={"settings": manifest.settings.model_copy(update=overrides)})
    source = str(manifest.resolve(manifest.data.evaluation))
    # The rule of docs/SCALE.md ("Wiring"), decided once; numpy is the in-memory path.
    engine = choose_engine(source, engine=args.engine, label=f"{manifest.display_file}: data.evaluation")
    # Every named file must exist, but a glob is expanded by the scale engine (no match is its
    # error), and there a stored --reference-profile stands in for data.reference.
    unchecked = ["data.evaluation"] if is_glob(source) else []
    if engine != "numpy" and args.reference_profile is not None:
        unchecked.append("data.reference")
    check_files(manifest, skip=unchecked)
    if engine == "numpy":
        evidence = _in_memory_evidence(manifest, [s for s in SECTIONS if s not in skip])
    else:
        evidence = _scale_evidence(manifest, source, engine, args)
    from workbench.serverkey import load_server_key

    key = load_server_key(keys_dir(args))
    if key is not None:  # the gate trusts only evidence signed with the server key
        from workbench.evidence import sign_evidence

        evidence = sign_evidence(evidence, key)
    else:
        progress("no server key ($WORKBENCH_KEYS or ~/.workbench/keys): the evidence is unsigned, so "
                 "`workbench gate --evidence` will decide at best PENDING with it")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(evidence, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    progress(f"wrote {args.out} (engine {evidence['engine']}, digest {evidence['digest'][:12]}, "
             f"evidence digest {evidence['evidence_digest'][:12]})")
    return 0


def _in_memory_evidence(manifest: Manifest, include: list[str]) -> dict[str, Any]:
    from workbench.artefacts import load_review
    from workbench.evidence import build_evidence
    from workbench.policy import evidence_margins, manifest_policy

    review = load_review(manifest, progress=progress)
    # the deltas are read against the margins the manifest's policy states: one source for "not worse"
    return build_evidence(review, include=include, progress=progress,
                          margins=evidence_margins(manifest_policy(manifest)))


def _scale_evidence(manifest: Manifest, source: str, engine: Literal["duckdb", "spark"],
                    args: argparse.Namespace) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from workbench.engine import (
        ScaleReviewData,
        finish_review_evidence,
        is_database,
        load_scale_review,
        sample_sections,
        source_files,
        spec_from_manifest,
    )

    spec = spec_from_manifest(manifest, score_models=engine == "spark")
    models = {}
    if engine == "spark":
        from workbench.engine import prepare_models

        models = prepare_models(manifest)
    if engine == "spark" and not spec.id_column:
        raise ManifestError(f"{manifest.display_file}: id_column: the spark engine needs a unique row key "
                            "(hashed into the bootstrap weights); name it with id_column")
    if not is_database(source):
        files = source_files(source, label=f"{manifest.display_file}: data.evaluation")
    if args.table is not None and not is_database(source):
        raise ManifestError(f"--table {args.table}: data.evaluation ({Path(source).name}) is not a DuckDB database; "
                            "--table picks a table of a .duckdb/.db file, drop it for Parquet files")
    table = None
    if is_database(source):  # the table to read, recorded in the evidence: --table, else its only one
        from workbench.engine import database_table

        table = database_table(source, args.table, label=f"{manifest.display_file}: data.evaluation")
    # The lineage (what `gate`, `signoff` and the rest re-derive) and the seeded sample the
    # model-dependent sections run on. DuckDB on Parquet: on a second thread while the engine scans (SHA-256
    # and DuckDB release the GIL); every evaluation file's size and mtime are taken before both
    # start and checked after both end, so the records describe the bytes the engine read.
    stamps = {} if is_database(source) else _stamps(files)
    timings: dict[str, float] = {}

    def lineage() -> ScaleReviewData:
        started = time.perf_counter()
        review = load_scale_review(manifest, progress=progress)
        timings["lineage_and_sample"] = time.perf_counter() - started
        return review

    with ThreadPoolExecutor(max_workers=1) as pool:
        # (a DuckDB database is read by one connection at a time; Spark keeps the order it had)
        pending = pool.submit(lineage) if engine == "duckdb" and stamps else None
        review = lineage() if pending is None else None
        try:
            ev = _engine_evidence(manifest, source, engine, args, spec, table, models,
                                  "a DuckDB table" if table is not None else f"{len(files)} file(s)")
        except BaseException:
            if pending is not None and pending.exception() is not None:  # its error names the file: first
                raise pending.exception() from None  # type: ignore[misc]  # not None: checked
            raise
        review = review if pending is None else pending.result()
    changed = [f.name for f, stamp in _stamps(list(stamps)).items() if stamp != stamps[f]]
    if changed:
        raise ArtefactError(f"{manifest.display_file}: data.evaluation {', '.join(changed)} changed while the "
                            "review read it; re-run workbench review")
    assert isinstance(review, ScaleReviewData)
    progress(f"slices, operational, robustness and explanations on a seeded sample of {review.sample['rows']:,} rows")
    started = time.perf_counter()
    sampled = sample_sections(review, progress=progress)
    timings["sample_sections"] = time.perf_counter() - started
    ev["timings_s"] = {**ev.get("timings_s", {}), **{k: round(v, 4) for k, v in timings.items()}}
    return finish_review_evidence(ev, review, spec, scored_in_spark=tuple(models), table=table, sampled=sampled)


def _stamps(files: list[Path]) -> dict[Path, tuple[int, int]]:
    out = {}
    for f in files:
        st = f.stat()
        out[f] = (st.st_size, st.st_mtime_ns)
    return out


def _engine_evidence(manifest: Manifest, source: str, engine: Literal["duckdb", "spark"], args: argparse.Namespace,
                     spec: Any, table: str | None, models: dict[str, Any], what: str) -> dict[str, Any]:
    from workbench.engine import build_evidence_at_scale, build_profile, load_profile, profile_digest

    profile = prof_digest = None
    if spec.features:
        if args.reference_profile is not None:
            profile, prof_digest = load_profile(args.reference_profile)
        elif manifest.data.reference is not None:
            ref = manifest.resolve(manifest.data.reference)  # checked to exist by _run
            progress(f"profiling the reference {ref.name} ({len(spec.features)} features)")
            profile = build_profile(ref, features=list(spec.features), n_bins=manifest.settings.drift_bins)
            prof_digest = profile_digest(profile)
    from workbench.policy import evidence_margins, manifest_policy

    progress(f"scale engine ({engine}) on {what}, {spec.n_boot} bootstrap replicates")
    return build_evidence_at_scale(source, engine=engine, spec=spec, table=table, profile=profile,
                                   profile_digest=prof_digest, memory_limit=args.memory_limit, models=models or None,
                                   margin=manifest.settings.margin, progress=progress,
                                   margins=evidence_margins(manifest_policy(manifest)))
