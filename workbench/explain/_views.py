"""Views over computed SHAP values: importance with CIs, beeswarm, dependence, waterfall, diff."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.canonical import to_jsonable
from workbench.metrics.bootstrap import percentile_ci, poisson_weights


def importance(values: np.ndarray, features: Sequence[str], *, n_boot: int, seed: int,
               confidence: float) -> list[dict[str, Any]]:
    """Mean |SHAP| per feature with Poisson-bootstrap CIs over the explained rows, largest first."""
    absval = np.abs(values)
    point = absval.mean(axis=0)
    total = point.sum()
    lows = highs = np.full(point.shape, np.nan)
    if n_boot > 0 and values.shape[0] > 1:
        w = poisson_weights(values.shape[0], n_boot=n_boot, seed=seed).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = (w @ absval) / w.sum(axis=1, keepdims=True)
        cis = [percentile_ci(reps[:, j], confidence=confidence) for j in range(len(features))]
        lows, highs = np.array([c[0] for c in cis]), np.array([c[1] for c in cis])
    order = np.argsort(-point, kind="stable")
    return [{"feature": features[j], "rank": r + 1, "value": float(point[j]), "ci_low": _f(lows[j]),
             "ci_high": _f(highs[j]), "share": float(point[j] / total) if total > 0 else None}
            for r, j in enumerate(order)]


def _f(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _numeric(col: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    return None


def direction(values: np.ndarray, data: pd.DataFrame, features: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Sign of the correlation between a numeric feature's value and its attribution."""
    out: dict[str, dict[str, Any]] = {}
    for j, f in enumerate(features):
        x = _numeric(data[f])
        if x is None:
            out[f] = {"correlation": None, "sign": None, "reason": "categorical feature: no value order"}
            continue
        ok = np.isfinite(x)
        if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(values[ok, j]) == 0:
            out[f] = {"correlation": None, "sign": None, "reason": "constant feature or attribution"}
            continue
        r = float(np.corrcoef(x[ok], values[ok, j])[0, 1])
        out[f] = {"correlation": r, "sign": int(np.sign(r))}
    return out


def beeswarm(values: np.ndarray, data: pd.DataFrame, features: Sequence[str], order: Sequence[str],
             *, max_points: int) -> dict[str, Any]:
    """Per feature (importance order): SHAP value and raw value of each explained row."""
    n = min(values.shape[0], max_points)
    rows = []
    for f in order:
        j = list(features).index(f)
        col = data[f].iloc[:n]
        x = _numeric(col)
        scaled = None
        if x is not None and np.isfinite(x).any():
            lo, hi = np.nanpercentile(x, [5, 95])
            with np.errstate(invalid="ignore"):
                scaled = np.clip((x - lo) / (hi - lo), 0, 1) if hi > lo else np.full(n, 0.5)
        rows.append({"feature": f, "shap": values[:n, j].tolist(), "value": to_jsonable(col.tolist()),
                     "colour": None if scaled is None else to_jsonable(scaled)})
    return {"features": list(order), "rows": rows, "n_points": n}


def dependence(values: np.ndarray, data: pd.DataFrame, features: Sequence[str], feature: str) -> dict[str, Any]:
    """Feature value vs its attribution, coloured by the feature whose attribution correlates most."""
    j = list(features).index(feature)
    best, best_r = None, 0.0
    for k, other in enumerate(features):
        if k == j or np.std(values[:, k]) == 0 or np.std(values[:, j]) == 0:
            continue
        r = abs(float(np.corrcoef(values[:, j], values[:, k])[0, 1]))
        if r > best_r:
            best, best_r = other, r
    return {"feature": feature, "value": to_jsonable(data[feature].tolist()), "shap": values[:, j].tolist(),
            "interaction_feature": best,
            "interaction_value": None if best is None else to_jsonable(data[best].tolist())}


def waterfall(values: np.ndarray, row: pd.Series, features: Sequence[str], *, base_value: float,
              output: float, output_space: str, row_id: Any) -> dict[str, Any]:
    """Local explanation: base value, contributions largest |SHAP| first, and the prediction."""
    order = np.argsort(-np.abs(values), kind="stable")
    return {"row_id": to_jsonable(row_id), "base_value": float(base_value), "prediction": float(output),
            "output_space": output_space, "sum_of_contributions": float(values.sum()),
            "contributions": [{"feature": features[j], "value": to_jsonable(row[features[j]]),
                               "shap": float(values[j])} for j in order]}


def diff(cand: Mapping[str, Any], base: Mapping[str, Any], *, top_k: int,
         sensitive: Sequence[str], proxies: Sequence[str]) -> dict[str, Any]:
    """Compare two models' explanations (importance lists and directions)."""
    from scipy.stats import kendalltau, spearmanr

    ic = {r["feature"]: r for r in cand["importance"]}
    ib = {r["feature"]: r for r in base["importance"]}
    common = [f for f in ic if f in ib]
    a = np.array([ic[f]["value"] for f in common])
    b = np.array([ib[f]["value"] for f in common])
    rho = tau = None
    if len(common) >= 2 and np.std(a) > 0 and np.std(b) > 0:
        rho, tau = float(spearmanr(a, b).statistic), float(kendalltau(a, b).statistic)
    k = min(top_k, len(common))
    top_c = [r["feature"] for r in cand["importance"][:k]]
    top_b = [r["feature"] for r in base["importance"][:k]]
    moves = sorted(({"feature": f, "rank_candidate": ic[f]["rank"], "rank_baseline": ib[f]["rank"],
                     "move": ib[f]["rank"] - ic[f]["rank"]} for f in common), key=lambda m: -abs(m["move"]))
    flips = []
    for f in common:
        dc, db = cand["direction"].get(f, {}), base["direction"].get(f, {})
        if dc.get("sign") and db.get("sign") and dc["sign"] != db["sign"]:
            flips.append({"feature": f, "correlation_candidate": dc["correlation"],
                          "correlation_baseline": db["correlation"]})
    return {"n_features": len(common), "spearman": rho, "kendall": tau, "top_k": k,
            "top_k_overlap": len(set(top_c) & set(top_b)) / k if k else None,
            "top_k_candidate": top_c, "top_k_baseline": top_b,
            "rank_moves": [m for m in moves if m["move"] != 0][:top_k],
            "direction_flips": flips,
            "reliance": {role: _reliance(src, sensitive, proxies) for role, src in (("candidate", cand), ("baseline", base))}}


def _reliance(expl: Mapping[str, Any], sensitive: Sequence[str], proxies: Sequence[str]) -> dict[str, Any]:
    shares = {r["feature"]: r["share"] or 0.0 for r in expl["importance"]}
    return {"sensitive_share": float(sum(shares.get(f, 0.0) for f in sensitive)),
            "proxy_share": float(sum(shares.get(f, 0.0) for f in proxies if f not in sensitive)),
            "sensitive_features_used": [f for f in sensitive if f in shares],
            "proxies": {f: shares[f] for f in proxies if f in shares}}
