"""The packet as data: blocks, sections, chart specifications and the single input object.

Renderers (PDF, HTML, JSON) only walk these frozen values; nothing here knows about
WeasyPrint, matplotlib or HTML. Formatting helpers shared by every section live here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.evidence import get_path
from workbench.formatting import fmt, fmt_metric, label, metric_value

Role = Literal["candidate", "baseline", "other"]
Decision = Literal["GO", "NO-GO", "PENDING", "UNKNOWN"]

#: Okabe–Ito colour-blind-safe palette: candidate blue, baseline orange, everywhere.
ROLE_COLOURS = {"candidate": "#0072B2", "baseline": "#E69F00", "other": "#009E73"}
#: Table cell tints per status; the status word is always printed, colour only helps.
STATUS_TINTS = {
    "PASS": "#D4EFE3", "GO": "#D4EFE3", "OK": "#D4EFE3", "SIGNED": "#D4EFE3", "APPROVED": "#D4EFE3",
    "FAIL": "#F6D5C4", "NO-GO": "#F6D5C4", "REJECTED": "#F6D5C4", "BLOCKING": "#F6D5C4",
    "WARN": "#FBEFC0", "CONCERN": "#FBEFC0", "STALE": "#FBEFC0", "PENDING": "#FBEFC0",
    "WAIVED": "#E1E1F4", "MISSING": "#E8E8E8", "NOT SIGNED": "#E8E8E8", "INCONCLUSIVE": "#D6E9F5",
}
DECISION_COLOURS = {"GO": "#009E73", "NO-GO": "#D55E00", "PENDING": "#B07D00", "UNKNOWN": "#555555"}

NOT_AVAILABLE = "Not available in this review."


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section (level 2) or below (level 3)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    """A paragraph. ``style``: body, lead (larger), note (small grey), missing (italic note), code (monospace, preformatted)."""

    text: str
    style: Literal["body", "lead", "note", "missing", "code"] = "body"


@dataclass(frozen=True)
class Table:
    """A table that may split across pages; the header row repeats on each page.

    ``widths`` are relative column weights; ``status_col`` names the column whose cell text
    selects a tint from :data:`STATUS_TINTS`.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] | None = None
    status_col: int | None = None
    caption: str | None = None
    mono_cols: tuple[int, ...] = ()


@dataclass(frozen=True)
class Series:
    """One line or bar series. For bars, ``y`` holds one value per category."""

    label: str
    role: Role
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    err_low: tuple[float, ...] | None = None
    err_high: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ChartSpec:
    """A chart as data; :mod:`workbench.report._charts` draws it with matplotlib."""

    kind: Literal["curve", "reliability", "bars"]
    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...]
    categories: tuple[str, ...] = ()
    diagonal: bool = False
    reference_lines: tuple[float, ...] = ()
    alt: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart block; ``width`` is the fraction of the text width it takes."""

    spec: ChartSpec
    width: float = 0.49


@dataclass(frozen=True)
class ChartRow:
    """Charts placed side by side."""

    charts: tuple[Chart, ...]


Block = Heading | Para | Table | Chart | ChartRow


@dataclass(frozen=True)
class Section:
    """A numbered section of the packet (one table-of-contents entry)."""

    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Cover:
    """What the cover page states; the verifier checks the signed manifest against it."""

    product: str
    review_name: str
    decision: str
    decision_sentence: str
    generated_at: str
    generated_by: str
    evidence_digest: str
    content_digest: str
    policy_digest: str
    models: tuple[tuple[str, str, str, str], ...]  # role, name, version, sha256
    threshold: str = "—"  # the manifest's decision threshold, as the evidence records it


@dataclass(frozen=True)
class Packet:
    """The whole sign-off packet as data."""

    cover: Cover
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class PacketInput:
    """Everything the packet shows, gathered once (see ``collect_packet_input``).

    Dict-valued fields carry the documented JSON shapes (evidence JSON, decision JSON,
    questionnaire summary, governance checklist, readiness plan); an empty value renders as
    an explicit "not available in this review" note. ``generated_at`` comes from the
    decision, never from the clock, so the same input gives the same bytes.
    """

    review_name: str
    generated_at: str
    generated_by: str
    evidence: Mapping[str, Any]
    decision: Mapping[str, Any]
    candidate: Mapping[str, Any] = field(default_factory=dict)
    baseline: Mapping[str, Any] | None = None
    questionnaires: Mapping[str, Any] = field(default_factory=dict)
    governance: Mapping[str, Any] = field(default_factory=dict)
    readiness_plan: Mapping[str, Any] = field(default_factory=dict)
    signoffs: Sequence[Mapping[str, Any]] = ()
    waivers: Sequence[Mapping[str, Any]] = ()
    policy_text: str = ""
    policy_digest: str = ""
    audit_excerpt: Sequence[Mapping[str, Any]] = ()
    audit_head: str | None = None
    #: The server-signed checkpoint of the chain head at the decision (None: unkeyed store).
    audit_checkpoint: Mapping[str, Any] | None = None
    environment: Mapping[str, Any] = field(default_factory=dict)
    review_id: str | None = None
    product: str = "Model Promotion Workbench"


# ---------------------------------------------------------------- formatting helpers


def fmt_bound(b: Any) -> str:
    """A criterion bound: the engine's text, or ``min 0.800`` for a mapping.

    Examples
    --------
    >>> fmt_bound({"min": 0.8}), fmt_bound(">= 0.8"), fmt_bound(None)
    ('min 0.800', '>= 0.8', '—')
    """
    if isinstance(b, Mapping):
        return ", ".join(f"{k} {fmt(v)}" for k, v in b.items() if v is not None) or "—"
    return fmt(b)


def short_hash(h: Any, n: int = 12) -> str:
    """First ``n`` hex digits of a digest, for tables (the full value is in the appendix)."""
    return str(h)[:n] if h else "—"


def threshold_text(evidence: Mapping[str, Any]) -> str:
    """``score >= 0.500 is positive (positive label 1)`` from the evidence's review block.

    Examples
    --------
    >>> threshold_text({"review": {"task": "binary", "threshold": 0.35, "positive_label": "approved"}})
    "score >= 0.350 is positive (positive label 'approved')"
    >>> threshold_text({"review": {"task": "regression", "threshold": 0.5}})
    'not used (regression)'
    """
    review = evidence.get("review") or {}
    t = review.get("threshold")
    if t is None:
        return "—"
    if review.get("task") != "binary":
        return f"not used ({review.get('task')})"
    return f"score >= {fmt(t)} is positive (positive label {review.get('positive_label')!r})"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], **kw: Any) -> Table:
    """Build a :class:`Table`, turning every cell into display text."""
    return Table(tuple(header), tuple(tuple(c if isinstance(c, str) else fmt(c) for c in r) for r in rows), **kw)


def missing(what: str) -> Para:
    """The explicit note a section shows when its input is empty."""
    return Para(f"{what}: {NOT_AVAILABLE[0].lower()}{NOT_AVAILABLE[1:]}", "missing")
