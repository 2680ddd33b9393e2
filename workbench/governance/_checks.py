"""The governance checklist items. Each returns a :class:`CheckResult`; none raises to mean "failed"."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from workbench.store import Store

CheckStatus = Literal["PASS", "FAIL", "WARN", "MISSING"]

DEFAULT_MODEL_CARD_SECTIONS = (
    "model",
    "intended_use",
    "out_of_scope_uses",
    "owners",
    "training_data",
    "evaluation_data",
    "feature_engineering",
    "architecture",
    "threshold",
    "limitations",
    "ethical_considerations",
)
DEFAULT_READINESS_SECTIONS = (
    "deployment_steps",
    "monitoring",
    "rollback",
    "incident_response",
    "post_implementation_reviews",
)
# sub-fields a section must fill (lists: every element must have them)
_CARD_FIELDS: dict[str, tuple[str, ...]] = {
    "model": ("name", "version"),
    "owners": ("name", "role", "contact"),
    "training_data": ("source", "period", "size"),
    "evaluation_data": ("source", "period", "size"),
    "threshold": ("value", "rationale"),
    "training_code": ("repository", "commit"),
}
_READINESS_FIELDS: dict[str, tuple[str, ...]] = {
    "monitoring": ("metrics", "thresholds", "alert_channel"),
    "rollback": ("previous_model", "procedure"),
    "incident_response": ("owner", "severity_levels", "runbook"),
}
_PLACEHOLDER = re.compile(
    r"^\s*(tbd|tba|todo|fixme|xxx+|n/?a|none|null|nil|-+|\?+|\.+|placeholder|lorem\b.*|"
    r"to be (determined|defined|decided|completed|confirmed|written|added)|coming soon|fill (me|in)( later)?)\s*[.!]?\s*$",
    re.IGNORECASE,
)
_SENSITIVE_TOKENS = {"sex", "gender", "race", "ethnicity", "ethnic", "religion", "age", "dob", "birthdate",
                     "nationality", "disability", "marital", "pregnancy", "orientation", "citizenship"}


@dataclass(frozen=True)
class CheckResult:
    """One governance checklist item: status, a one-line summary, and the evidence it looked at."""

    name: str
    status: CheckStatus
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "summary": self.summary, "evidence": self.evidence}


def is_placeholder(text: str) -> bool:
    """True for empty text and placeholders such as TBD, TODO, n/a, lorem ipsum.

    >>> [is_placeholder(t) for t in ("TBD", " n/a ", "Lorem ipsum dolor", "Credit officers")]
    [True, True, True, False]
    """
    return not text.strip() or bool(_PLACEHOLDER.match(text)) or "lorem ipsum" in text.lower()


def _problems(value: Any, path: str, need: tuple[str, ...] = ()) -> list[str]:
    """Why a section value does not count as filled (empty list when it does)."""
    if value is None:
        return [f"{path} is missing"]
    if isinstance(value, str):
        return [f"{path} is empty"] if not value.strip() else [f"{path} is a placeholder ({value.strip()!r})"] if is_placeholder(value) else []
    if isinstance(value, Mapping):
        if not value:
            return [f"{path} is empty"]
        out = [p for k in need for p in _problems(value.get(k), f"{path}.{k}")]
        return out + [p for k, v in value.items() if k not in need for p in _problems(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        if not value:
            return [f"{path} is empty"]
        return [p for i, v in enumerate(value) for p in _problems(v, f"{path}.{i}", need)]
    return []  # numbers, booleans, dates are filled


def check_model_card(card: Mapping[str, Any] | None, *, sections: Sequence[str] = DEFAULT_MODEL_CARD_SECTIONS) -> CheckResult:
    """Every required model-card section is present and not placeholder text."""
    if card is None:
        return CheckResult("model_card", "MISSING", "no model card (set 'model_card:' in the manifest or write it in the app)",
                           {"required": list(sections)})
    problems = [p for s in sections for p in _problems(card.get(s), s, _CARD_FIELDS.get(s, ()))]
    filled = [s for s in sections if not _problems(card.get(s), s, _CARD_FIELDS.get(s, ()))]
    ev = {"required": list(sections), "filled": filled, "problems": problems}
    if problems:
        return CheckResult("model_card", "FAIL", f"{len(problems)} problem(s): " + "; ".join(problems[:6]), ev)
    return CheckResult("model_card", "PASS", f"all {len(sections)} required sections are filled", ev)


def _record(a: Any) -> dict[str, Any]:
    return a.to_dict() if hasattr(a, "to_dict") else dict(a)


def check_lineage(
    artefacts: Iterable[Any], *, evidence_digest: str | None, model_card: Mapping[str, Any] | None = None
) -> CheckResult:
    """Hash of every artefact; rows and schema fingerprint of every data set; code and data versions."""
    recs = [_record(a) for a in artefacts]
    problems = []
    for r in recs:
        role = r.get("role", "?")
        if not re.fullmatch(r"[0-9a-f]{64}", str(r.get("sha256", ""))):
            problems.append(f"{role}: no SHA-256")
        if role in ("evaluation", "reference", "replay") and (r.get("rows") is None or not r.get("schema_fingerprint")):
            problems.append(f"{role}: no row count or schema fingerprint")
    if not recs:
        problems.append("no artefacts recorded")
    if not evidence_digest:
        problems.append("no evidence digest")
    code = (model_card or {}).get("training_code") or {}
    versions = (model_card or {}).get("data_versions") or {}
    ev = {
        "artefacts": [{k: r.get(k) for k in ("role", "path", "sha256", "bytes", "rows", "schema_fingerprint")} for r in recs],
        "evidence_digest": evidence_digest,
        "training_code": dict(code) if isinstance(code, Mapping) else code,
        "data_versions": dict(versions) if isinstance(versions, Mapping) else versions,
        "problems": problems,
    }
    if problems:
        return CheckResult("lineage", "FAIL", "; ".join(problems), ev)
    commit = str(code.get("commit", "")) if isinstance(code, Mapping) else ""
    if not code or not re.fullmatch(r"(sha256:)?[0-9a-fA-F]{7,64}", commit):
        return CheckResult("lineage", "WARN", f"{len(recs)} artefacts hashed, but no training code commit in the model card "
                           "(training_code.repository / commit)", ev)
    return CheckResult("lineage", "PASS", f"{len(recs)} artefacts hashed; code {code.get('repository', '?')}@{commit[:12]}", ev)


def check_sensitive_inputs(
    features: Sequence[str], sensitive_features: Sequence[str], *, model_card: Mapping[str, Any] | None = None
) -> CheckResult:
    """Sensitive attributes must not be model inputs unless the model card justifies it."""
    used = [f for f in features if f in set(sensitive_features)]
    lookalike = [f for f in features if f not in used and _SENSITIVE_TOKENS & set(re.split(r"[^a-z0-9]+", f.lower()))]
    just = (model_card or {}).get("sensitive_attribute_justification")
    justified = isinstance(just, str) and not is_placeholder(just)
    ev = {"features": list(features), "sensitive_features": list(sensitive_features), "sensitive_inputs": used,
          "undeclared_lookalikes": lookalike, "justification": just if justified else None}
    if used and not justified:
        return CheckResult("sensitive_inputs", "FAIL", f"sensitive attribute(s) used as model inputs: {', '.join(used)} "
                           "(remove them or justify in model_card.sensitive_attribute_justification)", ev)
    if lookalike:
        return CheckResult("sensitive_inputs", "WARN", f"input(s) named like sensitive attributes but not declared in "
                           f"sensitive_features: {', '.join(lookalike)}", ev)
    if used:
        return CheckResult("sensitive_inputs", "PASS", f"sensitive inputs {', '.join(used)} justified in the model card", ev)
    return CheckResult("sensitive_inputs", "PASS", f"none of {len(sensitive_features)} sensitive attribute(s) is a model input", ev)


def check_access_control(roles: Sequence[str], *, store: Store | None = None) -> CheckResult:
    """Every required sign-off role has at least one active user in the store."""
    if store is None:
        return CheckResult("access_control", "MISSING", "no review store: cannot tell who may sign (pass --db)",
                           {"required_roles": list(roles)})
    by_role = store.users_by_role()
    lacking = [r for r in roles if not store.has_active_user_for(r)]
    ev = {"required_roles": list(roles), "users_by_role": {r: sorted(by_role.get(r, [])) for r in roles}, "lacking": lacking}
    if lacking:
        return CheckResult("access_control", "FAIL", f"no active user for role(s) {', '.join(lacking)} "
                           "(add one with `workbench users add NAME --role ROLE`)", ev)
    return CheckResult("access_control", "PASS", f"every one of {len(roles)} required roles has an active user", ev)


def _as_date(x: Any) -> dt.date | None:
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    try:
        return dt.date.fromisoformat(str(x))
    except ValueError:
        return None


def check_readiness(
    plan: Mapping[str, Any] | None, *, today: dt.date, sections: Sequence[str] = DEFAULT_READINESS_SECTIONS
) -> CheckResult:
    """Deployment steps, monitoring, rollback, incident response, future post-implementation reviews.

    Absent or empty items are MISSING (somebody still has to write them: PENDING); review
    dates that are all in the past or unreadable FAIL (the plan is wrong).
    """
    if not plan:
        return CheckResult("readiness", "MISSING", "no production readiness plan (manifest 'readiness:' or the app)",
                           {"required": list(sections)})
    problems = [p for s in sections if s != "post_implementation_reviews"
                for p in _problems(plan.get(s), s, _READINESS_FIELDS.get(s, ()))]
    dates_raw = list(plan.get("post_implementation_reviews") or ())
    dates = [_as_date(d) for d in dates_raw]
    ev: dict[str, Any] = {"required": list(sections), "problems": problems, "today": today.isoformat(),
                          "post_implementation_reviews": [str(d) for d in dates_raw]}
    bad_dates = "post_implementation_reviews" in sections and dates and (
        None in dates or not any(d is not None and d > today for d in dates))
    if bad_dates:
        return CheckResult("readiness", "FAIL", "post-implementation review dates must be valid and at least one after "
                           f"{today.isoformat()} (got {', '.join(map(str, dates_raw))})", ev)
    if "post_implementation_reviews" in sections and not dates:
        problems.append("post_implementation_reviews is empty")
    if problems:
        return CheckResult("readiness", "MISSING", f"{len(problems)} item(s) to complete: " + "; ".join(problems[:6]), ev)
    nxt = min(d for d in dates if d is not None and d > today) if dates else None
    return CheckResult("readiness", "PASS", f"plan complete; next post-implementation review {nxt}", ev)


__all__ = [
    "DEFAULT_MODEL_CARD_SECTIONS",
    "DEFAULT_READINESS_SECTIONS",
    "CheckResult",
    "CheckStatus",
    "check_access_control",
    "check_lineage",
    "check_model_card",
    "check_readiness",
    "check_sensitive_inputs",
    "is_placeholder",
]
