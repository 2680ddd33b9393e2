"""Promotion policy as code: a versioned, hashed YAML document of criteria.

A policy has an ``id``, a ``version`` and a list of criteria; each criterion has an ``id``, a
``severity`` (blocking / advisory) and a ``kind`` (absolute, relative, fairness, drift,
operational, robustness, qualitative, governance, signoff). The models are strict (unknown
keys are errors naming their path, e.g. ``policy.yaml: criteria.2.min: ...``) and frozen.
``Policy.digest`` is the sha256 of the policy's canonical JSON; every decision and sign-off
quotes it. The format is documented in docs/POLICY.md.

Examples
--------
>>> p = default_policy()
>>> p.id, len(p.digest)
('default-promotion-policy', 64)
>>> parse_policy({"id": "p", "version": "1", "criteria": [
...     {"id": "auc", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.7}]}
... ).criteria[0].min
0.7
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr, ValidationError

from workbench.policy._eval import CriterionResult, ItemResult, evaluate_criterion, greater_is_better
from workbench.policy._schema import (
    AbsoluteCriterion,
    Criterion,
    DriftCriterion,
    FairnessCriterion,
    GovernanceCriterion,
    OperationalCriterion,
    PolicyModel,
    QualitativeCriterion,
    RelativeCriterion,
    RobustnessCriterion,
    Role,
    SignoffCriterion,
    WaiverRules,
)
from workbench.yamlio import parse_yaml, read_yaml
from workbench.canonical import canonical_json, digest
from workbench.errors import PolicyError
from workbench.metrics import Margin, metric_direction

if TYPE_CHECKING:
    from workbench.artefacts import Manifest

_KINDS = {
    "absolute",
    "relative",
    "fairness",
    "drift",
    "operational",
    "robustness",
    "replay",
    "cross_check",
    "qualitative",
    "governance",
    "signoff",
}


class Policy(PolicyModel):
    """A validated promotion policy. ``digest`` identifies it in decisions and sign-offs.

    ``base_dir`` (the policy file's folder, not part of the digest) anchors the relative
    ``questionnaire_dirs``.
    """

    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def template_dirs(self) -> tuple[Path, ...]:
        """``questionnaire_dirs`` resolved against the policy file's folder."""
        base = self._base_dir or Path(".")
        return tuple(p if (p := Path(d)).is_absolute() else base / p for d in self.questionnaire_dirs)

    @functools.cached_property
    def digest(self) -> str:
        """sha256 of the canonical JSON of the policy (defaults included)."""
        return digest(self._digest_content())

    def _digest_content(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        if data.get("promotion_roles") is None:  # policies written before the key keep their digest
            data.pop("promotion_roles", None)
        # likewise for a criterion that leaves inconclusive_blocks unset
        for crits in (data.get("criteria", []), *(t.get("criteria", []) for t in data.get("risk_tiers", {}).values())):
            for c in crits:
                if c.get("inconclusive_blocks", 0) is None:
                    del c["inconclusive_blocks"]
        return data

    @property
    def promoter_roles(self) -> tuple[str, ...]:
        """Roles that may promote on GO: ``promotion_roles``, default ``("operations",)``."""
        return tuple(self.promotion_roles or ("operations",))

    def criterion(self, criterion_id: str) -> Criterion:
        """The criterion with this id, base or of a risk tier (raises PolicyError naming the known ids)."""
        every = [*self.criteria, *(c for t in self.risk_tiers.values() for c in t.criteria)]
        for c in every:
            if c.id == criterion_id:
                return c
        known = ", ".join(c.id for c in every)
        raise PolicyError(f"policy {self.id}: no criterion {criterion_id!r} (known: {known})")

    def waiver_roles(self, criterion_id: str) -> tuple[str, ...]:
        """Roles allowed to waive a criterion (none for sign-off criteria)."""
        c = self.criterion(criterion_id)
        if isinstance(c, SignoffCriterion):
            return ()
        return tuple(c.waivable_by) if c.waivable_by is not None else tuple(self.waivers.default_roles)

    @property
    def required_signoff_roles(self) -> tuple[str, ...]:
        """Every role named by a sign-off criterion, in policy order, without repeats."""
        roles: list[str] = []
        for c in self.criteria:
            if isinstance(c, SignoffCriterion):
                roles.extend(r for r in c.roles if r not in roles)
        return tuple(roles)

    def tier_of(self, card_tier: object) -> str | None:
        """The risk tier that applies to a model card's ``risk_tier`` (None: the policy has no tiers).

        A card without a tier gets ``default_risk_tier``; a tier the policy does not define is a
        PolicyError (a typo must not silently lower the bar).
        """
        if not self.risk_tiers:
            return None
        tier = str(card_tier if card_tier not in (None, "") else self.default_risk_tier)
        if tier not in self.risk_tiers:
            raise PolicyError(f"model card risk_tier {card_tier!r}: policy {self.id} defines tiers "
                              f"{', '.join(sorted(self.risk_tiers))}")
        return tier

    def criteria_for(self, tier: str | None) -> tuple[Criterion, ...]:
        """The criteria a model of ``tier`` is judged by: the base ones (sign-off roles replaced
        when the tier names its own) plus the tier's extra criteria."""
        spec = self.risk_tiers.get(tier) if tier is not None else None  # type: ignore[call-overload]  # a key, checked by tier_of
        if spec is None:
            return tuple(self.criteria)
        base = tuple(c.model_copy(update={"roles": spec.signoff_roles})
                     if isinstance(c, SignoffCriterion) and spec.signoff_roles else c for c in self.criteria)
        return (*base, *spec.criteria)

    def signoff_roles_for(self, tier: str | None) -> tuple[str, ...]:
        """Every role a sign-off criterion of ``tier`` names, in order, without repeats."""
        roles: list[str] = []
        for c in self.criteria_for(tier):
            if isinstance(c, SignoffCriterion):
                roles.extend(r for r in c.roles if r not in roles)
        return tuple(roles)

    def objection_roles(self, tier: str | None) -> tuple[str, ...]:
        """Roles that may accept (resolve) an objection."""
        if self.objections.resolvable_by is not None:
            return tuple(self.objections.resolvable_by)
        return self.signoff_roles_for(tier)

    def to_json(self) -> str:
        """Canonical JSON of the policy (what the digest hashes)."""
        return canonical_json(self._digest_content())


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    # the discriminated union inserts the kind tag after the index: criteria.2.absolute.min
    if len(parts) >= 3 and parts[0] == "criteria" and parts[2] in _KINDS:
        del parts[2]
    return ".".join(parts) or "(top level)"


def _format_errors(exc: ValidationError, *, source: str) -> str:
    lines = []
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs):
            continue  # pydantic's echo of the item errors below it, not a problem of its own
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (see docs/POLICY.md for the keys of each criterion kind)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown kind; use one of {', '.join(sorted(_KINDS))}"
        elif err["type"] == "union_tag_not_found":
            msg = f"'kind' is missing; use one of {', '.join(sorted(_KINDS))}"
        lines.append(f"{source}: {_location(tuple(err['loc']))}: {msg}")
    return "\n".join(lines)


def parse_policy(data: Any, *, source: str = "policy") -> Policy:
    """Validate a policy given as plain data (a mapping from YAML or JSON).

    Parameters
    ----------
    data
        The policy document.
    source
        Name used in error messages (normally the file name).

    Raises
    ------
    PolicyError
        One line per problem, each naming ``source`` and the field path.
    """
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: expected a mapping with id, version and criteria, got {type(data).__name__}")
    try:
        # JSON mode: strict types, but YAML lists are accepted where tuples are declared
        policy = Policy.model_validate_json(canonical_json(data))
    except ValidationError as exc:
        raise PolicyError(_format_errors(exc, source=source)) from None
    except ValueError as exc:  # NaN or an unserialisable value in the YAML
        raise PolicyError(f"{source}: cannot read the policy values: {exc}") from None
    problems = metric_name_problems(policy)
    if problems:
        raise PolicyError("\n".join(f"{source}: {p}" for p in problems))
    return policy


def metric_name_problems(policy: Policy) -> list[str]:
    """Every criterion naming a metric the registry does not know (or whose direction it cannot give).

    A policy is task-agnostic, so a name is accepted when at least one task registers it; a
    review of another task then finds it MISSING in its evidence, which the decision reports.
    Absolute criteria name evidence paths: only their ``models.<role>.metrics.<name>`` and
    ``deltas.<name>`` forms name a metric.
    """
    problems = []
    for i, c in enumerate(policy.criteria):
        where = f"criteria.{i}.metric ({c.id})"
        if isinstance(c, RelativeCriterion):
            try:
                direction = metric_direction(c.metric)
            except KeyError as exc:
                problems.append(f"{where}: {exc.args[0]}")
                continue
            if direction is None and c.greater_is_better is None:
                problems.append(f"{where}: {c.metric!r} has no direction (better means closer to a target); "
                                "set greater_is_better or use an absolute criterion")
        elif isinstance(c, AbsoluteCriterion):
            parts = c.metric.split(".")
            name = None
            if len(parts) == 4 and parts[0] == "models" and parts[2] == "metrics":
                name = parts[3]
            elif len(parts) >= 2 and parts[0] == "deltas":
                name = ".".join(parts[1:]).removesuffix(".value")
            if name is not None:
                try:
                    metric_direction(name)
                except KeyError as exc:
                    problems.append(f"{where}: {exc.args[0]}")
    return problems


def evidence_margins(policy: Policy) -> dict[str, Margin]:
    """The non-inferiority margin each relative criterion states, keyed by its metric (the delta's name).

    One source for "not worse": the evidence reads each paired delta against the margin the
    policy judges it by (``build_evidence(..., margins=...)``) instead of a separate default.
    ``max_drop`` is the margin (a share of |baseline| with ``mode: relative``); a criterion with
    only ``min_gain`` states none. When two criteria name a metric, the first (base criteria,
    then risk tiers in order) is the one recorded.

    >>> m = evidence_margins(default_policy())
    >>> m["roc_auc"].value, m["brier_score"].relative, m["roc_auc"].source
    (0.01, True, 'policy default-promotion-policy 1.0.0: auc-non-inferior')
    """
    out: dict[str, Margin] = {}
    every = [*policy.criteria, *(c for t in policy.risk_tiers.values() for c in t.criteria)]
    for c in every:
        if isinstance(c, RelativeCriterion) and c.max_drop is not None and c.metric not in out:
            out[c.metric] = Margin(c.max_drop, relative=c.mode == "relative",
                                   source=f"policy {policy.id} {policy.version}: {c.id}")
    return out


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy YAML file.

    Raises
    ------
    PolicyError
        If the file is missing, not YAML, or does not fit the schema (naming file and path).
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"{path}: policy file not found (give the manifest a 'policy:' path that exists)")
    raw = read_yaml(path, label=path.name, error=PolicyError, what="policy")
    policy = parse_policy(raw, source=path.name)
    policy._base_dir = path.parent.resolve()
    missing = [d for d in policy.template_dirs if not d.is_dir()]
    if missing:
        raise PolicyError(f"{path.name}: questionnaire_dirs: folder not found: {', '.join(map(str, missing))}")
    return policy


def default_policy_text() -> str:
    """The shipped default policy YAML (workbench/data/default_policy.yaml)."""
    return resources.files("workbench").joinpath("data/default_policy.yaml").read_text(encoding="utf-8")


def default_policy() -> Policy:
    """The shipped default policy, validated."""
    raw = parse_yaml(default_policy_text(), label="default_policy.yaml", error=PolicyError)
    return parse_policy(raw, source="default_policy.yaml")


def manifest_policy(manifest: Manifest) -> Policy:
    """The policy a manifest names (``policy:``, resolved against its folder), else the shipped
    default. The submitter's choice: :func:`authoritative_policy` says whether it may decide."""
    return load_policy(manifest.resolve(manifest.policy)) if manifest.policy is not None else default_policy()


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema of the policy format, generated from the pydantic models."""
    schema = PolicyModel.model_json_schema(mode="validation")
    schema["title"] = "Promotion policy"
    return schema


__all__ = [
    "AbsoluteCriterion",
    "Criterion",
    "CriterionResult",
    "DriftCriterion",
    "FairnessCriterion",
    "GovernanceCriterion",
    "ItemResult",
    "OperationalCriterion",
    "Policy",
    "QualitativeCriterion",
    "RelativeCriterion",
    "RobustnessCriterion",
    "Role",
    "SignoffCriterion",
    "WaiverRules",
    "default_policy",
    "default_policy_text",
    "evaluate_criterion",
    "evidence_margins",
    "greater_is_better",
    "load_policy",
    "manifest_policy",
    "parse_policy",
    "policy_json_schema",
]
