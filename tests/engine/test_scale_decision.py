"""A review computed by the scale engine is decided, signed, waived, reported, verified and promoted
through the real CLI, exactly as an in-memory one; an input changed after the review is refused.

The tests of this module share one small DuckDB-engine review (3,000 rows in a Parquet glob, the
same rows in a DuckDB table, the candidate's registry version recorded beside its precomputed
scores in an embedded SQLite MLflow registry) and run in file order: review, gate, sign-off,
waiver, report, verify, the attacks (each restores what it changes), then promote.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.cli import main
from workbench.store import Store

# End to end through the CLI and an embedded MLflow registry: ≈ 40 s for the module on this machine.
pytestmark = pytest.mark.slow

AT = "2026-12-01T12:00:00+00:00"
MODEL = "scale-model"
PASSWORDS = {"sam": "sam-secret-1", "olivia": "olivia-secret-1", "gov": "gov-secret-1", "leg": "leg-secret-1",
             "pat": "pat-secret-1"}
POLICY = {"id": "scale", "version": "1", "criteria": [
    {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.6},
    # fails on these scores (ECE ≈ 0.08): the waiver path
    {"id": "ece", "kind": "absolute", "metric": "models.candidate.calibration.ece", "max": 0.01,
     "waivable_by": ["data_governance", "legal"]},
    {"id": "signoffs", "kind": "signoff", "roles": ["security"]}]}


@dataclass
class ScaleCase:
    root: Path
    manifest: Path
    table_manifest: Path
    db: Path
    keys: Path
    registry_uri: str


def _frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    return pd.DataFrame({
        "id": np.arange(n), "y": y,
        "sc": np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1).round(3),
        "sb": 1 / (1 + np.exp(-(-1 + 1.2 * y + rng.normal(0, 1, n)))),
        "sex": rng.choice(["F", "M"], n), "x0": rng.normal(0.2, 1, n), "x1": rng.normal(0, 1, n)})


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The error lines of the last command (progress lines aside)."""
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("workbench: error:")]


def cli(monkeypatch: pytest.MonkeyPatch, case: ScaleCase, args: list[str], *, user: str | None = None) -> int:
    """Run one command against the case's store; ``user`` signs in with a password on stdin."""
    extra = ["--db", str(case.db)]
    if user is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS[user] + "\n"))
        extra += ["--as", user, "--password-stdin"]
    return main([*args, *extra])


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> ScaleCase:
    import duckdb
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from workbench.registry import Registry
    from workbench.report import init_keys

    root = tmp_path_factory.mktemp("scale-decision")
    keys = init_keys(root / "keys").folder
    frame = _frame()
    (root / "lake").mkdir()
    for k, idx in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[idx].to_parquet(root / "lake" / f"part-{k}.parquet", index=False)
    frame.iloc[:1500].to_parquet(root / "reference.parquet", index=False)
    con = duckdb.connect(str(root / "lake.duckdb"))
    con.execute(f"CREATE TABLE scores AS SELECT * FROM read_parquet('{root / 'lake' / '*.parquet'}')")
    con.close()
    # the candidate's registry version: recorded (hashed) beside its precomputed scores, so it can be promoted
    registry_uri = f"sqlite:///{root}/mlflow.db"
    registry = Registry(registry_uri)
    versions = {}
    for role, c in (("baseline", 0.1), ("candidate", 1.0)):
        folder = root / "register" / role
        folder.mkdir(parents=True)
        sio.dump(LogisticRegression(C=c).fit(frame[["x0", "x1"]], frame["y"]), folder / "model.skops")
        versions[role] = registry.register_folder(MODEL, folder, artifact_root=root / "mlartifacts").version
    registry.set_alias(MODEL, "champion", versions["baseline"])
    registry.set_alias(MODEL, "challenger", versions["candidate"])
    (root / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    doc = {"name": "scale review", "task": "binary", "target": "y", "positive_label": 1,
           "candidate": {"uri": f"models:/{MODEL}@challenger", "predictions": "sc", "name": "cand", "version": "2"},
           "baseline": {"uri": f"models:/{MODEL}@champion", "predictions": "sb", "name": "base", "version": "1"},
           "data": {"evaluation": "lake/part-*.parquet", "reference": "reference.parquet"},
           "features": ["x0", "x1"], "sensitive_features": ["sex"], "id_column": "id",
           "policy": "policy.yaml", "registry_uri": registry_uri, "settings": {"n_bootstrap": 30, "seed": 1}}
    manifest = root / "review.yaml"
    manifest.write_text(yaml.safe_dump(doc))
    table_manifest = root / "table.yaml"
    table_manifest.write_text(yaml.safe_dump({**doc, "name": "table review", "data": {
        "evaluation": "lake.duckdb", "reference": "reference.parquet"}}))
    db = root / "workbench.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_KEYS", str(keys))  # the store is keyed from its first entry, as on a prepared server
        with Store.open(db) as store:
            for name, role in (("sam", "security"), ("olivia", "operations"), ("gov", "data_governance"),
                               ("leg", "legal"), ("pat", "product_owner")):
                store.add_user(name, [role], password=PASSWORDS[name], actor="test")
        mp.setattr("sys.stdin", io.StringIO(PASSWORDS["gov"] + "\n"))
        assert main(["policy", "register", str(root / "policy.yaml"), "--model", "cand", "--db", str(db),
                     "--as", "gov", "--password-stdin"]) == 0
    return ScaleCase(root, manifest, table_manifest, db, keys, registry_uri)


@pytest.fixture(autouse=True)
def server_key(case: ScaleCase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_KEYS", str(case.keys))


def test_review_records_what_the_engine_read_and_signs_it(case, capsys):
    out = case.root / "evidence.json"
    assert main(["review", str(case.manifest), "--out", str(out), "--engine", "duckdb"]) == 0
    ev = json.loads(out.read_text())
    assert ev["engine"] == "duckdb" and ev["signature"]["algorithm"] == "Ed25519"  # signed like any other
    files = [a for a in ev["artefacts"] if a["role"] == "evaluation"]
    assert [(a["path"], a["rows"]) for a in files] == [(f"lake/part-{k}.parquet", 1000) for k in range(3)]
    assert all(a["schema_fingerprint"] and len(a["sha256"]) == 64 for a in files)
    assert {a["role"] for a in ev["artefacts"]} >= {"reference", "candidate", "policy"}  # the registry version too
    assert ev["sample"]["rows"] == 3000 and ev["sample"]["of"] == 3000 and ev["sample"]["seed"] == 1
    assert ev["sections"]["slices"]["status"] == "ok" and ev["sections"]["slices"]["sample_rows"] == 3000
    assert ev["models"]["candidate"]["slices"]
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    jsonschema.validate(ev, schema)  # the same published schema as the in-memory evidence


def test_a_file_changed_while_the_engine_reads_it_is_refused(case, monkeypatch, capsys):
    """The lineage is hashed while the engine scans; a file whose size or mtime moved meanwhile is named."""
    import os

    import workbench.engine as engine

    part = case.root / "lake" / "part-1.parquet"
    real = engine.build_evidence_at_scale

    def touching(*args, **kwargs):
        ev = real(*args, **kwargs)
        st = part.stat()
        os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # rewritten in place, as far as stat sees
        return ev

    monkeypatch.setattr(engine, "build_evidence_at_scale", touching)
    out = case.root / "evidence-touched.json"
    assert main(["review", str(case.manifest), "--out", str(out), "--engine", "duckdb"]) == 2
    assert _errors(capsys) == ["workbench: error: review.yaml: data.evaluation part-1.parquet changed while the "
                               "review read it; re-run workbench review"]
    assert not out.exists()


def test_an_evaluation_glob_without_rows_is_refused_in_one_line(case, tmp_path, capsys):
    """Zero rows (an empty Parquet file): exit 2 naming the manifest and the input, no traceback, no file."""
    (tmp_path / "lake").mkdir()
    _frame().iloc[:0].to_parquet(tmp_path / "lake" / "part-0.parquet", index=False)
    shutil.copy(case.root / "reference.parquet", tmp_path / "reference.parquet")
    shutil.copy(case.root / "policy.yaml", tmp_path / "policy.yaml")
    shutil.copy(case.manifest, tmp_path / "review.yaml")
    out = tmp_path / "evidence.json"
    assert main(["review", str(tmp_path / "review.yaml"), "--out", str(out), "--engine", "duckdb"]) == 2
    assert _errors(capsys) == ["workbench: error: review.yaml: data.evaluation lake/part-*.parquet: no rows to review"]
    assert not out.exists()


def test_gate_decides_on_scale_evidence_and_stores_it(case, capsys):
    out = case.root / "evidence.json"
    code = main(["gate", str(case.manifest), "--db", str(case.db), "--evidence", str(out), "--at", AT])
    captured = capsys.readouterr()
    text = captured.out
    assert code == 1, captured.err  # the ECE criterion fails and nothing is waived yet
    rows = {line.split()[2]: line.split()[:2] for line in text.splitlines()[2:] if len(line.split()) > 2}
    assert rows["ece"] == ["FAIL", "blocking"] and rows["auc-floor"] == ["PASS", "blocking"]
    ev = json.loads(out.read_text())
    with Store.open(case.db, create=False) as store:
        (review,) = [r for r in store.list_reviews() if r.name == "scale review"]
        assert store.evidence_by_digest(review.review_id, ev["evidence_digest"]) is not None


def test_signoff_waiver_and_countersign_bind_to_the_scale_lineage(case, monkeypatch, capsys):
    base = [str(case.manifest)]
    assert cli(monkeypatch, case, ["waive", *base, "--role", "data_governance", "--criterion", "ece",
                                   "--rationale", "calibrated downstream", "--expires", "2027-01-31"], user="gov") == 0
    assert cli(monkeypatch, case, ["countersign", *base, "--role", "legal", "--waiver", "1"], user="leg") == 0
    assert cli(monkeypatch, case, ["signoff", *base, "--role", "security", "--verdict", "approve",
                                   "--comment", "read the scale evidence"], user="sam") == 0
    capsys.readouterr()
    code = main(["gate", str(case.manifest), "--db", str(case.db), "--evidence",
                 str(case.root / "evidence.json"), "--at", AT])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "WAIVED" in text and "security fresh" in text


def test_report_and_verify_manifest(case, monkeypatch, capsys):
    from pypdf import PdfReader

    packet = case.root / "packet.pdf"
    assert cli(monkeypatch, case, ["report", str(case.manifest), "--out", str(packet), "--keys", str(case.keys)],
               user="pat") == 0
    capsys.readouterr()
    assert main(["verify", str(packet), "--keys", str(case.keys), "--manifest", str(case.manifest)]) == 0
    assert "evidence digest re-derived" in capsys.readouterr().out
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(packet).pages)
    assert "seeded sample of 3,000 rows" in text, text[:2000]


def test_a_parquet_file_replaced_or_added_after_the_review_is_refused(case, capsys):
    lake = case.root / "lake"
    saved = (lake / "part-1.parquet").read_bytes()
    gate = ["gate", str(case.manifest), "--no-db", "--evidence", str(case.root / "evidence.json")]
    try:
        frame = pd.read_parquet(lake / "part-1.parquet")
        frame.loc[frame.index[0], "sc"] = 0.999  # one score edited
        frame.to_parquet(lake / "part-1.parquet", index=False)
        assert main(gate) == 2
        err = _errors(capsys)
        assert len(err) == 1 and "lake/part-1.parquet changed since the review" in err[0], err
        (lake / "part-1.parquet").write_bytes(saved)
        shutil.copy(lake / "part-0.parquet", lake / "part-3.parquet")
        assert main(gate) == 2
        err = _errors(capsys)
        assert len(err) == 1 and "lake/part-3.parquet was added after the review (1000 rows)" in err[0], err
        # and a signed packet no longer re-derives from the artefacts
        assert main(["verify", str(case.root / "packet.pdf"), "--keys", str(case.keys), "--manifest",
                     str(case.manifest)]) == 1
    finally:
        (lake / "part-1.parquet").write_bytes(saved)
        (lake / "part-3.parquet").unlink(missing_ok=True)
    assert main(gate) == 1  # accepted again: NO-GO only because, without the store, the ECE waiver is not counted


def test_a_duckdb_table_is_bound_by_its_content_and_an_edit_is_refused(case, capsys):
    import duckdb

    out = case.root / "table.json"
    assert main(["review", str(case.table_manifest), "--out", str(out)]) == 0  # a database: auto is DuckDB
    ev = json.loads(out.read_text())
    (rec,) = [a for a in ev["artefacts"] if a["role"] == "evaluation"]
    assert rec["path"] == "lake.duckdb#scores" and rec["rows"] == 3000 and rec["format"] == "duckdb_table"
    gate = ["gate", str(case.table_manifest), "--no-db", "--evidence", str(out)]
    assert main(gate) == 1  # accepted: decided (NO-GO on the ECE criterion, no waiver without the store)
    capsys.readouterr()
    con = duckdb.connect(str(case.root / "lake.duckdb"))
    con.execute("UPDATE scores SET y = 1 - y WHERE id = 17")
    con.close()
    try:
        assert main(gate) == 2
        err = _errors(capsys)
        assert len(err) == 1 and "evaluation lake.duckdb#scores changed since the review" in err[0], err
    finally:
        con = duckdb.connect(str(case.root / "lake.duckdb"))
        con.execute("UPDATE scores SET y = 1 - y WHERE id = 17")
        con.close()
    assert main(gate) == 1  # restored content: the same digest, whatever the bytes of the file


def test_promote_moves_the_alias_of_the_reviewed_version(case, monkeypatch, capsys):
    from workbench.registry import Registry

    code = cli(monkeypatch, case, ["promote", str(case.manifest), "--keys", str(case.keys)], user="olivia")
    out = capsys.readouterr().out
    assert code == 0, out
    assert Registry(case.registry_uri).aliases(MODEL)["champion"] == "2"
