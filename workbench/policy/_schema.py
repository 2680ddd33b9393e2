"""Pydantic models of the promotion policy (strict, frozen, a discriminated union on ``kind``).

The public names are re-exported from :mod:`workbench.policy`; the format is documented in
docs/POLICY.md, whose JSON Schema is generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.auth import INDEPENDENT_ROLES, Role

Severity = Literal["blocking", "advisory"]
CIEnd = Literal["point", "lower", "upper"]
GovernanceCheck = Literal[
    "model_card", "lineage", "privacy", "sensitive_inputs", "access_control", "readiness"
]
_ID = r"^[a-z0-9][a-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Criterion(_Strict):
    id: str = Field(pattern=_ID, description="stable identifier, quoted by waivers and reports")
    description: str = Field(default="", description="one sentence a reviewer can read")
    severity: Severity = Field(
        default="blocking",
        description="blocking: an unwaived FAIL is NO-GO, MISSING is PENDING; advisory: shown as WARN",
    )
    waivable_by: tuple[Role, ...] | None = Field(
        default=None, description="roles that may waive it; null: the policy's waivers.default_roles"
    )
    on_missing: Literal["missing", "warn", "fail"] = Field(
        default="missing", description="what a value absent from the evidence counts as"
    )
    inconclusive_blocks: bool | None = Field(
        default=None,
        description="whether an INCONCLUSIVE result (the confidence interval holds the bound) of a blocking "
                    "criterion keeps the decision PENDING; null: true. false: it is reported with the rows "
                    "needed but does not stand in the way of GO",
    )


def _need_one(obj: BaseModel, *names: str) -> None:
    if all(getattr(obj, n) is None for n in names):
        raise ValueError(f"give at least one of {', '.join(names)}")


class AbsoluteCriterion(_Criterion):
    """A bound on one evidence value, e.g. ``models.candidate.metrics.roc_auc`` >= 0.70."""

    kind: Literal["absolute"]
    metric: str = Field(min_length=1, description="evidence key path, dot separated")
    min: float | None = None
    max: float | None = None
    ci: CIEnd = Field(default="point", description="apply the bound to the point estimate or a CI end")

    @model_validator(mode="after")
    def _bounds(self) -> AbsoluteCriterion:
        _need_one(self, "min", "max")
        return self


class RelativeCriterion(_Criterion):
    """Candidate versus baseline on one metric (``deltas.<metric>`` is candidate - baseline).

    ``ci`` refers to the *improvement* (delta oriented so that positive is better): ``lower``
    is the pessimistic end, which is what a non-inferiority test uses.
    """

    kind: Literal["relative"]
    metric: str = Field(min_length=1, description="metric name under models.<role>.metrics")
    max_drop: float | None = Field(default=None, ge=0)
    min_gain: float | None = None
    mode: Literal["absolute", "relative"] = Field(
        default="absolute", description="relative: the change divided by |baseline|"
    )
    ci: CIEnd = "point"
    greater_is_better: bool | None = Field(
        default=None, description="override the metric registry's direction"
    )

    @model_validator(mode="after")
    def _bounds(self) -> RelativeCriterion:
        _need_one(self, "max_drop", "min_gain")
        return self


class FairnessCriterion(_Criterion):
    """A disparity bound per sensitive feature (``models.candidate.fairness.<feature>.<metric>``)."""

    kind: Literal["fairness"]
    metric: str = Field(min_length=1, description="e.g. demographic_parity_ratio")
    features: Literal["all"] | tuple[str, ...] = "all"
    include_intersections: bool = Field(default=False, description="with 'all': also 'a×b' features")
    min: float | None = None
    max: float | None = None
    max_widening: float | None = Field(
        default=None, ge=0, description="how much less fair than the baseline the candidate may be"
    )
    ci: CIEnd = "point"

    @model_validator(mode="after")
    def _bounds(self) -> FairnessCriterion:
        _need_one(self, "min", "max", "max_widening")
        return self


class DriftCriterion(_Criterion):
    """Population shift between reference and evaluation data (``drift.features.<f>``)."""

    kind: Literal["drift"]
    features: Literal["all"] | tuple[str, ...] = "all"
    statistic: str = Field(default="psi", description="per-feature drift statistic")
    max_psi: float | None = Field(default=None, ge=0, description="bound on the statistic per feature")
    max_share_drifted: float | None = Field(default=None, ge=0, le=1)
    drifted_psi: float = Field(default=0.25, ge=0, description="a feature above this counts as drifted")

    @model_validator(mode="after")
    def _bounds(self) -> DriftCriterion:
        _need_one(self, "max_psi", "max_share_drifted")
        return self


class OperationalCriterion(_Criterion):
    """Budget on ``models.candidate.operational.<metric>`` (e.g. ``latency_ms.p95``)."""

    kind: Literal["operational"]
    metric: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    max_increase: float | None = Field(
        default=None, ge=0,
        description="relative worsening vs the baseline at most this (0.5 = 50% slower, bigger, or, "
                    "for throughput, 50% lower)"
    )

    @model_validator(mode="after")
    def _bounds(self) -> OperationalCriterion:
        _need_one(self, "min", "max", "max_increase")
        return self


class RobustnessCriterion(_Criterion):
    """Limits on metric degradation under stress tests (``models.candidate.robustness.tests``)."""

    kind: Literal["robustness"]
    tests: Literal["all"] | tuple[str, ...] = "all"
    max_degradation: float | None = Field(default=None, ge=0)
    max_excess_degradation: float | None = Field(
        default=None, ge=0, description="candidate degradation minus the baseline's, per test"
    )

    @model_validator(mode="after")
    def _bounds(self) -> RobustnessCriterion:
        _need_one(self, "max_degradation", "max_excess_degradation")
        return self


class ReplayCriterion(_Criterion):
    """Shadow replay and canary on production-like traffic (the evidence's ``replay`` section)."""

    kind: Literal["replay"]
    min_agreement: float | None = Field(default=None, ge=0, le=1, description="share of identical decisions")
    max_window_psi: float | None = Field(default=None, ge=0, description="worst PSI of any feature in any window")
    max_error_rate: float | None = Field(default=None, ge=0, le=1, description="candidate rows that raised / rows")
    allow_canary_breach: bool = Field(default=False, description="false: a halted canary fails the criterion")
    max_fallback_rate: float | None = Field(default=None, ge=0, le=1,
                                            description="share of routed calls that fell back to the baseline")
    max_added_latency_ms: float | None = Field(default=None, ge=0,
                                               description="worst window p95 latency added by the fallback")
    require_fallback_evidence: bool = Field(default=False, description="true: the replay must have simulated the "
                                            "fallback (replay.fallback) and served within its guardrails")


class CrossCheckCriterion(_Criterion):
    """The workbench's numbers agree with scikit-learn and fairlearn on the same rows (``cross_check``)."""

    kind: Literal["cross_check"]
    tolerance: float = Field(default=1e-9, ge=0, description="largest allowed absolute difference")
    allow_undefined_mismatch: bool = Field(
        default=False, description="false: a value defined on one side and undefined on the other fails")


class QualitativeCriterion(_Criterion):
    """Submitted questionnaires: reviewers per role, minimum score, no blocking answers."""

    kind: Literal["qualitative"]
    questionnaires: Literal["all"] | tuple[str, ...] = "all"
    min_reviewers: Annotated[int, Field(ge=0)] | dict[Role, Annotated[int, Field(ge=0)]] = Field(
        default=1, description="submitted reviewers per questionnaire: a number, or per role"
    )
    min_score: float | None = Field(default=None, ge=0, le=1)
    allow_blocking_answers: bool = False
    waived: tuple[str, ...] = Field(
        default=(), description="blocking answers accepted by an approver: questionnaire_id.question_id"
    )
    concern_is: Literal["warn", "fail"] = Field(default="warn", description="how a CONCERN verdict counts")


class GovernanceCriterion(_Criterion):
    """One governance checklist item (see workbench.governance)."""

    kind: Literal["governance"]
    check: GovernanceCheck
    sections: tuple[str, ...] | None = Field(
        default=None, description="model_card / readiness: the sections that must be filled"
    )
    warn_is: Literal["pass", "warn", "fail"] = Field(default="warn", description="how a WARN check counts")

    @model_validator(mode="after")
    def _sections_only_where_meaningful(self) -> GovernanceCriterion:
        if self.sections is not None and self.check not in ("model_card", "readiness"):
            raise ValueError("'sections' applies only to check: model_card or readiness")
        return self


class SignoffCriterion(_Criterion):
    """Roles that must approve the current evidence digest under the current policy digest."""

    kind: Literal["signoff"]
    roles: tuple[Role, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _not_waivable(self) -> SignoffCriterion:
        if self.waivable_by:
            raise ValueError("a sign-off cannot be waived: remove 'waivable_by'")
        return self


Criterion = Annotated[
    Union[
        AbsoluteCriterion,
        RelativeCriterion,
        FairnessCriterion,
        DriftCriterion,
        OperationalCriterion,
        RobustnessCriterion,
        ReplayCriterion,
        CrossCheckCriterion,
        QualitativeCriterion,
        GovernanceCriterion,
        SignoffCriterion,
    ],
    Field(discriminator="kind"),
]


class WaiverRules(_Strict):
    default_roles: tuple[Role, ...] = Field(
        default=("product_owner",), description="who may waive a criterion without waivable_by"
    )
    max_days: int | None = Field(default=None, ge=1, description="longest allowed waiver (expiry - grant)")


class IndependenceRules(_Strict):
    """Segregation of duties, strict by default; each rule's name is quoted when it refuses."""

    distinct_signers: bool = Field(
        default=True, description="rule distinct-signers: each required role is approved by a different person")
    independent_roles: tuple[Role, ...] = Field(
        default=INDEPENDENT_ROLES,
        description="roles the review's submitter and the model card's developer may not approve")
    submitter_not_independent: bool = Field(
        default=True, description="rule submitter-not-independent: enforce independent_roles")
    waiver_grantor_not_beneficiary: bool = Field(
        default=True, description="rule waiver-grantor-not-beneficiary: the submitter or developer, whose "
                                  "sign-off request a waiver unblocks, cannot countersign (grant) it")


class RiskTier(_Strict):
    """What one risk tier (model card ``risk_tier``: 1 high, 2, 3 low) requires."""

    signoff_roles: tuple[Role, ...] | None = Field(
        default=None, min_length=1,
        description="replaces the roles of every sign-off criterion for this tier; null: keep them")
    criteria: tuple[Criterion, ...] = Field(default=(), description="extra criteria for this tier")


class ObjectionRules(_Strict):
    resolvable_by: tuple[Role, ...] | None = Field(
        default=None, description="roles that may accept (resolve) another person's objection; "
                                  "null: the required sign-off roles")


class PolicyModel(_Strict):
    """The policy document (the ``Policy`` class adds the digest and helpers)."""

    id: str = Field(pattern=_ID)
    version: str = Field(min_length=1, description="quote it in YAML: \"1.0.0\"")
    title: str = ""
    description: str = ""
    waivers: WaiverRules = WaiverRules()
    questionnaire_dirs: tuple[str, ...] = Field(
        default=(),
        description="extra folders of questionnaire templates, relative to the policy file",
    )
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    promotion_roles: tuple[Role, ...] | None = Field(
        default=None, min_length=1,
        description="roles allowed to move the registry alias on GO (`workbench promote`); default operations",
    )
    independence: IndependenceRules = IndependenceRules()
    # YAML's `1:` is an int; policies are validated in JSON mode, where keys are text.
    risk_tiers: dict[Literal["1", "2", "3"], RiskTier] = Field(
        default_factory=dict, description="per model card risk_tier (1 high, 2, 3 low): roles and extra criteria")
    default_risk_tier: Literal[1, 2, 3] = Field(
        default=1, description="tier of a model whose card names none (strict: the highest risk)")
    objections: ObjectionRules = ObjectionRules()

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyModel:
        seen: set[str] = set()
        for i, c in enumerate(self.criteria):
            if c.id in seen:
                raise ValueError(f"criteria.{i}.id: duplicate criterion id {c.id!r}")
            seen.add(c.id)
        for tier, spec in self.risk_tiers.items():
            for i, c in enumerate(spec.criteria):
                if c.id in seen:
                    raise ValueError(f"risk_tiers.{tier}.criteria.{i}.id: duplicate criterion id {c.id!r}")
        return self


__all__ = [
    "AbsoluteCriterion",
    "CIEnd",
    "Criterion",
    "DriftCriterion",
    "FairnessCriterion",
    "GovernanceCriterion",
    "IndependenceRules",
    "ObjectionRules",
    "OperationalCriterion",
    "PolicyModel",
    "QualitativeCriterion",
    "RelativeCriterion",
    "ReplayCriterion",
    "RiskTier",
    "CrossCheckCriterion",
    "RobustnessCriterion",
    "Role",
    "Severity",
    "SignoffCriterion",
    "WaiverRules",
]
