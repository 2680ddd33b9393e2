"""SQL text of the plan's aggregates, shared by the DuckDB and Spark executors.

Every per-row expression here is the SQL twin of a numpy expression of the in-memory path
(same IEEE operations in the same order where bit-equality matters: bins are
``floor((s - lo) * scale)`` with the same ``scale``; the log-loss term clips with the same
``eps``). The two dialects differ only in identifier quoting, the finiteness test and the hash.

Bootstrap weights: ``u`` = the top 53 bits of a 64-bit hash of ONE combined key per
(row, replicate) — ``row_key * 131072 + replicate`` in a 128-bit / decimal type so it never
overflows — mapped to Poisson(1) by its inverse CDF. Hashing two arguments (``hash(a, b)``)
instead gives correlated replicates in DuckDB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.engine._plan import ScaleSpec
from workbench.metrics.calibration import WARM_BINS

EPS = float(np.finfo(np.float64).eps)
LOGIT_EPS = 1e-12
MAX_REPLICATES = 131072
_POISSON_K = 12


def poisson_cdf() -> list[float]:
    """CDF of Poisson(1) at 0..11 (the inverse-CDF thresholds of the bootstrap weight)."""
    out, acc = [], 0.0
    for k in range(_POISSON_K):
        acc += math.exp(-1.0) / math.factorial(k)
        out.append(acc)
    return out


@dataclass(frozen=True)
class Dialect:
    name: str

    def ident(self, name: str) -> str:
        if self.name == "spark":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def finite(self, x: str) -> str:
        if self.name == "spark":
            return f"(NOT isnan({x}) AND abs({x}) < double('Infinity'))"
        return f"isfinite({x})"

    def uniform(self, row_key: str, replicate: str) -> str:
        """Spark: uniform [0, 1) from a hash of the single combined key (row, replicate) — the top
        53 bits of xxhash64 over 2**53. DuckDB needs none: ``replicated`` compares its raw hash."""
        if self.name != "spark":
            raise ValueError(f"Dialect.uniform is Spark's; the {self.name} dialect compares raw hashes")
        key = f"(CAST({row_key} AS DECIMAL(38,0)) * {MAX_REPLICATES} + {replicate})"
        return f"(CAST(shiftrightunsigned(xxhash64({key}), 11) AS DOUBLE) / 9007199254740992.0)"

    def replicated(self, table: str, replicates: str) -> str:
        """``table`` crossed with ``replicates`` (column ``r``): columns of the table, ``u`` = r, ``w``.

        ``w`` is the Poisson(1) inverse CDF of the hash of the combined key. DuckDB compares the
        raw 64-bit hash with integer thresholds (``u < c`` on the top 53 bits is
        ``h < ceil(c * 2**53) * 2**11``: the same weights, without a shift, cast and division
        per pair); Spark maps its hash to a double first.
        """
        if self.name == "spark":
            w = poisson_case(self.uniform("b.k", "t.r"))
            return f"(SELECT b.*, t.r AS u, {w} AS w FROM {table} b CROSS JOIN {replicates})"
        key = f"(b.k::HUGEINT * {MAX_REPLICATES} + t.r)"
        parts = [f"WHEN h < {math.ceil(c * 2.0 ** 53) << 11}::UBIGINT THEN {k}" for k, c in enumerate(poisson_cdf())]
        return (f"(SELECT * EXCLUDE (h), CASE {' '.join(parts)} ELSE {_POISSON_K} END AS w FROM "
                f"(SELECT b.*, t.r AS u, hash({key}) AS h FROM {table} b CROSS JOIN {replicates}))")

    def bucket(self, row_key: str, buckets: int) -> str:
        """Bucket of a row for the bucket bootstrap (low bits of the hashed row key)."""
        if self.name == "spark":
            return f"CAST(pmod({row_key}, {int(buckets)}) AS INTEGER)"
        return f"CAST({row_key} % {int(buckets)} AS INTEGER)"

    def row_key(self, column: str, seed: int) -> str:
        """A 64-bit per-row key from the id column, mixed with the seed (a bijection)."""
        if self.name == "spark":
            return f"(xxhash64({column}) # {np.int64(np.uint64(seed % 2**64).view(np.int64))})".replace("#", "^")
        return f"xor(hash({column}), {int(seed) % 2**64}::UBIGINT)"


def literal(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def dbl(x: float) -> str:
    """A double literal that round-trips exactly."""
    return f"CAST({float(x)!r} AS DOUBLE)"


def poisson_case(u: str) -> str:
    parts = [f"WHEN {u} < {c!r} THEN {k}" for k, c in enumerate(poisson_cdf())]
    return "(CASE " + " ".join(parts) + f" ELSE {_POISSON_K} END)"


def base_select(d: Dialect, spec: ScaleSpec, *, row_key: str | None) -> str:
    """Per-row columns every aggregate reads: y, s_i, pred_i, g_j, k (row key)."""
    cols = [f"CAST(coalesce({d.ident(spec.label)} = {literal(spec.positive_label)}, FALSE) AS INTEGER) AS y"]
    for i, col in enumerate(spec.scores.values()):
        cols.append(f"CAST({d.ident(col)} AS DOUBLE) AS s_{i}")
    for j, col in enumerate(spec.sensitive):
        cols.append(f"{d.ident(col)} AS g_{j}")
    if row_key is not None:
        cols.append(f"{row_key} AS k")
    return ", ".join(cols)


def clip(x: str, eps: float) -> str:
    return f"least(greatest({x}, {dbl(eps)}), {dbl(1 - eps)})"


def linear_exprs(i: int, threshold: float, w: str = "") -> list[str]:
    """tp, fp, positives, rows, log-loss sum, Brier sum of role ``i`` (weighted by ``w``)."""
    s, m = f"s_{i}", (f"{w} * " if w else "")
    c = clip(s, EPS)
    ll = f"-(y * ln({c}) + (1 - y) * ln(1 - {c}))"
    pred = f"CAST({s} >= {dbl(threshold)} AS INTEGER)"
    return [f"sum({m}y * {pred})", f"sum({m}(1 - y) * {pred})", f"sum({m}y)",
            f"sum({w or 1})", f"sum({m}{ll})", f"sum({m}({s} - y) * ({s} - y))"]


def bin_expr(x: str, lo: float, scale: float, bins: int) -> str:
    return f"CAST(least(greatest(floor(({x} - {dbl(lo)}) * {dbl(scale)}), 0), {bins - 1}) AS INTEGER)"


def quantile_bin_expr(x: str, inner_edges: np.ndarray) -> str:
    if inner_edges.size == 0:
        return "0"
    return "(" + " + ".join(f"CAST({x} >= {dbl(e)} AS INTEGER)" for e in inner_edges) + ")"


def logit(x: str) -> str:
    c = clip(x, LOGIT_EPS)
    return f"(ln({c}) - ln(1 - {c}))"


def newton_exprs(i: int, intercept: float, slope: float, w: str = "") -> list[str]:
    """sum(y - mu), sum(x (y - mu)), sum(v), sum(x v), sum(x^2 v) at (intercept, slope)."""
    x = logit(f"s_{i}")
    m = f"{w} * " if w else ""
    if math.isfinite(slope) and math.isfinite(intercept):
        mu = f"(1 / (1 + exp(-({dbl(intercept)} + {dbl(slope)} * {x}))))"
    else:
        mu = "0.5"
    v = f"({mu} * (1 - {mu}))"
    return [f"sum({m}(y - {mu}))", f"sum({m}{x} * (y - {mu}))", f"sum({m}{v})",
            f"sum({m}{x} * {v})", f"sum({m}{x} * {x} * {v})"]


def warm_start_sql(i: int) -> str:
    """(model, logit bin, y) -> count, sum of logit(p): the grouped data of ``grouped_logistic_fit``."""
    lo = math.log(LOGIT_EPS) - math.log1p(-LOGIT_EPS)
    x = logit(f"s_{i}")
    return (f"SELECT {i} AS m, {bin_expr(x, lo, WARM_BINS / (-2 * lo), WARM_BINS)} AS b, y, count(*) AS c, "
            f"sum({x}) AS sx FROM base GROUP BY 1, 2, 3")


def finish_calibration(sums_at, start: dict, out: dict, roles: list, idx, sums: dict) -> None:
    """Fit each model's logistic recalibration (``newton_fit_many`` from ``start``), then write
    the Brier sum and the final Newton sums into the tail of its calibration sums: the last step
    shared by the SQL executors and the in-memory score sort."""
    fits = newton_fit_many(sums_at, {i: (out[roles[i]].linear[3], out[roles[i]].linear[2]) for i in idx},
                           start=start)
    for i in idx:
        out[roles[i]].slope, out[roles[i]].intercept = fits[i]
    final = sums_at({i: (out[roles[i]].intercept, out[roles[i]].slope) for i in idx})
    for i in idx:
        role = out[roles[i]]
        size = sums[i].size
        sums[i][size - 6] = role.linear[5]  # Brier sum: the same expression as the linear sums'
        sums[i][size - 5:] = final[i]
        role.calibration = sums[i]


def newton_fit_many(sums_at, counts: dict, *, max_iter: int = 100, start: dict | None = None) -> dict:
    """``workbench.metrics.calibration.logistic_recalibration`` for several models at once, the
    data scans delegated to ``sums_at``: one scan per Newton step for all of them.

    ``counts`` maps a model to ``(n_rows, n_pos)``; ``sums_at({model: (intercept, slope)})``
    returns ``{model: (g0, g1, h00, h01, h11)}`` for the models still iterating. Each model
    follows exactly the Newton steps and stopping rules of that fit, from (0, 0) or from
    ``start[model]`` = (intercept, slope) (``grouped_logistic_fit``).
    """
    nan = (float("nan"), float("nan"))
    result: dict = {}
    theta: dict = {}
    for key, (n_rows, n_pos) in counts.items():
        if n_rows <= 0 or n_pos in (0, n_rows):
            result[key] = nan
        else:
            theta[key] = np.array((start or {}).get(key, (0.0, 0.0)), dtype=np.float64)
    for _ in range(max_iter):
        if not theta:
            break
        sums = sums_at({k: (float(t[0]), float(t[1])) for k, t in theta.items()})
        for key in list(theta):
            g0, g1, h00, h01, h11 = sums[key]
            try:
                step = np.linalg.solve(np.array([[h00, h01], [h01, h11]], dtype=np.float64), np.array([g0, g1]))
            except np.linalg.LinAlgError:
                result[key] = nan
                del theta[key]
                continue
            t = theta[key] + step
            if not np.all(np.isfinite(t)) or np.abs(t).max() > 1e6:
                result[key] = nan
                del theta[key]
            elif np.abs(step).max() < 1e-10:
                result[key] = (float(t[1]), float(t[0]))
                del theta[key]
            else:
                theta[key] = t
    for key in theta:
        result[key] = nan
    return result


#: Above this many (row, replicate) pairs ``bootstrap_unit="auto"`` resamples buckets.
ROW_PAIRS_MAX = 400_000_000


def bootstrap_unit(spec: ScaleSpec, n_rows: int) -> str:
    """``row`` (a weight per row and replicate) or ``bucket`` (per hash bucket of rows)."""
    if spec.bootstrap_unit != "auto":
        return spec.bootstrap_unit
    return "row" if n_rows * spec.n_boot <= ROW_PAIRS_MAX else "bucket"
