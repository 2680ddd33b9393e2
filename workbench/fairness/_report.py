"""Turns engine aggregates into the JSON-ready fairness sections (see :mod:`workbench.fairness`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.fairness import _engine as eng
from workbench.fairness import _stats as st
from workbench.metrics import bootstrap_mde
from workbench.metrics.bootstrap import percentile_ci

DIFFERENCES = ("demographic_parity_difference", "equalized_odds_difference", "equal_opportunity_difference")
RATIOS = ("demographic_parity_ratio", "equalized_odds_ratio", "equal_opportunity_ratio")
DIFFERENCE_REASON = "fewer than two eligible groups with a defined rate"
RATIO_REASON = "fewer than two eligible groups with a defined rate, or 0/0 (the rate is 0 in every group)"


@dataclass(frozen=True)
class Settings:
    min_group_size: int
    n_boot: int
    seed: int
    confidence: float
    n_bins: int
    undefined: str
    auc_bootstrap_budget: float
    engine: str = "auto"


def metric_value(value: float | np.ndarray, replicates: np.ndarray | None, *, confidence: float, reason: str,
                 method: str | None = None, ci: tuple[float, float] | None = None) -> dict[str, object]:
    """``{"value", "ci_low", "ci_high", "defined", "reason"?, "method"?}`` with no NaN inside."""
    value = float(value)
    if not np.isfinite(value):
        out: dict[str, object] = {"value": None, "ci_low": None, "ci_high": None, "defined": False, "reason": reason}
        return out
    if ci is None and replicates is not None and replicates.size:
        ci = percentile_ci(replicates, confidence=confidence)
    low, high = ci if ci is not None else (float("nan"), float("nan"))
    out = {"value": value, "ci_low": _f(low), "ci_high": _f(high), "defined": True}
    if method:
        out["method"] = method
    return out


def _f(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _rep(arr: np.ndarray | None, *idx: int) -> np.ndarray | None:
    return None if arr is None else arr[(slice(None), *idx)]  # type: ignore[arg-type]  # numpy's stubs want an index array here


class SectionBuilder:
    """Builds every grouping's section for every model, plus the candidate-vs-baseline deltas."""

    def __init__(self, y_true: np.ndarray, preds: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray | None],
                 partition: eng.Partition, settings: Settings) -> None:
        self.y, self.preds, self.scores, self.part, self.s = y_true, preds, scores, partition, settings
        self._cache: dict[tuple[str, ...], np.ndarray] = {}

    def run(self, progress: Callable[[str], None] | None = None) -> tuple[dict, dict]:
        s, part = self.s, self.part
        point = eng.point_aggregates(part.cells, part.n_cells, self.y, self.preds, self.scores, n_bins=s.n_bins)
        aucs = self._auc_plan()
        boot = None
        if s.n_boot > 0:
            consumers = [a.consume for a in aucs.values() if isinstance(a, st.WeightedAuc)]
            boot = eng.bootstrap_aggregates(part.cells, part.n_cells, self.y, self.preds, self.scores, n_bins=s.n_bins,
                                            n_boot=s.n_boot, seed=s.seed, progress=progress, consumers=consumers,
                                            engine=s.engine)
        sections: dict[str, dict] = {role: {} for role in self.preds}
        reps: dict[str, dict] = {role: {} for role in self.preds}
        for grouping in part.groupings:
            for role in self.preds:
                sec, rep = self._grouping(role, grouping, point, boot, aucs)
                sections[role][grouping.name] = sec
                reps[role][grouping.name] = rep
        return sections, reps

    def _auc_plan(self) -> dict[tuple[str, str, int], object]:
        """AUC per (role, grouping, group): exact weighted bootstrap within budget, else DeLong."""
        plan: dict[tuple[str, str, int], object] = {}
        use_boot = self.s.n_boot > 0 and self.y.shape[0] * self.s.n_boot <= self.s.auc_bootstrap_budget
        for role, score in self.scores.items():
            if score is None:
                continue
            for grouping in self.part.groupings:
                codes = self.part.group_codes[grouping.name]
                for g in range(len(grouping.labels)):
                    rows = np.flatnonzero(codes == g)
                    npos = int(self.y[rows].sum())
                    if npos == 0 or npos == rows.shape[0]:
                        continue
                    plan[(role, grouping.name, g)] = st.WeightedAuc(rows, self.y, score) if use_boot else rows
        return plan

    def _grouping(self, role: str, grouping: eng.Grouping, point: eng.CellAggregates,
                  boot: eng.CellAggregates | None, aucs: dict) -> tuple[dict, dict]:
        s, G = self.s, len(grouping.labels)
        counts = eng.coarsen(point.confusion[role], grouping, G)  # (G, 4)
        n = counts.sum(axis=1)
        values = eng.rates(counts, undefined=s.undefined)
        overall = eng.rates(counts.sum(axis=0), undefined=s.undefined)
        b_counts = b_values = b_overall = None
        if boot is not None:
            b_counts = eng.coarsen(boot.confusion[role], grouping, G)
            b_values = eng.rates(b_counts, undefined=s.undefined)
            b_overall = eng.rates(b_counts.sum(axis=1), undefined=s.undefined)
        if role in point.calibration:
            cal = eng.coarsen(point.calibration[role], grouping, G)
            values["ece"] = eng.ece_from_sums(cal, n)
            if boot is not None:
                assert b_values is not None and b_counts is not None  # set above when there is a bootstrap
                b_values["ece"] = eng.ece_from_sums(eng.coarsen(boot.calibration[role], grouping, G),
                                                    b_counts.sum(axis=-1))
        eligible = n >= s.min_group_size
        groups, rep_groups = {}, {}
        for g, label in enumerate(grouping.labels):
            entry: dict[str, object] = {"n": int(n[g]), "insufficient_data": bool(not eligible[g])}
            rep_entry: dict[str, np.ndarray | None] = {}
            for metric in [m for m in eng.GROUP_METRICS if m in values or m == "roc_auc"]:
                if metric == "roc_auc":
                    if self.scores.get(role) is None:
                        continue
                    entry[metric], rep_entry[metric] = self._auc(role, grouping, g, aucs)
                    continue
                r = _rep(b_values[metric], g) if b_values is not None else None
                entry[metric] = metric_value(values[metric][g], r, confidence=s.confidence,
                                             reason=eng.UNDEFINED_REASON[metric])
                rep_entry[metric] = r
            groups[label], rep_groups[label] = entry, rep_entry
        disp = eng.disparities(values, overall, eligible, undefined=s.undefined)
        b_disp = (eng.disparities(b_values, b_overall, eligible, undefined=s.undefined)
                  if b_values is not None and b_overall is not None else None)
        section: dict[str, Any] = {"features": list(grouping.features),
                                      "kind": "intersection" if len(grouping.features) > 1 else "feature",
                                      "groups": groups,
                                      "excluded_groups": [lab for lab, ok in zip(grouping.labels, eligible) if not ok]}
        rep_disp: dict[str, dict[str, np.ndarray | None]] = {}
        for method in ("between_groups", "to_overall"):
            target = section if method == "between_groups" else section.setdefault("to_overall", {})
            rep_disp[method] = {}
            for name, v in disp[method].items():
                r = b_disp[method][name] if b_disp is not None else None
                target[name] = metric_value(v, r, confidence=s.confidence,
                                            reason=RATIO_REASON if name in RATIOS else DIFFERENCE_REASON)
                rep_disp[method][name] = r
        section["four_fifths_rule"] = _four_fifths(section["demographic_parity_ratio"])
        section["overall"] = {m: metric_value(overall[m], _rep(b_overall[m]) if b_overall else None,
                                              confidence=s.confidence, reason=eng.UNDEFINED_REASON[m])
                              for m in eng.COUNT_METRICS}
        section["slice_tests"] = st.slice_tests(counts.astype(np.int64), grouping.labels, min_group_size=s.min_group_size)
        return section, {"groups": rep_groups, "disparities": rep_disp}

    def _auc(self, role: str, grouping: eng.Grouping, g: int, aucs: dict) -> tuple[dict, np.ndarray | None]:
        plan = aucs.get((role, grouping.name, g))
        reason = eng.UNDEFINED_REASON["roc_auc"]
        if plan is None:
            return metric_value(float("nan"), None, confidence=self.s.confidence, reason=reason), None
        rows = plan.rows if isinstance(plan, st.WeightedAuc) else plan
        score = self.scores[role]
        assert score is not None  # a group AUC is planned only for a model with scores
        if isinstance(plan, st.WeightedAuc):
            value = st.auc_point(self.y[rows], score[rows])
            reps = plan.replicates()
            return metric_value(value, reps, confidence=self.s.confidence, reason=reason, method="bootstrap"), reps
        # one stable sort per model serves every group: the group's rows in score order are the
        # model's order filtered by group (ties stay in row order, as a stable sort of the group gives)
        order = self._order(role)
        in_group = order[self._codes_in_order(role, grouping.name) == g]
        value, ci = st.auc_delong_sorted(score[in_group], self.y[in_group].astype(bool), confidence=self.s.confidence)
        return metric_value(value, None, confidence=self.s.confidence, reason=reason, method="delong", ci=ci), None

    def _order(self, role: str) -> np.ndarray:
        key = ("order", role)
        if key not in self._cache:
            self._cache[key] = np.argsort(self.scores[role], kind="stable")  # type: ignore[arg-type]  # a model with scores
        return self._cache[key]

    def _codes_in_order(self, role: str, grouping: str) -> np.ndarray:
        key = ("codes", role, grouping)
        if key not in self._cache:
            self._cache[key] = self.part.group_codes[grouping][self._order(role)]
        return self._cache[key]


def _four_fifths(ratio: dict[str, Any]) -> dict[str, object]:
    value = ratio.get("value")
    return {"threshold": 0.8, "passes": None if value is None else bool(value >= 0.8),
            "ci_low_passes": None if ratio.get("ci_low") is None else bool(ratio["ci_low"] >= 0.8)}


def deltas(sections: Mapping[str, dict], reps: Mapping[str, dict], first: str, second: str,
           *, confidence: float) -> dict[str, dict]:
    """``first − second`` per group metric and per disparity, paired over shared replicates.

    ``widened`` says whether the first model's gap is larger (difference up, ratio down);
    ``significantly_widened`` whether the whole CI of the change points that way; ``mde`` is the
    smallest change of the disparity the comparison detects at 80% power (``(z + z_0.8) * SE``
    over the paired replicates): "did not widen" means little when it exceeds the allowed widening.
    """
    out: dict[str, dict] = {}
    for name, sec_a in sections[first].items():
        sec_b, rep_a, rep_b = sections[second][name], reps[first][name], reps[second][name]
        groups = {}
        for label, entry in sec_a["groups"].items():
            g = {"n": entry["n"], "insufficient_data": entry["insufficient_data"]}
            for metric, val in entry.items():
                if not isinstance(val, dict):
                    continue
                g[metric] = _delta(val, sec_b["groups"][label].get(metric), rep_a["groups"][label].get(metric),
                                   rep_b["groups"][label].get(metric), confidence)
            groups[label] = g
        feature: dict[str, Any] = {"groups": groups}
        for method in ("between_groups", "to_overall"):
            src_a = sec_a if method == "between_groups" else sec_a["to_overall"]
            src_b = sec_b if method == "between_groups" else sec_b["to_overall"]
            target = feature if method == "between_groups" else feature.setdefault("to_overall", {})
            for disp in DIFFERENCES + RATIOS:
                ra, rb = rep_a["disparities"][method][disp], rep_b["disparities"][method][disp]
                d = _delta(src_a[disp], src_b[disp], ra, rb, confidence)
                if d.get("value") is not None and ra is not None and rb is not None:
                    d["mde"] = bootstrap_mde(np.asarray(ra) - np.asarray(rb), confidence=confidence)
                sign = 1.0 if disp in DIFFERENCES else -1.0
                d["widened"] = None if d["value"] is None else bool(sign * d["value"] > 0)
                d["significantly_widened"] = (None if d["ci_low"] is None else
                                              bool(d["ci_low"] > 0 if sign > 0 else d["ci_high"] < 0))
                target[disp] = d
        out[name] = feature
    return out


def _delta(a: dict | None, b: dict | None, ra: np.ndarray | None, rb: np.ndarray | None,
           confidence: float) -> dict[str, Any]:
    if not a or not b or a.get("value") is None or b.get("value") is None:
        return {"value": None, "ci_low": None, "ci_high": None, "defined": False,
                "reason": "undefined for one of the models"}
    reps = ra - rb if ra is not None and rb is not None else None
    return metric_value(a["value"] - b["value"], reps, confidence=confidence, reason="")
