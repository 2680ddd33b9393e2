"""Fairness sections from cell aggregates (the fairness engine's finalisers, no rows needed).

An executor returns, per cell of the sensitive features' intersection, the joint counts by
(y, prediction of every model) and the signed calibration sums per score bin. The cells are
coded with ``build_partition`` of ``workbench.fairness`` (one row per cell), and the
sections are built by ``workbench.fairness._report.SectionBuilder``'s finalisers: rates,
disparities, four-fifths rule, slice tests and candidate-vs-baseline deltas are those of the
in-memory path. Group ROC AUC needs per-group ranks and is reported as undefined at scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench import fairness as eng
from workbench.fairness import SectionBuilder, Settings, deltas, metric_value
from workbench.engine._plan import BootstrapAggregates, FairnessAggregates, ScaleSpec

REASON_GROUP_AUC = "group ROC AUC is not computed by the scale engine (it needs per-group ranks)"


class _CellSectionBuilder(SectionBuilder):
    """``SectionBuilder`` fed with precomputed cell aggregates instead of rows."""

    def __init__(self, part: eng.Partition, settings: Settings, point: eng.CellAggregates,
                 boot: eng.CellAggregates | None, roles: list[str]) -> None:
        self.part, self.s = part, settings
        self.preds = {r: None for r in roles}  # type: ignore[misc]  # no rows: only the roles are read
        self.scores = {r: (True if r in point.calibration else None) for r in roles}  # type: ignore[misc]  # markers
        self._point, self._boot = point, boot

    def run(self, progress=None) -> tuple[dict, dict]:
        sections: dict[str, dict] = {role: {} for role in self.preds}
        reps: dict[str, dict] = {role: {} for role in self.preds}
        for grouping in self.part.groupings:
            for role in self.preds:
                sections[role][grouping.name], reps[role][grouping.name] = self._grouping(
                    role, grouping, self._point, self._boot, {})
        return sections, reps

    def _auc(self, role, grouping, g, aucs) -> tuple[dict, None]:
        return metric_value(float("nan"), None, confidence=self.s.confidence, reason=REASON_GROUP_AUC), None


def _per_role(joint: np.ndarray, roles: list[str], lead: int) -> dict[str, np.ndarray]:
    """(..., F, 2, 2, ...) joint counts -> role: (..., F, 4) in [tn, fp, fn, tp] order."""
    out = {}
    base = lead + 2  # axis of the first role's prediction
    for m, role in enumerate(roles):
        other = tuple(base + k for k in range(len(roles)) if k != m)
        c = joint.sum(axis=other) if other else joint
        out[role] = c.reshape(*c.shape[: lead + 1], 4).astype(np.float64)
    return out


def fairness_from_cells(
    fair: FairnessAggregates, boot: BootstrapAggregates | None, spec: ScaleSpec, roles: list[str]
) -> dict[str, Any]:
    """``{"models": {role: sections}, "fairness_deltas": {...}}`` from cell aggregates."""
    names = list(spec.sensitive)
    k = len(fair.combos[names[0]])
    part = eng.build_partition({f: np.asarray(fair.combos[f], dtype=object) for f in names}, n_rows=k,
                               intersections=True)
    F = part.n_cells

    def to_cells(a: np.ndarray, axis: int) -> np.ndarray:
        moved = np.moveaxis(np.asarray(a, dtype=np.float64), axis, 0)
        out = np.zeros((F, *moved.shape[1:]))
        np.add.at(out, part.cells, moved)  # distinct labels per cell; add.at merges any duplicates
        return np.moveaxis(out, 0, axis)

    point = eng.CellAggregates(_per_role(to_cells(fair.joint, 0), roles, 0),
                               {r: to_cells(v, 0) for r, v in fair.calibration.items()})
    b = None
    n_boot = 0
    if boot is not None and boot.joint is not None:
        n_boot = boot.joint.shape[0]
        b = eng.CellAggregates(_per_role(to_cells(boot.joint, 1), roles, 1),
                               {r: to_cells(v, 1) for r, v in boot.fair_calibration.items()})
    settings = Settings(spec.min_group_size, n_boot, spec.seed, spec.confidence, spec.fairness_bins, "nan", 0.0)
    sections, reps = _CellSectionBuilder(part, settings, point, b, roles).run()
    out: dict[str, Any] = {"status": "ok", "models": sections, "fairness_deltas": {}}
    if len(roles) >= 2 and b is not None:
        out["fairness_deltas"] = deltas(sections, reps, roles[0], roles[1], confidence=spec.confidence)
    return out
