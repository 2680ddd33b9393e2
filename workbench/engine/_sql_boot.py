"""The bootstrap in a few grouped scans, each returning per-unit sums the numpy side marginalises.

* ``(unit, y, pred_i..., sensitive...)``: Σw — confusion counts and the fairness cells × outcome;
* ``(unit)``: Σw·log-loss_i, Σw·Brier_i and the five Newton sums of each model;
* per model ``(unit, y, uniform bin, quantile bin[, fairness bin], sensitive...)``: Σw, Σw·s —
  calibration bins and Σw·(y − s) per fairness cell and bin (= y·Σw − Σw·s);
* per model ``(unit, score bin, y)``: Σw — the AUC/AP histogram.

Each (row, unit) pair's Poisson weight is a hash compare (cheap: measured ≈ 20 ns per pair). The *unit* is either the replicate
(``unit="row"``: the rows are crossed with ``range(B)``, weights hashed per (row, replicate))
or a hash bucket of the row key (``unit="bucket"``: one scan of the rows, no cross join; the
per-bucket sums are then resampled with Philox Poisson(1) weights per (bucket, replicate) —
the bootstrap of iid random buckets, see docs/SCALE.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.engine import _sql as S
from workbench.engine._plan import BootstrapAggregates, RoleAggregates
from workbench.engine._ranks import histogram_domain, histogram_scale


def _keys_and_sums(ex, roles: list[str], out: dict[str, RoleAggregates]):
    spec = ex.spec
    keys: dict[str, str] = {"y": "y"}
    sums: dict[str, str] = {"sw": "sum(w)"}
    fair_bins = bool(spec.sensitive) and spec.fairness_bins != spec.calibration_bins
    for i, r in enumerate(roles):
        keys[f"p{i}"] = f"CAST(s_{i} >= {S.dbl(spec.threshold)} AS INTEGER)"
        lin = S.linear_exprs(i, spec.threshold, "w")
        sums[f"ss{i}"] = f"sum(w * s_{i})"
        sums[f"ll{i}"], sums[f"br{i}"] = lin[4], lin[5]
        if out[r].calibration is not None:
            b = spec.calibration_bins
            keys[f"cu{i}"] = S.bin_expr(f"s_{i}", 0.0, float(b), b)
            keys[f"cq{i}"] = S.quantile_bin_expr(f"s_{i}", out[r].quantile_edges[1:-1])  # type: ignore[index]  # set with calibration
            if fair_bins:
                keys[f"fb{i}"] = S.bin_expr(f"s_{i}", 0.0, float(spec.fairness_bins), spec.fairness_bins)
            for k, e in enumerate(S.newton_exprs(i, out[r].intercept, out[r].slope, "w")):
                sums[f"nt{i}_{k}"] = e
    for j in range(len(spec.sensitive)):
        keys[f"g_{j}"] = f"g_{j}"
    hist = {}
    for i, r in enumerate(roles):
        lo, hi = histogram_domain(out[r].score_min, out[r].score_max)
        hist[f"h{i}"] = S.bin_expr(f"s_{i}", lo, histogram_scale(lo, hi, spec.bootstrap_bins), spec.bootstrap_bins)
    return keys, sums, hist


def queries(ex, roles: list[str], out: dict[str, RoleAggregates], source: str) -> dict[str, str]:
    """The replicated aggregates over ``source`` (columns of ``base`` plus ``u`` and ``w``).

    One GROUP BY per grouping (measured: DuckDB's GROUPING SETS evaluates every aggregate
    for every set and was 5x slower than separate scans, whose weight hash is cheap).
    """
    keys, sums, hist = _keys_and_sums(ex, roles, out)
    g = [k for k in keys if k.startswith("g_")]
    src = f"(SELECT * FROM {source} WHERE w > 0) t"

    def grouped(names: list[str], values: list[str]) -> str:
        cols = ", ".join([f"{keys.get(n, n)} AS {n}" for n in ["u", *names]] + [f"{sums[v]} AS {v}" for v in values])
        return f"SELECT {cols} FROM {src} GROUP BY {', '.join(str(k + 1) for k in range(len(names) + 1))}"

    out_q = {"counts": grouped(["y", *(f"p{i}" for i in range(len(roles))), *g], ["sw"]),
             "linear": grouped([], [v for v in sums if v.startswith(("ll", "br", "nt"))])}
    for i in range(len(roles)):
        if f"cu{i}" in keys:
            names = ["y", f"cu{i}", f"cq{i}", *([f"fb{i}"] if f"fb{i}" in keys else []), *g]
            out_q[f"calibration{i}"] = grouped(names, ["sw", f"ss{i}"])
        out_q[f"hist{i}"] = (f"SELECT u, {hist[f'h{i}']} AS h, y, sum(w) AS sw FROM {src} GROUP BY 1, 2, 3")
    return out_q


def _cells(frame: pd.DataFrame, names: list[str], cells: dict[tuple, int]) -> np.ndarray:
    """Cell index of each result row from its sensitive values (missing = None, as the point pass)."""
    uniq = frame[names].drop_duplicates()
    ids = []
    for t in uniq.itertuples(index=False):
        key = tuple(None if pd.isna(v) else v for v in t)
        ids.append(cells[key])
    uniq = uniq.assign(_cell=np.asarray(ids, dtype=np.int64))
    merged = frame[names].merge(uniq, on=names, how="left", sort=False)
    return merged["_cell"].to_numpy(np.int64)


def assemble(ex, roles: list[str], out: dict[str, RoleAggregates], source: str, n_units: int,
             fair_point=None) -> BootstrapAggregates:
    """Per-unit arrays (leading axis = unit) from the grouped sums."""
    spec, U = ex.spec, n_units
    hb = spec.bootstrap_bins
    q = queries(ex, roles, out, source)
    counts = ex.frame(q["counts"])
    lin_f = ex.frame(q["linear"])
    lu = lin_f["u"].to_numpy(np.int64)
    u, y, sw = (counts[c].to_numpy(np.int64 if c != "sw" else np.float64) for c in ("u", "y", "sw"))
    g_names = [f"g_{j}" for j in range(len(spec.sensitive))]
    cells = None
    if g_names and fair_point is not None:
        cells = {key: c for c, key in enumerate(zip(*(fair_point.combos[n] for n in spec.sensitive)))}

    def per_unit(col) -> np.ndarray:
        return np.bincount(lu, weights=lin_f[col].to_numpy(np.float64), minlength=U)

    lin, hist, cal, fcal = {}, {}, {}, {}
    for i, r in enumerate(roles):
        p = counts[f"p{i}"].to_numpy(np.int64)
        lin[r] = np.stack([np.bincount(u, weights=sw * y * p, minlength=U),
                           np.bincount(u, weights=sw * (1 - y) * p, minlength=U),
                           np.bincount(u, weights=sw * y, minlength=U), np.bincount(u, weights=sw, minlength=U),
                           per_unit(f"ll{i}"), per_unit(f"br{i}")], axis=1)
        hu, hh, hy, hw = ex.arrays(q[f"hist{i}"])
        key = (np.asarray(hu, np.int64) * hb + np.asarray(hh, np.int64)) * 2 + np.asarray(hy, np.int64)
        hist[r] = np.bincount(key, weights=np.asarray(hw, np.float64), minlength=U * 2 * hb).reshape(U, hb, 2)
        if f"calibration{i}" not in q:
            continue
        cf = ex.frame(q[f"calibration{i}"])
        cu, cy, csw, css = (cf[c].to_numpy(np.int64 if c in ("u", "y") else np.float64)
                            for c in ("u", "y", "sw", f"ss{i}"))

        def by(key: np.ndarray, size: int, weights: np.ndarray, cu: np.ndarray = cu) -> np.ndarray:
            return np.bincount(cu * size + key, weights=weights, minlength=U * size).reshape(U, size)

        b, bq = spec.calibration_bins, out[r].quantile_edges.size - 1  # type: ignore[union-attr]  # set with calibration
        parts = []
        for name, nb in ((f"cu{i}", b), (f"cq{i}", bq)):
            k = cf[name].to_numpy(np.int64)
            parts += [by(k, nb, csw), by(k, nb, css), by(k, nb, csw * cy)]
        parts.append(lin[r][:, 5:6])
        parts += [per_unit(f"nt{i}_{k}")[:, None] for k in range(5)]
        cal[r] = np.concatenate(parts, axis=1)
        if cells is not None and r in fair_point.calibration:
            fb = spec.fairness_bins
            k = _cells(cf, g_names, cells) * fb + cf[f"fb{i}" if f"fb{i}" in cf.columns else f"cu{i}"].to_numpy(np.int64)
            fcal[r] = by(k, len(cells) * fb, csw * cy - css).reshape(U, len(cells), fb)
    boot = BootstrapAggregates(linear=lin, histogram=hist, calibration=cal, fair_calibration=fcal)
    if cells is not None:
        F, nr = len(cells), len(roles)
        key = _cells(counts, g_names, cells) * 2 + y
        for i in range(nr):
            key = key * 2 + counts[f"p{i}"].to_numpy(np.int64)
        size = F * 2 * 2 ** nr
        boot.joint = np.bincount(u * size + key, weights=sw, minlength=U * size).reshape((U, F, 2) + (2,) * nr)
    return boot


def contract(boot: BootstrapAggregates, weights: np.ndarray) -> BootstrapAggregates:
    """Per-bucket sums -> per-replicate sums: ``weights`` (B, M) times every (M, ...) array."""
    w = np.asarray(weights, dtype=np.float64)

    def c(a: np.ndarray) -> np.ndarray:
        return (w @ a.reshape(a.shape[0], -1)).reshape((w.shape[0],) + a.shape[1:])

    out = BootstrapAggregates(linear={r: c(a) for r, a in boot.linear.items()},
                              histogram={r: c(a) for r, a in boot.histogram.items()},
                              calibration={r: c(a) for r, a in boot.calibration.items()},
                              joint=None if boot.joint is None else c(boot.joint),
                              fair_calibration={r: c(a) for r, a in boot.fair_calibration.items()})
    return out
