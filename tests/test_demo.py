"""The demo scenario: determinism, planted disparity, planted drift, and the written documents.

The full-size scenario is written once per session by the shared ``demo_dir`` fixture
(tests/conftest.py); a second full run through the CLI checks byte-identical data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from workbench.demo import _data as _demo_data
from workbench.artefacts import load_review
from workbench.cli import main
from workbench.demo import DEFAULT_SEED, write_demo
from workbench.errors import WorkbenchError
from workbench.artefacts import load_manifest

DATA_FILES = ("data/reference.parquet", "data/evaluation.parquet", "data/replay.parquet")
COLUMNS = [
    "application_id", "income", "debt_ratio", "credit_history_years", "open_lines", "employment_type",
    "region", "loan_amount", "purpose", "sex", "age_band", "approved",
]
CATEGORIES = {
    "employment_type": {"salaried", "self_employed", "contract", "part_time", "unemployed", "retired"},
    "region": {"north", "south", "east", "west"},
    "purpose": {"home", "car", "education", "business", "debt_consolidation", "other"},
    "sex": {"F", "M"},
    "age_band": {"18-25", "26-40", "41-60", "60+"},
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float:
    """Population stability index over the reference's decile edges (independent of workbench)."""
    ref = reference.dropna().to_numpy()
    cur = current.dropna().to_numpy()
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1) / len(cur)
    p, q = np.clip(p, 1e-6, None), np.clip(q, 1e-6, None)
    return float(np.sum((q - p) * np.log(q / p)))


@pytest.fixture(scope="module")
def review(demo_dir: Path):
    return load_review(demo_dir / "review.yaml")


@pytest.fixture(scope="module")
def scored(review) -> dict[str, np.ndarray]:
    return {role: review.scores(role) for role in ("candidate", "baseline")}


@pytest.fixture(scope="module")
def replay(demo_dir: Path) -> pd.DataFrame:
    frame = pd.read_parquet(demo_dir / "data/replay.parquet")
    frame["week"] = (frame["timestamp"] - _demo_data.REPLAY_START).dt.days // 7 + 1
    return frame


# ---- determinism -------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_gives_byte_identical_data_through_the_cli(demo_dir, tmp_path, capsys):
    second = tmp_path / "again"
    assert main(["demo", str(second), "--seed", str(DEFAULT_SEED)]) == 0
    assert capsys.readouterr().out.strip() == str(second.resolve() / "review.yaml")
    for name in DATA_FILES:
        assert _sha256(demo_dir / name) == _sha256(second / name), name
    # the model card pins the data by hash, so it is reproducible too
    assert (demo_dir / "model_card.yaml").read_bytes() == (second / "model_card.yaml").read_bytes()


def test_other_seed_gives_other_data_and_small_runs_are_reproducible(tmp_path):
    sizes = dict(n_reference=1500, n_evaluation=1000, n_replay=1200)
    a = write_demo(tmp_path / "a", seed=1, **sizes)
    b = write_demo(tmp_path / "b", seed=1, **sizes)
    c = write_demo(tmp_path / "c", seed=2, **sizes)
    for role in ("reference", "evaluation", "replay"):
        assert _sha256(getattr(a, role)) == _sha256(getattr(b, role))
        assert _sha256(getattr(a, role)) != _sha256(getattr(c, role))


# ---- the files ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "rows"), [(DATA_FILES[0], 60_000), (DATA_FILES[1], 25_000), (DATA_FILES[2], 60_000)])
def test_data_files_have_the_documented_schema(demo_dir, name, rows):
    frame = pd.read_parquet(demo_dir / name)
    expected = COLUMNS if "replay" not in name else COLUMNS[:1] + ["timestamp"] + COLUMNS[1:]
    assert list(frame.columns) == expected
    assert len(frame) == rows
    assert frame["application_id"].is_unique
    assert frame["application_id"].str.fullmatch(r"A\d{8}").all()
    for column, allowed in CATEGORIES.items():
        assert set(frame[column].unique()) == allowed, column
    missing = frame[["income", "debt_ratio", "credit_history_years"]].isna().mean()
    assert ((missing > 0.015) & (missing < 0.04)).all(), missing.to_dict()
    complete = ["open_lines", "loan_amount", *CATEGORIES]
    assert not frame[complete].isna().any().any()
    assert frame["debt_ratio"].dropna().between(0, 1).all()


def test_ids_are_unique_across_the_three_data_sets(demo_dir):
    ids = pd.concat([pd.read_parquet(demo_dir / n, columns=["application_id"]) for n in DATA_FILES])
    assert ids["application_id"].is_unique


def test_replay_timestamps_labels_and_segment_follow_the_documented_plan(replay):
    ts = replay["timestamp"]
    assert str(ts.dt.tz) == "UTC"
    assert ts.is_monotonic_increasing
    assert ts.min() >= pd.Timestamp("2026-08-03T00:00:00Z")
    assert ts.max() < pd.Timestamp("2026-10-26T00:00:00Z")
    assert sorted(replay["week"].unique()) == list(range(1, 13))
    labelled = replay["approved"].notna().groupby(replay["week"]).mean()
    assert (labelled.loc[1:10] == 1.0).all() and (labelled.loc[11:12] == 0.0).all()
    assert set(replay["approved"].dropna().unique()) == {0.0, 1.0}
    segment = (
        (replay["region"] == "south") & (replay["employment_type"] == "self_employed") & (replay["purpose"] == "business")
    ).groupby(replay["week"]).mean()
    assert (segment.loc[1:6] < 0.01).all(), segment.to_dict()
    assert segment.loc[7:12].between(0.17, 0.23).all(), segment.to_dict()


@pytest.mark.parametrize("feature", ["income", "debt_ratio"])
def test_replay_drift_is_real_and_gradual(demo_dir, replay, feature):
    reference = pd.read_parquet(demo_dir / "data/reference.parquet", columns=[feature])[feature]
    psi = [_psi(reference, replay.loc[replay["week"] == w, feature]) for w in range(1, 13)]
    assert psi[0] < 0.1
    assert psi[-1] > 0.25
    assert psi[-1] > psi[5] > psi[0]


def test_evaluation_is_drawn_like_the_reference(demo_dir):
    ref = pd.read_parquet(demo_dir / DATA_FILES[0])
    ev = pd.read_parquet(demo_dir / DATA_FILES[1])
    for feature in _demo_data.NUMERIC_FEATURES:
        assert _psi(ref[feature], ev[feature]) < 0.02, feature


# ---- models and the planted trade-off ----------------------------------------------------


def test_models_use_only_the_declared_inputs(review):
    assert review.features == _demo_data.FEATURES
    for role in ("candidate", "baseline"):
        estimator = review.models[role].estimator
        assert tuple(estimator.feature_names_in_) == _demo_data.FEATURES
    prep = review.models["candidate"].estimator[0]
    assert list(prep.get_feature_names_out()) == [
        *[f for f in _demo_data.FEATURES if f in _demo_data.NUMERIC_FEATURES],
        *[f for f in _demo_data.FEATURES if f in _demo_data.CATEGORICAL_FEATURES],
    ]  # one column per raw feature, so explanations map back


def test_candidate_ranks_better_than_the_baseline(review, scored):
    auc = {role: roc_auc_score(review.y_true, s) for role, s in scored.items()}
    assert auc["candidate"] - auc["baseline"] >= 0.02, auc
    assert auc["baseline"] > 0.70


def test_candidate_fails_four_fifths_for_age_band_while_the_baseline_passes(review, scored):
    groups = review.evaluation["age_band"]
    ratio = {
        role: demographic_parity_ratio(review.y_true, (s >= 0.5).astype(int), sensitive_features=groups)
        for role, s in scored.items()
    }
    assert ratio["candidate"] < 0.70, ratio  # well below the 0.80 rule
    assert ratio["baseline"] >= 0.84, ratio  # comfortably above it
    eo = {
        role: equalized_odds_difference(review.y_true, (s >= 0.5).astype(int), sensitive_features=groups)
        for role, s in scored.items()
    }
    assert eo["candidate"] > 0.2 > 0.1 > eo["baseline"], eo


def test_the_disparity_comes_through_proxies_not_inputs(demo_dir):
    ref = pd.read_parquet(demo_dir / DATA_FILES[0])
    young = ref["age_band"] == "18-25"
    thin = ref["employment_type"].isin(["part_time", "contract"]) & (ref["credit_history_years"] < 4)
    assert thin[young].mean() > 5 * thin[~young].mean()
    assert ref.loc[ref["sex"] == "F", "employment_type"].eq("part_time").mean() > 2 * (
        ref.loc[ref["sex"] == "M", "employment_type"].eq("part_time").mean()
    )


# ---- documents ---------------------------------------------------------------------------


def test_review_manifest_loads_and_trusts_exactly_what_each_model_needs(demo_dir):
    import skops.io as sio

    m = load_manifest(demo_dir / "review.yaml")
    assert (m.name, m.task, m.target, m.positive_label, m.threshold) == (
        "credit-approval 2.3 review", "binary", "approved", 1, 0.5)
    assert (m.candidate.name, m.candidate.version, m.baseline.name, m.baseline.version) == (
        "gbm", "2.3.0", "logreg", "1.9.0")
    assert m.sensitive_features == ("sex", "age_band") and m.id_column == "application_id"
    assert m.features is None and m.settings.seed == DEFAULT_SEED and m.settings.n_bootstrap == 1000
    assert (m.replay.timestamp_column, m.replay.window) == ("timestamp", "7D")
    for entry in (m.candidate, m.baseline):
        assert set(entry.trusted_types) == set(sio.get_untrusted_types(file=m.resolve(entry.path)))
    plan = m.readiness
    assert plan is not None and plan.rollback.previous_model == "logreg 1.9.0"
    assert plan.monitoring.cadence_days == 90 and len(plan.post_implementation_reviews) >= 2
    assert set(plan.monitoring.thresholds) <= set(plan.monitoring.metrics)


def test_model_card_is_complete_and_pins_the_data(demo_dir):
    card = yaml.safe_load((demo_dir / "model_card.yaml").read_text(encoding="utf-8"))
    assert list(card) == [
        "model", "intended_use", "out_of_scope_uses", "risk_tier", "developer", "owners", "training_data", "evaluation_data",
        "feature_engineering", "architecture", "threshold", "limitations", "ethical_considerations",
        "training_code", "data_versions",
    ]
    assert card["model"] == {"name": "gbm", "version": "2.3.0"}
    assert all({"name", "role", "contact"} == set(o) for o in card["owners"])
    assert card["training_data"]["size"] == 60_000 and card["evaluation_data"]["size"] == 25_000
    assert card["threshold"]["value"] == 0.5
    for role, name in zip(("reference", "evaluation", "replay"), DATA_FILES):
        assert card["data_versions"][role] == "sha256:" + _sha256(demo_dir / name)
    text = (demo_dir / "model_card.yaml").read_text(encoding="utf-8").lower()
    for placeholder in ("todo", "tbd", "lorem", "xxx", "<", "fill in"):
        assert placeholder not in text, placeholder


def test_policy_is_the_packaged_default(demo_dir):
    from workbench.policy import default_policy_text, load_policy

    assert (demo_dir / "policy.yaml").read_text(encoding="utf-8") == default_policy_text()
    assert load_policy(demo_dir / "policy.yaml").digest


# ---- refusals ----------------------------------------------------------------------------


def test_cli_refuses_a_non_empty_folder_without_force(tmp_path, capsys):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["demo", str(target)]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and "Traceback" not in err
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_force_overwrites_only_the_demo_files(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me", encoding="utf-8")
    s = write_demo(target, force=True, n_reference=1500, n_evaluation=1000, n_replay=1200)
    assert (target / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert s.review.is_file() and s.candidate.is_file()


def test_too_small_sizes_and_file_targets_are_refused(tmp_path):
    with pytest.raises(WorkbenchError, match="n_evaluation=10"):
        write_demo(tmp_path / "x", n_evaluation=10)
    target = tmp_path / "file"
    target.write_text("", encoding="utf-8")
    with pytest.raises(WorkbenchError, match="not a folder"):
        write_demo(target)


# ---- the generator's invariants for any seed and size --------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(50, 400))
def test_generated_applicants_are_always_valid(seed, n):
    frame = _demo_data.labelled_frame(seed, n, stream=0, first_id=1)
    assert len(frame) == n and frame["application_id"].is_unique
    for column, allowed in CATEGORIES.items():
        assert set(frame[column].unique()) <= allowed
    assert set(frame["approved"].unique()) <= {0, 1}
    assert (frame["debt_ratio"].dropna().between(0, 0.99)).all()
    assert (frame["credit_history_years"].dropna() >= 0).all()
    assert (frame["income"].dropna() > 0).all() and (frame["loan_amount"] >= 500).all()
    retired_young = (frame["employment_type"] == "retired") & (frame["age_band"] != "60+")
    assert not retired_young.any()
    # the same seed draws the same applicants
    pd.testing.assert_frame_equal(frame, _demo_data.labelled_frame(seed, n, stream=0, first_id=1))
