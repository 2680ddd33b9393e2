"""Reason codes for one decision (`workbench explain`): SHAP additivity against the model, percentiles
against numpy, the nearest feasible change checked by asking the model, lookups and the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests._small_review import write_small_review
from workbench.artefacts import load_manifest, load_review
from workbench.errors import DataError, ManifestError
from workbench.explain import UnknownRowError, explain_review, reason_codes

# shap imports matplotlib, whose colormap module warns on import (matplotlib 3.11)
pytestmark = pytest.mark.filterwarnings(
    r"ignore:The set_(bad|over|under) function will be deprecated:PendingDeprecationWarning"
)

ACTIONABLE = {"x1": {"direction": "increase", "max": 3.0}, "x2": {"direction": "decrease", "min": -3.0}}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("reasons")
    manifest = write_small_review(root / "review", n=600, extra={"actionable_features": ACTIONABLE})
    review = load_review(load_manifest(manifest))
    s = review.manifest.settings
    expl = explain_review(review, "candidate", n_rows=200, n_background=s.explain_background, seed=s.seed)
    return {"manifest": manifest, "review": review, "expl": expl, "root": root}


def _proba(review, frame: pd.DataFrame) -> np.ndarray:
    est = review.models["candidate"].estimator
    return est.predict_proba(frame[list(review.features)])[:, 1]


def test_reasons_add_up_to_the_models_output_in_and_outside_the_sample(small: dict) -> None:
    review, expl = small["review"], small["expl"]
    ev = review.evaluation
    inside = str(expl.ids[7])
    outside = next(i for i in ev["row_id"] if i not in set(expl.ids))
    for row_id, source in ((inside, "review_sample"), (outside, "this_row")):
        rc = reason_codes(review, row_id, explanation=expl)
        row = ev[ev["row_id"] == row_id]
        p = float(_proba(review, row)[0])  # the forest explains probabilities: the oracle is predict_proba
        assert rc.shap_source == source and rc.output_space == "probability"
        assert rc.score == pytest.approx(p, abs=1e-12) and rc.positive == (p >= review.threshold)
        total = rc.base_value + sum(c["contribution"] for c in rc.contributions)
        assert total == pytest.approx(p, abs=1e-6) and rc.additivity_error < 1e-6
    # a sampled row's reasons are the review's own SHAP values for it
    rc = reason_codes(review, inside, explanation=expl)
    shap_of = dict(zip(expl.features, expl.values[7], strict=True))
    assert {c["feature"]: c["contribution"] for c in rc.contributions} == pytest.approx(shap_of)


def test_reasons_push_towards_the_decision_and_place_the_value_among_approved_cases(small: dict) -> None:
    review, expl = small["review"], small["expl"]
    ev = review.evaluation
    approved = ev[_proba(review, ev) >= review.threshold]
    p = _proba(review, ev)
    declined_id = ev["row_id"].iloc[int(np.argmin(p))]
    approved_id = ev["row_id"].iloc[int(np.argmax(p))]
    for row_id, sign in ((declined_id, -1), (approved_id, 1)):
        rc = reason_codes(review, row_id, explanation=expl, top=2)
        pushed = sorted((c for c in rc.contributions if sign * c["contribution"] > 0),
                        key=lambda c: -abs(c["contribution"]))[:2]
        assert [r.feature for r in rc.reasons] == [c["feature"] for c in pushed] and rc.reasons
        for r in rc.reasons:
            verb = "raised" if sign > 0 else "lowered"
            assert f"{verb} the probability by {abs(r.contribution):.2f}" in r.sentence
            if r.feature in ("x1", "x2"):
                ref = approved[r.feature].to_numpy()
                below, above = np.mean(ref < r.value) * 100, np.mean(ref > r.value) * 100
                assert r.percentile == pytest.approx(below)
                expected = (f"higher than {below:.0f}%" if below >= above else f"lower than {above:.0f}%")
                assert f"{r.feature} {r.value:.3g} is {expected} of label cases" in r.sentence
            else:
                share = (approved["colour"] == r.value).mean() * 100
                assert f"is shared by {share:.0f}% of label cases" in r.sentence
    assert rc.decision == "label" and "600" in rc.population


def test_the_nearest_feasible_change_flips_the_decision_when_the_model_is_asked(small: dict) -> None:
    review, expl = small["review"], small["expl"]
    ev = review.evaluation
    p = _proba(review, ev)
    near = np.flatnonzero((p < review.threshold) & (p > review.threshold - 0.15))
    checked = 0
    for i in near[:5]:
        row_id = ev["row_id"].iloc[i]
        rc = reason_codes(review, row_id, explanation=expl)
        ch = rc.change
        assert ch["available"] and ch["searched"]["features"] == ["x1", "x2"]
        moved = ev.iloc[[i]].copy()
        for c in ch["changes"]:
            spec = ACTIONABLE[c["feature"]]
            assert (c["to"] > c["from"]) if spec["direction"] == "increase" else (c["to"] < c["from"])
            assert c["to"] <= spec.get("max", np.inf) and c["to"] >= spec.get("min", -np.inf)
            moved[c["feature"]] = c["to"]
        after = float(_proba(review, moved)[0])
        assert ch["score_after"] == pytest.approx(after, abs=1e-12)
        if ch["flips"]:
            checked += 1
            assert after >= review.threshold and "would change the decision to label" in rc.text()
            if len(ch["changes"]) == 1:  # no feasible quantile of that feature closer to the row flips it
                f, to = ch["changes"][0]["feature"], ch["changes"][0]["to"]
                x = float(ev[f].iloc[i])
                grid = np.unique(np.quantile(ev[f], np.linspace(0, 1, 41), method="inverted_cdf"))
                grid = grid[(grid > x) & (grid < to)] if to > x else grid[(grid < x) & (grid > to)]
                trial = pd.concat([ev.iloc[[i]]] * len(grid), ignore_index=True)
                trial[f] = grid
                assert not (_proba(review, trial) >= review.threshold).any()
        else:
            assert ch["score_after"] > rc.score  # the largest move towards the threshold
    assert checked >= 1


def test_no_actionable_features_and_sensitive_ones_are_refused(small: dict, tmp_path: Path) -> None:
    review, expl = small["review"], small["expl"]
    rc = reason_codes(review, "r3", explanation=expl, actionable={})
    assert not rc.change["available"] and "marks no feature actionable" in rc.text()
    bad = write_small_review(tmp_path / "bad", n=600, extra={"actionable_features": {"group": {}}})
    with pytest.raises(ManifestError, match="actionable_features.group: is a sensitive feature"):
        load_manifest(bad)


def test_ids_are_looked_up_in_evaluation_then_replay_and_unknown_ids_are_named(small: dict) -> None:
    review, expl = small["review"], small["expl"]
    with pytest.raises(UnknownRowError, match=r"row_id = 'nope' in data/evaluation.csv"):
        reason_codes(review, "nope", explanation=expl)
    batch = review.evaluation.iloc[:5].assign(row_id=[f"b{i}" for i in range(5)])
    rc = reason_codes(review, "b2", batch=batch, batch_label="batch.csv", explanation=expl,
                      context={"monitoring_batch": 4})
    assert rc.source == "batch" and rc.data_file == "batch.csv" and rc.shap_source == "this_row"
    assert rc.score == pytest.approx(float(_proba(review, batch.iloc[[2]])[0]), abs=1e-12)
    assert rc.to_dict()["context"] == {"monitoring_batch": 4}
    with pytest.raises(DataError, match="batch.csv: no column row_id"):
        reason_codes(review, "b2", batch=batch.drop(columns="row_id"), batch_label="batch.csv", explanation=expl)
    # without an id column a row is named by its 0-based position
    no_ids = review.manifest.model_copy(update={"id_column": None, "features": ("x1", "x2", "colour")})
    plain = load_review(no_ids)
    rc = reason_codes(plain, "3", explanation=expl)
    assert rc.score == pytest.approx(float(_proba(review, review.evaluation.iloc[[3]])[0]), abs=1e-12)
    with pytest.raises(UnknownRowError, match="row position '600'"):
        reason_codes(plain, "600", explanation=expl)


def test_cli_text_json_batch_and_unknown_id(small: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    from workbench.store import Store, review_id_for

    manifest, review = small["manifest"], small["review"]
    assert main(["explain", str(manifest), "--id", "r5", "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Row r5 (evaluation data, data/evaluation.csv)") and "Decision:" in text
    assert "What would most change it:" in text and "  2. " in text and "  3. " not in text
    assert main(["explain", str(manifest), "--id", "r5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    direct = reason_codes(review, "r5").to_dict()
    assert out["score"] == pytest.approx(direct["score"]) and out["top"] == direct["top"]
    assert out["reasons"][0]["sentence"] == direct["reasons"][0]["sentence"]
    # a monitored prediction: a row of a recorded production batch file
    batch = review.evaluation.iloc[:20].assign(row_id=[f"p{i}" for i in range(20)])
    path = tmp_path / "batch.csv"
    batch.to_csv(path, index=False)
    db = tmp_path / "w.db"
    with Store.open(db) as store:
        rid = store.upsert_review("small review", manifest_path=str(manifest), evidence_digest="x", actor="test")
        recorded = store.add_monitoring_batch(review_id_for("small review"),
                                              batch_digest=hashlib.sha256(path.read_bytes()).hexdigest(), rows=20,
                                              window_start="2026-11-01", window_end="2026-11-08", metrics={},
                                              actor="test")
    assert rid
    assert main(["explain", str(manifest), "--id", "p4", "--batch", str(path), "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "batch" and out["context"]["monitoring_batch"] == recorded.batch_id
    assert main(["explain", str(manifest), "--id", "p4", "--batch", str(path), "--db", str(db)]) == 0
    assert f"Monitoring: recorded batch {recorded.batch_id} (2026-11-01" in capsys.readouterr().out
    # an unknown id: exit 2, one line naming the id and the data files
    assert main(["explain", str(manifest), "--id", "zz9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "workbench: error: no row with row_id = 'zz9' in data/evaluation.csv"
