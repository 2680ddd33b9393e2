"""Per-partition partials of the review's first pass, computed with numpy in Spark's Python workers.

One ``mapInArrow`` task reads its partition's Arrow batches (``y``, the scores ``s_i``, the
sensitive columns ``g_j``, the bootstrap bucket ``u`` and the drift features ``v_j``) and
accumulates every aggregate that needs no result of another pass:

* per bootstrap bucket and model: the six linear sums (``linear_columns``, the in-memory
  path's per-row terms), the uniform calibration bins (count, Σp, Σy) and the AUC/AP
  histogram of ``bootstrap_bins`` bins by y;
* per model: the ``histogram_bins`` score histogram by y (AUC/AP and the quantile search),
  min, max, non-finite count and the warm-start table of the logistic recalibration
  (``warm_start_sums``);
* per (sensitive cell, bucket): counts by (y, prediction of each model) and Σ(y − p) per
  fairness score bin (``score_bins``);
* per drift feature: the compiled ``scan_column`` cells on the reference grid.

Every partial is a sum, so the driver adds the partitions' partials and gets exactly the
aggregates of one pass over all rows (counts identical, float sums in another order). Without
a bootstrap the bucket axis has length 1. Sensitive cells are numbered per partition and
matched by their values on the driver.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.engine._plan import NumericCells, uniform_bin
from workbench.engine._ranks import histogram_bin, histogram_scale

#: Rows of bin keys collected before one ``bincount`` into the dense accumulators.
_FLUSH_ROWS = 1 << 22


@dataclass(frozen=True)
class PassPlan:
    """What the first pass computes (pickled into the task closure)."""

    n_roles: int
    threshold: float
    domains: tuple[tuple[float, float], ...]  # rank-histogram domain of each model
    probabilities: tuple[bool, ...]  # models whose calibration and fairness calibration are computed
    histogram_bins: int
    bootstrap_bins: int
    calibration_bins: int
    fairness_bins: int
    n_sensitive: int
    units: int  # bootstrap buckets; 1 without a bootstrap (column u absent)
    grids: tuple[np.ndarray, ...]  # drift features' reference grids

    def scales(self, bins: int) -> list[float]:
        return [histogram_scale(lo, hi, bins) for lo, hi in self.domains]


class DriftAccumulator:
    """The drift scan of one partition: per feature, (count, Σ(x − anchor), on-anchor) per grid
    cell, missing count, finite min and max (the in-memory path's ``scan_column``)."""

    def __init__(self, grids: Iterable[np.ndarray]) -> None:
        from workbench.metrics import GridBinner

        self.grids = [np.asarray(g, dtype=np.float64) for g in grids]
        self.binners = [GridBinner.build(g) if g.size else None for g in self.grids]
        self.acc = [np.zeros((g.size + 1, 3)) for g in self.grids]
        self.missing = np.zeros(len(self.grids), np.int64)
        self.low, self.high = np.full(len(self.grids), np.inf), np.full(len(self.grids), -np.inf)

    def add(self, j: int, x: np.ndarray) -> None:
        from workbench.metrics import scan_column

        binner = self.binners[j]
        if binner is None:
            self.missing[j] += x.size
            return
        sc = scan_column(x, binner)
        self.missing[j] += x.size - sc.n_finite
        if sc.n_finite:
            self.low[j], self.high[j] = min(self.low[j], sc.minimum), max(self.high[j], sc.maximum)
        acc = self.acc[j]  # column by column: a column_stack per feature and batch cost 14 % of the pass
        acc[:, 0] += sc.stats.counts
        acc[:, 1] += sc.stats.sums
        acc[:, 2] += sc.stats.at_edge

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {f"drift{j}": a for j, a in enumerate(self.acc)}
        out.update(drift_missing=self.missing, drift_low=self.low, drift_high=self.high)
        return out


def drift_cells(arrays: dict[str, np.ndarray], grids: list[np.ndarray]) -> list[NumericCells]:
    """Summed :class:`DriftAccumulator` arrays -> the ``NumericCells`` of every feature."""
    out = []
    for j, grid in enumerate(grids):
        a = arrays[f"drift{j}"]
        n_missing = int(arrays["drift_missing"][j])
        low, high = float(arrays["drift_low"][j]), float(arrays["drift_high"][j])
        counts = np.rint(a[:, 0]).astype(np.int64)
        if grid.size == 0 or counts.sum() == 0:
            out.append(NumericCells(np.zeros(0), np.zeros(0), np.zeros(0), n_missing, np.nan, np.nan))
            continue
        at_edge = np.rint(a[:, 2]).astype(np.int64)
        at_edge[-1] = 0
        out.append(NumericCells(counts, a[:, 1].copy(), at_edge, n_missing, low, high))
    return out


class _Cells:
    """Sensitive cells of one partition, numbered in order of appearance, keyed by the 64-bit hash
    of their values computed in the JVM (strings cost far more than a long to convert to Arrow)."""

    def __init__(self) -> None:
        self.cells: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.cells)

    def of(self, keys: np.ndarray) -> np.ndarray:
        used, inverse = np.unique(keys, return_inverse=True)
        ids = np.array([self.cells.setdefault(k, len(self.cells)) for k in used.tolist()], dtype=np.int64)
        return ids[inverse]

    def keys(self) -> np.ndarray:
        return np.array(sorted(self.cells, key=self.cells.__getitem__), dtype=np.int64)


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] >= rows:
        return a
    return np.concatenate([a, np.zeros((rows - a.shape[0],) + a.shape[1:], a.dtype)])


class PassOne:
    """The first pass's accumulators for one partition (see the module docstring)."""

    def __init__(self, plan: PassPlan) -> None:
        self.plan = p = plan
        U, R = p.units, p.n_roles
        self.rows = 0
        self.linear = np.zeros((R, U, 6))
        self.low, self.high = np.full(R, np.inf), np.full(R, -np.inf)
        self.bad = np.zeros(R, np.int64)
        self.hist = np.zeros((R, p.histogram_bins * 2), np.int64)
        self.boot_hist = np.zeros((R, U * p.bootstrap_bins * 2), np.int64) if U > 1 else None
        self.warm = np.zeros((R, 2, 2 * _warm_bins()))
        self.cal = np.zeros((R, U, 3, p.calibration_bins))
        self.cells = _Cells()
        self.joint = np.zeros((0, U, 2 * 2 ** R), np.int64)
        self.fair_cal = np.zeros((0, R, U, p.fairness_bins))
        self.drift = DriftAccumulator(p.grids)
        self._keys: list[list[np.ndarray]] = [[] for _ in range(2 * R)]
        self._pending = 0
        self._scales = p.scales(p.histogram_bins), p.scales(p.bootstrap_bins)

    def add(self, batch: Any) -> None:
        """One Arrow record batch: columns y, s_0.., [c: cell hash], [u], v_0.. in that order."""
        import pyarrow.compute as pc

        from workbench.fairness import score_bins
        from workbench.metrics import linear_columns
        from workbench.metrics.calibration import logit, warm_start_sums

        p, R, J = self.plan, self.plan.n_roles, int(self.plan.n_sensitive > 0)
        n = batch.num_rows
        if n == 0:
            return

        def floats(i: int) -> np.ndarray:
            col = batch.column(i)
            if col.null_count:
                col = pc.fill_null(col, float("nan"))
            return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)

        y = np.asarray(batch.column(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        yb = y.astype(bool)
        u = (np.asarray(batch.column(1 + R + J).to_numpy(zero_copy_only=False), dtype=np.int64)
             if p.units > 1 else np.zeros(n, np.int64))
        cells = (self.cells.of(np.asarray(batch.column(1 + R).to_numpy(zero_copy_only=False), dtype=np.int64))
                 if J else np.zeros(n, np.int64))
        F = max(len(self.cells), 1)
        self.joint = _grow(self.joint, F)
        self.fair_cal = _grow(self.fair_cal, F)
        joint_key = (cells * p.units + u) * 2 + y
        self.rows += n
        for i in range(R):
            s = floats(1 + i)
            finite = np.isfinite(s)
            if not finite.all():
                self.bad[i] += int(n - finite.sum())
                s = np.where(finite, s, 0.0)
            self.low[i], self.high[i] = min(self.low[i], s.min()), max(self.high[i], s.max())
            # log loss clipped as in the SQL plan for any score (unused without probabilities)
            cols = linear_columns(yb, s, threshold=p.threshold, probabilities=True)
            for k in range(6):
                self.linear[i, :, k] += np.bincount(u, weights=cols[:, k], minlength=p.units)
            pred = (s >= p.threshold).astype(np.int64)
            joint_key = joint_key * 2 + pred
            lo = p.domains[i][0]
            self._keys[i].append(histogram_bin(s, lo=lo, scale=self._scales[0][i], bins=p.histogram_bins) * 2 + y)
            if self.boot_hist is not None:
                hb = histogram_bin(s, lo=lo, scale=self._scales[1][i], bins=p.bootstrap_bins)
                self._keys[R + i].append((u * p.bootstrap_bins + hb) * 2 + y)
            if not p.probabilities[i]:
                continue
            wc, ws = warm_start_sums(logit(s), y, bins=self.warm.shape[2] // 2)
            self.warm[i, 0] += wc
            self.warm[i, 1] += ws
            b = p.calibration_bins
            ub = u * b + uniform_bin(s, b)
            for k, w in enumerate((None, s, y.astype(np.float64))):
                self.cal[i, :, k] += np.bincount(ub, weights=w, minlength=p.units * b).reshape(p.units, b)
            fb = p.fairness_bins
            fkey = (cells * p.units + u) * fb + score_bins(s, fb)
            self.fair_cal[:, i] += np.bincount(fkey, weights=y - s, minlength=F * p.units * fb).reshape(
                F, p.units, fb)
        size = 2 * 2 ** R
        self.joint += np.bincount(joint_key, minlength=F * p.units * size).reshape(F, p.units, size)
        for j in range(len(p.grids)):
            self.drift.add(j, floats(1 + R + J + (p.units > 1) + j))
        self._pending += n
        if self._pending >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        R = self.plan.n_roles
        for k, keys in enumerate(self._keys):
            if not keys:
                continue
            key = np.concatenate(keys)
            keys.clear()
            if k < R:
                self.hist[k] += np.bincount(key, minlength=self.hist.shape[1])
            elif self.boot_hist is not None:
                self.boot_hist[k - R] += np.bincount(key, minlength=self.boot_hist.shape[1])
        self._pending = 0

    def arrays(self) -> dict[str, np.ndarray]:
        self._flush()
        out = {"rows": np.array([self.rows]), "linear": self.linear, "low": self.low, "high": self.high,
               "bad": self.bad, "hist": self.hist, "warm": self.warm, "cal": self.cal, "joint": self.joint,
               "fair_cal": self.fair_cal, "cell_keys": self.cells.keys(), **self.drift.arrays()}
        if self.boot_hist is not None:
            out["boot_hist"] = self.boot_hist
        return out


def _warm_bins() -> int:
    """Warm-start bins of the first pass: 16x the in-memory path's, so the Newton steps (a pass
    over the rows each here) usually converge in two instead of three (same fixed point)."""
    from workbench.metrics.calibration import WARM_BINS

    return 16 * WARM_BINS


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    """Arrays as one ``.npz`` blob (no pickle); large, mostly-zero integer arrays as (index, value) pairs."""
    out: dict[str, np.ndarray] = {}
    for name, a in arrays.items():
        if a.dtype.kind in "iu" and a.size > 1 << 16:
            nz = np.flatnonzero(a)
            if 2 * nz.size < a.size:  # gaps between indices and the counts in their narrowest type:
                out[f"{name}@gap"] = _narrow(np.diff(nz, prepend=0))  # ~3 bytes a pair instead of 8
                out[f"{name}@val"] = _narrow(a.ravel()[nz])
                out[f"{name}@shape"] = np.asarray(a.shape, np.int64)
                continue
            a = _narrow(a)
        out[name] = a
    buf = io.BytesIO()
    np.savez(buf, **out)  # type: ignore[arg-type]  # numpy stubs: **kwds of arrays
    return buf.getvalue()


def _narrow(a: np.ndarray) -> np.ndarray:
    """Non-negative integers in the narrowest of uint8, uint16 or int32 that holds them (fewer
    bytes to the driver)."""
    if a.dtype.kind in "iu" and (a.size == 0 or (a.min() >= 0 and a.max() < 1 << 31)):
        top = int(a.max()) if a.size else 0
        return a.astype(np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.int32)
    return a


def unpack(blob: bytes, sparse: dict[str, tuple[tuple[int, ...], list[np.ndarray], list[np.ndarray]]] | None = None,
           *, dense: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays of a :func:`pack` blob. With ``sparse``, arrays sent as (index, value) pairs are
    appended there (name -> shape, indices, values) instead, for one ``bincount`` over all blobs,
    except those named in ``dense`` (whose axes the caller maps first, e.g. the cells)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as f:
        raw = {k: f[k] for k in f.files}
    out = {}
    for name, a in raw.items():
        if name.endswith("@gap"):
            base = name[:-4]
            shape = tuple(int(v) for v in raw[f"{base}@shape"])
            a = np.cumsum(a, dtype=np.int64)
            if sparse is not None and base not in dense:
                entry = sparse.setdefault(base, (shape, [], []))
                entry[1].append(a)
                entry[2].append(raw[f"{base}@val"])
                continue
            full = np.zeros(shape, np.int64)
            full.ravel()[a] = raw[f"{base}@val"]
            out[base] = full
        elif "@" not in name:
            out[name] = a.astype(np.int64) if a.dtype.kind in "iu" else a
    return out


def densify(sparse: dict[str, tuple[tuple[int, ...], list[np.ndarray], list[np.ndarray]]],
            total: dict[str, np.ndarray]) -> None:
    """Add the collected (index, value) pairs into ``total`` (exact integer sums)."""
    for name, (shape, idx, val) in sparse.items():
        size = int(np.prod(shape))
        add = np.bincount(np.concatenate(idx).astype(np.int64), weights=np.concatenate(val).astype(np.float64),
                          minlength=size)
        dense = np.rint(add).astype(np.int64).reshape(shape)  # integer counts below 2**53: exact
        total[name] = total[name] + dense if name in total else dense


def run_partition(batches: Iterable[Any], plan: PassPlan, cells: Any = None) -> Iterator[Any]:
    """The ``mapInArrow`` body: one row (column ``blob``) per non-empty partition. ``cells``
    (``_spark_files.CellKeys``, when the worker keyed the sensitive cells itself) adds their values."""
    import pyarrow as pa

    acc = PassOne(plan)
    for batch in batches:
        acc.add(batch)
    if acc.rows:
        arrays = acc.arrays()
        if cells is not None:
            arrays.update(cells.arrays())
        yield pa.RecordBatch.from_pydict({"blob": pa.array([pack(arrays)], pa.binary())})


def merge(blobs: Iterable[bytes]) -> tuple[dict[str, np.ndarray], list[int], dict[int, str]]:
    """Sum the partitions' partials: the arrays, the cell hashes in the order of the cell axis, and
    (when the workers read the files) each hash's cell values as JSON."""
    from workbench.engine._spark_files import cell_table
    from workbench.errors import DataError

    cells: dict[int, int] = {}
    found: dict[int, str] = {}
    total: dict[str, np.ndarray] = {}
    sparse: dict[str, tuple[tuple[int, ...], list[np.ndarray], list[np.ndarray]]] = {}
    for blob in blobs:
        arrays = unpack(blob, sparse, dense=("joint",))  # its cell axis is renumbered below
        for key, text in cell_table(arrays).items():
            if found.setdefault(key, text) != text:
                raise DataError(f"sensitive features: two cells share a 64-bit hash ({text} and {found[key]}); "
                                "use drift_binning='bucketizer' for this data")
        keys = arrays.pop("cell_keys").tolist() or [0]
        index = np.array([cells.setdefault(k, len(cells)) for k in keys], dtype=np.int64)
        for name, a in arrays.items():
            if name in ("joint", "fair_cal"):
                a = _scatter(a, index, len(cells))
                if name in total:
                    total[name] = _grow(total[name], len(cells))
            elif name in ("low", "high", "drift_low", "drift_high"):
                f = np.minimum if name.endswith("low") else np.maximum
                total[name] = f(total[name], a) if name in total else a
                continue
            total[name] = total[name] + a if name in total else a.copy()
    densify(sparse, total)
    return total, list(cells), found


def _scatter(a: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n,) + a.shape[1:], a.dtype)
    np.add.at(out, index[: a.shape[0]], a[: index.size])
    return out


@dataclass(frozen=True)
class NarrowPlan:
    """A pass over (y, s_i for the calibrated models, [u]) after the first: the Newton sums at
    ``thetas[i]`` = (intercept, slope), per bucket when ``per_unit``; with ``edges[i]`` the
    quantile bins' (count, Σp, Σy) per bucket; with ``wanted[i]`` = (lo, scale, bins, bins to
    read) the distinct (value, count) pairs of the scores in those histogram bins."""

    models: tuple[int, ...]
    thetas: dict[int, tuple[float, float]]
    units: int = 1
    per_unit: bool = False
    edges: dict[int, np.ndarray] | None = None
    wanted: dict[int, tuple[float, float, int, np.ndarray]] | None = None


class NarrowPass:
    """The accumulators of a :class:`NarrowPlan` for one partition. The Newton terms are those of
    ``logistic_recalibration`` (``logit``, ``expit``), summed as the SQL plan's ``newton_exprs``."""

    def __init__(self, plan: NarrowPlan) -> None:
        self.plan = plan
        U = plan.units if plan.per_unit else 1
        self.rows = 0
        self.newton = {i: np.zeros((U, 5)) for i in plan.thetas}
        self.qb = {i: np.zeros((U, 3, e.size + 1)) for i, e in (plan.edges or {}).items()}
        self.values: dict[int, list[np.ndarray]] = {i: [] for i in (plan.wanted or {})}
        self._lut: dict[int, np.ndarray] = {}  # wanted histogram bins as a lookup table

    def add(self, batch: Any) -> None:
        from scipy.special import expit

        from workbench.metrics.calibration import logit

        p = self.plan
        n = batch.num_rows
        if n == 0:
            return
        self.rows += n
        y = np.asarray(batch.column(0).to_numpy(zero_copy_only=False), dtype=np.float64)
        U = p.units if p.per_unit else 1
        u = (np.asarray(batch.column(1 + len(p.models)).to_numpy(zero_copy_only=False), dtype=np.int64)
             if U > 1 else np.zeros(n, np.int64))
        for k, i in enumerate(p.models):
            s = np.asarray(batch.column(1 + k).to_numpy(zero_copy_only=False), dtype=np.float64)
            if i in self.newton:
                a, b = p.thetas[i]
                x = logit(s)
                mu = expit(a + b * x) if np.isfinite(a) and np.isfinite(b) else np.full(n, 0.5)
                r, v = y - mu, mu * (1 - mu)
                for m, w in enumerate((r, x * r, v, x * v, x * x * v)):
                    self.newton[i][:, m] += np.bincount(u, weights=w, minlength=U) if U > 1 else w.sum()
            if i in self.qb:
                bq = self.qb[i].shape[2]
                key = u * bq + np.searchsorted(p.edges[i], s, side="right")  # type: ignore[index]  # edges for qb
                for m, w in enumerate((None, s, y)):
                    self.qb[i][:, m] += np.bincount(key, weights=w, minlength=U * bq).reshape(U, bq)
            if i in self.values:
                lo, scale, bins, wanted = p.wanted[i]  # type: ignore[index]  # wanted for values
                if i not in self._lut:
                    self._lut[i] = np.zeros(bins, bool)
                    self._lut[i][wanted] = True
                self.values[i].append(s[self._lut[i][histogram_bin(s, lo=lo, scale=scale, bins=bins)]])

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"rows": np.array([self.rows])}
        out.update({f"newton{i}": a for i, a in self.newton.items()})
        out.update({f"qb{i}": a for i, a in self.qb.items()})
        for i, parts in self.values.items():
            v, c = np.unique(np.concatenate(parts) if parts else np.zeros(0), return_counts=True)
            out[f"values{i}"], out[f"counts{i}"] = v, c.astype(np.int64)
        return out


def run_narrow(batches: Iterable[Any], plan: NarrowPlan) -> Iterator[Any]:
    """The ``mapInArrow`` body of a :class:`NarrowPlan`: one ``blob`` row per non-empty partition."""
    import pyarrow as pa

    acc = NarrowPass(plan)
    for batch in batches:
        acc.add(batch)
    if acc.rows:
        yield pa.RecordBatch.from_pydict({"blob": pa.array([pack(acc.arrays())], pa.binary())})


def merge_narrow(blobs: Iterable[bytes]) -> dict[str, np.ndarray]:
    """Sum the partitions' narrow partials; (value, count) pairs are concatenated and re-counted."""
    total: dict[str, np.ndarray] = {}
    for blob in blobs:
        for name, a in unpack(blob).items():
            if name.startswith(("values", "counts")):
                total[name] = np.concatenate([total[name], a]) if name in total else a
            else:
                total[name] = total[name] + a if name in total else a.copy()
    for name in [k for k in total if k.startswith("values")]:
        counts = total[name.replace("values", "counts")]
        v, inverse = np.unique(total[name], return_inverse=True)
        total[name], total[name.replace("values", "counts")] = v, np.bincount(inverse, weights=counts,
                                                                               minlength=v.size).astype(np.int64)
    return total
