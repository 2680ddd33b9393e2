"""Issue 21's done-when on the real demo: a thin evaluation set leaves a criterion INCONCLUSIVE with the
rows that would settle it; the full demo settles it.

`workbench demo DIR --evaluation-rows 2000` writes the same scenario (same reference, same models) with
2,000 labelled evaluation rows. At that size the candidate's equalized odds difference for ``sex`` is
about 0.09 with a 95% interval of about [0.03, 0.16]: it holds the default policy's bound 0.10, so the
data cannot say whether the four-fifths-style tolerance holds. At the demo's 25,000 rows the interval is
about [0.03, 0.06]: it passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from workbench.artefacts import load_review
from workbench.cli import main
from workbench.cli._gate import render_table
from workbench.evidence import build_evidence
from workbench.policy import decide, default_policy, parse_policy

AT = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def _sex_only_equalized_odds():
    """The default policy's blocking equalized-odds criterion, on ``sex`` alone (``age_band`` fails plainly)."""
    base = default_policy().criterion("fairness-equalized-odds")
    crit = {**base.model_dump(mode="json", exclude_none=True), "features": ["sex"]}
    return parse_policy({"id": "eo-sex", "version": "1", "criteria": [crit]})


def _fairness_evidence(manifest: Path) -> dict:
    return build_evidence(load_review(manifest), include=["fairness"])


@pytest.fixture(scope="module")
def thin_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("thin") / "demo"
    assert main(["demo", str(root), "--evaluation-rows", "2000"]) == 0
    return root


@pytest.mark.slow
def test_evaluation_rows_writes_a_smaller_seeded_demo_with_the_same_models(thin_demo, demo_dir):
    assert len(pd.read_parquet(thin_demo / "data/evaluation.parquet")) == 2000
    assert len(pd.read_parquet(demo_dir / "data/evaluation.parquet")) == 25_000
    for same in ("data/reference.parquet", "policy.yaml"):  # the models are trained on the same reference
        assert hashlib.sha256((thin_demo / same).read_bytes()).digest() == \
            hashlib.sha256((demo_dir / same).read_bytes()).digest(), same


@pytest.mark.slow
def test_a_bound_inside_the_interval_at_2000_rows_is_inconclusive_and_settled_at_25000(thin_demo, demo_dir):
    policy = _sex_only_equalized_odds()
    thin = decide(policy, _fairness_evidence(thin_demo / "review.yaml"), at=AT)
    c = thin.criterion("fairness-equalized-odds")
    low, high = c.ci
    assert low < 0.10 < high  # the bound lies inside the interval
    assert (c.status, thin.outcome, thin.exit_code) == ("INCONCLUSIVE", "PENDING", 3)
    # 80% power to clear 0.10 at the observed value: n * ((z + z_0.8) * SE / gap)^2, SE from the upper half-width
    se = (high - c.measured) / 1.959964
    expected = 2000 * ((1.959964 + 0.841621) * se / (0.10 - c.measured)) ** 2
    assert c.rows_needed == pytest.approx(expected, rel=1e-4) and c.rows_needed > 2000
    body = thin.to_dict()
    assert body["rows_needed"] == c.rows_needed == body["criteria"][0]["rows_needed"]
    schema = json.loads(resources.files("workbench").joinpath("schemas/decision.schema.json").read_text())
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    assert f"about {c.rows_needed:,} rows would settle it" in c.reason
    table = render_table(thin).splitlines()
    assert table[1].split()[:4] == ["STATUS", "SEVERITY", "CRITERION", "ROWS"]
    assert table[2].split()[:4] == ["INCONCLUSIVE", "blocking", "fairness-equalized-odds", f"{c.rows_needed:,}"]

    full = decide(policy, _fairness_evidence(demo_dir / "review.yaml"), at=AT)
    settled = full.criterion("fairness-equalized-odds")
    assert settled.ci[1] < 0.10 and (settled.status, full.outcome) == ("PASS", "GO")
    assert "rows_needed" not in full.to_dict()
