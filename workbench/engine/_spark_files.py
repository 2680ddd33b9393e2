"""The Spark plan's passes reading Parquet row groups with pyarrow in the Python workers.

Spark's own read turns every row into JVM objects and then into Arrow for the Python workers
(``mapInArrow``): at 10M rows that conversion was ≈ 40 of the 48.5 s of the partials pass's
≈ 25 columns. When the source is Parquet files, the workers can read the row groups
themselves: Spark then only distributes the tasks (``spark.range(n, numPartitions=n)``, one
task id per partition), and each task reads the columns it needs from its row groups with
pyarrow and computes, batch by batch, exactly the columns the SQL projection would give
(``y``, ``s_i``, the cell key ``c``, the bucket ``u``, the drift features ``v_j``):

* ``y = CAST(coalesce(label = positive_label, FALSE) AS INTEGER)``, ``s_i = CAST(score AS
  DOUBLE)``, ``v_j = TRY_CAST(feature AS DOUBLE)`` for the column types where pyarrow's
  comparison and casts are Spark's (integers, floats; booleans and strings for the label);
* the bootstrap bucket ``pmod(xxhash64(id) ^ seed, M)`` with Spark's xxhash64 of an integer
  id (:func:`spark_xxhash64`, bit for bit: the same buckets, so the same bootstrap);
* the sensitive cells keyed by a hash of their values, the values themselves shipped in the
  partition's partial (no JVM scan for them afterwards).

Anything else — tables and views, models scored inside Spark, non-``file:`` URIs, partition
columns, types outside that list, files that disagree on a column's type — keeps the JVM read
(:func:`parquet_source` returns None). The workers read the paths Spark lists
(``inputFiles``): on a cluster they must see the same files at the same paths (a shared
filesystem).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

#: Spark SQL type name -> the pyarrow types its Parquet columns are read as here.
_SPARK_TO_ARROW = {"tinyint": ("int8",), "smallint": ("int16",), "int": ("int32",), "bigint": ("int64",),
                   "float": ("float",), "double": ("double",), "boolean": ("bool",),
                   "string": ("string", "large_string")}
_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double")

_P1, _P2, _P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_P4, _P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _fmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(_P2)
    h = h ^ (h >> np.uint64(29))
    h = h * np.uint64(_P3)
    return h ^ (h >> np.uint64(32))


def spark_xxhash64(values: np.ndarray, *, long: bool, seed: int = 42) -> np.ndarray:
    """Spark's ``xxhash64`` of one integer column (``XXH64.hashLong`` for bigint, ``hashInt``
    for int, smallint and tinyint), as int64. Nulls are the caller's (Spark returns the seed).

    Examples
    --------
    >>> int(spark_xxhash64(np.array([0]), long=True)[0]), int(spark_xxhash64(np.array([0]), long=False)[0])
    (-5252525462095825812, 3614696996920510707)
    """
    with np.errstate(over="ignore"):
        x = np.asarray(values).astype(np.int64).view(np.uint64)
        if long:
            h = np.full(x.shape, (seed + _P5 + 8) % 2**64, np.uint64)
            k = _rotl(x * np.uint64(_P2), 31) * np.uint64(_P1)
            h = _rotl(h ^ k, 27) * np.uint64(_P1) + np.uint64(_P4)
        else:
            h = np.full(x.shape, (seed + _P5 + 4) % 2**64, np.uint64)
            h = h ^ ((x & np.uint64(0xFFFFFFFF)) * np.uint64(_P1))
            h = _rotl(h, 23) * np.uint64(_P2) + np.uint64(_P3)
        return _fmix(h).view(np.int64)


@dataclass(frozen=True)
class ParquetSource:
    """What the workers read: the row groups of each task and how to project the columns
    (pickled into the task closure)."""

    tasks: tuple[tuple[tuple[str, tuple[int, ...]], ...], ...]  # per task: (path, row groups) pairs
    label: str
    positive_label: Any
    scores: tuple[str, ...]
    sensitive: tuple[str, ...]
    id_column: str | None
    id_long: bool  # bigint id (hashLong) or a narrower integer (hashInt)
    row_key_seed: int  # the int64 the row key is XORed with (Dialect.row_key)
    features: tuple[str, ...]  # the drift features v_j of the partials pass
    batch_rows: int


class CellKeys:
    """Sensitive cells of the rows one worker reads: a 64-bit key per distinct combination of
    values (a hash of their JSON), and each key's values for the driver."""

    def __init__(self) -> None:
        self.by_json: dict[str, int] = {}

    def keys(self, columns: list[Any]) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        dictionaries, codes = [], []
        for col in columns:  # 0 = null, 1.. = the dictionary's values
            enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
            dictionaries.append([None, *enc.dictionary.to_pylist()])
            codes.append(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1)
        if np.prod([float(len(d)) for d in dictionaries]) < 2.0**62:  # one mixed-radix code per row
            code = np.zeros(len(codes[0]), np.int64)
            for d, c in zip(dictionaries, codes, strict=True):
                code = code * len(d) + c
            used, inverse = np.unique(code, return_inverse=True)
            rows = np.zeros((used.size, len(codes)), np.int64)
            for j in range(len(codes) - 1, -1, -1):
                used, rows[:, j] = np.divmod(used, len(dictionaries[j]))
        else:
            rows, inverse = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
        keys = np.array([self.key(json.dumps([d[r] for d, r in zip(dictionaries, row, strict=True)]))
                         for row in rows.tolist()], dtype=np.int64)
        return keys[inverse.ravel()]

    def key(self, text: str) -> int:
        key = self.by_json.get(text)
        if key is None:
            key = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)
            self.by_json[text] = key
        return key

    def arrays(self) -> dict[str, np.ndarray]:
        """The key -> values table as one JSON text (no pickle in the partial)."""
        table = {str(k): json.loads(t) for t, k in self.by_json.items()}
        return {"cell_values": np.array(json.dumps(table))}


def cell_table(arrays: dict[str, np.ndarray]) -> dict[int, str]:
    """The key -> values JSON of one partial's ``cell_values`` (empty without it)."""
    if "cell_values" not in arrays:
        return {}
    return {int(k): json.dumps(v) for k, v in json.loads(str(arrays.pop("cell_values"))).items()}


def read_batches(source: ParquetSource, task: int, layout: tuple[tuple[Any, ...], ...],
                 cells: CellKeys | None = None) -> Iterator[Any]:
    """The task's row groups as record batches of ``layout``: ``("y",)``, ``("s", i)``,
    ``("c",)``, ``("u", buckets)``, ``("v", j)``, computed as the SQL projection computes them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    needed: list[str] = []
    for item in layout:
        names = {"y": [source.label], "s": [source.scores[item[-1]]] if item[0] == "s" else [],
                 "c": list(source.sensitive), "u": [source.id_column], "v": [source.features[item[-1]]]
                 if item[0] == "v" else []}[item[0]]
        needed += [n for n in names if n is not None and n not in needed]
    for path, groups in source.tasks[task]:
        with pq.ParquetFile(path) as f:
            for batch in f.iter_batches(batch_size=source.batch_rows, row_groups=list(groups), columns=needed,
                                        use_threads=False):
                if batch.num_rows:
                    yield pa.RecordBatch.from_arrays([_column(source, batch, item, cells) for item in layout],
                                                     names=[f"{item[0]}{item[-1]}" for item in layout])


def _column(source: ParquetSource, batch: Any, item: tuple[Any, ...], cells: CellKeys | None) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    def plain(name: str) -> Any:  # a dictionary-encoded (categorical) column as its values
        col = batch.column(name)
        return col.dictionary_decode() if pa.types.is_dictionary(col.type) else col

    kind = item[0]
    if kind == "y":
        eq = pc.equal(plain(source.label), pa.scalar(source.positive_label))
        return pc.cast(pc.fill_null(eq, False), pa.int32())
    if kind in ("s", "v"):
        name = source.scores[item[1]] if kind == "s" else source.features[item[1]]
        return pc.cast(plain(name), pa.float64(), safe=False)
    if kind == "c":
        assert cells is not None
        return pa.array(cells.keys([batch.column(n) for n in source.sensitive]))
    ids = plain(source.id_column)  # type: ignore[arg-type]  # set when u is in the layout
    h = spark_xxhash64(pc.fill_null(ids, 0).to_numpy(zero_copy_only=False), long=source.id_long)
    if ids.null_count:  # xxhash64(NULL) is its seed
        h = np.where(pc.is_null(ids).to_numpy(zero_copy_only=False), np.int64(42), h)
    return pa.array(np.mod(h ^ np.int64(source.row_key_seed), np.int64(item[1])).astype(np.int32))


def parquet_source(spark: Any, frame: Any, spec: Any, features: list[str], *, batch_rows: int,
                   tasks_per_core: int = 2) -> ParquetSource | None:
    """The :class:`ParquetSource` of ``frame`` (a ``spark.read.parquet``) when the workers can read
    its files themselves with the same result as the SQL projection; otherwise None."""
    import pyarrow.parquet as pq

    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    label_type = types.get(spec.label)
    lit = spec.positive_label
    if isinstance(lit, (bool, np.bool_)):
        label_ok = label_type == "boolean"
    elif isinstance(lit, (int, np.integer)) or (isinstance(lit, (float, np.floating)) and np.isfinite(lit)):
        label_ok = label_type in _NUMERIC
    else:
        label_ok = isinstance(lit, str) and label_type == "string"
    if not label_ok:
        return None
    wanted: dict[str, str] = {spec.label: str(label_type)}
    for col in (*spec.scores.values(), *features):
        if types.get(col) not in _NUMERIC:
            return None
        wanted[col] = types[col]
    for col in spec.sensitive:
        if types.get(col) not in (*_NUMERIC, "boolean", "string"):
            return None
        wanted[col] = types[col]
    id_long = False
    if spec.n_boot:
        if types.get(spec.id_column) not in ("tinyint", "smallint", "int", "bigint"):
            return None
        wanted[spec.id_column] = types[spec.id_column]
        id_long = types[spec.id_column] == "bigint"
    units: list[tuple[str, int, int]] = []
    for uri in frame.inputFiles():
        parsed = urlparse(uri)
        if parsed.scheme not in ("file", ""):
            return None
        path = unquote(parsed.path)
        try:
            with pq.ParquetFile(path) as f:
                meta, schema = f.metadata, f.schema_arrow
        except (OSError, ValueError):
            return None
        for col, spark_type in wanted.items():
            if col not in schema.names or str(_plain(schema.field(col).type)) not in _SPARK_TO_ARROW[spark_type]:
                return None
        units += [(path, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)
                  if meta.row_group(g).num_rows]
    n_tasks = max(1, min(len(units), tasks_per_core * spark.sparkContext.defaultParallelism))
    return ParquetSource(tasks=_split(units, n_tasks), label=spec.label, positive_label=_python(lit),
                         scores=tuple(spec.scores.values()), sensitive=tuple(spec.sensitive),
                         id_column=spec.id_column if spec.n_boot else None, id_long=id_long,
                         row_key_seed=int(np.uint64(spec.seed % 2**64).view(np.int64)), features=tuple(features),
                         batch_rows=batch_rows)


def _plain(t: Any) -> Any:
    """A dictionary-encoded column's value type (pandas categoricals are stored so)."""
    import pyarrow as pa

    return t.value_type if pa.types.is_dictionary(t) else t


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _split(units: list[tuple[str, int, int]], n: int) -> tuple[tuple[tuple[str, tuple[int, ...]], ...], ...]:
    """Row groups into ``n`` contiguous tasks of about equal rows."""
    total = sum(r for _, _, r in units) or 1
    tasks: list[list[tuple[str, int]]] = [[] for _ in range(n)]
    seen = 0
    for path, g, rows in units:
        tasks[min(n - 1, seen * n // total)].append((path, g))
        seen += rows
    out = []
    for task in tasks:
        by_file: dict[str, list[int]] = {}
        for path, g in task:
            by_file.setdefault(path, []).append(g)
        if by_file:
            out.append(tuple((p, tuple(gs)) for p, gs in by_file.items()))
    return tuple(out)
