"""A realistic packet input built from real scikit-learn models (no hand-typed metrics).

Until the evidence engine and decision engine land, the evidence dict is computed here with
scikit-learn as the oracle, in the documented evidence JSON shape (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from workbench.canonical import digest
from workbench.report import PacketInput

GENERATED_AT = "2026-11-20T10:15:00+00:00"
POLICY_TEXT = """id: test-policy
version: "1.0.0"
criteria:
  - id: auc-floor
    kind: absolute
    metric: models.candidate.metrics.roc_auc
    min: 0.70
    ci: lower
  - id: fairness-demographic-parity
    kind: fairness
    metric: demographic_parity_ratio
    min: 0.80
"""



def _ci(value, low, high):
    return {"value": value, "ci_low": low, "ci_high": high, "defined": True, "method": "test"}

def _boot(fn, y, s, rng, n_boot=30):
    n = len(y)
    reps = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if len(np.unique(y[idx])) == 2:
            reps.append(fn(y[idx], s[idx]))
    return float(np.percentile(reps, 2.5)), float(np.percentile(reps, 97.5))


def _metric(fn, y, s, rng):
    lo, hi = _boot(fn, y, s, rng)
    return {"value": float(fn(y, s)), "ci_low": lo, "ci_high": hi, "defined": True}


def _group_table(y, pred, groups):
    out = {}
    for g in np.unique(groups):
        m = groups == g
        pos, neg = m & (y == 1), m & (y == 0)
        out[str(g)] = {
            "n": int(m.sum()),
            "base_rate": float(y[m].mean()),
            "selection_rate": float(pred[m].mean()),
            "tpr": float(pred[pos].mean()) if pos.any() else None,
            "fpr": float(pred[neg].mean()) if neg.any() else None,
        }
    sel = [v["selection_rate"] for v in out.values()]
    tprs = [v["tpr"] for v in out.values() if v["tpr"] is not None]
    fprs = [v["fpr"] for v in out.values() if v["fpr"] is not None]
    return {
        "groups": out,
        "demographic_parity_difference": max(sel) - min(sel),
        "demographic_parity_ratio": min(sel) / max(sel),
        "equalized_odds_difference": max(max(tprs) - min(tprs), max(fprs) - min(fprs)),
    }


def build_realistic_input(*, seed: int = 7) -> PacketInput:
    """Train a random-forest candidate and a logistic baseline; derive the evidence with sklearn."""
    rng = np.random.default_rng(seed)
    X, y = make_classification(n_samples=1200, n_features=6, n_informative=4, random_state=seed)
    names = ["income", "debt_ratio", "age", "tenure", "utilisation", "inquiries"]
    sex = np.where(rng.random(len(y)) < 0.5, "F", "M")
    band = rng.choice(["18-25", "26-40", "41-65", "65+"], size=len(y), p=[0.2, 0.4, 0.37, 0.03])
    tr, te = slice(0, 700), slice(700, None)
    models = {"candidate": RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0).fit(X[tr], y[tr]),
              "baseline": LogisticRegression().fit(X[tr], y[tr])}
    yt = y[te]
    ev_models, fair = {}, {}
    for role, m in models.items():
        s = m.predict_proba(X[te])[:, 1]
        pred = (s >= 0.5).astype(int)
        fpr, tpr, _ = roc_curve(yt, s)
        prec, rec, _ = precision_recall_curve(yt, s)
        frac, meanp = calibration_curve(yt, s, n_bins=10)
        ev_models[role] = {
            "name": "gbm" if role == "candidate" else "logreg",
            "version": "2.3.0" if role == "candidate" else "1.9.0",
            "metrics": {
                "roc_auc": _metric(roc_auc_score, yt, s, rng),
                "average_precision": _metric(average_precision_score, yt, s, rng),
                "brier_score": _metric(brier_score_loss, yt, s, rng),
                "accuracy": _metric(lambda a, b: accuracy_score(a, b >= 0.5), yt, s, rng),
            },
            "curves": {"roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
                       "pr": {"precision": prec.tolist(), "recall": rec.tolist()}},
            "calibration": {"ece": float(np.mean(np.abs(frac - meanp))), "brier_score": float(brier_score_loss(yt, s)),
                            "curve": {"uniform": [{"mean_predicted": float(a), "fraction_positive": float(b), "n": 1}
                                                  for a, b in zip(meanp, frac)]}},
            # the candidate in the metric-object shape of issue 21, the baseline in the bare numbers of older evidence
            "operational": {"status": "measured", "latency_ms": {
                "p50": _ci(0.41, 0.40, 0.43), "p95": _ci(0.63, 0.60, 0.70), "p99": _ci(0.9, 0.8, None)},
                "throughput_rows_per_s": _ci(250000.0, 240000.0, 262000.0), "model_bytes": 81234,
                "peak_memory_mb": 12.5} if role == "candidate" else {
                "status": "measured", "latency_ms": {"p50": 0.41, "p95": 0.63, "p99": 0.9},
                "throughput_rows_per_s": 250000.0, "model_bytes": 81234, "peak_memory_mb": 12.5},
            "robustness": {"status": "measured", "tests": [
                {"name": "gaussian_noise", "params": {"sigma": 0.1}, "metric": "roc_auc", "clean": _ci(0.9, 0.88, 0.92),
                 "perturbed": _ci(0.87, 0.85, 0.89), "degradation": _ci(0.03, 0.02, 0.04), "error": None}
                if role == "candidate" else
                {"name": "gaussian_noise", "params": {"sigma": 0.1}, "metric": "roc_auc", "clean": 0.9,
                 "perturbed": 0.87, "degradation": 0.03, "error": None}]},
            "slices": [{"feature": "age_band", "slice": "65+", "n": int((band[te] == "65+").sum()),
                        "metrics": {"roc_auc": {"value": 0.7, "ci_low": 0.6, "ci_high": 0.8}}}],
            "fairness": {"sex": _group_table(yt, pred, sex[te]), "age_band": _group_table(yt, pred, band[te])},
        }
        imp = np.abs(m.coef_[0]) * X[te].std(0) if hasattr(m, "coef_") else m.feature_importances_
        fair[role] = {"global": [{"feature": n, "mean_abs_shap": float(v), "ci_low": float(v) * 0.9,
                                  "ci_high": float(v) * 1.1} for n, v in zip(names, imp)]}
    d = {k: ev_models["candidate"]["metrics"][k]["value"] - ev_models["baseline"]["metrics"][k]["value"]
         for k in ev_models["candidate"]["metrics"]}
    artefacts = [{"role": "candidate", "path": "models/candidate.skops", "sha256": digest("cand"), "bytes": 81234,
                  "format": "skops", "rows": None, "schema_fingerprint": None},
                 {"role": "evaluation", "path": "data/evaluation.parquet", "sha256": digest("eval"), "bytes": 50210,
                  "format": "parquet", "rows": len(yt), "schema_fingerprint": digest("schema")}]
    evidence = {
        "schema_version": 1,
        "review": {"name": "credit-approval 2.3 review", "task": "binary", "n_evaluation": len(yt)},
        "settings": {"n_bootstrap": 30, "seed": 0, "confidence": 0.95, "min_group_size": 30},
        "artefacts": artefacts,
        "models": ev_models,
        "deltas": {k: {"value": v, "ci_low": v - 0.02, "ci_high": v + 0.02, "p_value": 0.04, "reading": "better"}
                   for k, v in d.items()},
        "drift": {"features": {n: {"kind": "numeric", "psi": float(0.02 * (i + 1)), "ks_statistic": 0.05,
                                   "ks_p_value": 0.3, "severity": "none"} for i, n in enumerate(names)},
                  "share_drifted": 0.0},
        "explanations": {**fair, "diff": [{"feature": "income", "candidate_rank": 1, "baseline_rank": 2}]},
    }
    evidence["evidence_digest"] = digest({"artefacts": artefacts})
    evidence["digest"] = digest(evidence)
    auc = ev_models["candidate"]["metrics"]["roc_auc"]
    dpr = evidence["models"]["candidate"]["fairness"]["age_band"]["demographic_parity_ratio"]
    decision = {
        "decision": "NO-GO",
        "generated_at": GENERATED_AT,
        "policy": {"id": "test-policy", "version": "1.0.0", "digest": digest(POLICY_TEXT)},
        "criteria": [
            {"id": "auc-floor", "status": "PASS" if auc["ci_low"] >= 0.7 else "FAIL", "severity": "blocking",
             "value": auc["value"], "ci": [auc["ci_low"], auc["ci_high"]], "bound": {"min": 0.7},
             "reason": f"roc_auc {auc['value']:.3f} ≥ 0.70"},
            {"id": "fairness-demographic-parity", "status": "FAIL", "severity": "blocking", "value": dpr,
             "bound": {"min": 0.8}, "reason": f"age_band demographic parity ratio {dpr:.3f} < 0.80"},
            {"id": "signoff-security", "status": "MISSING", "severity": "blocking", "value": None, "bound": None,
             "reason": "no current sign-off by security"},
        ],
        "signoffs": {"product_owner": {"status": "signed", "user": "pat", "at": "2026-11-19T09:00:00+00:00"},
                     "security": {"status": "missing"}},
    }
    return PacketInput(
        review_name="credit-approval 2.3 review",
        review_id="rev-1",
        generated_at=GENERATED_AT,
        generated_by="alex (data_scientist)",
        evidence=evidence,
        decision=decision,
        candidate={"name": "gbm", "version": "2.3.0", "sha256": artefacts[0]["sha256"]},
        baseline={"name": "logreg", "version": "1.9.0", "sha256": digest("base")},
        questionnaires={"verdict": "CONCERN", "questionnaires": [
            {"id": "sme", "title": "Domain review", "verdict": "CONCERN", "n_reviewers": 3, "completion": 1.0,
             "score": 3.4, "questions": [
                 {"id": "q1", "text": "Do the top features match domain knowledge?", "distribution": {"4": 2, "2": 1},
                  "mean": 3.33, "disagreement": True, "blocking": [],
                  "comments": [{"user": "sam", "question": "q1", "text": "Inquiries rank too high."}]},
                 {"id": "q2", "text": "Can an applicant contest the decision?", "distribution": {"yes": 2, "no": 1},
                  "disagreement": True, "blocking": [{"user": "kim", "answer": "no"}]}]}]},
        governance={"checks": [{"id": "model-card", "status": "PASS", "reason": "all sections present"},
                               {"id": "pii", "status": "WARN", "reason": "e-mail column in reference data"}],
                    "model_card": {"intended_use": "Consumer credit pre-approval", "owners": ["risk-ml"]},
                    "pii": {"findings": [{"dataset": "reference", "column": "contact", "kind": "email", "count": 3,
                                          "samples": ["j***@e***.com"]}]}},
        readiness_plan={"deployment_steps": ["shadow 7 days", "canary 5%", "full rollout"],
                        "monitoring": {"metrics": ["roc_auc", "psi"], "thresholds": {"psi": 0.25},
                                       "alert_channel": "#credit-ml-alerts", "cadence_days": 7},
                        "rollback": {"previous_model": "logreg 1.9.0", "procedure": "flip the model alias"},
                        "incident_response": {"owner": "risk-ml on-call", "severity_levels": ["SEV1", "SEV2"],
                                              "runbook": "runbooks/credit.md"},
                        "post_implementation_reviews": ["2027-01-15", "2027-04-15"]},
        signoffs=({"user": "pat", "role": "product_owner", "at": "2026-11-19T09:00:00+00:00",
                   "comment": "Business case holds.", "evidence_digest": evidence["evidence_digest"]},),
        waivers=({"criterion": "calibration-ece", "rationale": "recalibration scheduled for 2.3.1",
                  "approver": "pat", "role": "product_owner", "expires": "2027-01-31"},),
        policy_text=POLICY_TEXT,
        policy_digest=digest(POLICY_TEXT),
        audit_excerpt=({"seq": 1, "at": "2026-11-19T08:00:00+00:00", "actor": "alex", "action": "evidence.computed",
                        "subject": "rev-1", "hash": digest("a1")},
                       {"seq": 2, "at": "2026-11-19T09:00:00+00:00", "actor": "pat", "action": "signoff",
                        "subject": "rev-1", "hash": digest("a2")}),
        audit_head=digest("a2"),
        environment={"python": "3.11", "packages": {"scikit-learn": "1.9.1", "reportlab": "5.1.0"}},
    )


@pytest.fixture(scope="session")
def realistic_input() -> PacketInput:
    return build_realistic_input()
