"""A scale review opened for a decision: lineage from what the engine reads, rows from a seeded sample.

``open_review(manifest)`` is what `gate`, `signoff`, `waive`, `countersign`, `report`,
`verify --manifest` and `promote` load: for a manifest the in-memory loader serves (one small
file) it is ``workbench.artefacts.load_review``; for one the scale engine serves (a Parquet glob,
a DuckDB database, a Parquet file over 256 MiB: ``choose_engine(..., engine="auto")``) it is a
:class:`ScaleReviewData` whose lineage and ``evidence_digest`` are those the scale review wrote
(``workbench.engine._lineage``), and whose ``evaluation`` frame is a documented, seeded sample
of rows (:func:`sample_rows`): what the sections that need rows or the model itself — slices,
operational, robustness, explanations, the PII scan — run on at this scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.artefacts import ReviewData
from workbench.engine._lineage import load_models, scale_evidence_digest, scale_records
from workbench.engine._sources import is_database, is_glob
from workbench.errors import ArtefactError, DataError, ManifestError

if TYPE_CHECKING:
    from workbench.artefacts import Manifest

#: Rows of the seeded sample the model-dependent sections run on at scale.
SAMPLE_ROWS = 100_000
#: How the sample is drawn, as the evidence and the packet state it.
SAMPLE_METHOD = ("the rows with the smallest hash(row key, seed) (DuckDB's 64-bit hash; row key = id_column, "
                 "else file and row number): a uniform random sample without replacement, the same rows on "
                 "every run and engine for the same data and seed")


@dataclass
class ScaleReviewData(ReviewData):
    """A ``ReviewData`` of a scale review: ``evaluation`` (and reference/replay) are seeded samples.

    ``sample`` records ``rows``, ``of`` (the rows of the whole evaluation data), ``seed`` and ``method``.
    """

    sample: dict[str, Any] = field(default_factory=dict)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation(con: Any, source: str, needed: tuple[str, ...]) -> tuple[str, str]:
    """(FROM clause, row key expression when no id column) of a Parquet file/glob or a database table."""
    if is_database(source):
        con.execute(f"ATTACH {_quote(source)} AS wb_src (READ_ONLY)")
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'wb_src' "
            "AND table_type = 'BASE TABLE'").fetchall()]
        if len(tables) > 1:  # several tables: the one holding the review's columns
            fits = [t for t in tables if set(needed) <= {r[0] for r in con.execute(
                f"DESCRIBE wb_src.{_ident(t)}").fetchall()}]
            tables = fits if len(fits) == 1 else tables
        if len(tables) != 1:
            raise ArtefactError(f"{Path(source).name}: {len(tables)} tables ({', '.join(sorted(tables)) or 'none'}) "
                                "and not exactly one holds the review's columns; keep the reviewed table alone in "
                                "its database")
        return f"wb_src.{_ident(tables[0])}", "rowid"
    return (f"read_parquet({_quote(source)}, filename = true, file_row_number = true)",
            "hash(filename)::HUGEINT * 1099511627776 + file_row_number")


def sample_rows(source: str | Path, n: int, *, seed: int, id_column: str | None = None,
                needed: tuple[str, ...] = ()) -> tuple[pd.DataFrame, int]:
    """(a seeded sample of ``n`` rows, the number of rows in ``source``), read by DuckDB.

    The sample is the ``n`` rows with the smallest ``hash(key, seed)`` (ties by key): uniform
    without replacement, independent of file order and thread count. ``needed`` columns must exist.
    """
    import duckdb

    src = str(source)
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        rel, default_key = _relation(con, src, needed)
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        missing = [c for c in needed if c not in columns]
        if missing:
            raise DataError(f"{Path(src).name}: column(s) not in the data: {', '.join(missing)}")
        if id_column is not None and id_column not in columns:
            raise DataError(f"{Path(src).name}: id_column {id_column!r} is not in the data")
        key = _ident(id_column) if id_column else default_key
        keep = [c for c in columns if c not in ("filename", "file_row_number")] if not is_database(src) else columns
        select = ", ".join(_ident(c) for c in keep)
        (count,) = con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0]
        total = int(count)
        h = f"hash({key}, {int(seed) % 2**63}::UBIGINT)"
        order = f"ORDER BY {h}, {key} LIMIT {int(n)}"
        # The n smallest hashes lie below a threshold that n + 6 sd + 100 of the rows pass in
        # expectation: DuckDB then decodes only the key column of every row and the other
        # columns of the rows that pass (5.8 s instead of 29 s at 5M rows × 26 columns). Fewer
        # than n passing (P ≈ 1e-9) falls back to the unfiltered order: the same rows either way.
        share = (n + 6 * n ** 0.5 + 100) / max(total, 1)
        frame = None
        if n and share < 1:
            cut = int(share * 2**64)
            frame = con.execute(f"SELECT {select} FROM (SELECT * FROM {rel} WHERE {h} < {cut}::UBIGINT) "
                                f"{order}").df()
        if frame is None or len(frame) < min(n, total):
            frame = con.execute(f"SELECT {select} FROM {rel} {order}").df()
    except duckdb.Error as exc:
        raise ArtefactError(f"{Path(src).name}: DuckDB cannot read it ({type(exc).__name__}: {exc})") from None
    finally:
        con.close()
    return frame, total


def is_scale_manifest(manifest: Manifest) -> bool:
    """Whether the scale engine (not the in-memory loader) reads this manifest's evaluation data."""
    from workbench.engine._scale import choose_engine

    return choose_engine(str(manifest.resolve(manifest.data.evaluation)), engine="auto") != "numpy"


def open_review(manifest: Manifest | str | Path, *, progress: Callable[[str], None] | None = None,
                untrusted: bool = False, sample: int = SAMPLE_ROWS) -> ReviewData:
    """The review a decision, sign-off, packet or promotion is about (see the module docstring).

    ``sample``: rows of the seeded sample of a scale review; 0 for a caller that needs only its
    lineage (a sign-off, a waiver, a packet, `verify --manifest`): then no rows are read.

    Examples
    --------
    >>> open_review("no/such/review.yaml")
    Traceback (most recent call last):
    ...
    workbench.errors.ManifestError: no/such/review.yaml: manifest not found (pass the path of a review.yaml)
    """
    from workbench.artefacts import check_files, load_manifest, load_review

    m = manifest if not isinstance(manifest, (str, Path)) else load_manifest(manifest, check_files=False)
    source = str(m.resolve(m.data.evaluation))
    scale = is_scale_manifest(m)
    if scale and untrusted:
        raise ManifestError(f"{m.display_file}: data.evaluation is read by the scale engine; a scale review is "
                            "opened by the operator's CLI (`workbench gate`), not from an uploaded manifest")
    if not scale:
        check_files(m)
        return load_review(m, progress=progress, untrusted=untrusted)
    # a glob is expanded by the engine; a stored reference profile may stand in for a missing
    # reference file (the lineage records the reference only when it exists, as `review` did)
    check_files(m, skip=[*(["data.evaluation"] if is_glob(source) else []), "data.reference"])
    return load_scale_review(m, progress=progress, sample=sample)


def _classes(frame: pd.DataFrame, manifest: Manifest, distinct: list[Any]) -> tuple[np.ndarray, tuple[Any, Any]]:
    pos = manifest.positive_label

    def matches(values: Any) -> Any:
        exact = values == pos
        return exact if np.any(exact) else values.astype(str) == str(pos)

    y = frame[manifest.target]
    if y.isna().any():
        raise DataError(f"{manifest.display_file}: target {manifest.target!r} has missing labels in the sample")
    others = [v for v in distinct if str(v) != str(pos)]
    negative = others[0] if others else None
    return np.asarray(matches(y), dtype=int), (negative, pos)


def load_scale_review(manifest: Manifest, *, progress: Callable[[str], None] | None = None,
                      sample: int = SAMPLE_ROWS, models: dict[str, Any] | None = None) -> ScaleReviewData:
    """Lineage of every input (``scale_records``) and a seeded sample of the evaluation rows."""
    from workbench.artefacts import check_scores

    say = progress or (lambda _m: None)
    m = manifest
    if m.task != "binary":
        raise ManifestError(f"{m.display_file}: task: the scale engine runs binary reviews, not {m.task}")
    source = str(m.resolve(m.data.evaluation))
    models = load_models(m) if models is None else models
    records = scale_records(m, source, models=models, progress=say)
    seed = int(m.settings.seed)
    needed = tuple(dict.fromkeys([m.target, *m.sensitive_features, *(m.features or ()),
                                  *(e.predictions for e in (m.candidate, m.baseline) if e is not None and e.predictions)]))
    if sample:
        say(f"drawing a seeded sample of {sample:,} evaluation rows")
    frame, total = sample_rows(source, sample, seed=seed, id_column=m.id_column, needed=needed)
    if sample and not total:  # nothing to decide on (the in-memory loader refuses empty columns alike)
        raise DataError(f"{m.display_file}: data.evaluation {m.data.evaluation}: no rows to review")
    distinct = frame[m.target].dropna().unique().tolist()
    y_true, classes = _classes(frame, m, distinct)
    excluded = {m.target, *m.sensitive_features, m.id_column, m.replay.timestamp_column,
                *(e.predictions for e in (m.candidate, m.baseline) if e is not None and e.predictions)}
    features = tuple(m.features) if m.features else tuple(c for c in frame.columns if c not in excluded)
    for role, model in models.items():
        if not model.is_precomputed and len(frame):
            check_scores(model.predict_scores(frame.iloc[:256]), task=m.task, role=role, frame=frame.iloc[:256],
                         id_column=m.id_column, label=m.display_file)
    others: dict[str, pd.DataFrame | None] = {}
    for key in ("reference", "replay"):
        rel = getattr(m.data, key)
        path = m.resolve(rel) if rel is not None else None
        others[key] = None
        if sample and path is not None and path.is_file() and path.suffix.lower() in (".parquet", ".pq"):
            others[key] = sample_rows(path, sample, seed=seed)[0]
    info = {"rows": int(len(frame)), "of": total, "seed": seed, "method": SAMPLE_METHOD}
    return ScaleReviewData(manifest=m, evaluation=frame, reference=others["reference"], replay=others["replay"],
                           features=features, y_true=y_true, classes=classes, models=dict(models),
                           artefacts=records, evidence_digest=scale_evidence_digest(m, records), sample=info)


#: The sections computed on the sample at scale (the aggregates cover the rest on every row).
SAMPLE_SECTIONS = ("operational", "robustness", "slices", "explanations")


def sample_sections(review: ScaleReviewData, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The evidence parts of :data:`SAMPLE_SECTIONS`, computed in memory on the review's sample.

    Returns ``{"models": {role: {section: ...}}, "sections": {...}, "explanations"?,
    "operational_deltas"?, "fairness_proxies"?, "sample": {...}}``; every section's status says
    it ran on the sample (``sample_rows``); the proxy associations of the sensitive features too.
    """
    from workbench.evidence import build_evidence

    ev = build_evidence(review, include=list(SAMPLE_SECTIONS), progress=progress)
    info = dict(review.sample, sections=list(SAMPLE_SECTIONS))
    out: dict[str, Any] = {"models": {}, "sections": {}, "sample": info}
    for role, block in ev.get("models", {}).items():
        out["models"][role] = {k: block[k] for k in SAMPLE_SECTIONS if k in block}
    for name in SAMPLE_SECTIONS:
        status = dict(ev["sections"].get(name, {"status": "skipped"}))
        status["sample_rows"] = info["rows"]
        out["sections"][name] = status
    for key in ("explanations", "operational_deltas"):
        if key in ev:
            out[key] = ev[key]
    sens = [f for f in review.sensitive_features if f in review.evaluation.columns]
    if sens:  # proxies need the feature rows: the same sample
        from workbench.fairness import proxy_associations

        inputs = [f for f in dict.fromkeys(review.features) if f in review.evaluation.columns]
        out["fairness_proxies"] = proxy_associations(review.evaluation, inputs, sens)
    return out


__all__ = ["SAMPLE_METHOD", "SAMPLE_ROWS", "SAMPLE_SECTIONS", "ScaleReviewData", "is_scale_manifest",
           "load_scale_review", "open_review", "sample_rows", "sample_sections"]
