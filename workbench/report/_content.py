"""Sections as data: turn a :class:`PacketInput` into a :class:`Packet`.

Every section renders when its input is empty, with an explicit "not available in this
review" note, so a packet is always complete about what it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.explain import plain_summary
from workbench.report import _evidence_sections as ev
from workbench.report._model import (
    Cover,
    Heading,
    Packet,
    PacketInput,
    Para,
    Section,
    fmt,
    fmt_bound,
    get_path,
    label,
    missing,
    short_hash,
    table,
    threshold_text,
)

SECTION_TITLES = (
    ("summary", "Executive summary"),
    ("quantitative", "Quantitative evidence"),
    ("explanations", "Explanations"),
    ("fairness", "Fairness"),
    ("qualitative", "Qualitative review"),
    ("governance", "Governance"),
    ("readiness", "Production readiness plan"),
    ("signoffs", "Sign-offs and waivers"),
    ("appendix", "Appendix"),
)

_SENTENCES = {
    "GO": "The candidate may be promoted: every blocking criterion passes or is waived and all required sign-offs are in.",
    "NO-GO": "The candidate must not be promoted: at least one blocking criterion fails and is not waived.",
    "PENDING": "No decision yet: the evidence does not block promotion, but sign-offs, questionnaires or readiness items are missing.",
}


# ---------------------------------------------------------------- decision JSON access


def decision_value(decision: Mapping[str, Any]) -> str:
    """GO / NO-GO / PENDING from a decision JSON (``decision`` or ``overall`` key)."""
    for key in ("decision", "overall", "outcome", "status"):
        v = decision.get(key)
        if isinstance(v, Mapping):
            v = v.get("decision") or v.get("status")
        if isinstance(v, str) and v:
            return v.upper().replace("_", "-").replace("NOGO", "NO-GO")
    return "UNKNOWN"


def criteria(decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decision's criterion results as a list of dicts, in the decision's order."""
    raw = decision.get("criteria") or decision.get("results") or []
    if isinstance(raw, Mapping):
        raw = [{"id": k, **(v if isinstance(v, Mapping) else {"status": v})} for k, v in raw.items()]
    return [dict(c) for c in raw if isinstance(c, Mapping)]


def _ci_text(c: Mapping[str, Any]) -> str:
    ci = c.get("ci")
    if isinstance(ci, Mapping):
        ci = (ci.get("low", ci.get("ci_low")), ci.get("high", ci.get("ci_high")))
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
        return f"[{fmt(ci[0])}, {fmt(ci[1])}]"
    return ""


def signoff_status(inp: PacketInput) -> list[tuple[str, str, str, str]]:
    """(role, status, who, when) per role: from the decision, else from the sign-off list."""
    raw = inp.decision.get("signoffs") or inp.decision.get("sign_offs") or {}
    rows: list[tuple[str, str, str, str]] = []
    if isinstance(raw, Mapping) and "roles" in raw and isinstance(raw["roles"], Mapping):
        raw = raw["roles"]
    if isinstance(raw, Mapping):
        for role, st in raw.items():
            if isinstance(st, Mapping):
                rows.append((role, str(st.get("status", "—")).upper(), str(st.get("user") or st.get("by") or "—"),
                             str(st.get("at") or st.get("signed_at") or "—")))
            else:
                rows.append((role, str(st).upper(), "—", "—"))
    elif isinstance(raw, Sequence):
        for st in raw:
            if isinstance(st, Mapping):
                rows.append((str(st.get("role", "—")), str(st.get("status", "—")).upper(),
                             str(st.get("user") or "—"), str(st.get("at") or st.get("signed_at") or "—")))
    if not rows:
        for s in inp.signoffs:
            rows.append((str(s.get("role", "—")), str(s.get("status") or "SIGNED").upper(),
                         str(s.get("user") or s.get("actor") or "—"), str(s.get("at") or s.get("signed_at") or "—")))
    return rows


# ---------------------------------------------------------------- sections


def _cover(inp: PacketInput) -> Cover:
    decision = decision_value(inp.decision)
    models = []
    for role, info in (("candidate", inp.candidate), ("baseline", inp.baseline)):
        if info:
            models.append((role, str(info.get("name") or "—"), str(info.get("version") or "—"),
                           str(info.get("sha256") or "—")))
    return Cover(
        product=inp.product,
        review_name=inp.review_name,
        decision=decision,
        decision_sentence=_SENTENCES.get(decision, "The decision could not be read from the decision record."),
        generated_at=inp.generated_at,
        generated_by=inp.generated_by,
        evidence_digest=str(inp.evidence.get("evidence_digest") or "—"),
        content_digest=str(inp.evidence.get("digest") or "—"),
        policy_digest=inp.policy_digest or str(get_path(inp.decision, "policy.digest") or "—"),
        models=tuple(models),
        threshold=threshold_text(inp.evidence),
    )



def _summary(inp: PacketInput, cover: Cover) -> Section:
    # Opens in plain words for readers who are not data scientists (workbench.explain.plain_summary).
    blocks: list[Any] = [Para(plain_summary(inp.decision).text, "lead"),
                         Para(f"Decision: {cover.decision}. {cover.decision_sentence}")]
    if inp.decision.get("summary"):
        blocks.append(Para(str(inp.decision["summary"])))
    crit = criteria(inp.decision)
    if crit:
        counts: dict[str, int] = {}
        for c in crit:
            counts[str(c.get("status", "?")).upper()] = counts.get(str(c.get("status", "?")).upper(), 0) + 1
        blocks.append(Para("Criteria: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "."))
        order = {"FAIL": 0, "MISSING": 1, "INCONCLUSIVE": 2, "WARN": 3, "WAIVED": 4, "PASS": 5}
        crit = sorted(crit, key=lambda c: (order.get(str(c.get("status", "")).upper(), 6), c.get("severity") != "blocking"))
        rows = [
            (str(c.get("id", "—")), str(c.get("status", "—")).upper(), str(c.get("severity") or "—"),
             (fmt(c.get("value", c.get("measured"))) + (" " + _ci_text(c) if _ci_text(c) else "")),
             fmt_bound(c.get("bound")),
             _clip(_verdict_note(c) + str(c.get("reason") or c.get("description") or "")))
            for c in crit
        ]
        blocks += [Heading("Criteria"), table(("Criterion", "Status", "Severity", "Measured [CI]", "Bound", "Reason"),
                                              rows, widths=(2.9, 1.0, 0.95, 1.9, 0.95, 4.3), status_col=1)]
    else:
        blocks += [Heading("Criteria"), missing("Criteria results")]
    blocks.append(Heading("Open risks and accepted waivers"))
    risks = [c for c in crit if str(c.get("status", "")).upper() in ("FAIL", "WARN", "MISSING", "INCONCLUSIVE")
             or c.get("underpowered")]
    if risks:
        blocks.append(table(("Open risk", "Status", "Reason"),
                            [(str(c.get("id")), str(c.get("status")).upper(),
                              _clip(_verdict_note(c) + str(c.get("reason") or ""), 400))
                             for c in risks],
                            widths=(2.5, 1.5, 7.0), status_col=1))
    else:
        blocks.append(Para("No failing, warning, missing, inconclusive or underpowered criterion."))
    blocks.append(_waiver_table(inp) if inp.waivers else Para("No waiver has been accepted.", "note"))
    blocks.append(Heading("Sign-off status per role"))
    so = signoff_status(inp)
    blocks.append(table(("Role", "Status", "By", "When"), so, widths=(2.5, 1.5, 2.5, 3.0), status_col=1)
                  if so else missing("Sign-off status"))
    return Section("summary", "Executive summary", tuple(blocks))


def _verdict_note(c: Mapping[str, Any]) -> str:
    """What the clipped reason must not lose: the rows an INCONCLUSIVE criterion needs, its margin, underpowered items."""
    notes = []
    if str(c.get("status", "")).upper() == "INCONCLUSIVE":
        rows = c.get("rows_needed")
        notes.append(f"Rows needed to settle it: {rows:,}." if isinstance(rows, int)
                     else "No row count settles it at the observed value.")
    if c.get("margin") is not None:
        notes.append(f"Margin {fmt_bound(c.get('margin'))}.")
    if c.get("underpowered"):
        notes.append(f"Underpowered (minimum detectable effect above the margin): {', '.join(map(str, c['underpowered']))}.")
    return " ".join(notes) + (" " if notes else "")


def _clip(text: str, limit: int = 240) -> str:
    """Keep the executive summary readable; the full reason stays in the decision JSON."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _waiver_state(w: Mapping[str, Any]) -> str:
    if w.get("status"):
        return str(w["status"]).upper()
    if w.get("revoked_at"):
        return "REVOKED"
    # four eyes: a waiver counts only once a second person countersigned it
    return "ACCEPTED" if w.get("countersigned_by") or "countersigned_by" not in w else "PROPOSED"


def _waiver_table(inp: PacketInput) -> Any:
    rows = [(str(w.get("criterion") or w.get("criterion_id") or "—"), str(w.get("rationale") or "—"),
             f"{w.get('approver') or w.get('user') or '—'} ({w.get('role') or '—'})"
             + (f"; granted by {w['countersigned_by']} ({w.get('countersigned_role') or '—'})"
                if w.get("countersigned_by") else ""),
             str(w.get("expires") or w.get("expiry") or w.get("expires_at") or "—"), _waiver_state(w))
            for w in inp.waivers]
    return table(("Waived criterion", "Rationale", "Proposed by; granted by (role)", "Expires", "Status"), rows,
                 widths=(2.2, 4.2, 2.7, 1.5, 1.2), status_col=4)


def _objection_table(objections: Sequence[Mapping[str, Any]]) -> Any:
    rows = [(str(o.get("objection_id")), str(o.get("author") or "—"), str(o.get("rationale") or "—"),
             str(o.get("status") or "open").upper(),
             "—" if o.get("status") in (None, "open") else
             f"{o.get('resolved_by')}" + (f" ({o['resolved_role']})" if o.get("resolved_role") else "")
             + f": {o.get('resolution') or ''}")
            for o in objections]
    return table(("#", "Raised by", "Objection", "Status", "Resolution"), rows,
                 widths=(0.5, 1.6, 4.4, 1.3, 3.8), status_col=3)


def _comment(c: Any, question: Any) -> tuple[str, str, str]:
    if isinstance(c, Mapping):
        return (str(c.get("user") or c.get("reviewer") or "—"), str(c.get("question") or question or "—"), str(c.get("text") or ""))
    user, text = (list(c) + ["", ""])[:2]
    return (str(user or "—"), str(question or "—"), str(text))


def _questions_table(qs: Sequence[Mapping[str, Any]]) -> Any:
    rows = []
    for qq in qs:
        dist = qq.get("distribution") or {}
        dist_text = ", ".join(f"{k}: {v}" for k, v in dist.items() if v) if isinstance(dist, Mapping) else fmt(dist)
        flags = []
        if qq.get("disagreement"):
            flags.append("DISAGREEMENT")
        if qq.get("blocking"):
            flags.append("BLOCKING: " + "; ".join(f"{b.get('user') or b.get('reviewer')} ({b.get('answer')})"
                                                  for b in qq["blocking"]))
        rows.append((str(qq.get("id") or qq.get("question_id")), str(qq.get("text") or ""), dist_text or "no answers",
                     fmt(qq.get("mean")) if qq.get("mean") is not None else "—", " ".join(flags)))
    return table(("Id", "Question", "Answers across reviewers", "Mean", "Flags"), rows, widths=(1.4, 4.4, 2.4, 0.9, 2.4))


def _qualitative(inp: PacketInput) -> Section:
    q = inp.questionnaires
    items = q.get("questionnaires") if isinstance(q, Mapping) else None
    if not q or not items:
        return Section("qualitative", "Qualitative review", (missing("Questionnaire responses"),))
    if isinstance(items, Mapping):
        items = [{"id": k, **v} for k, v in items.items()]
    blocks: list[Any] = []
    if q.get("verdict"):
        blocks.append(Para(f"Overall qualitative verdict: {str(q['verdict']).upper()}.", "lead"))

    def title(i: Mapping[str, Any]) -> str:
        return str(i.get("title") or i.get("questionnaire_id") or i.get("id"))

    def completion(i: Mapping[str, Any]) -> str:
        c = i.get("completion")
        return ", ".join(f"{k} {fmt(v)}" for k, v in c.items()) if isinstance(c, Mapping) else fmt(c)

    blocks.append(table(("Questionnaire", "Verdict", "Reviewers", "Completion", "Score"),
                        [(title(i), str(i.get("verdict", "—")).upper(),
                          ", ".join(i["reviewers"]) if i.get("reviewers") else fmt(i.get("n_reviewers")),
                          completion(i), i.get("score")) for i in items],
                        widths=(4, 1.3, 2.4, 2, 1.1), status_col=1))
    for i in items:
        blocks.append(Heading(title(i), 3))
        for reason in i.get("reasons") or ():
            blocks.append(Para(str(reason), "note"))
        qs = [qq for qq in (i.get("questions") or []) if isinstance(qq, Mapping)]
        answered = [qq for qq in qs if qq.get("n_answered", 1) or qq.get("distribution")]
        answered = [qq for qq in answered if not isinstance(qq.get("distribution"), Mapping)
                    or any(qq["distribution"].values()) or qq.get("comments")]
        if answered:
            blocks.append(_questions_table(answered))
        else:
            blocks.append(missing(f"Submitted answers ({len(qs)} questions)"))
        comments = [_comment(c, qq.get("id") or qq.get("question_id")) for qq in qs for c in (qq.get("comments") or [])]
        comments += [_comment(c, None) for c in (i.get("comments") or [])]
        if comments:
            blocks.append(table(("Reviewer", "Question", "Comment"), comments, widths=(2, 1.5, 8)))
    return Section("qualitative", "Qualitative review", tuple(blocks))


def _governance(inp: PacketInput) -> Section:
    g = inp.governance
    blocks: list[Any] = [Heading("Checklist")]
    checks = g.get("checks") or g.get("items") if isinstance(g, Mapping) else None
    if checks:
        if isinstance(checks, Mapping):
            checks = [{"id": k, **v} for k, v in checks.items()]
        blocks.append(table(("Item", "Status", "Details"),
                            [(str(c.get("title") or c.get("id")), str(c.get("status", "—")).upper(),
                              str(c.get("reason") or c.get("detail") or "")) for c in checks],
                            widths=(3, 1.2, 7), status_col=1))
    else:
        blocks.append(missing("Governance checklist"))
    blocks.append(Heading("Model card summary"))
    card = g.get("model_card") if isinstance(g, Mapping) else None
    if isinstance(card, Mapping) and card:
        blocks.append(table(("Section", "Content"), [(label(k), _flat(v)) for k, v in card.items()], widths=(2.5, 8.5)))
    else:
        blocks.append(missing("Model card"))
    blocks.append(Heading("Personal data (PII) scan"))
    pii = g.get("pii") if isinstance(g, Mapping) else None
    findings = (pii.get("findings") if isinstance(pii, Mapping) else pii) or []
    if findings:
        blocks.append(table(("Data set", "Column", "Kind", "Count", "Masked samples"),
                            [(str(f.get("dataset") or "—"), str(f.get("column")), str(f.get("kind")), f.get("count"),
                              ", ".join(map(str, f.get("samples") or []))) for f in findings],
                            widths=(1.8, 2, 1.8, 1, 4.4)))
    elif pii is not None:
        blocks.append(Para("The PII scan found no personal data in any data set."))
    else:
        blocks.append(missing("PII scan"))
    blocks.append(Heading("Lineage"))
    arts = inp.evidence.get("artefacts") or []
    if arts:
        blocks.append(table(("Role", "File", "SHA-256", "Bytes", "Rows", "Schema"),
                            [(str(a.get("role")), str(a.get("path")), str(a.get("sha256") or "—"), a.get("bytes"),
                              a.get("rows"), short_hash(a.get("schema_fingerprint"))) for a in arts],
                            widths=(1.3, 2.4, 4.6, 1.1, 0.9, 1.3), mono_cols=(2, 5)))
    else:
        blocks.append(missing("Artefact lineage"))
    return Section("governance", "Governance", tuple(blocks))


def _flat(v: Any) -> str:
    if isinstance(v, Mapping):
        return "; ".join(f"{label(str(k))}: {_flat(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "; ".join(_flat(x) for x in v)
    return fmt(v)


def _readiness(inp: PacketInput) -> Section:
    p = inp.readiness_plan
    if not p:
        return Section("readiness", "Production readiness plan", (missing("Production readiness plan"),))
    blocks: list[Any] = [Heading("Deployment steps")]
    steps = p.get("deployment_steps") or ()
    blocks.append(table(("#", "Step"), [(str(i + 1), str(s)) for i, s in enumerate(steps)], widths=(0.6, 10))
                  if steps else missing("Deployment steps"))
    mon = p.get("monitoring") or {}
    blocks.append(Heading("Monitoring"))
    rows = [("Metrics", ", ".join(mon.get("metrics") or ()) or "—"),
            ("Thresholds", ", ".join(f"{k} {fmt(v)}" for k, v in (mon.get("thresholds") or {}).items()) or "—"),
            ("Alert channel", str(mon.get("alert_channel") or "—")), ("Cadence (days)", fmt(mon.get("cadence_days")))]
    channels = [str(c.get("name") or c.get("url") or ", ".join(c.get("to") or ())) + f" ({c.get('kind')})"
                for c in mon.get("alerts") or () if isinstance(c, Mapping)]
    rows.append(("Alert delivery", ", ".join(channels) or "— (no channel: alerts are only stored)"))
    blocks.append(table(("Item", "Plan"), rows, widths=(2.5, 8.5)))
    blocks.extend(_operations(inp.evidence.get("operations")))
    rb, ir = p.get("rollback") or {}, p.get("incident_response") or {}
    blocks.append(Heading("Rollback and incident response"))
    blocks.append(table(("Item", "Plan"), [
        ("Previous model", str(rb.get("previous_model") or "—")), ("Rollback procedure", str(rb.get("procedure") or "—")),
        ("Incident owner", str(ir.get("owner") or "—")),
        ("Severity levels", ", ".join(ir.get("severity_levels") or ()) or "—"), ("Runbook", str(ir.get("runbook") or "—")),
    ], widths=(2.5, 8.5)))
    dates = p.get("post_implementation_reviews") or ()
    blocks.append(Heading("Post-implementation reviews"))
    blocks.append(Para(", ".join(map(str, dates))) if dates else missing("Post-implementation review dates"))
    return Section("readiness", "Production readiness plan", tuple(blocks))


def _operations(ops: Any) -> list[Any]:
    """Monitoring, alerts, feedback and contests since the last promotion (evidence ``operations``)."""
    if not isinstance(ops, Mapping) or ops.get("status") != "ok":
        return []
    mon, al, fb = ops.get("monitoring") or {}, ops.get("alerts") or {}, ops.get("feedback") or {}
    rows = [("Monitored windows", f"{fmt(mon.get('windows'))} ({fmt(mon.get('rows'))} rows)"),
            ("Alerts", f"{fmt(al.get('raised'))} raised, {fmt(al.get('open'))} open: {', '.join(al.get('rules') or ()) or '—'}"),
            ("Feedback", ", ".join(f"{k} {v}" for k, v in (fb.get("by_kind") or {}).items()) or "—"),
            ("Worst contest rate", _worst(fb.get("contest_rate"))), ("Worst overturn rate", _worst(fb.get("overturn_rate"))),
            ("Re-review", "recommended: " + "; ".join(r.get("reason", "") for r in (ops.get("rereview") or {}).get("reasons", ()))
             if ops.get("rereview") else "—")]
    out: list[Any] = [Heading("Operations since the last review"), table(("Signal", "Value"), rows, widths=(2.5, 8.5))]
    group_rows = [(f"{feature} = {group}", fmt(e.get("decisions")), fmt(e.get("contests")), fmt(e.get("contest_rate")),
                   fmt(e.get("overturned")), fmt(e.get("overturn_rate")))
                  for feature, groups in (fb.get("groups") or {}).items() for group, e in groups.items()]
    if group_rows:
        out.append(table(("Group", "Decisions", "Contests", "Contest rate", "Overturned", "Overturn rate"), group_rows))
    return out


def _worst(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        return "—"
    return f"{fmt(entry.get('value'))} ({entry.get('feature')} = {entry.get('group')})"


def _signoffs(inp: PacketInput) -> Section:
    blocks: list[Any] = [Heading("Sign-offs")]
    if inp.signoffs:
        blocks.append(table(("Name", "Role", "Time", "Decision", "Comment", "Evidence digest approved"),
                            [(str(s.get("user") or s.get("actor") or "—"), str(s.get("role")),
                              str(s.get("at") or s.get("signed_at") or s.get("created_at") or "—"), str(s.get("verdict") or s.get("status") or "approve"),
                              str(s.get("comment") or ""), short_hash(s.get("evidence_digest"), 16))
                             for s in inp.signoffs], widths=(1.6, 1.7, 2.2, 1.1, 3.0, 2.0), mono_cols=(5,)))
    else:
        blocks.append(missing("Sign-offs"))
    blocks.append(Heading("Waivers"))
    blocks.append(_waiver_table(inp) if inp.waivers else missing("Waivers"))
    # Dissent as the decision recorded it: an open objection is why a decision stayed PENDING.
    objections = inp.decision.get("objections") or ()
    blocks.append(Heading("Objections"))
    blocks.append(_objection_table(objections) if objections else Para("No reviewer objected.", "note"))
    return Section("signoffs", "Sign-offs and waivers", tuple(blocks))


def _appendix(inp: PacketInput) -> Section:
    blocks: list[Any] = [Heading("Policy"), Para(f"Policy digest: {inp.policy_digest or '—'}", "note")]
    blocks.append(Para(inp.policy_text, "code") if inp.policy_text else missing("Policy text"))
    blocks.append(Heading("Environment"))
    env = inp.environment
    if env:
        rows = [(k, _flat(v)) for k, v in env.items() if not isinstance(v, Mapping)]
        for k, v in env.items():
            if isinstance(v, Mapping):
                rows += [(f"{k}: {n}", _flat(x)) for n, x in v.items()]
        blocks.append(table(("Component", "Version"), rows, widths=(4, 7)))
    else:
        blocks.append(missing("Environment"))
    blocks.append(Heading("Random seeds and evidence settings"))
    settings = inp.evidence.get("settings") or {}
    blocks.append(table(("Setting", "Value"), [(k, _flat(v)) for k, v in settings.items()], widths=(4, 7))
                  if settings else missing("Evidence settings"))
    blocks.append(Heading("Audit log excerpt"))
    blocks.append(Para(f"Audit chain head: {inp.audit_head or '—'}", "note"))
    if inp.audit_excerpt:
        blocks.append(table(("Seq", "Time (UTC)", "Actor", "Action", "Subject", "Hash"),
                            [(str(a.get("seq") or a.get("id") or "—"), str(a.get("at") or a.get("ts") or "—"),
                              str(a.get("actor") or "—"), str(a.get("action") or "—"), str(a.get("subject") or "—"),
                              short_hash(a.get("hash"), 16)) for a in inp.audit_excerpt],
                            widths=(0.7, 2.4, 1.6, 2.2, 2.2, 2.0), mono_cols=(5,)))
    else:
        blocks.append(missing("Audit log excerpt"))
    return Section("appendix", "Appendix", tuple(blocks))


def build_packet(inp: PacketInput) -> Packet:
    """Turn the input into the packet's content (cover + sections), pure and deterministic.

    Examples
    --------
    >>> p = build_packet(PacketInput(review_name="r", generated_at="2026-01-01T00:00:00Z",
    ...                              generated_by="ci", evidence={}, decision={"decision": "PENDING"}))
    >>> [s.title for s in p.sections][:2]
    ['Executive summary', 'Quantitative evidence']
    """
    cover = _cover(inp)
    sections = (
        _summary(inp, cover),
        ev.quantitative(inp.evidence),
        ev.explanations(inp.evidence),
        ev.fairness(inp.evidence, criteria(inp.decision)),
        _qualitative(inp),
        _governance(inp),
        _readiness(inp),
        _signoffs(inp),
        _appendix(inp),
    )
    assert tuple(s.title for s in sections) == tuple(t for _, t in SECTION_TITLES)
    return Packet(cover, sections)
