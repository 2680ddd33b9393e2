"""Plain-language decision summaries: right content, and readable (Flesch-Kincaid grade <= 10).

textstat measures the grade of every summary the engine can write: each outcome with each kind
of criterion failing or missing, alone and in threes, and a decision made by the real policy
engine.
"""

from __future__ import annotations

import itertools

import pytest
import textstat

from workbench.explain import plain_summary
from workbench.explain._plain import _REASONS

KINDS = sorted(_REASONS)
MAX_GRADE = 10.0


def _decision(outcome: str, problems: list[tuple[str, str]], *, waived: bool = False) -> dict:
    crits = [{"id": f"c{i}", "kind": k, "status": s, "severity": "blocking"} for i, (k, s) in enumerate(problems)]
    crits.append({"id": "ok", "kind": "absolute", "status": "PASS", "severity": "blocking"})
    if waived:
        crits.append({"id": "w", "kind": "drift", "status": "WAIVED", "severity": "blocking"})
    return {"outcome": outcome, "criteria": crits}


def _cases():
    for kind, status in itertools.product(KINDS, ("FAIL", "MISSING", "INCONCLUSIVE")):
        yield _decision("NO-GO" if status == "FAIL" else "PENDING", [(kind, status)])
    for combo in itertools.combinations(KINDS, 3):
        yield _decision("NO-GO", [(k, "FAIL") for k in combo])
    yield _decision("GO", [])
    yield _decision("GO", [], waived=True)


@pytest.mark.parametrize("decision", list(_cases()), ids=lambda d: d["outcome"] + ":" + ",".join(
    c["kind"] + "/" + c["status"] for c in d["criteria"] if c["status"] != "PASS"))
def test_every_summary_reads_at_grade_ten_or_lower(decision) -> None:
    text = plain_summary(decision).text
    grade = textstat.flesch_kincaid_grade(text)
    assert grade <= MAX_GRADE, f"grade {grade:.1f}: {text}"
    assert "_" not in text and "ratio" not in text.lower()  # no metric names or ids


def test_summary_says_what_was_decided_why_and_what_next() -> None:
    s = plain_summary(_decision("NO-GO", [("fairness", "FAIL"), ("operational", "FAIL"), ("signoff", "MISSING"),
                                          ("drift", "FAIL")]))
    assert s.decided == "The new model must not be used yet."
    assert len(s.reasons) == 3  # the ones that matter, blocking failures before missing items
    assert s.reasons[0] == "It treats some groups of people too differently."
    assert "has not done so yet" not in " ".join(s.reasons)
    assert "run the review again" in s.next_steps and s.text.startswith(s.decided)


def test_advisory_warnings_come_after_blocking_problems_and_duplicates_collapse() -> None:
    d = {"outcome": "NO-GO", "criteria": [
        {"id": "a", "kind": "drift", "status": "WARN", "severity": "advisory"},
        {"id": "b", "kind": "fairness", "status": "FAIL", "severity": "blocking"},
        {"id": "c", "kind": "fairness", "status": "FAIL", "severity": "blocking"}]}
    assert plain_summary(d).reasons == ("It treats some groups of people too differently.",
                                        "The data it would see has changed too much since it was built.")


def test_an_inconclusive_criterion_is_not_enough_data_not_a_failure() -> None:
    s = plain_summary(_decision("PENDING", [("fairness", "INCONCLUSIVE")]))
    assert s.reasons == ("There is not yet enough data to tell whether it meets one of the rules; more test cases "
                         "would.",)
    assert "too differently" not in s.text


def test_go_mentions_accepted_risk_only_when_a_waiver_was_used() -> None:
    assert "accepted the risk" not in plain_summary(_decision("GO", [])).text
    assert "accepted the risk" in plain_summary(_decision("GO", [], waived=True)).text


def test_unreadable_decision_says_so() -> None:
    s = plain_summary({})
    assert s.outcome == "UNKNOWN" and "could not be read" in s.text


def test_summary_of_a_real_policy_decision(realistic_evidence) -> None:
    """The default policy decided by the real engine on evidence computed with scikit-learn."""
    import datetime as dt
    from pathlib import Path

    import workbench
    from workbench.policy import decide, load_policy

    policy = load_policy(Path(workbench.__file__).parent / "data" / "default_policy.yaml")
    decision = decide(policy, realistic_evidence, at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC)).to_dict()
    summary = plain_summary(decision)
    assert summary.outcome == decision["outcome"] and summary.reasons
    assert textstat.flesch_kincaid_grade(summary.text) <= MAX_GRADE, summary.text


@pytest.fixture(scope="module")
def realistic_evidence() -> dict:
    from tests.report.conftest import build_realistic_input

    return dict(build_realistic_input().evidence)


def test_the_grade_measure_tells_plain_from_technical_text() -> None:
    """A control: the packet's former technical opening measures harder than any plain summary."""
    technical = ("The candidate must not be promoted: at least one blocking criterion fails and is not waived. "
                 "age_band demographic parity ratio 0.674 < 0.80; no current sign-off by security.")
    hardest = max(textstat.flesch_kincaid_grade(plain_summary(d).text) for d in _cases())
    assert textstat.flesch_kincaid_grade(technical) > hardest
