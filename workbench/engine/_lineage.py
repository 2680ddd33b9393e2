"""Lineage of a scale review: what the scale engine reads, recorded without loading the table.

The in-memory loader records each data file's rows and pandas schema after reading it whole;
at scale that is the one thing never done. Here every input is recorded from what can be
read cheaply and still binds the evidence to its inputs:

* a Parquet file (one, or each file a glob matches): SHA-256 of its bytes, size, and the row
  count and schema from its footer (columns and ``schema_fingerprint`` of the frame pandas would
  load, so a single file has the in-memory loader's record, and the same evidence digest);
* a DuckDB database: one record per table, whose ``sha256`` is a *content digest* — the row
  count, the (column, type) list and two 128-bit sums of DuckDB's row hash (``hash(t)`` and
  ``hash(t, salt)``) — so rewriting the file without changing a table keeps the lineage, and
  editing, adding or deleting a row changes it. DuckDB's hash is not cryptographic: the digest
  catches every ordinary edit, not a forger who crafts hash collisions (keep Parquet for that);
* the reference and replay files (Parquet footer, or read whole when small and not Parquet);
* model files and registry versions (``workbench.artefacts.load_model`` records: the file the
  Spark workers score, or the registry version recorded beside precomputed scores), the model card.

``evidence_digest = workbench.artefacts.lineage_digest(records, manifest.content())``, the same
rule as in memory, so `gate`, `signoff`, `waive`, `report`, `verify --manifest` and `promote`
re-derive it from the manifest alone (:func:`scale_records`).
"""

from __future__ import annotations

import glob as _glob
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.canonical import digest, sha256_file
from workbench.engine._sources import is_database, is_glob
from workbench.errors import ArtefactError

if TYPE_CHECKING:
    from workbench.artefacts import ArtefactRecord, LoadedModel, Manifest

#: Salt of the second row-hash sum of a DuckDB table's content digest.
_SALT = 7919
#: Bytes recorded for a DuckDB table: its content digest is not a file hash, the file's size is not its content.
TABLE_BYTES = 0


def source_files(source: str | Path, *, label: str = "data.evaluation") -> list[Path]:
    """The files a Parquet path or glob names, sorted; no match is an ``ArtefactError``."""
    src = str(source)
    files = sorted(Path(p) for p in _glob.glob(src)) if is_glob(src) else [Path(src)]
    files = [f for f in files if f.is_file()]
    if not files:
        raise ArtefactError(f"{label}: no file matches {Path(src).name} (paths are relative to the manifest's folder)")
    return files


def parquet_record(role: str, path: Path, display: str, *, sha256: str | None = None) -> ArtefactRecord:
    """SHA-256, size, and rows/columns/schema fingerprint from the Parquet footer (no data read)."""
    import pyarrow.parquet as pq

    from workbench.artefacts import ArtefactRecord

    from workbench.artefacts import schema_fingerprint

    try:
        meta = pq.ParquetFile(path)
        rows = int(meta.metadata.num_rows)
        # the frame pandas would load, without its rows: the in-memory loader's columns and
        # fingerprint, so one Parquet file has the same record (and lineage) on either path
        empty = meta.schema_arrow.empty_table().to_pandas()
    except Exception as exc:  # noqa: BLE001 - a damaged or non-Parquet file: one line naming it
        raise ArtefactError(f"{display}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    return ArtefactRecord(role=role, path=display, sha256=sha256 or sha256_file(path), bytes=path.stat().st_size,
                          format="parquet", rows=rows, columns=int(empty.shape[1]),
                          schema_fingerprint=schema_fingerprint(empty))


def table_content_digest(con: Any, table: str) -> tuple[str, int, int, str]:
    """(content digest, rows, columns, schema fingerprint) of one DuckDB table; one scan."""
    ident = '"' + table.replace('"', '""') + '"'
    cols = con.execute(f"DESCRIBE {ident}").fetchall()
    schema = [[str(c[0]), str(c[1])] for c in cols]
    rows, h1, h2 = con.execute(f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0), "
                               f"coalesce(sum(hash(t, {_SALT})::HUGEINT), 0) FROM {ident} t").fetchone()
    fingerprint = digest(schema)
    content = digest({"table": table, "rows": int(rows), "schema": fingerprint, "row_hash_sums": [str(h1), str(h2)]})
    return content, int(rows), len(schema), fingerprint


def database_records(path: Path, display: str, *, role: str = "evaluation") -> list[ArtefactRecord]:
    """One record per table of a DuckDB database (every table: the review may read any of them)."""
    import duckdb

    from workbench.artefacts import ArtefactRecord

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ArtefactError(f"{display}: DuckDB cannot open it ({exc})") from None
    try:
        con.execute("SET enable_progress_bar = false")
        tables = sorted(r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall())
        out = []
        for table in tables:
            content, rows, columns, fingerprint = table_content_digest(con, table)
            out.append(ArtefactRecord(role=role, path=f"{display}#{table}", sha256=content, bytes=TABLE_BYTES,
                                      format="duckdb_table", rows=rows, columns=columns, schema_fingerprint=fingerprint))
        return out
    finally:
        con.close()


def evaluation_records(source: str | Path, *, display_root: Path | None = None,
                       label: str = "data.evaluation") -> list[ArtefactRecord]:
    """The lineage of the evaluation data as the scale engine reads it (see the module docstring).

    Files are hashed on two threads (hashlib releases the GIL): the cost is reading the bytes once.
    ``display_root``: paths are recorded relative to it (the manifest's folder), else by name.
    """
    src = str(source)

    def shown(p: Path) -> str:
        if display_root is not None and p.resolve().is_relative_to(display_root.resolve()):
            return p.resolve().relative_to(display_root.resolve()).as_posix()
        return p.name

    if is_database(src):
        path = Path(src)
        if not path.is_file():
            raise ArtefactError(f"{label}: DuckDB database not found: {path.name}")
        return database_records(path, shown(path))
    files = source_files(src, label=label)
    with ThreadPoolExecutor(max_workers=2) as pool:
        hashes = list(pool.map(sha256_file, files))
    return [parquet_record("evaluation", f, shown(f), sha256=h) for f, h in zip(files, hashes)]


def data_file_record(role: str, path: Path, display: str) -> ArtefactRecord:
    """A reference or replay file: Parquet from its footer; another format read (it is small)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return parquet_record(role, path, display)
    from workbench.artefacts import data_record, read_table

    return data_record(role, path, display, read_table(path, label=f"data.{role} ({display})"))


def scale_records(manifest: Manifest, source: str | Path, *, models: Mapping[str, LoadedModel] | None = None,
                  progress: Callable[[str], None] | None = None) -> list[ArtefactRecord]:
    """Every artefact record of a scale review, in the order the evidence lists them.

    ``models``: the loaded models (their ``record``: model file or registry version); default:
    loaded here with the secure loader. The reference is recorded when its file exists (a
    stored profile may stand in for a missing one; see docs/SCALE.md "Lineage").
    """
    from workbench.artefacts import document_records

    say = progress or (lambda _m: None)
    say(f"hashing the evaluation data ({Path(str(source)).name})")
    records = evaluation_records(source, display_root=manifest.base_dir,
                                 label=f"{manifest.display_file}: data.evaluation")
    for key in ("reference", "replay"):
        rel = getattr(manifest.data, key)
        if rel is not None and manifest.resolve(rel).is_file():
            records.append(data_file_record(key, manifest.resolve(rel), rel.as_posix()))
    if models is None:
        models = load_models(manifest)
    records += [m.record for m in models.values() if m.record is not None]
    return records + document_records(manifest)


def load_models(manifest: Manifest, *, untrusted: bool = False) -> dict[str, LoadedModel]:
    """The manifest's models through the secure loader (precomputed scores load as their column)."""
    from workbench.artefacts import load_model

    out = {}
    for role in ("candidate", "baseline"):
        entry = getattr(manifest, role)
        if entry is None:
            continue
        out[role] = load_model(entry, role=role, base_dir=manifest.base_dir, task=manifest.task,
                               features=tuple(manifest.features or ()), positive_label=manifest.positive_label,
                               manifest_label=manifest.display_file, untrusted=untrusted,
                               registry_uri=manifest.registry_uri)
    return out


def scale_evidence_digest(manifest: Manifest, records: Sequence[ArtefactRecord]) -> str:
    """The evidence digest of a scale review: ``lineage_digest`` of its records and the manifest content."""
    from workbench.artefacts import lineage_digest

    return lineage_digest(records, manifest.content())


def _key(a: Mapping[str, Any]) -> tuple[str, str]:
    role = str(a.get("role"))
    # data files are told apart by path (a glob's files), models and documents by role
    return (role, str(a.get("path"))) if role in ("evaluation", "reference", "replay") else (role, "")


def artefact_changes(reviewed: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]]) -> list[str]:
    """What changed between the artefacts an evidence file records and those on disk now, one line each.

    Examples
    --------
    >>> old = [{"role": "evaluation", "path": "part-0.parquet", "sha256": "a" * 64, "rows": 10}]
    >>> new = [{"role": "evaluation", "path": "part-0.parquet", "sha256": "b" * 64, "rows": 10},
    ...        {"role": "evaluation", "path": "part-1.parquet", "sha256": "c" * 64, "rows": 5}]
    >>> artefact_changes(old, new)
    ['evaluation part-0.parquet changed since the review (sha256 bbbbbbbbbbbb… ≠ aaaaaaaaaaaa…)', 'evaluation part-1.parquet was added after the review (5 rows)']
    """
    def kept(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {_key(a): {k: v for k, v in a.items() if v is not None} for a in items
                if isinstance(a, Mapping) and a.get("role") != "policy"}

    before, after = kept(reviewed), kept(current)
    out = []
    data_first = {"evaluation": 0, "reference": 1, "replay": 2}
    for key in sorted(set(before) | set(after), key=lambda k: (data_first.get(k[0], 3), k)):
        b, a = before.get(key), after.get(key)
        what = f"{key[0]} {key[1]}".strip() if key[1] else f"{key[0]} {(a or b or {}).get('path', '')}".strip()
        if b is None:
            rows = a.get("rows") if a else None
            out.append(f"{what} was added after the review" + (f" ({rows} rows)" if rows is not None else ""))
        elif a is None:
            out.append(f"{what} is no longer there (the review read it)")
        elif b.get("sha256") != a.get("sha256"):
            out.append(f"{what} changed since the review (sha256 {str(a.get('sha256'))[:12]}… ≠ "
                       f"{str(b.get('sha256'))[:12]}…)")
        elif {k: v for k, v in b.items() if k != "path"} != {k: v for k, v in a.items() if k != "path"}:
            out.append(f"{what}: recorded differently than now (rows, schema or size)")
    return out


__all__ = ["TABLE_BYTES", "artefact_changes", "data_file_record", "database_records", "evaluation_records",
           "load_models", "parquet_record", "scale_evidence_digest", "scale_records", "source_files",
           "table_content_digest"]
