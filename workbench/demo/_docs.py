"""The demo's documents: model card and review manifest (plain data, dumped as YAML).

The texts describe the demo honestly, including the disparity the candidate picks up, so the
reviewers in the workbench have something real to weigh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.demo._data import REPLAY_START, REPLAY_WEEKS

CANDIDATE = {"name": "gbm", "version": "2.3.0"}
BASELINE = {"name": "logreg", "version": "1.9.0"}
REVIEW_NAME = "credit-approval 2.3 review"
THRESHOLD = 0.5

_REPLAY_END = REPLAY_START + dt.timedelta(weeks=REPLAY_WEEKS) - dt.timedelta(days=1)


def model_card(*, sizes: Mapping[str, int], data_versions: Mapping[str, str], source_digest: str) -> dict[str, Any]:
    """The candidate's model card (top-level keys as the governance checklist expects)."""
    return {
        "model": {"name": CANDIDATE["name"], "version": CANDIDATE["version"]},
        "intended_use": (
            "Rank consumer loan applications by the probability that they would be approved under "
            "the bank's credit policy, to pre-sort the underwriting queue. Applications scoring at or "
            "above the threshold go to fast-track review; the others go to a full manual review. "
            "A human underwriter makes and signs every final decision."
        ),
        "out_of_scope_uses": [
            "Fully automated decline decisions without human review.",
            "Pricing, credit limits or interest rates: the model was not trained on pricing outcomes.",
            "Business or commercial lending, and applicants outside the four home regions.",
            "Collections, fraud screening or any decision about existing customers.",
            "Marketing or pre-approval campaigns that target people by predicted score.",
        ],
        # Who may act (docs/POLICY.md): tier 2 needs the policy's six approvers; the developer
        # (a user name in the store) may not approve an independent role or grant a waiver.
        "risk_tier": 2,
        "developer": "bob",
        "owners": [
            {"name": "Dana Okafor", "role": "product_owner", "contact": "dana.okafor@lending.example"},
            {"name": "Ravi Menon", "role": "data_scientist", "contact": "ravi.menon@lending.example"},
            {"name": "Lena Fischer", "role": "data_governance", "contact": "lena.fischer@lending.example"},
            {"name": "Tomás Ruiz", "role": "operations", "contact": "credit-ml-oncall@lending.example"},
        ],
        "training_data": {
            "source": (
                "data/reference.parquet: decided applications from the loan origination system, "
                "de-identified; the label is the historical underwriting decision (approved 0/1)"
            ),
            "period": "applications decided 2025-01-01 to 2026-03-31",
            "size": int(sizes["reference"]),
        },
        "evaluation_data": {
            "source": (
                "data/evaluation.parquet: out-of-time hold-out from the same system, never used for "
                "training or tuning"
            ),
            "period": "applications decided 2026-04-01 to 2026-06-30",
            "size": int(sizes["evaluation"]),
        },
        "feature_engineering": (
            "Eight application fields are used as they are entered: income, debt_ratio, "
            "credit_history_years, open_lines, loan_amount, employment_type, region and purpose. "
            "Numeric fields keep their missing values (about 2-3 %), which the booster routes "
            "natively; each categorical field becomes one ordinal column, and unseen categories are "
            "treated as missing. sex and age_band are collected for fairness monitoring only and are "
            "never model inputs; application_id is an identifier and is excluded."
        ),
        "architecture": (
            "scikit-learn Pipeline: ColumnTransformer (numeric passthrough, OrdinalEncoder for "
            "categoricals) followed by HistGradientBoostingClassifier (up to 300 trees, learning rate "
            "0.1, early stopping on a 10 % validation split, native categorical splits). It replaces "
            "logreg 1.9.0 (one-hot + standardised logistic regression). Serialised with skops."
        ),
        "threshold": {
            "value": THRESHOLD,
            "rationale": (
                "0.5 keeps the fast-track rate close to the historical approval rate, so underwriting "
                "capacity is unchanged; it is the same operating point as the baseline, which makes "
                "the paired comparison direct. Changing it needs a new review."
            ),
        },
        "limitations": (
            "The label is a past human decision, not repayment, so the model learns past policy "
            "including its errors. Applications with short credit histories (under four years) and "
            "part-time or contract employment were historically declined more often than their "
            "repayment justified; the candidate reproduces that pattern more sharply than the "
            "baseline. Scores drift when nominal incomes inflate, because income is used in nominal "
            "terms. Performance on segments that grow after training (e.g. self-employed business "
            "borrowers) has not been validated."
        ),
        "ethical_considerations": (
            "Although sex and age are not inputs, employment type and credit history act as proxies: "
            "applicants aged 18-25 (and, to a lesser degree, women) are fast-tracked less often. "
            "The fairness evidence (demographic parity ratio and equalized odds by age_band and sex) "
            "must be reviewed by data governance and legal before promotion; options are relabelling "
            "with repayment outcomes, monotonic constraints on credit history, or a per-segment "
            "review rule. Declined applicants can request a manual review and an explanation of the "
            "main factors; adverse-action reasons are drawn from the SHAP explanations."
        ),
        "training_code": {
            "repository": "model-promotion-workbench: workbench/_demo_data.py, workbench/_demo_models.py",
            "commit": f"sha256:{source_digest}",
        },
        "data_versions": {role: f"sha256:{digest}" for role, digest in data_versions.items()},
    }


def review_manifest(
    *,
    seed: int,
    paths: Mapping[str, str],
    candidate_trusted: Sequence[str],
    baseline_trusted: Sequence[str],
) -> dict[str, Any]:
    """review.yaml in the DESIGN.md shape; ``paths`` are relative to the manifest's folder."""
    baseline: dict[str, Any] = {"path": paths["baseline"], **BASELINE}
    if baseline_trusted:
        baseline["trusted_types"] = list(baseline_trusted)
    return {
        "name": REVIEW_NAME,
        "task": "binary",
        "target": "approved",
        "positive_label": 1,
        "threshold": THRESHOLD,
        "candidate": {"path": paths["candidate"], **CANDIDATE, "trusted_types": list(candidate_trusted)},
        "baseline": baseline,
        "data": {"evaluation": paths["evaluation"], "reference": paths["reference"], "replay": paths["replay"]},
        "features": None,
        "sensitive_features": ["sex", "age_band"],
        "id_column": "application_id",
        # what an applicant can change before reapplying: pay down debt, ask for less
        "actionable_features": {"debt_ratio": {"direction": "decrease", "min": 0.0},
                                "loan_amount": {"direction": "decrease", "min": 1000.0}},
        "policy": paths["policy"],
        "model_card": paths["model_card"],
        "settings": {"n_bootstrap": 1000, "seed": seed, "confidence": 0.95},
        "replay": {"timestamp_column": "timestamp", "window": "7D"},
        "readiness": _readiness(),
    }


def post_implementation_reviews(go_live: dt.date, today: dt.date) -> list[dt.date]:
    """Reviews 30, 90 and 180 days after go-live — or after ``today`` once the fixed schedule
    would leave less than 30 days of it, so a demo written later still passes its readiness check.

    Examples
    --------
    >>> [d.isoformat() for d in post_implementation_reviews(dt.date(2026, 11, 2), dt.date(2026, 11, 26))]
    ['2026-12-02', '2027-01-31', '2027-05-01']
    >>> [d.isoformat() for d in post_implementation_reviews(dt.date(2026, 11, 2), dt.date(2027, 6, 1))]
    ['2027-07-01', '2027-08-30', '2027-11-28']
    """
    start = go_live if go_live + dt.timedelta(days=180) > today + dt.timedelta(days=30) else today
    return [start + dt.timedelta(days=d) for d in (30, 90, 180)]


def _readiness() -> dict[str, Any]:
    go_live = (_REPLAY_END + dt.timedelta(days=8)).date()
    return {
        "deployment_steps": [
            "Register gbm 2.3.0 and its evidence digest in the model registry.",
            "Shadow mode for two weeks: score every application, decisions still from logreg 1.9.0.",
            "Canary: route 5 %, then 25 %, then 50 % of the queue to gbm 2.3.0, one week each, "
            "promoting only if the monitoring thresholds hold.",
            "Full rollout; keep logreg 1.9.0 deployed and warm for 90 days.",
        ],
        "monitoring": {
            "metrics": ["roc_auc", "psi", "demographic_parity_ratio", "ece", "latency_ms.p95"],
            "thresholds": {
                "roc_auc": 0.74,
                "psi": 0.25,
                "demographic_parity_ratio": 0.8,
                "ece": 0.05,
                "latency_ms.p95": 100.0,
            },
            "alert_channel": "#credit-ml-alerts",
            "cadence_days": 90,
        },
        "rollback": {
            "previous_model": "logreg 1.9.0",
            "procedure": (
                "Switch the scoring service's model alias back to logreg 1.9.0 (one configuration "
                "change, no redeploy), confirm scores in the shadow log, notify underwriting leads, "
                "and re-queue applications fast-tracked in the affected window for manual review."
            ),
        },
        "incident_response": {
            "owner": "Credit ML on-call (operations)",
            "severity_levels": [
                "SEV1: wrong or missing scores for live applications - roll back within 1 hour",
                "SEV2: a monitoring threshold breached (AUC, PSI, fairness) - triage within 1 business day",
                "SEV3: degraded latency or a single-segment anomaly - fix in the next release",
            ],
            "runbook": (
                "Page the on-call owner; check the monitoring dashboard and the shadow log; for SEV1 "
                "roll back (see rollback.procedure) before diagnosing; open an incident ticket, "
                "inform underwriting and compliance, and hold a blameless review within 5 days."
            ),
        },
        "post_implementation_reviews": post_implementation_reviews(go_live, dt.date.today()),
    }

