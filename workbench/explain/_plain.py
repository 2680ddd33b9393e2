"""A promotion decision in plain words, for readers who are not data scientists.

The decision record speaks in criterion ids, metrics and bounds. People affected by the model,
managers and approvers need three things instead: what was decided, the two or three reasons
that matter, and what happens next. :func:`plain_summary` writes them from the decision JSON
in short sentences and everyday words; ``tests/test_plain_language.py`` measures the reading
grade (Flesch-Kincaid, target: grade 10 or lower) over real decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: What was decided, per outcome.
_DECIDED = {
    "GO": "The new model may now be used in place of the current one.",
    "NO-GO": "The new model must not be used yet.",
    "PENDING": "No final answer yet: the new model may not be used until some steps are done.",
}
_UNKNOWN = "The decision could not be read."

#: What happens next, per outcome.
_NEXT = {
    "GO": "Next, the team moves the new model into use step by step and keeps checking how it does. "
          "If it does worse than planned, they switch back to the current model.",
    "NO-GO": "Next, the team must fix these problems and run the review again. "
             "The current model stays in use until then.",
    "PENDING": "Next, the missing steps must be done. Then the decision is made again. "
               "The current model stays in use until then.",
}

#: One plain sentence per kind of criterion: (when it fails, when it is missing).
_REASONS: dict[str, tuple[str, str]] = {
    "absolute": ("It does not make correct choices often enough.",
                 "We could not yet check how often it makes correct choices."),
    "relative": ("It does not do better than the model in use today.",
                 "We could not yet compare it with the model in use today."),
    "fairness": ("It treats some groups of people too differently.",
                 "We could not yet check if it treats all groups of people fairly."),
    "drift": ("The data it would see has changed too much since it was built.",
              "We could not yet check if the data it would see has changed."),
    "operational": ("It is too slow or needs too much computer power.",
                    "We could not yet check its speed and cost."),
    "robustness": ("Its answers change too much when the data is a bit noisy.",
                   "We could not yet check how it copes with noisy data."),
    "replay": ("On past cases, it would have made too many choices that differ from today.",
               "We could not yet test it on past cases."),
    "qualitative": ("The experts who studied it raised concerns.",
                    "Some experts have not yet given their view."),
    "governance": ("Some required records about the model are not complete.",
                   "Some required records about the model are not done yet."),
    "signoff": ("A person who must approve it said no.",
                "A person who must approve it has not done so yet."),
}
_OTHER = ("One of the rules for using a model is not met.", "One of the rules could not be checked yet.")
_STATUS_ORDER = {"FAIL": 0, "MISSING": 1, "INCONCLUSIVE": 2, "WARN": 3}
#: Whatever the kind: the measurements cannot yet tell whether a rule is met (docs/POLICY.md).
_NOT_ENOUGH_DATA = "There is not yet enough data to tell whether it meets one of the rules; more test cases would."


@dataclass(frozen=True)
class PlainSummary:
    """What was decided, the reasons that matter (at most three) and what happens next."""

    outcome: str
    decided: str
    reasons: tuple[str, ...]
    next_steps: str

    @property
    def text(self) -> str:
        """The whole summary as one paragraph."""
        parts = [self.decided]
        if self.reasons:
            parts.append("Here is why. " + " ".join(self.reasons))
        parts.append(self.next_steps)
        return " ".join(parts)


def _outcome(decision: Mapping[str, Any]) -> str:
    for key in ("outcome", "decision", "overall", "status"):
        value = decision.get(key)
        if isinstance(value, str) and value:
            return value.upper().replace("_", "-").replace("NOGO", "NO-GO")
    return "UNKNOWN"


def _kind(criterion: Mapping[str, Any]) -> str:
    kind = str(criterion.get("kind") or "")
    if kind in _REASONS:
        return kind
    cid = str(criterion.get("id") or "")
    # Decisions from before `kind` was recorded: the id usually starts with the kind's name.
    return next((k for k in _REASONS if cid.startswith(k) or cid.startswith(k.rstrip("e") + "-")), "")


def plain_summary(decision: Mapping[str, Any], *, max_reasons: int = 3) -> PlainSummary:
    """Write the decision in plain words: what was decided, why, what happens next.

    Parameters
    ----------
    decision : mapping
        The decision JSON (``workbench.policy.Decision.to_dict()``): ``outcome`` and ``criteria``
        with ``kind``, ``status`` and ``severity``.
    max_reasons : int, keyword-only
        How many reasons to give; blocking failures come first, then missing evidence, then
        warnings. Two criteria of the same kind give one reason.

    Examples
    --------
    >>> s = plain_summary({"outcome": "NO-GO", "criteria": [
    ...     {"id": "dp", "kind": "fairness", "status": "FAIL", "severity": "blocking"},
    ...     {"id": "auc", "kind": "absolute", "status": "PASS", "severity": "blocking"},
    ...     {"id": "so", "kind": "signoff", "status": "MISSING", "severity": "blocking"}]})
    >>> s.decided
    'The new model must not be used yet.'
    >>> s.reasons
    ('It treats some groups of people too differently.', 'A person who must approve it has not done so yet.')
    """
    outcome = _outcome(decision)
    raw = decision.get("criteria") or []
    crits: Sequence[Mapping[str, Any]] = [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, Sequence) else []
    relevant = [c for c in crits if str(c.get("status", "")).upper() in _STATUS_ORDER]
    relevant.sort(key=lambda c: (c.get("severity") != "blocking", _STATUS_ORDER[str(c.get("status")).upper()]))
    if outcome == "GO":  # a GO has no blocking problem; warnings are not "reasons" for it
        relevant = []
    reasons: list[str] = []
    for c in relevant:
        failed, missing = _REASONS.get(_kind(c), _OTHER)
        status = str(c.get("status")).upper()
        sentence = missing if status == "MISSING" else _NOT_ENOUGH_DATA if status == "INCONCLUSIVE" else failed
        if sentence not in reasons:
            reasons.append(sentence)
        if len(reasons) == max_reasons:
            break
    if outcome == "GO":
        waived = any(str(c.get("status", "")).upper() == "WAIVED" for c in crits)
        reasons = ["It met the rules set for it." + (" Where it did not, a named person accepted the risk for a "
                                                     "limited time." if waived else ""),
                   "The people who must approve it did so."]
    return PlainSummary(outcome, _DECIDED.get(outcome, _UNKNOWN), tuple(reasons),
                        _NEXT.get(outcome, "Ask the review owner what happens next."))
