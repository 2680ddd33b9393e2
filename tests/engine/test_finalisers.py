"""Pure finalisers and the numpy executor against the in-memory evidence path and oracles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from tests.engine import make_frame, make_reference
from workbench.engine import (
    ScaleSpec,
    build_profile,
    evidence_from_aggregates,
    load_profile,
    numpy_aggregates,
    save_profile,
)
from workbench.engine._ranks import auc_ap, histogram_bin
from workbench.errors import ArtefactError
from workbench.fairness import compare_fairness
from workbench.metrics._assemble import quantitative_evidence
from workbench.metrics.drift import ReferenceProfile, drift_evidence

SPEC = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age"),
                 features=("x1", "c1"), id_column="id", n_boot=60, seed=3)


def _groups(y, s):
    uniq, inv = np.unique(s, return_inverse=True)
    return np.bincount(inv[~y], minlength=uniq.size), np.bincount(inv[y], minlength=uniq.size)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 12)), min_size=2, max_size=80))
def test_rank_finaliser_matches_sklearn_with_ties(rows):
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows], dtype=float) / 12
    out = auc_ap(*_groups(y, s))
    if y.all() or not y.any():
        assert np.isnan(out["roc_auc"])
        return
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert out["average_precision"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert out["roc_auc_bound"] == pytest.approx(
        sum(n * p for n, p in zip(*_groups(y, s))) / 2 / (y.sum() * (~y).sum()))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from([4, 16, 256]))
def test_histogram_auc_and_ap_within_their_bounds(seed, bins):
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.4
    s = np.clip(0.5 + 0.2 * y + rng.normal(0, 0.25, 300), 0, 1)
    if y.all() or not y.any():
        return
    b = histogram_bin(s, lo=0.0, scale=float(bins), bins=bins)
    h = np.zeros((bins, 2), np.int64)
    np.add.at(h, (b, y.astype(int)), 1)
    out = auc_ap(h[:, 0], h[:, 1])
    assert abs(out["roc_auc"] - roc_auc_score(y, s)) <= out["roc_auc_bound"] + 1e-12
    assert abs(out["average_precision"] - average_precision_score(y, s)) <= out["average_precision_bound"] + 1e-12


@pytest.fixture(scope="module")
def frame():
    return make_frame(4000, seed=5)


@pytest.fixture(scope="module")
def profile():
    return build_profile(make_reference(3000), features=["x1", "c1"])


@pytest.fixture(scope="module")
def evidence(frame, profile):
    return evidence_from_aggregates(numpy_aggregates(frame, SPEC, profile=profile), SPEC, profile=profile)


def test_numpy_executor_reproduces_quantitative_evidence(frame, evidence):
    ref = quantitative_evidence("binary", frame["y"].to_numpy(), {"candidate": frame["sc"].to_numpy(),
                                "baseline": frame["sb"].to_numpy()}, n_boot=SPEC.n_boot, seed=SPEC.seed)
    for role in ("candidate", "baseline"):
        ours, theirs = evidence["models"][role], ref["models"][role]
        assert ours["confusion_matrix"] == theirs["confusion_matrix"]
        assert ours["metrics"]["roc_auc"]["value"] == theirs["metrics"]["roc_auc"]["value"]
        for name, entry in theirs["metrics"].items():
            assert ours["metrics"][name]["value"] == pytest.approx(entry["value"], abs=1e-12), name
            if name not in ("roc_auc", "average_precision"):  # same Philox replicates, same sums
                assert ours["metrics"][name]["ci_low"] == pytest.approx(entry["ci_low"], abs=1e-6), name
        for name in ("ece", "ece_quantile", "mce", "brier_score", "slope", "intercept", "resolution"):
            assert ours["calibration"][name]["value"] == pytest.approx(theirs["calibration"][name]["value"], abs=1e-12)
            assert ours["calibration"][name]["ci_high"] == pytest.approx(theirs["calibration"][name]["ci_high"], abs=1e-5)
        assert ours["calibration"]["curve"] == theirs["calibration"]["curve"]
    assert evidence["engine"] == "numpy"
    assert evidence["models"]["candidate"]["metrics"]["roc_auc"]["method"] == "exact"


def test_mcnemar_from_joint_counts_matches_rows(frame, evidence):
    from workbench.metrics._paired import mcnemar_test

    y = frame["y"].to_numpy().astype(bool)
    t = mcnemar_test((frame["sc"] >= 0.5).to_numpy() == y, (frame["sb"] >= 0.5).to_numpy() == y)
    assert evidence["tests"]["mcnemar"] == t


def test_fairness_from_cells_matches_compare_fairness(frame, evidence):
    y = frame["y"].to_numpy()
    models = {r: ((frame[c] >= 0.5).astype(int).to_numpy(), frame[c].to_numpy())
              for r, c in (("candidate", "sc"), ("baseline", "sb"))}
    ref = compare_fairness(y, models, {"sex": frame["sex"], "age": frame["age"]}, n_boot=SPEC.n_boot,
                           seed=SPEC.seed, min_group_size=SPEC.min_group_size)
    for role in ("candidate", "baseline"):
        for grouping, sec in ref["models"][role].items():
            ours = evidence["models"][role]["fairness"][grouping]
            assert set(ours["groups"]) == set(sec["groups"])
            for label, g in sec["groups"].items():
                assert ours["groups"][label]["n"] == g["n"]
                for m in ("selection_rate", "tpr", "fpr", "precision", "ece"):
                    assert ours["groups"][label][m]["value"] == pytest.approx(g[m]["value"], abs=1e-12, nan_ok=True)
                assert ours["groups"][label]["tpr"]["ci_low"] == pytest.approx(g["tpr"]["ci_low"], abs=1e-12)
            for d in ("demographic_parity_difference", "equalized_odds_ratio"):
                assert ours[d]["value"] == pytest.approx(sec[d]["value"], abs=1e-12)
                assert ours[d]["ci_high"] == pytest.approx(sec[d]["ci_high"], abs=1e-12)
            assert ours["slice_tests"] == sec["slice_tests"]
    assert evidence["fairness_deltas"]["sex"]["demographic_parity_difference"]["value"] == pytest.approx(
        ref["deltas"]["sex"]["demographic_parity_difference"]["value"], abs=1e-12)


def test_drift_from_cells_matches_drift_evidence_on_a_stored_profile(frame, profile, evidence, tmp_path):
    d = save_profile(profile, tmp_path / "ref.json")
    loaded, d2 = load_profile(tmp_path / "ref.json")
    assert d == d2
    ref = drift_evidence(loaded, frame, features=["x1", "c1"])
    for name in ("x1", "c1"):
        ours, theirs = evidence["drift"]["features"][name], ref["features"][name]
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            if isinstance(value, float):
                assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-15), (name, key)
            else:
                assert ours[key] == value, (name, key)


def test_stored_profile_is_checked(profile, tmp_path):
    path = tmp_path / "ref.json"
    save_profile(profile, path)
    text = path.read_text().replace('"n_rows":3000', '"n_rows":3001')
    path.write_text(text)
    with pytest.raises(ArtefactError, match="digest mismatch"):
        load_profile(path)
    assert isinstance(ReferenceProfile.from_dict(profile.to_dict()), ReferenceProfile)


def test_build_evidence_at_scale_chooses_and_agrees(frame, tmp_path):
    from workbench.engine import build_evidence_at_scale, choose_engine

    path = tmp_path / "scores.parquet"
    frame.to_parquet(path)
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, n_boot=0)
    assert choose_engine(path) == "numpy"
    assert choose_engine(path, threshold_bytes=10) == "duckdb"
    assert choose_engine(str(tmp_path / "*.parquet")) == "duckdb"
    a = build_evidence_at_scale(path, engine="auto", spec=spec)
    b = build_evidence_at_scale(path, engine="duckdb", spec=spec)
    assert (a["engine"], b["engine"]) == ("numpy", "duckdb")
    assert a["models"]["candidate"]["metrics"]["roc_auc"]["value"] == b["models"]["candidate"]["metrics"]["roc_auc"]["value"]
    assert a["models"]["candidate"]["confusion_matrix"] == b["models"]["candidate"]["confusion_matrix"]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(5, 60))
def test_warm_start_of_grouped_rows_is_the_row_level_fit(seed, n_levels):
    """Rows that share a score are one group at that logit: the warm start then IS the fit."""
    from workbench.metrics.calibration import grouped_logistic_fit as warm_start
    from workbench.metrics.calibration import logistic_recalibration

    rng = np.random.default_rng(seed)
    levels = rng.uniform(0.02, 0.98, n_levels)
    p = levels[rng.integers(0, n_levels, 400)]
    y = (rng.random(400) < np.clip(p + rng.normal(0, 0.1), 0, 1)).astype(int)
    slope, intercept = logistic_recalibration(y, p)
    x = np.log(p) - np.log1p(-p)
    keys, inv = np.unique(np.c_[x, y], axis=0, return_inverse=True)
    counts = np.bincount(inv.ravel(), minlength=len(keys)).astype(float)
    got = warm_start(counts, keys[:, 0] * counts, keys[:, 1])
    if np.isnan(slope):
        assert got == (0.0, 0.0)  # no fit: the exact Newton starts from (0, 0) and reports it
    else:
        assert got == pytest.approx((intercept, slope), abs=1e-8)
