"""Printable forms: a questionnaire template as Markdown, and the YAML skeleton to fill in.

The Markdown form is for reviewers who answer on paper or in a meeting; the YAML skeleton
is what ``workbench questionnaire import`` reads back.
"""

from __future__ import annotations

from typing import Any

from workbench.questionnaires._schema import QuestionnaireTemplate

_BOX = "☐"


def _rule_text(question: Any) -> str:
    rule = question.blocking
    if rule is None:
        return ""
    if rule.answer is not None:
        return "answer " + " or ".join(f"**{a}**" for a in rule.answer)
    if rule.max_score is not None:
        return f"a score of **{rule.max_score:g} or lower**"
    if rule.below is not None:
        return f"a value **below {rule.below:g}**"
    return f"a value **above {rule.above:g}**"


def _answer_lines(template: QuestionnaireTemplate, q: Any) -> list[str]:
    if q.type == "likert":
        anchors = template.anchors_for(q)
        return ["  ".join(f"{_BOX} {i} {anchors.get(i, '')}".rstrip() for i in range(1, 6))]
    if q.type == "yes_no_na":
        labels = {"yes": "Yes", "no": "No", "na": "Not applicable"}
        return ["  ".join(f"{_BOX} {labels[c]}" for c in q.choices)]
    if q.type in ("single_choice", "multiple_choice"):
        hint = "(choose one)" if q.type == "single_choice" else "(choose all that apply)"
        return [hint] + [f"- {_BOX} {o.label} (`{o.value}`)" for o in q.options]
    if q.type == "number":
        bounds = [f"min {q.min:g}" if q.min is not None else "", f"max {q.max:g}" if q.max is not None else ""]
        detail = ", ".join(b for b in bounds if b)
        unit = f" {q.unit}" if q.unit else ""
        return [f"Value: ____________{unit}" + (f" ({detail})" if detail else "")]
    return ["Answer:", "", "> ", "> ", "> "]


def template_markdown(template: QuestionnaireTemplate) -> str:
    """A printable Markdown form of ``template``: instructions, sections, questions, answer boxes.

    Examples
    --------
    >>> from workbench.questionnaires import get_template
    >>> md = template_markdown(get_template("user_trust_contestability"))
    >>> "Can an affected person contest the decision?" in md
    True
    """
    out = [
        f"# {template.title}",
        "",
        f"Questionnaire `{template.id}` · version {template.version} · template digest `{template.digest[:12]}`",
        "",
    ]
    if template.description:
        out += [template.description.strip(), ""]
    v = template.verdict
    out += [
        f"**Answered by:** {', '.join(r.replace('_', ' ') for r in template.roles)}",
        "",
        f"**Verdict rules:** weighted score ≥ {v.pass_at:g} passes; {v.concern_at:g}–{v.pass_at:g} is a "
        f"concern; below {v.concern_at:g} fails. At least {v.min_reviewers} submitted reviewer(s). "
        "A blocking answer fails the questionnaire unless an approver waives it.",
        "",
        "Reviewer: ______________________  Role: ______________  Date: ____________",
        "",
        "Questions marked \\* are required. For each answer you may cite evidence ids "
        "(e.g. `fairness`, `slices`) and add a comment.",
        "",
    ]
    n = 0
    for section in template.sections:
        out += [f"## {section.title}", ""]
        if section.description:
            out += [section.description.strip(), ""]
        for q in section.questions:
            n += 1
            star = " \\*" if q.required else ""
            out += [f"### {n}. {q.text.strip()}{star}", "", f"`{q.id}` · {q.type.replace('_', ' ')}"
                    + (f" · weight {q.weight:g}" if q.scored and q.weight != 1 else ""), ""]
            if q.guidance:
                out += [f"*Guidance:* {q.guidance.strip()}", ""]
            if q.evidence:
                out += ["*Evidence to consult:* " + ", ".join(f"`{e}`" for e in q.evidence), ""]
            if q.blocking is not None:
                out += [f"**Blocking:** {_rule_text(q)} blocks promotion unless waived.", ""]
            if q.min_acceptable is not None:
                out += [f"*Minimum acceptable (mean across reviewers):* {q.min_acceptable:g}", ""]
            out += _answer_lines(template, q) + ["", "Evidence cited: ______________________", "",
                                                  "Comment: ________________________________________", ""]
    return "\n".join(out).rstrip() + "\n"


def template_yaml_skeleton(template: QuestionnaireTemplate, *, reviewer: str | None = None) -> str:
    """The YAML that ``workbench questionnaire import`` reads, with every answer left empty."""
    lines = [f"# Answers to {template.title} (v{template.version}). Fill in `value`; see the printable form.",
             f"questionnaire: {template.id}", f"version: {template.version}"]
    if reviewer:
        lines.append(f"reviewer: {reviewer}")
    lines.append("answers:")
    for q in template.questions:
        hint = {"likert": "1-5", "yes_no_na": "/".join(q.choices) if q.type == "yes_no_na" else "",
                "number": "a number", "free_text": "text"}.get(q.type, "")
        if q.type in ("single_choice", "multiple_choice"):
            hint = ("one of " if q.type == "single_choice" else "a list of ") + ", ".join(o.value for o in q.options)
        req = "required" if q.required else "optional"
        lines += [f"  {q.id}:  # {req}: {hint}", "    value:", "    evidence: []", '    comment: ""']
    return "\n".join(lines) + "\n"


__all__ = ["template_markdown", "template_yaml_skeleton"]
