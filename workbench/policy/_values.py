"""Result types and evidence value reading shared by the criterion evaluators."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from workbench import formatting
from workbench.evidence import get_path

Status = Literal["PASS", "FAIL", "WARN", "WAIVED", "MISSING", "INCONCLUSIVE"]
_ABSENT = object()
# worst first: the order a criterion's items combine in, and the decision's sort order.
# INCONCLUSIVE (the interval holds the bound: not enough data) is better than MISSING (no data)
# and worse than WARN (an advisory failure that was measured).
STATUS_RANK: dict[str, int] = {"FAIL": 0, "MISSING": 1, "INCONCLUSIVE": 2, "WARN": 3, "WAIVED": 4, "PASS": 5}
#: Power the rows-needed figure and the minimum detectable effects are computed for.
POWER = 0.8


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
    #: INCONCLUSIVE only: evaluation rows for an 80% chance that the interval clears the bound,
    #: if the observed value is the true one (None: the value sits on the bound, or n is unknown).
    rows_needed: int | None = None
    #: Minimum detectable effect at 80% power of the comparison, in the criterion's units.
    mde: float | None = None
    #: PASS with an MDE larger than the margin: the data could not have seen a harmful change.
    underpowered: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "measured": self.measured,
            "ci": list(self.ci) if self.ci is not None else None,
            "bound": self.bound,
        }
        # only when set, so the decision JSON of criteria without them is unchanged
        if self.status == "INCONCLUSIVE":
            out["rows_needed"] = self.rows_needed
        if self.mde is not None:
            out["mde"] = self.mde
        if self.underpowered:
            out["underpowered"] = True
        return out


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
    #: INCONCLUSIVE: the largest rows-needed of its inconclusive items (None when no size resolves it).
    rows_needed: int | None = None
    #: Whether an INCONCLUSIVE status blocks (PENDING) — the criterion's ``inconclusive_blocks``.
    inconclusive_blocks: bool = True
    #: The non-inferiority margin a comparison with the baseline allows (relative, fairness widening).
    margin: float | None = None
    #: Items that pass with an MDE larger than the margin.
    underpowered: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = self._body()
        if self.raw_status == "INCONCLUSIVE" or self.status == "INCONCLUSIVE":
            out["rows_needed"] = self.rows_needed
            out["inconclusive_blocks"] = self.inconclusive_blocks
        if self.margin is not None:
            out["margin"] = self.margin
        if self.underpowered:
            out["underpowered"] = list(self.underpowered)
        return out

    def _body(self) -> dict[str, Any]:
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
    """Worst status of the items (FAIL > MISSING > INCONCLUSIVE > WARN > WAIVED > PASS); PASS when empty."""
    if not statuses:
        return "PASS"
    return cast(Status, min(statuses, key=lambda s: STATUS_RANK[s]))


@dataclass(frozen=True)
class Power:
    """What turns an interval into a rows-needed figure: the rows it was measured on and its level."""

    n: int | None = None
    confidence: float = 0.95

    @classmethod
    def of(cls, evidence: Any) -> Power:
        """The evaluation rows and CI level of an evidence dict (``review.n_evaluation``, ``settings.confidence``)."""
        n = _num(get_path(evidence, "review.n_evaluation", None))
        conf = _num(get_path(evidence, "settings.confidence", None))
        return cls(int(n) if n else None, conf if conf is not None and 0.5 < conf < 1 else 0.95)

    @property
    def z(self) -> float:
        """The interval's two-sided normal quantile (1.96 at 95%)."""
        from statistics import NormalDist

        return NormalDist().inv_cdf(1 - (1 - self.confidence) / 2)

    @property
    def z_power(self) -> float:
        from statistics import NormalDist

        return NormalDist().inv_cdf(POWER)

    def rows_needed(self, x: float, half_width: float, bound: float) -> int | None:
        """Rows for an 80% chance that the interval's end clears ``bound`` if ``x`` is the truth.

        The standard error read from the interval's half-width on the bound's side (``h / z``)
        scales as ``1 / sqrt(n)``; the end clears the bound with 80% chance when
        ``(z + z_0.8) * SE <= |x - bound|``: ``n' = n * ((z + z_0.8) * h / z)**2 / (x - bound)**2``.

        >>> Power(2000).rows_needed(0.09, 0.07, 0.10)
        200234
        >>> Power(2000).rows_needed(0.10, 0.07, 0.10) is None
        True
        """
        gap = abs(x - bound)
        if self.n is None or gap == 0 or not math.isfinite(half_width) or half_width <= 0:
            return None
        se = half_width / self.z
        return max(self.n + 1, math.ceil(self.n * ((self.z + self.z_power) * se / gap) ** 2))


def _interval_verdict(v: Value, lo: float | None, hi: float | None) -> tuple[str, float | None, float]:
    """("PASS" | "FAIL" | "INCONCLUSIVE", the bound held, the half-width on its side) of an interval.

    The interval is widened to hold the point (a percentile interval may not). FAIL when it lies
    wholly on the wrong side of a bound, PASS when it clears both, INCONCLUSIVE when it holds one.
    """
    assert v.value is not None and v.low is not None and v.high is not None
    x, low, high = v.value, min(v.low, v.value), max(v.high, v.value)
    if (lo is not None and high < lo) or (hi is not None and low > hi):
        return "FAIL", None, 0.0
    # a min holds when low < min <= high, a max when low <= max < high
    held = [b for b, inside in ((lo, lo is not None and low < lo <= high), (hi, hi is not None and low <= hi < high))
            if inside]
    if held:
        b = held[0]
        assert b is not None
        return "INCONCLUSIVE", b, (x - low) if x >= b else (high - x)
    return "PASS", None, 0.0


def check_bounds(
    label: str,
    v: Value | None,
    *,
    lo: float | None,
    hi: float | None,
    ci: str = "point",
    name: str | None = None,
    missing: str = "not in the evidence",
    power: Power | None = None,
) -> ItemResult:
    """Compare one value with min/max bounds and explain it in a sentence.

    A value with a confidence interval is judged by the whole interval, whatever ``ci``: PASS
    when it clears the bound, FAIL when it lies on the wrong side, INCONCLUSIVE when it holds
    the bound (more data would settle it; ``power`` gives the rows needed). ``ci`` picks the
    end a value *without* an interval would need (a missing end is MISSING) and the end named
    in the reason.

    >>> check_bounds("roc_auc", Value(0.812, 0.804, 0.820), lo=0.8, hi=None).reason
    'roc_auc 0.812 [0.804, 0.820] >= 0.8: pass'
    >>> r = check_bounds("eod", Value(0.092, 0.032, 0.164), lo=None, hi=0.1, power=Power(2000))
    >>> r.status, r.rows_needed
    ('INCONCLUSIVE', 330999)
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
    where = f"{label} {v.text()}" if ci == "point" else f"{label} {v.text()}: CI {ci} {fmt(x)}"
    if v.low is not None and v.high is not None:
        verdict, b, h = _interval_verdict(v, lo, hi)
        if verdict == "INCONCLUSIVE":
            assert b is not None and v.value is not None
            rows = (power or Power()).rows_needed(v.value, h, b)
            need = (f"about {rows:,} rows would settle it at the observed value" if rows is not None
                    else "no sample size settles it at the observed value" if v.value == b
                    else "more measurements would settle it")
            return ItemResult(name, "INCONCLUSIVE", f"{label} {v.text()} {bound}: inconclusive, the interval holds "
                              f"the bound {fmt_bound(b)}; {need}", v.value, v.ci, bound, rows_needed=rows)
    else:
        verdict = "PASS" if (lo is None or x >= lo) and (hi is None or x <= hi) else "FAIL"
    return ItemResult(name, verdict, f"{where} {bound}: {verdict.lower()}", v.value, v.ci, bound)  # type: ignore[arg-type]


def _bound_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"within [{fmt_bound(lo)}, {fmt_bound(hi)}]"
    if lo is not None:
        return f">= {fmt_bound(lo)}"
    return f"<= {fmt_bound(hi)}" if hi is not None else ""


__all__ = [
    "POWER",
    "Power",
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
