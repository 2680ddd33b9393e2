"""Result types and evidence value reading shared by the criterion evaluators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from workbench import formatting
from workbench.evidence import get_path

Status = Literal["PASS", "FAIL", "WARN", "WAIVED", "MISSING"]
_ABSENT = object()
# worst first: the order a criterion's items combine in, and the decision's sort order
STATUS_RANK: dict[str, int] = {"FAIL": 0, "MISSING": 1, "WARN": 2, "WAIVED": 3, "PASS": 4}


def fmt(x: float | None) -> str:
    """A number for a reason sentence: the product's one formatter (``workbench.formatting.fmt``).

    >>> fmt(0.8123), fmt(1e-4), fmt(None)
    ('0.812', '1.0e-04', 'n/a')
    """
    return "n/a" if x is None else formatting.fmt(float(x))


def fmt_bound(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class ItemResult:
    """One measured part of a criterion (a feature, a test, a role, or the whole criterion)."""

    name: str
    status: Status
    reason: str
    measured: float | None = None
    ci: tuple[float | None, float | None] | None = None
    bound: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "measured": self.measured,
            "ci": list(self.ci) if self.ci is not None else None,
            "bound": self.bound,
        }


@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one criterion. ``raw_status`` is before severity and waivers applied."""

    id: str
    kind: str
    severity: str
    description: str
    status: Status
    reason: str
    measured: float | None = None
    ci: tuple[float | None, float | None] | None = None
    bound: str | None = None
    items: tuple[ItemResult, ...] = ()
    raw_status: Status | None = None
    waiver: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "description": self.description,
            "status": self.status,
            "raw_status": self.raw_status or self.status,
            "reason": self.reason,
            "measured": self.measured,
            "ci": list(self.ci) if self.ci is not None else None,
            "bound": self.bound,
            "items": [i.to_dict() for i in self.items],
            "waiver": self.waiver,
            "details": self.details,
        }


@dataclass(frozen=True)
class Value:
    """A number read from the evidence, with its CI, or undefined with a reason."""

    value: float | None
    low: float | None = None
    high: float | None = None
    reason: str | None = None

    @property
    def defined(self) -> bool:
        return self.value is not None

    @property
    def ci(self) -> tuple[float | None, float | None] | None:
        return None if self.low is None and self.high is None else (self.low, self.high)

    def end(self, which: str) -> float | None:
        return {"point": self.value, "lower": self.low, "upper": self.high}[which]

    def text(self) -> str:
        if self.low is None and self.high is None:
            return fmt(self.value)
        return f"{fmt(self.value)} [{fmt(self.low)}, {fmt(self.high)}]"


def lookup(evidence: Any, path: str | list[str]) -> Any:
    """Follow a dotted path (or a list of keys) into the evidence; ``_ABSENT`` when missing.

    ``workbench.evidence.get_path`` with a sentinel, so a present ``null`` and an absent key differ.
    """
    return get_path(evidence, path, _ABSENT)


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    return None


def read_value(node: Any) -> Value | None:
    """Turn an evidence node (a number or ``{value, ci_low, ci_high, defined, reason}``) into a Value.

    Returns None when the node is absent; an undefined Value (with a reason) when present but
    not a number.
    """
    if node is _ABSENT:
        return None
    if isinstance(node, dict):
        if node.get("defined") is False or node.get("value") is None:
            reason = node.get("reason") or "not defined in the evidence"
            return Value(None, reason=str(reason))
        v = _num(node.get("value"))
        if v is None:
            return Value(None, reason="the evidence value is not a number")
        return Value(v, _num(node.get("ci_low")), _num(node.get("ci_high")))
    v = _num(node)
    if v is None:
        return Value(None, reason="the evidence value is not a number")
    return Value(v)


def combine(statuses: list[str]) -> Status:
    """Worst status of the items (FAIL > MISSING > WARN > WAIVED > PASS); PASS when empty."""
    if not statuses:
        return "PASS"
    return cast(Status, min(statuses, key=lambda s: STATUS_RANK[s]))


def check_bounds(
    label: str,
    v: Value | None,
    *,
    lo: float | None,
    hi: float | None,
    ci: str = "point",
    name: str | None = None,
    missing: str = "not in the evidence",
) -> ItemResult:
    """Compare one value (or one of its CI ends) with min/max bounds and explain it in a sentence.

    >>> check_bounds("roc_auc", Value(0.812, 0.804, 0.820), lo=0.8, hi=None).reason
    'roc_auc 0.812 [0.804, 0.820] >= 0.8: pass'
    """
    name = name or label
    bound = _bound_text(lo, hi)
    if v is None:
        return ItemResult(name, "MISSING", f"{label} {missing}", bound=bound)
    if not v.defined:
        return ItemResult(name, "MISSING", f"{label} undefined: {v.reason}", bound=bound)
    x = v.end(ci)
    if x is None:
        return ItemResult(
            name, "MISSING", f"{label} {v.text()}: no CI {ci} end in the evidence", v.value, v.ci, bound
        )
    ok = (lo is None or x >= lo) and (hi is None or x <= hi)
    where = f"{label} {v.text()}" if ci == "point" else f"{label} {v.text()}: CI {ci} {fmt(x)}"
    verdict = "pass" if ok else "fail"
    return ItemResult(name, "PASS" if ok else "FAIL", f"{where} {bound}: {verdict}", v.value, v.ci, bound)


def _bound_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"within [{fmt_bound(lo)}, {fmt_bound(hi)}]"
    if lo is not None:
        return f">= {fmt_bound(lo)}"
    return f"<= {fmt_bound(hi)}" if hi is not None else ""


__all__ = [
    "STATUS_RANK",
    "CriterionResult",
    "ItemResult",
    "Status",
    "Value",
    "check_bounds",
    "combine",
    "fmt",
    "fmt_bound",
    "lookup",
    "read_value",
]
