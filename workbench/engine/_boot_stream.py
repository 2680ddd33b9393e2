"""The bucket bootstrap's per-bucket sums from ONE streamed scan (DuckDB executor).

``_sql_boot.assemble`` runs six grouped scans (joint counts, the per-bucket linear/Newton
sums, per model the calibration bins and the AUC/AP histogram), and each decodes the Parquet
columns and hashes the row key again. Here DuckDB decodes (bucket, y, scores, the sensitive
cell) once and streams Arrow batches to a compiled kernel (numba, no GIL) that adds every row
into the same per-bucket arrays; each batch is split between two threads with their own
accumulators, summed at the end. The per-row expressions are those of ``_sql`` (clips, bins,
log-loss, Newton terms); the result is the ``BootstrapAggregates`` of ``assemble`` — counts
identical, float sums equal up to the order of addition (tests/engine/test_boot_stream.py).

The sensitive cell of a row: one ``CASE`` per sensitive column maps its values (those the
point pass found) to codes in SQL, numpy maps the code tuple to the cell. Values a ``CASE``
cannot name exactly (NaN, unusual types) keep the grouped scans.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from workbench.engine import _sql as S
from workbench.engine._plan import BootstrapAggregates, FairnessAggregates, RoleAggregates
from workbench.engine._ranks import histogram_domain, histogram_scale
from workbench.errors import ArtefactError
from workbench.metrics import lazy_kernel

#: Rows per Arrow batch of the scan (split between the two kernel threads).
BATCH_ROWS = 1 << 19


def _nameable(value: object) -> bool:
    if value is None or isinstance(value, (str, bool, np.bool_, int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and math.isfinite(float(value))


def cell_sql(d: S.Dialect, sensitive: int, combos: list[tuple]) -> tuple[list[str], np.ndarray] | None:
    """(one code expression per sensitive column, table code tuple -> cell), or None if not nameable."""
    if any(not _nameable(v) for key in combos for v in key):
        return None
    exprs, sizes, codes = [], [], []
    for j in range(sensitive):
        values = list(dict.fromkeys(key[j] for key in combos))
        code = {v: c for c, v in enumerate(values)}
        parts = [f"WHEN g_{j} IS NULL THEN {code[None]}"] if None in code else []
        parts += [f"WHEN g_{j} = {S.literal(v)} THEN {c}" for v, c in code.items() if v is not None]
        exprs.append(f"CASE {' '.join(parts)} ELSE {len(values)} END AS c_{j}")
        sizes.append(len(values) + 1)  # the last code: a value the point pass did not see
        codes.append(code)
    table = np.full(sizes, -1, dtype=np.int64)
    for cell, key in enumerate(combos):
        table[tuple(codes[j][key[j]] for j in range(sensitive))] = cell
    return exprs, table


@lazy_kernel
def _kernel() -> Any:
    import numba

    @numba.njit(nogil=True, cache=True)
    def model_sums(u, y, s, cell, thr, eps, leps, hlo, hscale, hb, nb, inner, fbn, a, b, finite,
                   lin, hist, cu, cq, newt, fcal):  # pragma: no cover - compiled
        cal = cu.shape[1] > 0
        for r in range(u.size):
            ui, yi, x = u[r], y[r], s[r]
            yf = float(yi)
            p = 1.0 if x >= thr else 0.0
            lin[ui, 0] += yf * p
            lin[ui, 1] += (1.0 - yf) * p
            lin[ui, 2] += yf
            lin[ui, 3] += 1.0
            c = min(max(x, eps), 1.0 - eps)
            if leps <= x <= 1.0 - leps:  # both clips leave x as it is: one pair of logs
                lc = math.log(x)
                l1c = math.log(1.0 - x)
                xl = lc - l1c
            else:
                lc = math.log(c)
                l1c = math.log(1.0 - c)
                cl = min(max(x, leps), 1.0 - leps)
                xl = math.log(cl) - math.log(1.0 - cl)
            lin[ui, 4] += -(yf * lc + (1.0 - yf) * l1c)
            lin[ui, 5] += (x - yf) * (x - yf)
            h = int(min(max(np.floor((x - hlo) * hscale), 0.0), hb - 1.0))
            hist[ui, h, yi] += 1
            if cal:
                k = int(min(max(np.floor((x - 0.0) * nb), 0.0), nb - 1.0))
                cu[ui, k, 0] += 1.0
                cu[ui, k, 1] += x
                cu[ui, k, 2] += yf
                q = 0
                for e in range(inner.size):
                    q += x >= inner[e]
                cq[ui, q, 0] += 1.0
                cq[ui, q, 1] += x
                cq[ui, q, 2] += yf
                mu = 1.0 / (1.0 + math.exp(-(a + b * xl))) if finite else 0.5
                rr = yf - mu
                v = mu * (1.0 - mu)
                newt[ui, 0] += rr
                newt[ui, 1] += xl * rr
                newt[ui, 2] += v
                newt[ui, 3] += xl * v
                newt[ui, 4] += xl * xl * v
                if fbn > 0:
                    f = int(min(max(np.floor((x - 0.0) * fbn), 0.0), fbn - 1.0))
                    fcal[ui, cell[r], f] += yf - x

    return model_sums


class _Acc:
    """One thread's per-bucket accumulators."""

    def __init__(self, U: int, nr: int, hb: int, cal: list[tuple[int, int]], F: int, fbn: list[int], joint: int):
        self.lin = [np.zeros((U, 6)) for _ in range(nr)]
        self.hist = [np.zeros((U, hb, 2), np.int64) for _ in range(nr)]
        self.cu = [np.zeros((U, nb, 3)) for nb, _ in cal]
        self.cq = [np.zeros((U, nq, 3)) for _, nq in cal]
        self.newt = [np.zeros((U, 5)) for _ in range(nr)]
        self.fcal = [np.zeros((U, F, f)) for f in fbn]
        self.joint = np.zeros(U * joint)

    def add(self, other: _Acc) -> None:
        for name in ("lin", "hist", "cu", "cq", "newt", "fcal"):
            for a, b in zip(getattr(self, name), getattr(other, name), strict=True):
                a += b
        self.joint += other.joint


def stream_assemble(ex: Any, roles: list[str], out: dict[str, RoleAggregates], n_units: int,
                    fair_point: FairnessAggregates | None) -> BootstrapAggregates | None:
    """``assemble`` for the bucket unit from one streamed scan; None when a cell cannot be named."""
    spec, U = ex.spec, n_units
    nr, hb = len(roles), spec.bootstrap_bins
    G = len(spec.sensitive) if fair_point is not None else 0
    combos: list[tuple] = [()]
    if fair_point is not None and G:
        combos = list(zip(*(fair_point.combos[n] for n in spec.sensitive)))
    named = cell_sql(ex.dialect, G, combos) if G else ([], np.zeros((), np.int64))
    if named is None:
        return None
    exprs, table = named
    F = len(combos)
    cal_i = [i for i, r in enumerate(roles) if out[r].calibration is not None]
    edges = {i: np.asarray(out[roles[i]].quantile_edges, dtype=np.float64) for i in cal_i}  # set with calibration
    cal_shape = [(spec.calibration_bins, edges[i].size - 1) if i in cal_i else (0, 0) for i in range(nr)]
    fair_cal = [fair_point is not None and G > 0 and i in cal_i and r in fair_point.calibration
                for i, r in enumerate(roles)]
    fbn = [spec.fairness_bins if f else 0 for f in fair_cal]
    joint_size = F * 2 * 2 ** nr
    accs = [_Acc(U, nr, hb, cal_shape, F, fbn, joint_size) for _ in range(2)]
    params = []
    for i, r in enumerate(roles):
        lo, hi = histogram_domain(out[r].score_min, out[r].score_max)
        inner = np.ascontiguousarray(edges[i][1:-1]) if i in cal_i else np.zeros(0)
        a, b = out[r].intercept, out[r].slope
        finite = bool(math.isfinite(a) and math.isfinite(b))
        params.append((float(spec.threshold), S.EPS, S.LOGIT_EPS, lo, histogram_scale(lo, hi, hb), float(hb),
                       float(spec.calibration_bins), inner, float(fbn[i]), float(a) if finite else 0.0,
                       float(b) if finite else 0.0, finite))
    kernel = _kernel()
    sql = (f"SELECT {ex.dialect.bucket('k', U)} AS u, y, " + ", ".join(f"s_{i}" for i in range(nr))
           + "".join(f", {e}" for e in exprs) + " FROM base")

    def run(acc: _Acc, u: np.ndarray, y: np.ndarray, s: list[np.ndarray], cell: np.ndarray) -> None:
        key = cell * 2 + y
        for i in range(nr):
            kernel(u, y, s[i], cell, *params[i], acc.lin[i], acc.hist[i], acc.cu[i], acc.cq[i], acc.newt[i],
                   acc.fcal[i] if fbn[i] else _EMPTY3)
            key = key * 2 + (s[i] >= spec.threshold)
        acc.joint += np.bincount(u * joint_size + key, minlength=U * joint_size)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for batch in ex.con.sql(sql).to_arrow_reader(BATCH_ROWS):
            n = batch.num_rows
            if n == 0:
                continue
            cols = [batch.column(c).to_numpy(zero_copy_only=False) for c in range(batch.num_columns)]
            u, y = cols[0].astype(np.int64, copy=False), cols[1].astype(np.int64, copy=False)
            s = [np.asarray(c, dtype=np.float64) for c in cols[2: 2 + nr]]
            if G:
                cell = table[tuple(c.astype(np.int64, copy=False) for c in cols[2 + nr:])]
                if cell.min() < 0:
                    raise ArtefactError("evaluation data: changed while the review read it (a sensitive cell the "
                                        "first pass did not see); re-run the review")
            else:
                cell = np.zeros(n, np.int64)
            h = n // 2
            halves = [(k, u[sl], y[sl], [v[sl] for v in s], cell[sl])
                      for k, sl in enumerate((slice(0, h), slice(h, n)))]
            list(pool.map(lambda t: run(accs[t[0]], *t[1:]), halves))
    acc = accs[0]
    acc.add(accs[1])
    lin, hist, cal, fcal = {}, {}, {}, {}
    for i, r in enumerate(roles):
        lin[r] = acc.lin[i]
        hist[r] = acc.hist[i].astype(np.float64)
        if i in cal_i:
            cu, cq = acc.cu[i], acc.cq[i]
            cal[r] = np.concatenate([cu[:, :, 0], cu[:, :, 1], cu[:, :, 2], cq[:, :, 0], cq[:, :, 1], cq[:, :, 2],
                                     lin[r][:, 5:6], acc.newt[i]], axis=1)
        if fbn[i]:
            fcal[r] = acc.fcal[i]
    boot = BootstrapAggregates(linear=lin, histogram=hist, calibration=cal, fair_calibration=fcal)
    if G:
        boot.joint = acc.joint.reshape((U, F, 2) + (2,) * nr)
    return boot


_EMPTY3 = np.zeros((1, 1, 1))
