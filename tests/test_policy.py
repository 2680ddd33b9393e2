"""Policy schema and every evidence-based criterion kind: a passing and a failing case each."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import PolicyError
from workbench.policy import (
    default_policy,
    default_policy_text,
    evaluate_criterion,
    greater_is_better,
    load_policy,
    manifest_policy,
    parse_policy,
    policy_json_schema,
)


def crit(**kw):
    """One criterion inside a minimal policy, validated like a real one."""
    return parse_policy({"id": "t", "version": "1", "criteria": [{"id": "c", **kw}]}).criteria[0]


def m(value, lo=None, hi=None):
    return {"value": value, "ci_low": lo, "ci_high": hi, "defined": True}


EVIDENCE = {
    "evidence_digest": "e" * 64,
    "models": {
        "candidate": {
            "metrics": {"roc_auc": m(0.812, 0.804, 0.820), "log_loss": m(0.50, 0.48, 0.52),
                        "recall": {"value": None, "defined": False, "reason": "no positive labels"}},
            "calibration": {"ece": 0.031},
            "fairness": {
                "sex": {"demographic_parity_ratio": m(0.85, 0.78, 0.92), "equalized_odds_difference": m(0.14, 0.10, 0.18)},
                "age_band": {"demographic_parity_ratio": m(0.91, 0.86, 0.96), "equalized_odds_difference": m(0.05, 0.02, 0.08)},
                "sex×age_band": {"demographic_parity_ratio": m(0.60), "equalized_odds_difference": m(0.30)},
            },
            "operational": {"status": "ok", "latency_ms": {"p50": 2.0, "p95": 6.0, "p99": 9.0},
                            "throughput_rows_per_s": 50_000.0, "peak_memory_mb": 300.0},
            "robustness": {"status": "ok", "tests": [
                {"name": "gaussian_noise", "params": {"sigma": 0.1}, "metric": "roc_auc", "clean": 0.81, "perturbed": 0.79, "degradation": 0.02},
                {"name": "missing_values", "params": {"rate": 0.2}, "metric": "roc_auc", "clean": 0.81, "perturbed": 0.69, "degradation": 0.12},
            ]},
        },
        "baseline": {
            "metrics": {"roc_auc": m(0.790, 0.781, 0.799), "log_loss": m(0.45, 0.43, 0.47)},
            "fairness": {
                "sex": {"demographic_parity_ratio": m(0.90), "equalized_odds_difference": m(0.06)},
                "age_band": {"demographic_parity_ratio": m(0.93), "equalized_odds_difference": m(0.04)},
            },
            "operational": {"status": "ok", "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0}},
            "robustness": {"status": "ok", "tests": [
                {"name": "gaussian_noise", "params": {"sigma": 0.1}, "metric": "roc_auc", "degradation": 0.01},
                {"name": "missing_values", "params": {"rate": 0.2}, "metric": "roc_auc", "degradation": 0.03},
            ]},
        },
    },
    "deltas": {"roc_auc": {"value": 0.022, "ci_low": -0.004, "ci_high": 0.048, "p_value": 0.1}},
    "fairness_deltas": {"sex": {"equalized_odds_difference": {"value": 0.08, "ci_low": 0.03, "ci_high": 0.13}}},
    "drift": {"features": {"income": {"psi": 0.31}, "debt_ratio": {"psi": 0.12}, "region": {"psi": 0.01},
                           "purpose": {"psi": 0.02}}},
}


# ---- schema -----------------------------------------------------------------------------

def test_default_policy_loads_and_has_a_stable_digest():
    p = default_policy()
    assert p.id == "default-promotion-policy"
    assert p.digest == default_policy().digest
    assert len({c.id for c in p.criteria}) == len(p.criteria)
    assert set(p.required_signoff_roles) == {"product_owner", "data_scientist", "data_governance", "security", "legal", "operations"}
    kinds = {c.kind for c in p.criteria}
    assert kinds == {"absolute", "relative", "fairness", "drift", "operational", "robustness", "replay", "qualitative", "governance", "signoff"}


def test_manifest_policy_is_the_named_file_resolved_against_the_manifest_else_the_default(tmp_path):
    from workbench.artefacts import load_manifest

    from tests._small_review import write_small_review

    raw = yaml.safe_load(default_policy_text())
    raw["id"], raw["criteria"][0]["min"] = "team-policy", 0.71
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "policy.yaml").write_text(yaml.safe_dump(raw))
    named = load_manifest(write_small_review(tmp_path, extra={"policy": "rules/policy.yaml"}))
    assert manifest_policy(named).digest == parse_policy(raw).digest != default_policy().digest
    assert manifest_policy(load_manifest(write_small_review(tmp_path))).digest == default_policy().digest


def test_digest_changes_with_any_bound_and_ignores_key_order():
    raw = yaml.safe_load(default_policy_text())
    shuffled = dict(reversed(list(raw.items())))
    assert parse_policy(shuffled).digest == default_policy().digest
    raw["criteria"][0]["min"] = 0.71
    assert parse_policy(raw).digest != default_policy().digest


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ([{"id": "a", "kind": "absolute", "metric": "x", "mn": 1}], "policy.yaml: criteria.0.mn: unknown key"),
        ([{"id": "a", "kind": "absolute", "metric": "x"}], "criteria.0: give at least one of min, max"),
        ([{"id": "a", "kind": "absolute", "metric": "x", "min": "0.5"}], "criteria.0.min: Input should be a valid number"),
        ([{"id": "a", "kind": "nonsense"}], "criteria.0: unknown kind"),
        ([{"id": "a", "metric": "x"}], "criteria.0: 'kind' is missing"),
        ([{"id": "a", "kind": "fairness", "metric": "x", "min": 0.8, "ci": "middle"}], "criteria.0.ci: Input should be 'point', 'lower' or 'upper'"),
        ([{"id": "s", "kind": "signoff", "roles": ["security"], "waivable_by": ["legal"]}], "criteria.0: a sign-off cannot be waived"),
        ([{"id": "s", "kind": "signoff", "roles": ["wizard"]}], "criteria.0.roles.0: Input should be"),
        ([{"id": "g", "kind": "governance", "check": "lineage", "sections": ["x"]}], "criteria.0: 'sections' applies only"),
        ([{"id": "a", "kind": "absolute", "metric": "x", "min": 1}, {"id": "a", "kind": "absolute", "metric": "y", "min": 1}],
         "criteria.1.id: duplicate criterion id 'a'"),
    ],
)
def test_schema_errors_name_the_path(tmp_path, criteria, expected):
    f = tmp_path / "policy.yaml"
    f.write_text(yaml.safe_dump({"id": "p", "version": "1", "criteria": criteria}))
    with pytest.raises(PolicyError) as exc:
        load_policy(f)
    assert expected in str(exc.value)
    assert "too_short" not in str(exc.value) and "at least 1 item" not in str(exc.value)


def test_missing_and_broken_files_are_policy_errors(tmp_path):
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(PolicyError, match="bad.yaml: not valid YAML at line"):
        load_policy(bad)


def test_json_schema_validates_the_default_policy_and_rejects_unknown_keys():
    schema = policy_json_schema()
    raw = yaml.safe_load(default_policy_text())
    jsonschema.validate(raw, schema)
    raw["criteria"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, schema)


def test_waiver_roles_default_and_explicit():
    p = default_policy()
    assert p.waiver_roles("fairness-equalized-odds") == ("data_governance", "legal")
    assert p.waiver_roles("auc-floor") == ("product_owner",)  # waivers.default_roles
    assert p.waiver_roles("signoffs") == ()
    with pytest.raises(PolicyError, match="no criterion 'nope'"):
        p.waiver_roles("nope")


def test_direction_of_metrics():
    assert greater_is_better("roc_auc") and greater_is_better("recall")
    assert not greater_is_better("log_loss") and not greater_is_better("brier_score")
    assert not greater_is_better("calibration.ece") and greater_is_better("calibration.resolution")
    with pytest.raises(KeyError, match="unknown metric 'ece'"):  # a bare calibration name is not a metric
        greater_is_better("ece")


# ---- absolute, with CI-aware bounds ---------------------------------------------------------

def test_absolute_pass_and_fail_exact():
    ok = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=0.80), EVIDENCE)
    assert (ok.status, ok.measured, ok.ci, ok.bound) == ("PASS", 0.812, (0.804, 0.820), ">= 0.8")
    assert ok.reason == "roc_auc 0.812 [0.804, 0.820] >= 0.8: pass"
    bad = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=0.83), EVIDENCE)
    assert bad.status == "FAIL" and bad.reason == "roc_auc 0.812 [0.804, 0.820] >= 0.83: fail"
    # the interval's upper end touches 0.82: the true AUC may reach it, so the data cannot tell
    edge = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=0.82), EVIDENCE)
    assert edge.status == "INCONCLUSIVE"
    mx = evaluate_criterion(crit(kind="absolute", metric="models.candidate.calibration.ece", max=0.03), EVIDENCE)
    assert mx.status == "FAIL" and mx.reason == "ece 0.031 <= 0.03: fail"


def test_an_interval_holding_the_bound_is_inconclusive_whatever_the_ci_setting():
    # Before issue 21 the point passed and the CI lower end failed; the interval says neither.
    ev = {**EVIDENCE, "review": {"n_evaluation": 2000}, "settings": {"confidence": 0.95}}
    point = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=0.81), ev)
    lower = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=0.81, ci="lower"), ev)
    assert point.status == lower.status == "INCONCLUSIVE"
    # 0.812 - 0.804 = 0.008 is 1.96 SE; 80% power to clear 0.81 needs (2.80 SE / 0.002)^2 relative to n
    assert lower.rows_needed == point.rows_needed == pytest.approx(2000 * (2.8016 * 0.008 / 1.95996 / 0.002) ** 2, rel=1e-3)
    assert lower.reason == (f"roc_auc 0.812 [0.804, 0.820] >= 0.81: inconclusive, the interval holds the bound 0.81; "
                            f"about {lower.rows_needed:,} rows would settle it at the observed value")
    upper = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.log_loss", max=0.51, ci="upper"), ev)
    assert upper.status == "INCONCLUSIVE"  # point 0.50 would pass, the upper end 0.52 would not
    on_bound = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=0.812), ev)
    assert on_bound.rows_needed is None and "no sample size settles it" in on_bound.reason
    no_n = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=0.81), EVIDENCE)
    assert no_n.status == "INCONCLUSIVE" and no_n.rows_needed is None


def test_absolute_missing_and_undefined_values_are_missing_not_failed():
    gone = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.f1", min=0.5), EVIDENCE)
    assert gone.status == "MISSING" and "not in the evidence (models.candidate.metrics.f1)" in gone.reason
    undef = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.recall", min=0.5), EVIDENCE)
    assert undef.status == "MISSING" and undef.reason == "recall undefined: no positive labels"
    no_ci = evaluate_criterion(crit(kind="absolute", metric="models.candidate.calibration.ece", max=0.05, ci="upper"), EVIDENCE)
    assert no_ci.status == "MISSING" and "no CI upper end" in no_ci.reason


@settings(max_examples=60, deadline=None)
@given(
    value=st.floats(0, 1, allow_nan=False),
    half=st.floats(0, 0.2, allow_nan=False),
    bound=st.floats(0, 1, allow_nan=False),
)
def test_an_interval_is_judged_whole_whatever_the_ci_setting(value, half, bound):
    ev = {"models": {"candidate": {"metrics": {"roc_auc": m(value, value - half, value + half)}}}}
    low, high = value - half, value + half
    want = "PASS" if low >= bound else "FAIL" if high < bound else "INCONCLUSIVE"
    for ci in ("point", "lower", "upper"):
        r = evaluate_criterion(crit(kind="absolute", metric="models.candidate.metrics.roc_auc", min=bound, ci=ci), ev)
        assert r.status == want


# ---- relative to baseline ---------------------------------------------------------------

def test_relative_non_inferiority_on_the_paired_ci():
    # improvement CI [-0.004, 0.048] holds the margin's bound -0.003: not shown non-inferior, nor inferior
    point = evaluate_criterion(crit(kind="relative", metric="roc_auc", max_drop=0.003), EVIDENCE)
    assert point.status == "INCONCLUSIVE" and point.measured == pytest.approx(0.022)
    ni = evaluate_criterion(crit(kind="relative", metric="roc_auc", max_drop=0.003, ci="lower"), EVIDENCE)
    assert ni.status == "INCONCLUSIVE" and ni.margin == 0.003
    assert ni.reason.startswith("roc_auc improvement over baseline (0.790 -> 0.812) 0.022 [-0.004, 0.048] >= -0.003: "
                                "inconclusive, the interval holds the bound -0.003;")
    assert ni.reason.endswith("(non-inferiority margin 0.003)")
    ok = evaluate_criterion(crit(kind="relative", metric="roc_auc", max_drop=0.01, ci="lower"), EVIDENCE)
    assert ok.status == "PASS" and ok.reason.endswith("pass (non-inferiority margin 0.01)")
    inferior = json.loads(json.dumps(EVIDENCE))
    inferior["deltas"]["roc_auc"] = {"value": -0.03, "ci_low": -0.05, "ci_high": -0.02}
    assert evaluate_criterion(crit(kind="relative", metric="roc_auc", max_drop=0.01, ci="lower"), inferior).status == "FAIL"


def test_a_pass_whose_minimum_detectable_effect_exceeds_the_margin_is_underpowered():
    ev = json.loads(json.dumps(EVIDENCE))
    ev["deltas"]["roc_auc"]["mde"] = 0.037
    r = evaluate_criterion(crit(kind="relative", metric="roc_auc", max_drop=0.01), ev)
    assert r.status == "PASS" and r.underpowered == ("max_drop",)
    assert "underpowered: the minimum detectable effect 0.037 at 80% power exceeds the margin 0.010" in r.reason
    assert r.to_dict()["underpowered"] == ["max_drop"] and r.to_dict()["margin"] == 0.01
    ev["deltas"]["roc_auc"]["mde"] = 0.008
    assert evaluate_criterion(crit(kind="relative", metric="roc_auc", max_drop=0.01), ev).underpowered == ()
    # a fairness widening: the MDE of the candidate-vs-baseline disparity delta against max_widening
    ev["fairness_deltas"]["sex"]["equalized_odds_difference"] = {"value": 0.01, "ci_low": 0.0, "ci_high": 0.02, "mde": 0.03}
    w = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max_widening=0.025,
                                features=["sex"]), ev)
    assert w.status == "PASS" and w.underpowered == ("sex vs baseline",) and w.margin == 0.025


def test_relative_min_gain_and_lower_is_better_metrics():
    # the paired CI [-0.004, 0.048] holds both 0.02 and 0.03; a tighter one settles them
    assert evaluate_criterion(crit(kind="relative", metric="roc_auc", min_gain=0.02), EVIDENCE).status == "INCONCLUSIVE"
    tight = json.loads(json.dumps(EVIDENCE))
    tight["deltas"]["roc_auc"] = {"value": 0.022, "ci_low": 0.021, "ci_high": 0.023}
    gain = evaluate_criterion(crit(kind="relative", metric="roc_auc", min_gain=0.02), tight)
    assert gain.status == "PASS"
    gain_hi = evaluate_criterion(crit(kind="relative", metric="roc_auc", min_gain=0.03), tight)
    assert gain_hi.status == "FAIL"
    # log_loss: lower is better; 0.45 -> 0.50 is a drop of 0.05, i.e. 11.1% of the baseline
    rel = evaluate_criterion(crit(kind="relative", metric="log_loss", max_drop=0.10, mode="relative"), EVIDENCE)
    assert rel.status == "FAIL" and rel.measured == pytest.approx(-0.05 / 0.45)
    rel_ok = evaluate_criterion(crit(kind="relative", metric="log_loss", max_drop=0.12, mode="relative"), EVIDENCE)
    assert rel_ok.status == "PASS"
    assert "(relative)" in rel.reason


def test_relative_zero_baseline_and_no_baseline_are_named():
    ev = json.loads(json.dumps(EVIDENCE))
    ev["models"]["baseline"]["metrics"]["log_loss"] = m(0.0)
    z = evaluate_criterion(crit(kind="relative", metric="log_loss", max_drop=0.1, mode="relative"), ev)
    assert z.status == "MISSING" and "baseline is 0" in z.reason
    del ev["models"]["baseline"]
    nb = evaluate_criterion(crit(kind="relative", metric="roc_auc", max_drop=0.1), ev)
    assert nb.status == "MISSING" and "no baseline model" in nb.reason


# ---- fairness ------------------------------------------------------------------------------

def test_fairness_bound_for_every_feature_skips_intersections_by_default():
    # sex: [0.100, 0.180] holds the bound 0.10 at its lower end: the data cannot tell
    r = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max=0.10), EVIDENCE)
    assert r.status == "INCONCLUSIVE"
    assert [(i.name, i.status) for i in r.items] == [("age_band", "PASS"), ("sex", "INCONCLUSIVE")]
    assert r.measured == 0.14
    assert "sex: equalized_odds_difference[sex] 0.140 [0.100, 0.180] <= 0.1: inconclusive" in r.reason
    bad = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max=0.09), EVIDENCE)
    assert [(i.name, i.status) for i in bad.items] == [("age_band", "PASS"), ("sex", "FAIL")]
    # sex: point 0.85 passed and CI lower 0.78 failed the four-fifths rule; the interval holds 0.80
    for ci in ("point", "lower"):
        held = evaluate_criterion(crit(kind="fairness", metric="demographic_parity_ratio", min=0.80, ci=ci), EVIDENCE)
        assert held.status == "INCONCLUSIVE"
    ok = evaluate_criterion(crit(kind="fairness", metric="demographic_parity_ratio", min=0.75), EVIDENCE)
    assert ok.status == "PASS"
    inter = evaluate_criterion(crit(kind="fairness", metric="demographic_parity_ratio", min=0.80, include_intersections=True), EVIDENCE)
    assert inter.status == "FAIL" and [i.name for i in inter.items if i.status == "FAIL"] == ["sex×age_band"]


def test_fairness_listed_features_and_widening_vs_baseline():
    listed = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max=0.10, features=["age_band"]), EVIDENCE)
    assert listed.status == "PASS" and listed.measured == 0.05
    absent = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max=0.10, features=["race"]), EVIDENCE)
    assert absent.status == "MISSING"
    # sex: 0.06 -> 0.14 widens by 0.08 (CI from fairness_deltas); age_band 0.04 -> 0.05 by 0.01
    # (its CI [0.03, 0.13] holds 0.05: inconclusive; below 0.03 it fails, above 0.13 it passes)
    w = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max_widening=0.05), EVIDENCE)
    assert [(i.name, i.status) for i in w.items] == [("age_band vs baseline", "PASS"), ("sex vs baseline", "INCONCLUSIVE")]
    sex = [i for i in w.items if i.name == "sex vs baseline"][0]
    assert sex.measured == pytest.approx(0.08) and sex.ci == (0.03, 0.13)
    assert "(margin 0.05)" in sex.reason
    w_bad = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max_widening=0.02), EVIDENCE)
    assert [i.status for i in w_bad.items] == ["PASS", "FAIL"]
    w_ok = evaluate_criterion(crit(kind="fairness", metric="equalized_odds_difference", max_widening=0.14), EVIDENCE)
    assert w_ok.status == "PASS"
    # a ratio is fairer when higher: 0.90 -> 0.85 widens by 0.05
    wr = evaluate_criterion(crit(kind="fairness", metric="demographic_parity_ratio", max_widening=0.04, features=["sex"]), EVIDENCE)
    assert wr.status == "FAIL" and wr.measured == pytest.approx(0.05)


# ---- drift -------------------------------------------------------------------------------------

def test_drift_per_feature_and_share():
    r = evaluate_criterion(crit(kind="drift", max_psi=0.25), EVIDENCE)
    assert r.status == "FAIL" and [i.name for i in r.items if i.status == "FAIL"] == ["income"]
    ok = evaluate_criterion(crit(kind="drift", max_psi=0.35), EVIDENCE)
    assert ok.status == "PASS"
    share = evaluate_criterion(crit(kind="drift", max_share_drifted=0.25, drifted_psi=0.10), EVIDENCE)
    assert share.status == "FAIL" and share.measured == 0.5  # income and debt_ratio of 4
    assert "(2/4: debt_ratio, income)" in share.reason
    share_ok = evaluate_criterion(crit(kind="drift", max_share_drifted=0.25, drifted_psi=0.25), EVIDENCE)
    assert share_ok.status == "PASS" and share_ok.measured == 0.25
    none = evaluate_criterion(crit(kind="drift", max_psi=0.25), {"models": {}})
    assert none.status == "MISSING"


# ---- operational -------------------------------------------------------------------------------

def test_operational_budgets_and_increase():
    assert evaluate_criterion(crit(kind="operational", metric="latency_ms.p95", max=10.0), EVIDENCE).status == "PASS"
    slow = evaluate_criterion(crit(kind="operational", metric="latency_ms.p95", max=5.0), EVIDENCE)
    assert slow.status == "FAIL" and slow.reason == "latency_ms.p95 6.000 <= 5: fail"
    assert evaluate_criterion(crit(kind="operational", metric="throughput_rows_per_s", min=60_000.0), EVIDENCE).status == "FAIL"
    assert evaluate_criterion(crit(kind="operational", metric="peak_memory_mb", max=512.0), EVIDENCE).status == "PASS"
    inc = evaluate_criterion(crit(kind="operational", metric="latency_ms.p95", max_increase=1.5), EVIDENCE)
    assert inc.status == "FAIL" and inc.measured == pytest.approx(2.0)  # 2 ms -> 6 ms is +200%
    assert evaluate_criterion(crit(kind="operational", metric="latency_ms.p95", max_increase=2.0), EVIDENCE).status == "PASS"
    # Throughput worsens when it drops: a faster candidate passes, a 60% slower one fails.
    ev = json.loads(json.dumps(EVIDENCE))
    ev["models"]["baseline"]["operational"]["throughput_rows_per_s"] = 25_000.0
    faster = evaluate_criterion(crit(kind="operational", metric="throughput_rows_per_s", max_increase=0.5), ev)
    assert faster.status == "PASS" and faster.measured == pytest.approx(-1.0)  # 25k -> 50k rows/s
    ev["models"]["baseline"]["operational"]["throughput_rows_per_s"] = 125_000.0
    slower = evaluate_criterion(crit(kind="operational", metric="throughput_rows_per_s", max_increase=0.5), ev)
    assert slower.status == "FAIL" and slower.measured == pytest.approx(0.6)  # 125k -> 50k rows/s
    ev = json.loads(json.dumps(EVIDENCE))
    ev["models"]["candidate"]["operational"] = {"status": "not_applicable", "reason": "precomputed predictions"}
    na = evaluate_criterion(crit(kind="operational", metric="latency_ms.p95", max=5.0), ev)
    assert na.status == "MISSING" and "precomputed predictions" in na.reason


# ---- robustness ---------------------------------------------------------------------------------

def test_robustness_degradation_and_excess_over_baseline():
    r = evaluate_criterion(crit(kind="robustness", max_degradation=0.10), EVIDENCE)
    assert r.status == "FAIL"
    assert [(i.name, i.status) for i in r.items] == [("gaussian_noise(sigma=0.1)", "PASS"), ("missing_values(rate=0.2)", "FAIL")]
    assert evaluate_criterion(crit(kind="robustness", max_degradation=0.15), EVIDENCE).status == "PASS"
    only = evaluate_criterion(crit(kind="robustness", max_degradation=0.10, tests=["gaussian_noise"]), EVIDENCE)
    assert only.status == "PASS" and only.measured == 0.02
    ex = evaluate_criterion(crit(kind="robustness", max_excess_degradation=0.05), EVIDENCE)
    assert ex.status == "FAIL"  # missing_values: 0.12 - 0.03 = 0.09
    assert [i.measured for i in ex.items] == [pytest.approx(0.01), pytest.approx(0.09)]
    assert evaluate_criterion(crit(kind="robustness", max_excess_degradation=0.10), EVIDENCE).status == "PASS"
    gone = evaluate_criterion(crit(kind="robustness", max_degradation=0.1, tests=["label_flip"]), EVIDENCE)
    assert gone.status == "MISSING"


def test_docs_publish_the_current_schema_and_default_policy():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "POLICY.md").read_text(encoding="utf-8")
    schema_block = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(schema_block) == policy_json_schema()
    yaml_block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert parse_policy(yaml.safe_load(yaml_block)).digest == default_policy().digest


# ---- replay -------------------------------------------------------------------------------------

def _replay_evidence(**summary):
    base = {"rows": 10_000, "agreement_rate": 0.93, "max_window_psi": 0.12, "errors": {"candidate": 3, "baseline": 0}}
    return {"replay": {"status": "ok", "summary": {**base, **summary},
                       "canary": {"status": "completed", "recommendation": "promote: no guardrail breached at any stage"}}}


def test_replay_agreement_psi_errors_and_canary():
    rule = dict(kind="replay", min_agreement=0.9, max_window_psi=0.25, max_error_rate=0.001)
    ok = evaluate_criterion(crit(**rule), _replay_evidence())
    assert ok.status == "PASS" and [i.status for i in ok.items] == ["PASS"] * 4
    low = evaluate_criterion(crit(**rule), _replay_evidence(agreement_rate=0.85))
    assert low.status == "FAIL" and "agreement" in low.reason
    drifted = evaluate_criterion(crit(**rule), _replay_evidence(max_window_psi=0.31))
    assert drifted.status == "FAIL" and drifted.items[1].measured == pytest.approx(0.31)
    errors = evaluate_criterion(crit(**rule), _replay_evidence(errors={"candidate": 20}))
    assert errors.status == "FAIL" and errors.items[2].measured == pytest.approx(0.002)  # 20 / 10,000 rows
    halted = _replay_evidence()
    halted["replay"]["canary"] = {"status": "halted", "recommendation": "roll back to the baseline: psi breached at the 50% stage"}
    stopped = evaluate_criterion(crit(**rule), halted)
    assert stopped.status == "FAIL" and "psi breached at the 50% stage" in stopped.reason
    assert evaluate_criterion(crit(**rule, allow_canary_breach=True), halted).status == "PASS"
    missing = evaluate_criterion(crit(**rule), {"replay": {"status": "not_applicable", "reason": "no data.replay"}})
    assert missing.status == "MISSING" and "no data.replay" in missing.reason
