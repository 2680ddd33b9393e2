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
