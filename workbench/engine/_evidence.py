"""Evidence JSON from an executor's aggregates (engine-independent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from workbench.canonical import digest, to_jsonable
from workbench.engine._drift_scale import drift_from_aggregates
from workbench.engine._fairness_scale import fairness_from_cells
from workbench.engine._finalise import quantitative
from workbench.engine._plan import Aggregates, ScaleSpec, aggregation_plan

if TYPE_CHECKING:
    from workbench.metrics.drift import ReferenceProfile
    from workbench.metrics import Margin


def evidence_from_aggregates(
    agg: Aggregates,
    spec: ScaleSpec,
    *,
    profile: ReferenceProfile | None = None,
    profile_digest: str | None = None,
    margin: float = 0.0,
    margins: Mapping[str, Margin] | None = None,
) -> dict[str, Any]:
    """The evidence sections computed from ``agg``: models, deltas, tests, drift, fairness.

    ``digest`` covers everything but the timings. Each metric records ``engine``, ``method``
    (``exact`` or ``histogram(bins, bound)``) and ``error_bound``.
    """
    quant = quantitative(agg, spec, margin=margin, margins=margins)
    roles = list(agg.roles)
    ev: dict[str, Any] = {
        "engine": agg.engine,
        "review": {"n_evaluation": agg.n_rows, "threshold": spec.threshold, "label": spec.label,
                   "scores": dict(spec.scores), "sensitive_features": list(spec.sensitive),
                   "features": list(spec.features), "id_column": spec.id_column},
        "settings": spec.settings(),
        "plan": [a.__dict__ for a in aggregation_plan(spec, drift=profile is not None)],
        "models": quant["models"], "deltas": quant["deltas"], "tests": quant["tests"],
        "sections": {"metrics": {"status": "ok"}, "calibration": {"status": "ok"}},
        "bootstrap": {"n_replicates": spec.n_boot,
                      "weights": agg.boot.weights if agg.boot is not None else None},
    }
    if spec.sensitive and agg.fairness is not None:
        fair = fairness_from_cells(agg.fairness, agg.boot, spec, roles)
        for role in roles:
            ev["models"][role]["fairness"] = fair["models"][role]
        ev["fairness_deltas"] = fair["fairness_deltas"]
        ev["fairness_proxies"] = {}  # they need the feature rows: `workbench review` adds them from its sample
        ev["sections"]["fairness"] = {"status": "ok"}
    else:
        ev["sections"]["fairness"] = {"status": "not_applicable", "reason": "no sensitive features"}
    if profile is not None and agg.drift:
        ev["drift"] = drift_from_aggregates(profile, agg.drift, n_current=agg.n_rows, bands=spec.drift_bands,
                                            epsilon=spec.drift_epsilon, profile_digest=profile_digest)
        ev["sections"]["drift"] = {"status": "ok"}
    else:
        ev["drift"] = {"status": "not_applicable", "reason": "no reference profile or no features"}
        ev["sections"]["drift"] = {"status": "not_applicable"}
    ev = to_jsonable(ev)
    ev["digest"] = digest(ev)
    ev["timings_s"] = {k: round(v, 4) for k, v in agg.timings.items()}
    return ev
