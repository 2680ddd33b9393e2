"""Shadow replay and canary on the demo scenario (planted drift and segment shift)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from workbench.replay._stream import iter_windows
from workbench.canonical import canonical_json
from workbench.errors import DataError
from workbench.policy import evaluate_criterion, parse_policy
from workbench.replay import CanaryGuardrails, run_replay


@pytest.fixture(scope="module")
def review(demo_manifest):
    from workbench.artefacts import load_review
    from workbench.artefacts import load_manifest

    m = load_manifest(demo_manifest)
    light = m.model_copy(update={"data": m.data.model_copy(update={"replay": None})})
    return load_review(light)


@pytest.fixture(scope="module")
def replay_path(demo_dir):
    return demo_dir / "data" / "replay.parquet"


@pytest.fixture(scope="module")
def canary(review, replay_path):
    # latency on a shared test machine is noise: this test is about the planted drift
    guard = CanaryGuardrails.from_manifest(review.manifest).model_copy(update={"max_latency_p95_ms": None})
    assert guard.max_psi == 0.25 and guard.stages == (5, 25, 50, 100)  # from the demo manifest
    return run_replay(review, source=replay_path, guardrails=guard, latency_sample=2, seed=1)


def _naive_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Independent PSI: pandas qcut deciles of the reference, missing values as a bin."""
    r, c = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    _, edges = pd.qcut(r, bins, retbins=True, duplicates="drop")
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.r_[pd.Series(pd.cut(r, edges)).value_counts(sort=False).to_numpy(), ref.size - r.size] / ref.size
    q = np.r_[pd.Series(pd.cut(c, edges)).value_counts(sort=False).to_numpy(), cur.size - c.size] / cur.size
    p, q = np.where(p == 0, eps, p), np.where(q == 0, eps, q)
    return float(np.sum((q - p) * np.log(q / p)))


def test_windows_stream_in_order_with_empty_gaps_and_refuse_unsorted():
    ts = pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-20", "2026-01-21"], utc=True)
    frame = pd.DataFrame({"t": ts, "x": [1, 2, 3, 4]})
    got = [(w.index, w.start.date().isoformat(), w.frame["x"].tolist() if len(w.frame) else [])
           for w in iter_windows(frame, timestamp_column="t", window="7D", batch_rows=3)]
    assert got == [(0, "2026-01-05", [1, 2]), (1, "2026-01-12", []), (2, "2026-01-19", [3, 4])]
    with pytest.raises(DataError, match="not sorted"):
        list(iter_windows(frame.iloc[::-1], timestamp_column="t", window="7D"))
    with pytest.raises(DataError, match="'when'"):
        list(iter_windows(frame, timestamp_column="when", window="7D"))


@pytest.mark.slow
def test_planted_drift_shows_in_the_right_windows_and_features(canary, review, replay_path):
    windows = canary["windows"]
    assert len(windows) == 12 and sum(w["rows"] for w in windows) == canary["settings"]["rows"]
    psi = {f: [w["drift"]["features"][f]["psi"] for w in windows] for f in review.features}
    # gradual drift in income and debt_ratio: stable at first, major by the end, growing
    for f in ("income", "debt_ratio"):
        assert max(psi[f][:3]) < 0.1 and min(psi[f][-3:]) > 0.25
        assert psi[f][-1] > psi[f][5] > psi[f][0]
    # the segment shift starts in week 7 (window 6): employment_type jumps there, not before
    assert max(psi["employment_type"][:6]) < 0.02 and min(psi["employment_type"][6:]) > 0.2
    for f in ("credit_history_years", "open_lines"):
        assert max(psi[f]) < 0.02
    # cross-check one window against an independent PSI on the raw rows
    raw = pd.read_parquet(replay_path)
    week = raw[(raw["timestamp"] >= windows[8]["start"]) & (raw["timestamp"] < windows[8]["end"])]
    ref = review.reference["income"].to_numpy(float)
    assert psi["income"][8] == pytest.approx(_naive_psi(ref, week["income"].to_numpy(float)), rel=1e-6)
    # agreement and flips by hand on that window
    sc = review.models["candidate"].predict_scores(week) >= 0.5
    sb = review.models["baseline"].predict_scores(week) >= 0.5
    assert windows[8]["agreement_rate"] == pytest.approx(np.mean(sc == sb))
    assert windows[8]["flips"]["to_positive"] == int(np.sum(sc & ~sb))
    south = (week["region"] == "south").to_numpy()
    assert windows[8]["flips"]["by_group"]["region"]["south"]["flip_rate"] == pytest.approx(np.mean(sc[south] != sb[south]))
    # labels are delayed for weeks 11-12: no performance there
    assert windows[10]["performance"]["n_labelled"] == 0 and "roc_auc" in windows[9]["performance"]["candidate"]
    json.loads(canonical_json(canary))


@pytest.mark.slow
def test_canary_halts_where_the_shift_crosses_the_guardrail(canary):
    c = canary["canary"]
    first_over = next(w["index"] for w in canary["windows"] if w["drift"]["max_psi"] > 0.25)
    assert c["status"] == "halted"
    assert c["halted_at"]["window"] == first_over == 6  # week 7: income crosses 0.25
    assert c["halted_at"]["stage_percent"] == 50.0  # 12 weeks over 4 stages: weeks 7-9 run at 50 %
    assert [b["guardrail"] for b in c["halted_at"]["breaches"]] == ["psi"]
    assert "roll back" in c["recommendation"]
    assert len(c["timeline"]) == 7  # the rollout stops at the breach
    # the policy reads the breach from the replay result (the evidence's replay section)
    rule = parse_policy({"id": "t", "version": "1", "criteria": [{"id": "r", "kind": "replay"}]}).criteria[0]
    assert evaluate_criterion(rule, {"replay": {"status": "ok", **canary}}).status == "FAIL"


@pytest.mark.slow
def test_latency_guardrail_reads_the_calls_of_every_window_so_far(review, replay_path):
    frame = pd.read_parquet(replay_path).iloc[:12000]  # three weekly windows
    guard = CanaryGuardrails(stages=(50, 100), max_psi=None, max_performance_drop=None, max_latency_p95_ms=1e9)
    out = run_replay(review, source=frame, guardrails=guard, latency_sample=1, seed=3)
    # one call per window and model: each window's p50 is its one call's time
    calls = [w["models"]["candidate"]["latency_ms"]["p50"] for w in out["windows"]]
    assert len(calls) == 3 and all(w["models"]["candidate"]["latency_ms"]["calls"] == 1 for w in out["windows"])
    for k, entry in enumerate(out["canary"]["timeline"]):
        check = entry["checks"]["latency_p95_ms"]
        assert check["calls"] == k + 1 and check["decision"] == "point" and not check["breached"]
        assert check["value"] == float(np.percentile(calls[: k + 1], 95))


def test_window_drift_skips_only_the_feature_it_cannot_read(review, replay_path):
    from workbench.metrics.drift import build_reference_profile, drift_evidence
    from workbench.replay._window import window_drift

    features = list(review.features)
    profile = build_reference_profile(review.reference, features=features)
    frame = pd.read_parquet(replay_path).iloc[:3000]
    per_feature = {f: drift_evidence(profile, frame, features=[f])["features"][f] for f in features}
    assert window_drift(frame, profile, features, bands=(0.1, 0.25)) == per_feature  # one call, same entries
    broken = frame.assign(income="n/a")  # a numeric input that no longer reads as a number
    got = window_drift(broken, profile, features, bands=(0.1, 0.25))
    assert list(got) == [f for f in features if f != "income"]
    assert got == {f: e for f, e in per_feature.items() if f != "income"}


def _bad(f: pd.DataFrame) -> pd.Series:
    # production rows only (the reference has no timestamp): a rare combination of values
    if "timestamp" not in f.columns:
        return pd.Series(False, index=f.index)
    return (f["open_lines"] == 3) & (f["region"] == "east") & (f["purpose"] == "car")


@pytest.mark.slow
def test_model_raising_on_some_rows_is_counted_and_replay_completes(review, replay_path):
    frame = pd.read_parquet(replay_path).iloc[:6000]
    real = review.models["candidate"]

    class Flaky:
        def predict_scores(self, f):
            if _bad(f).any():
                raise ValueError("open_lines=3 in the east crashes this model")
            return real.predict_scores(f)

    broken = dataclasses.replace(review, models={**review.models, "candidate": Flaky()})
    # about 0.8% of the rows crash the model: a real breach of 0.2% (the sequential rule does not halt on
    # a 1% guardrail that only the noise of ~360 routed rows a day crosses)
    guard = CanaryGuardrails(stages=(50, 100), max_psi=None, max_latency_p95_ms=None, max_error_rate=0.002)
    out = run_replay(broken, source=frame, window="1D", guardrails=guard, latency_sample=1, seed=2)
    per_day = _bad(frame).groupby(frame["timestamp"].dt.floor("D")).sum()
    got = [w["models"]["candidate"]["errors"] for w in out["windows"]]
    assert got == per_day.tolist() and sum(got) > 0
    assert all(w["models"]["baseline"]["errors"] == 0 for w in out["windows"])
    assert "open_lines=3" in next(w for w in out["windows"] if w["models"]["candidate"]["errors"])["models"]["candidate"]["error_samples"][0]
    assert out["canary"]["status"] == "halted"
    breach = out["canary"]["halted_at"]["breaches"][0]
    assert breach["guardrail"] == "error_rate" and breach["decision"] == "sequential" and breach["bound"] > 0.002
    # rows the candidate did score are compared as usual
    assert [w["compared_rows"] for w in out["windows"]] == [w["rows"] - g for w, g in zip(out["windows"], got)]


@pytest.mark.slow
def test_cli_replay_and_canary_exit_codes(demo_dir, tmp_path):
    import yaml

    from workbench.cli import main

    raw = yaml.safe_load((demo_dir / "review.yaml").read_text())
    for role in ("candidate", "baseline"):
        raw[role]["path"] = str(demo_dir / raw[role]["path"])
    for key in ("policy", "model_card"):
        raw[key] = str(demo_dir / raw[key])
    full = pd.read_parquet(demo_dir / "data" / "replay.parquet")
    weeks = (full["timestamp"] - full["timestamp"].min().normalize()).dt.days // 7
    small = full[weeks.isin([0, 9])].groupby(weeks[weeks.isin([0, 9])]).head(800)  # a calm week, a drifted week
    small.to_parquet(tmp_path / "replay.parquet")
    raw["data"] = {k: str(demo_dir / v) for k, v in raw["data"].items()}
    raw["data"]["replay"] = str(tmp_path / "replay.parquet")
    manifest = tmp_path / "review.yaml"
    manifest.write_text(yaml.safe_dump(raw))
    out = tmp_path / "replay.json"
    assert main(["replay", str(manifest), "--out", str(out), "--window", "7D", "--latency-sample", "1"]) == 0
    result = json.loads(out.read_text())
    assert [w["rows"] for w in result["windows"]][0] == 800 and result["canary"] is None
    assert main(["canary", str(manifest), "--stages", "50,100", "--max-latency-ms", "100000",
                 "--latency-sample", "1", "--out", str(tmp_path / "c.json")]) == 1
    halted = json.loads((tmp_path / "c.json").read_text())["canary"]["halted_at"]
    assert halted["breaches"][0]["guardrail"] == "psi" and halted["stage_percent"] == 100.0
    assert main(["canary", str(manifest), "--stages", "50,10"]) == 2


def _without_latency(window: dict) -> dict:
    """A window without its timings (latency, throughput): measurements that differ run to run."""
    return {**window, "models": {r: {k: v for k, v in m.items() if k not in ("latency_ms", "throughput_rows_per_s")}
                                 for r, m in window["models"].items()}}


def test_evidence_stores_every_window_in_full_so_the_app_need_not_replay(demo_manifest):
    """The replay page reads windows from the stored evidence: they must be run_replay's windows."""
    from workbench.artefacts import load_review
    from workbench.evidence import build_evidence

    full = load_review(demo_manifest)
    stored = build_evidence(full, include=["replay"])["replay"]
    fresh = run_replay(full, guardrails=CanaryGuardrails.from_manifest(full.manifest), seed=full.manifest.settings.seed)
    assert stored["status"] == "ok" and len(stored["windows"]) == len(fresh["windows"]) > 0
    for kept, again in zip(stored["windows"], fresh["windows"]):
        assert kept["max_psi"] == again["drift"].get("max_psi")  # the summary key the evidence had before
        assert _without_latency({k: v for k, v in kept.items() if k != "max_psi"}) == json.loads(
            json.dumps(_without_latency(again)))


def test_reference_scores_the_evidence_already_has_give_the_same_score_profile(review):
    """The evidence scores the reference for the prediction drift; the replay reuses those scores
    (non-finite ones count as missing, as when it scores them itself) instead of scoring again."""
    from workbench.replay._window import reference_profiles

    given = {role: np.asarray(review.scores(role, review.reference)) for role in review.models}
    own = reference_profiles(review)
    reused = reference_profiles(review, reference_scores=given)
    assert reused[1].to_dict() == own[1].to_dict() and reused[0].to_dict() == own[0].to_dict()
    assert reused[2] == own[2]

    calls = []

    class Counting:  # a scored role is not scored again; a role whose scores failed is
        def __init__(self, model):
            self.model = model

        def __getattr__(self, name):
            return getattr(self.model, name)

        def predict_scores(self, frame):
            calls.append(len(frame))
            return self.model.predict_scores(frame)

    counted = dataclasses.replace(review, models={r: Counting(m) for r, m in review.models.items()})
    reference_profiles(counted, reference_scores={"candidate": given["candidate"], "baseline": RuntimeError("x")})
    assert calls == [len(review.reference)]  # the baseline only

    broken = given["candidate"].copy()
    broken[:3] = np.nan
    with_nan = reference_profiles(review, reference_scores={**given, "candidate": broken})
    assert with_nan[1].to_dict() != own[1].to_dict()  # the scores given are the ones profiled
