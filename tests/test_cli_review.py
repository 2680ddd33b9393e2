"""`workbench review`: writes schema-valid evidence, progress on stderr, bad input exits 2."""

import json

from workbench.cli import main


def test_review_writes_evidence(demo_manifest, tmp_path, capsys):
    out = tmp_path / "ev" / "evidence.json"
    code = main([
        "review", str(demo_manifest), "--out", str(out), "--bootstrap", "20", "--seed", "5",
        "--skip", "fairness,explanations,operational,robustness,slices",
    ])
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "bootstrap: 20/20" in captured.err
    ev = json.loads(out.read_text())
    assert ev["settings"]["n_bootstrap"] == 20 and ev["settings"]["seed"] == 5
    assert ev["sections"]["fairness"]["status"] == "skipped"
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["ci_low"] is not None
    # the deltas are read against the margins the manifest's policy states, not a separate default
    auc = ev["deltas"]["roc_auc"]
    assert (auc["margin"], auc["margin_source"]) == (0.01, "policy default-promotion-policy 1.0.0: auc-non-inferior")
    assert ev["settings"]["margins"]["brier_score"] == {"value": 0.1, "relative": True,
                                                        "source": "policy default-promotion-policy 1.0.0: brier-not-worse"}
    assert auc["mde"] > 0 and ev["deltas"]["accuracy"]["margin_source"] == "settings.margin"


def test_bad_skip_and_missing_manifest_exit_2_with_one_line(demo_manifest, tmp_path, capsys):
    assert main(["review", str(demo_manifest), "--out", str(tmp_path / "e.json"), "--skip", "vibes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vibes" in err[0]
    assert main(["review", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.yaml" in err[0]
    assert not (tmp_path / "e.json").exists()


def test_skip_every_section_gives_a_valid_evidence_with_all_skipped(demo_manifest, tmp_path):
    from importlib import resources

    import jsonschema

    from workbench.evidence import SECTIONS

    out = tmp_path / "e.json"
    assert main(["review", str(demo_manifest), "--out", str(out), "--skip", ",".join(SECTIONS)]) == 0
    ev = json.loads(out.read_text())
    assert {s["status"] for s in ev["sections"].values()} == {"skipped"}
    assert set(ev["models"]["candidate"]) == {"name", "version", "kind"}
    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    jsonschema.validate(ev, schema)


def test_skip_metrics_keeps_calibration(demo_manifest, tmp_path):
    out = tmp_path / "e.json"
    skip = "metrics,drift,fairness,operational,robustness,slices,explanations"
    assert main(["review", str(demo_manifest), "--out", str(out), "--bootstrap", "10", "--skip", skip]) == 0
    ev = json.loads(out.read_text())
    assert ev["sections"]["calibration"]["status"] == "ok" and ev["sections"]["metrics"]["status"] == "skipped"
    assert ev["models"]["baseline"]["calibration"]["ece"]["ci_low"] is not None
    assert "metrics" not in ev["models"]["baseline"]


# -- the scale engine (--engine, globs) ------------------------------------------------------

def _scored_table(folder, n=3000, seed=0, parts=1):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    frame = pd.DataFrame({
        "id": np.arange(n), "y": y,
        "sc": np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1).round(3),  # ties: exact AUC must handle them
        "sb": 1 / (1 + np.exp(-(-1 + 1.2 * y + rng.normal(0, 1, n)))),
        "sex": rng.choice(["F", "M"], n), "x0": rng.normal(0.2, 1, n), "x1": rng.normal(0, 1, n),
    })
    for k, idx in enumerate(np.array_split(np.arange(n), parts)):
        frame.iloc[idx].to_parquet(folder / f"part-{k}.parquet", index=False)
    frame.iloc[: n // 2].to_parquet(folder / "reference.parquet", index=False)
    return frame


def _scale_manifest(folder, evaluation, **extra):
    import yaml

    doc = {"name": "scale", "task": "binary", "target": "y", "positive_label": 1,
           "candidate": {"predictions": "sc", "name": "cand", "version": "2"}, "baseline": {"predictions": "sb"},
           "data": {"evaluation": evaluation, "reference": "reference.parquet"},
           "features": ["x0", "x1"], "sensitive_features": ["sex"], "id_column": "id",
           "settings": {"n_bootstrap": 30, "seed": 1}}
    doc.update(extra)
    path = folder / "review.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_duckdb_engine_matches_sklearn_and_the_in_memory_engine(tmp_path, capsys):
    from sklearn.metrics import confusion_matrix, roc_auc_score

    frame = _scored_table(tmp_path)
    manifest = _scale_manifest(tmp_path, "part-0.parquet")
    out_d, out_n = tmp_path / "duck.json", tmp_path / "mem.json"
    assert main(["review", str(manifest), "--out", str(out_d), "--engine", "duckdb", "--memory-limit", "256MB"]) == 0
    assert "scale engine (duckdb)" in capsys.readouterr().err
    assert main(["review", str(manifest), "--out", str(out_n), "--engine", "auto",
                 "--skip", "explanations,operational,robustness,slices"]) == 0  # one small file: in memory
    duck, mem = json.loads(out_d.read_text()), json.loads(out_n.read_text())
    assert duck["engine"] == "duckdb" and mem["engine"] != "duckdb"
    for role, col in (("candidate", "sc"), ("baseline", "sb")):
        auc = roc_auc_score(frame["y"], frame[col])
        assert duck["models"][role]["metrics"]["roc_auc"]["value"] == auc  # exact, bit-identical
        assert mem["models"][role]["metrics"]["roc_auc"]["value"] == auc
        for metric in ("accuracy", "precision", "recall", "brier_score", "log_loss"):
            assert abs(duck["models"][role]["metrics"][metric]["value"]
                       - mem["models"][role]["metrics"][metric]["value"]) < 1e-9, (role, metric)
    tn, _fp, _fn, tp = confusion_matrix(frame["y"], frame["sc"] >= 0.5).ravel()
    acc = (tp + tn) / len(frame)
    assert duck["models"]["candidate"]["metrics"]["accuracy"]["value"] == acc
    assert duck["models"]["candidate"]["name"] == "cand" and duck["models"]["candidate"]["version"] == "2"
    for name in ("x0", "x1"):  # the same reference bins: the same PSI as the in-memory drift
        assert abs(duck["drift"]["features"][name]["psi"] - mem["drift"]["features"][name]["psi"]) < 1e-9
    assert duck["artefacts"][0]["sha256"] and duck["evidence_digest"] and duck["settings"]["n_bootstrap"] == 30
    # both engines read the deltas against the policy's margins
    assert duck["deltas"]["roc_auc"]["margin"] == mem["deltas"]["roc_auc"]["margin"] == 0.01
    assert duck["deltas"]["roc_auc"]["margin_source"] == mem["deltas"]["roc_auc"]["margin_source"]
    # the evidence digest is lineage only: a re-run reproduces it; another setting changes it
    assert main(["review", str(manifest), "--out", str(out_d), "--engine", "duckdb"]) == 0
    assert json.loads(out_d.read_text())["evidence_digest"] == duck["evidence_digest"]
    assert main(["review", str(manifest), "--out", str(out_d), "--engine", "duckdb", "--seed", "2"]) == 0
    assert json.loads(out_d.read_text())["evidence_digest"] != duck["evidence_digest"]


def test_a_glob_picks_duckdb_and_hashes_every_file(tmp_path):
    from sklearn.metrics import roc_auc_score

    frame = _scored_table(tmp_path, parts=3)
    manifest = _scale_manifest(tmp_path, "part-*.parquet", settings={"n_bootstrap": 0})
    out = tmp_path / "e.json"
    assert main(["review", str(manifest), "--out", str(out)]) == 0
    ev = json.loads(out.read_text())
    assert ev["engine"] == "duckdb" and ev["review"]["n_evaluation"] == len(frame)
    assert [(a["path"], a["rows"]) for a in ev["artefacts"] if a["role"] == "evaluation"] == [
        ("part-0.parquet", 1000), ("part-1.parquet", 1000), ("part-2.parquet", 1000)]
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["value"] == roc_auc_score(frame["y"], frame["sc"])
    (tmp_path / "part-1.parquet").write_bytes((tmp_path / "part-0.parquet").read_bytes())
    assert main(["review", str(manifest), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["evidence_digest"] != ev["evidence_digest"]


def test_a_duckdb_database_table_and_a_stored_profile(tmp_path):
    import duckdb
    from sklearn.metrics import roc_auc_score

    from workbench.engine import build_profile, save_profile

    frame = _scored_table(tmp_path)
    con = duckdb.connect(str(tmp_path / "lake.duckdb"))
    con.execute(f"CREATE TABLE scores AS SELECT * FROM read_parquet('{tmp_path / 'part-0.parquet'}')")
    con.close()
    save_profile(build_profile(tmp_path / "reference.parquet", features=["x0", "x1"]), tmp_path / "profile.json")
    manifest = _scale_manifest(tmp_path, "lake.duckdb", settings={"n_bootstrap": 0})
    out = tmp_path / "e.json"
    assert main(["review", str(manifest), "--out", str(out), "--reference-profile", str(tmp_path / "profile.json")]) == 0
    ev = json.loads(out.read_text())
    assert ev["engine"] == "duckdb" and ev["review"]["table"] == "scores"
    assert ev["artefacts"][0]["path"] == "lake.duckdb#scores" and ev["artefacts"][0]["rows"] == len(frame)
    assert ev["models"]["baseline"]["metrics"]["roc_auc"]["value"] == roc_auc_score(frame["y"], frame["sb"])
    assert ev["drift"]["reference_profile_digest"]


def test_scale_engine_bad_input_exits_2_with_one_line(tmp_path, capsys):
    _scored_table(tmp_path)
    out = tmp_path / "e.json"
    cases = [
        (("part-0.parquet",), {"task": "regression"}, ["--engine", "duckdb"], "binary"),
        (("part-0.parquet",), {"baseline": {"path": "part-0.parquet"}}, ["--engine", "duckdb"], "precomputed"),
        (("part-0.parquet",), {"id_column": None}, ["--engine", "spark"], "id_column"),
        (("nothing-*.parquet",), {}, [], "no file matches"),
        (("part-*.parquet",), {}, ["--engine", "numpy"], "--engine numpy"),
        (("part-0.parquet",), {}, ["--engine", "duckdb", "--memory-limit", "lots"], "memory-limit"),
    ]
    for args, extra_keys, extra, needle in cases:
        manifest = _scale_manifest(tmp_path, *args, **extra_keys)
        assert main(["review", str(manifest), "--out", str(out), *extra]) == 2, needle
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (needle, err)
    assert not out.exists()


def test_spark_scoring_refuses_an_untrusted_model_before_spark_starts(tmp_path, capsys):
    import numpy as np
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = _scored_table(tmp_path)
    model = HistGradientBoostingClassifier(max_iter=5).fit(frame[["x0", "x1"]], frame["y"])
    sio.dump(model, tmp_path / "cand.skops")
    assert sio.get_untrusted_types(file=tmp_path / "cand.skops")  # a type the manifest must list
    out = tmp_path / "e.json"
    manifest = _scale_manifest(tmp_path, "part-0.parquet", candidate={"path": "cand.skops"})
    assert main(["review", str(manifest), "--out", str(out), "--engine", "spark"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not trusted" in err[0] and "TreePredictor" in err[0], err
    manifest = _scale_manifest(tmp_path, "part-0.parquet", candidate={"path": "cand.skops"}, features=None)
    assert main(["review", str(manifest), "--out", str(out), "--engine", "spark"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "features" in err[0], err
    assert not out.exists() and np.isfinite(frame["x0"]).all()


def test_scale_evidence_passes_the_gates_content_digest_check(tmp_path, capsys):
    from workbench.evidence import content_digest

    _scored_table(tmp_path)
    manifest = _scale_manifest(tmp_path, "part-0.parquet", settings={"n_bootstrap": 20, "seed": 1})
    out = tmp_path / "e.json"
    assert main(["review", str(manifest), "--out", str(out), "--engine", "duckdb"]) == 0
    ev = json.loads(out.read_text())
    # the digest is the in-memory path's: content_digest of everything but "digest", timings included
    assert ev["engine"] == "duckdb" and "timings_s" in ev and ev["schema_version"] == 1
    assert ev["digest"] == content_digest(ev)
    assert ev["review"]["name"] == "scale" and ev["models"]["candidate"]["kind"] == "precomputed"
    # `workbench gate --evidence` runs that check. One small Parquet file is opened in memory by
    # the gate, and its record there is the one the scale engine wrote (rows and the pandas schema
    # from the footer): the same evidence digest, no adapter needed.
    from workbench.artefacts import load_review

    assert load_review(manifest).evidence_digest == ev["evidence_digest"]
    capsys.readouterr()
    code = main(["gate", str(manifest), "--evidence", str(out), "--no-db", "--at", "2026-11-26T12:00:00+00:00"])
    err = capsys.readouterr().err
    assert code in (0, 1, 3), err
    assert "does not match its digest" not in err
    ev["models"]["candidate"]["metrics"]["roc_auc"]["value"] = 1.0  # edited after the review: refused
    out.write_text(json.dumps(ev))
    assert main(["gate", str(manifest), "--evidence", str(out), "--no-db"]) == 2
    assert "does not match its digest" in capsys.readouterr().err


def test_spark_engine_refuses_a_duckdb_database_with_a_workbench_message(tmp_path, capsys):
    import duckdb

    _scored_table(tmp_path)
    con = duckdb.connect(str(tmp_path / "lake.duckdb"))
    con.execute(f"CREATE TABLE scores AS SELECT * FROM read_parquet('{tmp_path / 'part-0.parquet'}')")
    con.close()
    manifest = _scale_manifest(tmp_path, "lake.duckdb", settings={"n_bootstrap": 0})
    out = tmp_path / "e.json"
    assert main(["review", str(manifest), "--out", str(out), "--engine", "spark"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "lake.duckdb" in err[0] and "Parquet" in err[0] and "--engine duckdb" in err[0], err
    assert not out.exists()


def test_a_missing_evaluation_file_is_a_manifest_error_on_either_engine(tmp_path, capsys):
    _scored_table(tmp_path)
    out = tmp_path / "e.json"
    manifest = _scale_manifest(tmp_path, "gone.parquet")
    for extra in ([], ["--engine", "duckdb"], ["--engine", "numpy"]):
        assert main(["review", str(manifest), "--out", str(out), *extra]) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "review.yaml: data.evaluation: file not found: gone.parquet" in err[0], (extra, err)
    assert not out.exists()


def test_a_database_with_two_tables_needs_table_and_records_it(tmp_path, capsys):
    import duckdb

    _scored_table(tmp_path)
    con = duckdb.connect(str(tmp_path / "lake.duckdb"))
    con.execute(f"CREATE TABLE scores AS SELECT * FROM read_parquet('{tmp_path / 'part-0.parquet'}')")
    con.execute("CREATE TABLE notes AS SELECT 1 AS a")
    con.close()
    manifest = _scale_manifest(tmp_path, "lake.duckdb", settings={"n_bootstrap": 0})
    out = tmp_path / "e.json"
    for extra, needle in (([], "has 2 tables"), (["--table", "nope"], "no table 'nope'")):
        assert main(["review", str(manifest), "--out", str(out), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "review.yaml: data.evaluation lake.duckdb" in err[0] and needle in err[0], err
    assert not out.exists()
    assert main(["review", str(manifest), "--out", str(out), "--table", "scores"]) == 0
    assert json.loads(out.read_text())["review"]["table"] == "scores"


def test_a_stored_profile_stands_in_for_a_missing_reference_on_the_scale_engine(tmp_path, capsys):
    from workbench.engine import build_profile, save_profile

    _scored_table(tmp_path)
    save_profile(build_profile(tmp_path / "reference.parquet", features=["x0", "x1"]), tmp_path / "profile.json")
    (tmp_path / "reference.parquet").unlink()
    manifest = _scale_manifest(tmp_path, "part-*.parquet", settings={"n_bootstrap": 0})
    out = tmp_path / "e.json"
    assert main(["review", str(manifest), "--out", str(out)]) == 2  # no profile: the reference must exist
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "review.yaml: data.reference: file not found: reference.parquet" in err[0], err
    assert main(["review", str(manifest), "--out", str(out), "--reference-profile", str(tmp_path / "profile.json")]) == 0
    assert json.loads(out.read_text())["drift"]["reference_profile_digest"]
    # the gate re-derives that lineage (no reference file) and decides on the evidence
    assert main(["gate", str(manifest), "--evidence", str(out), "--no-db"]) in (1, 3)
    assert "workbench: error" not in capsys.readouterr().err


def test_the_manifest_is_read_once_and_the_engine_chosen_once(demo_manifest, tmp_path, monkeypatch):
    import workbench.engine
    import workbench.engine._scale
    import workbench.artefacts
    from workbench.evidence import SECTIONS

    calls = {"load": 0, "choose": []}
    real_load, real_choose = workbench.artefacts.load_manifest, workbench.engine._scale.choose_engine

    def load(*a, **k):
        calls["load"] += 1
        return real_load(*a, **k)

    def choose(*a, **k):
        calls["choose"].append(k.get("engine", "auto"))
        return real_choose(*a, **k)

    monkeypatch.setattr(workbench.artefacts, "load_manifest", load)
    monkeypatch.setattr(workbench.engine, "choose_engine", choose)
    monkeypatch.setattr(workbench.engine._scale, "choose_engine", choose)
    assert main(["review", str(demo_manifest), "--out", str(tmp_path / "m.json"), "--skip", ",".join(SECTIONS)]) == 0
    assert calls == {"load": 1, "choose": ["auto"]}
    _scored_table(tmp_path, parts=2)
    calls["load"], calls["choose"] = 0, []
    manifest = _scale_manifest(tmp_path, "part-*.parquet", settings={"n_bootstrap": 0})
    assert main(["review", str(manifest), "--out", str(tmp_path / "s.json")]) == 0
    # auto is decided in the CLI; build_evidence_at_scale only checks the concrete engine it is given
    assert calls == {"load": 1, "choose": ["auto", "duckdb"]}


def test_scale_engine_refuses_a_predictions_file_and_a_table_for_parquet(tmp_path, capsys):
    frame = _scored_table(tmp_path)
    frame[["id", "sc"]].to_parquet(tmp_path / "scores.parquet", index=False)
    out = tmp_path / "e.json"
    joined = _scale_manifest(tmp_path, "part-0.parquet",
                             candidate={"predictions": "sc", "predictions_file": "scores.parquet"})
    assert main(["review", str(joined), "--out", str(out), "--engine", "duckdb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "candidate.predictions_file: the scale engine reads score columns" in err[0], err
    plain = _scale_manifest(tmp_path, "part-0.parquet")
    assert main(["review", str(plain), "--out", str(out), "--engine", "duckdb", "--table", "scores"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--table scores: data.evaluation (part-0.parquet) is not a DuckDB database" in err[0], err
    assert not out.exists()


def test_review_signs_the_evidence_with_the_server_key(demo_manifest, tmp_path, monkeypatch):
    """The gate trusts evidence files only when this signature verifies (tests/test_gate.py)."""
    from importlib import resources

    import jsonschema

    from workbench.evidence import SECTIONS, evidence_trust_problem
    from workbench.report import init_keys
    from workbench.serverkey import ServerKey, load_server_key

    init_keys(tmp_path / "keys")
    out = tmp_path / "e.json"
    assert main(["review", str(demo_manifest), "--out", str(out), "--skip", ",".join(SECTIONS),
                 "--keys", str(tmp_path / "keys")]) == 0
    ev = json.loads(out.read_text())
    assert ev["signature"]["algorithm"] == "Ed25519"
    assert evidence_trust_problem(ev, load_server_key(tmp_path / "keys")) is None
    assert "does not verify" in evidence_trust_problem(ev, ServerKey.generate())
    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    jsonschema.validate(ev, schema)
    monkeypatch.setenv("WORKBENCH_KEYS", str(tmp_path / "none"))
    assert main(["review", str(demo_manifest), "--out", str(out), "--skip", ",".join(SECTIONS)]) == 0
    assert "signature" not in json.loads(out.read_text())


def test_the_process_entry_writes_the_whole_evidence_and_exits_with_mains_code(demo_manifest, tmp_path):
    """``python -m workbench.cli`` (the console script's ``run``) freezes the heap before exiting:
    the evidence must still be complete on disk and the exit code main's (0 here, 2 on bad input)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from workbench.evidence import content_digest

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = tmp_path / "e.json"
    skip = "fairness,explanations,operational,robustness,slices,replay,cross_check,drift"
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "review", str(demo_manifest), "--out", str(out),
                           "--bootstrap", "20", "--skip", skip], capture_output=True, text=True, timeout=300,
                          env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(out.read_text())
    assert ev["digest"] == content_digest(ev) and ev["sections"]["metrics"]["status"] == "ok"
    bad = subprocess.run([sys.executable, "-m", "workbench.cli", "review", str(tmp_path / "nope.yaml"), "--out",
                          str(out)], capture_output=True, text=True, timeout=300, env=env, cwd=root)
    assert bad.returncode == 2 and "nope.yaml" in bad.stderr and "Traceback" not in bad.stderr
