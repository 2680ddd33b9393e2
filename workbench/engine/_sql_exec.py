"""The plan run as SQL over a view ``base`` (see ``_sql``); DuckDB and Spark subclass it.

A subclass provides ``rows(sql) -> list[tuple]``, ``numeric_cells`` and the source view, and may
override the pieces its engine does differently (exact AUC, drift binning). Only aggregates come back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from workbench.engine import _sql as S
from workbench.engine._plan import (
    Aggregates,
    BootstrapAggregates,
    CategoryCounts,
    FairnessAggregates,
    NumericCells,
    RoleAggregates,
    ScaleSpec,
)
from workbench.engine._ranks import histogram_domain, histogram_scale
from workbench.engine._sql_boot import assemble, contract
from workbench.errors import DataError
from workbench.metrics.bootstrap import fill_poisson_counts
from workbench.metrics.calibration import grouped_logistic_fit


class SqlExecutor:
    engine = "sql"
    dialect = S.Dialect("duckdb")
    #: Whether ``_exact_rank_summary`` is provided (DuckDB); otherwise AUC/AP come from histograms.
    exact_auc = False

    def __init__(self, spec: ScaleSpec, *, progress: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.say = progress or (lambda _m: None)

    # -- to provide -------------------------------------------------------------------
    def rows(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def numeric_cells(self, name: str, prof) -> NumericCells:
        raise NotImplementedError

    # -- the plan ------------------------------------------------------------------------
    def arrays(self, sql: str) -> list[np.ndarray]:
        """The result's columns as numpy arrays (group keys and sums of a GROUP BY)."""
        rows = self.rows(sql)
        if not rows:
            return [np.empty(0)] * 0
        return [np.asarray(col) for col in zip(*rows)]

    def int_keys(self, sql: str, n_keys: int) -> tuple[tuple[np.ndarray, ...], list[np.ndarray]]:
        cols = self.arrays(sql)
        if not cols:
            return (), []
        return tuple(np.asarray(c, dtype=np.int64) for c in cols[:n_keys]), [
            np.asarray(c, dtype=np.float64) for c in cols[n_keys:]]

    def one(self, sql: str) -> tuple:
        return self.rows(sql)[0]

    def run(self, *, profile=None) -> Aggregates:
        spec, t0 = self.spec, time.perf_counter()
        roles = list(spec.scores)
        n = len(roles)
        first = self.one("SELECT count(*), " + ", ".join(
            e for i in range(n) for e in (*S.linear_exprs(i, spec.threshold), f"min(s_{i})", f"max(s_{i})",
                                          (f"sum(CASE WHEN s_{i} IS NULL OR NOT {self.dialect.finite(f's_{i}')} "
                                           "THEN 1 ELSE 0 END)"))) + " FROM base")
        n_rows = int(first[0])
        out: dict[str, RoleAggregates] = {}
        for i, role in enumerate(roles):
            vals = first[1 + 9 * i: 1 + 9 * (i + 1)]
            if int(vals[8]):
                raise DataError(f"evaluation data: score column {spec.scores[role]!r} ({role}) has {int(vals[8])} "
                                "missing or non-finite values; every row needs a score")
            out[role] = RoleAggregates(linear=np.array([float(v or 0) for v in vals[:6]]),
                                       score_min=float(vals[6]) if vals[6] is not None else np.inf,
                                       score_max=float(vals[7]) if vals[7] is not None else -np.inf)
        self.say(f"{self.engine}: {n_rows} rows, linear sums done")
        agg = Aggregates(engine=self.engine, n_rows=n_rows, roles=out)
        for i, role in enumerate(roles):
            self._ranks(i, out[role])
        self._calibration(roles, out)
        if spec.sensitive:
            agg.fairness = self._fairness(roles, out)
        if profile is not None and spec.features:
            self._drift_stats([f for f in spec.features if profile.features[f].kind == "numeric"], profile)
            for name in spec.features:
                prof = profile.features[name]
                agg.drift[name] = self.numeric_cells(name, prof) if prof.kind == "numeric" else self._categories(name)
        agg.timings["aggregates"] = time.perf_counter() - t0
        if spec.n_boot:
            t1 = time.perf_counter()
            self.say(f"{self.engine}: bootstrap, {spec.n_boot} replicates")
            agg.boot = self._bootstrap(roles, out, n_rows)
            agg.timings["bootstrap"] = time.perf_counter() - t1
        return agg

    def _ranks(self, i: int, role: RoleAggregates) -> None:
        spec = self.spec
        if self.exact_auc and spec.auc == "exact":
            role.rank_summary = self._exact_rank_summary(i)
            return
        lo, hi = histogram_domain(role.score_min, role.score_max)
        b = S.bin_expr(f"s_{i}", lo, histogram_scale(lo, hi, spec.histogram_bins), spec.histogram_bins)
        h = np.zeros((spec.histogram_bins, 2), dtype=np.int64)
        keys, vals = self.int_keys(f"SELECT {b} AS b, y, count(*) FROM base GROUP BY 1, 2", 2)
        if keys:
            h[keys] = vals[0].astype(np.int64)
        role.histogram = h

    def _exact_rank_summary(self, i: int) -> dict[str, float]:
        """Exact AUC/AP terms ``num2, ap_sum, P, N`` of score ``s_i`` (engines with ``exact_auc``)."""
        raise NotImplementedError

    def _calibration(self, roles: list[str], out: dict[str, RoleAggregates]) -> None:
        """Calibration sums of every probability model: quantile edges in one scan, both bin
        tables in one scan, Newton steps of all models together (one scan per step)."""
        spec = self.spec
        b = spec.calibration_bins
        idx = [i for i, r in enumerate(roles) if out[r].probabilities and out[r].linear[3] > 0]
        if not idx:
            return
        quantiles = self.quantiles(idx, np.linspace(0, 1, b + 1), out=[out[roles[i]] for i in idx])
        parts, sums = [], {}
        for i, q in zip(idx, quantiles, strict=True):
            role = out[roles[i]]
            edges = np.unique(np.asarray(list(q), dtype=np.float64))
            if edges.size < 2:
                edges = np.array([edges[0], edges[0]])
            role.quantile_edges = edges
            sums[i] = np.zeros(3 * (b + edges.size - 1) + 6)
            parts.append(f"SELECT {i} AS m, {S.bin_expr(f's_{i}', 0.0, float(b), b)} AS ub, "
                         f"{S.quantile_bin_expr(f's_{i}', edges[1:-1])} AS qb, count(*) AS c, sum(s_{i}) AS sp, "
                         "sum(y) AS sy FROM base GROUP BY 1, 2, 3")
        for m, ub, qb, c, sp, sy in self.rows(" UNION ALL ".join(parts)):
            bq = out[roles[int(m)]].quantile_edges.size - 1  # type: ignore[union-attr]  # set above for these roles
            target = sums[int(m)]
            target[[int(ub), b + int(ub), 2 * b + int(ub)]] += (c, sp, sy)
            target[[3 * b + int(qb), 3 * b + bq + int(qb), 3 * b + 2 * bq + int(qb)]] += (c, sp, sy)

        def at(thetas: dict) -> dict:
            keys = list(thetas)
            row = self.one("SELECT " + ", ".join(e for i in keys for e in S.newton_exprs(i, *thetas[i])) + " FROM base")
            return {i: tuple(float(v) for v in row[5 * k: 5 * k + 5]) for k, i in enumerate(keys)}

        start = {}
        warm = self.rows(" UNION ALL ".join(S.warm_start_sql(i) for i in idx))
        for i in idx:
            g = np.array([(c, sx, y) for m, _b, y, c, sx in warm if int(m) == i], dtype=np.float64).reshape(-1, 3)
            start[i] = grouped_logistic_fit(g[:, 0], g[:, 1], g[:, 2])
        S.finish_calibration(at, start, out, roles, idx, sums)

    def _drift_stats(self, names: list[str], profile) -> None:
        """Hook run once before ``numeric_cells`` of the numeric drift features ``names``: an
        engine may scan all of them together here (Spark does). Default: nothing."""

    def quantiles(self, idx: list[int], qs: np.ndarray, *, out: list[RoleAggregates]) -> list[list[float]]:
        """Exact quantiles (linear interpolation, as numpy) of each score ``s_i`` at ``qs``, one scan."""
        q = ", ".join(repr(float(v)) for v in qs)
        return list(self.one("SELECT " + ", ".join(f"quantile_cont(s_{i}, [{q}])" for i in idx) + " FROM base"))

    def _fairness(self, roles: list[str], out: dict[str, RoleAggregates]) -> FairnessAggregates:
        spec = self.spec
        g = [f"g_{j}" for j in range(len(spec.sensitive))]
        preds = [f"CAST(s_{i} >= {S.dbl(spec.threshold)} AS INTEGER)" for i in range(len(roles))]
        cal_roles = [i for i, r in enumerate(roles) if out[r].probabilities]
        fb = [S.bin_expr(f"s_{i}", 0.0, float(spec.fairness_bins), spec.fairness_bins) for i in cal_roles]
        keys = [*g, "y", *preds, *fb]
        sums = ", ".join(["count(*)"] + [f"sum(y - s_{i})" for i in cal_roles])
        rows = self.rows(f"SELECT {', '.join(keys)}, {sums} FROM base GROUP BY {', '.join(str(k + 1) for k in range(len(keys)))}")
        cells: dict[tuple, int] = {}
        for r in rows:
            cells.setdefault(tuple(r[: len(g)]), len(cells))
        F, nr = len(cells), len(roles)
        joint = np.zeros((F, 2) + (2,) * nr, dtype=np.int64)
        cal = {roles[i]: np.zeros((F, spec.fairness_bins)) for i in cal_roles}
        for r in rows:
            c = cells[tuple(r[: len(g)])]
            y = int(r[len(g)])
            p = tuple(int(v) for v in r[len(g) + 1: len(g) + 1 + nr])
            joint[(c, y, *p)] += int(r[len(keys)])
            for k, i in enumerate(cal_roles):
                cal[roles[i]][c, int(r[len(g) + 1 + nr + k])] += float(r[len(keys) + 1 + k])
        combos = {name: [key[j] for key in cells] for j, name in enumerate(spec.sensitive)}
        self._fair_point = FairnessAggregates(combos=combos, joint=joint, calibration=cal)
        return self._fair_point

    def _categories(self, name: str) -> CategoryCounts:
        col = self.dialect.ident(name)
        return CategoryCounts({v: int(c) for v, c in self.rows(f"SELECT {col}, count(*) FROM src GROUP BY 1")})

    # -- bootstrap -------------------------------------------------------------------------
    def replicated_source(self) -> str:
        """``base`` x replicates: its columns, ``u`` (the replicate) and the Poisson weight ``w``."""
        return self.dialect.replicated("base", self.replicate_table())

    def replicate_table(self) -> str:
        return f"range({self.spec.n_boot}) t(r)"

    def frame(self, sql: str) -> pd.DataFrame:
        """The result as a pandas frame (subclasses fetch it columnar)."""
        raise NotImplementedError

    def bootstrap_unit(self, n_rows: int) -> str:
        return S.bootstrap_unit(self.spec, n_rows)

    def _bucket_sums(self, roles: list[str], out: dict[str, RoleAggregates], n_units: int,
                     fair: FairnessAggregates | None) -> BootstrapAggregates | None:
        """Per-bucket sums by the engine's own means (DuckDB: one streamed scan), or None: ``assemble``."""
        return None

    def _bootstrap(self, roles: list[str], out: dict[str, RoleAggregates], n_rows: int) -> BootstrapAggregates:
        """Every replicated aggregate from ONE scan (see ``_sql_boot``)."""
        spec, B = self.spec, self.spec.n_boot
        unit = self.bootstrap_unit(n_rows)
        if unit == "row":
            source, n_units = self.replicated_source(), B
        else:
            n_units = spec.bootstrap_buckets
            source = f"(SELECT b.*, {self.dialect.bucket('b.k', n_units)} AS u, 1 AS w FROM base b)"
        self.say(f"{self.engine}: bootstrap by {unit}")
        fair = self._fair_point if spec.sensitive else None
        boot = self._bucket_sums(roles, out, n_units, fair) if unit == "bucket" else None
        if boot is None:
            boot = assemble(self, roles, out, source, n_units, fair_point=fair)
        if unit == "row":
            boot.weights = (f"{self.engine}: inverse-CDF Poisson(1) of a 64-bit hash of "
                            "(row key x 131072 + replicate)")
            return boot
        counts = np.empty((B, n_units), dtype=np.uint8)
        fill_poisson_counts(counts, seed=spec.seed)
        boot = contract(boot, counts)
        boot.weights = (f"{self.engine}: Poisson(1) bootstrap of {n_units} random buckets (row key hash mod "
                        f"{n_units}), Philox weights per (bucket, replicate), workbench.metrics.bootstrap")
        return boot
