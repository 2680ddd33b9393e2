"""Hostile input, each attack scripted: YAML bombs, garbage models, malformed values, control characters.

Every refusal is checked for what the user sees (one line naming the file, field or row) and,
in the CLI, for exit code 2 — exit 1 means NO-GO to a pipeline and must never come from a crash.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests._small_review import write_small_review
from workbench.cli import main
from workbench.errors import ArtefactError, DataError, ManifestError, PolicyError, QuestionnaireError
from workbench.yamlio import MAX_BYTES, parse_yaml, read_yaml

ROOT = Path(__file__).resolve().parents[1]


def _bomb(levels: int = 9, width: int = 9, *, key: str = "criteria") -> str:
    """Nested aliases: ``width ** levels`` leaves from a few hundred bytes ("billion laughs")."""
    names = "abcdefghijklmnop"
    lines = [f"{names[0]}: &{names[0]} [{','.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * width)}]")
    lines.append(f"{key}: *{names[levels - 1]}")
    return "\n".join(lines) + "\n"


POLICY_BOMB = _bomb(9, 9)  # 9^9 = 387M leaves; the was 339 bytes
MANIFEST_BOMB = "name: &n review\ntask: binary\ntarget: y\n" + _bomb(10, 8, key="features")  # 8^10 = 1.07G


def test_the_bombs_are_small_and_really_explode() -> None:
    assert len(POLICY_BOMB.encode()) <= 400 and len(MANIFEST_BOMB.encode()) <= 450
    small = _bomb(3, 3)  # the same shape, small enough to expand: PyYAML does expand it
    assert len(yaml.safe_load(small)["criteria"]) == 3 and len(yaml.safe_load(small)["criteria"][0][0]) == 3


@pytest.mark.parametrize("text", [POLICY_BOMB, MANIFEST_BOMB], ids=["policy-bomb", "manifest-bomb"])
def test_alias_bombs_are_refused_fast_and_small(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(PolicyError, match="refused as an alias bomb") as err:
        read_yaml(path, label="bomb.yaml", error=PolicyError)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 100 * 2**20, (elapsed, peak)
    assert str(err.value).startswith("bomb.yaml: ") and "\n" not in str(err.value)


def test_a_policy_bomb_through_the_cli_is_exit_2_and_one_line(tmp_path: Path) -> None:
    manifest = write_small_review(tmp_path / "r", extra={"policy": "policy.yaml"})
    (tmp_path / "r" / "policy.yaml").write_text(POLICY_BOMB)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "gate", str(manifest), "--no-db"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("workbench:")]  # the rest is progress
    assert len(lines) == 1 and "policy.yaml" in lines[0] and "alias bomb" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.perf_counter() - start < 60  # the whole process, model loading included


def test_a_manifest_bomb_through_the_cli_is_exit_2_and_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "review.yaml"
    path.write_text(MANIFEST_BOMB)
    assert main(["review", str(path), "--out", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workbench: error: review.yaml: ") and "alias bomb" in err[0]


@pytest.mark.parametrize("text, message", [
    ("a: &a [1, *a]\n", "refers to the node that contains it"),
    ("x: " + "[" * 200 + "]" * 200 + "\n", "nested more than"),
    ("x: " + "1" * 5000 + "\n", "a value cannot be read"),
    ("when: 2024-13-45\n", "a value cannot be read"),
    ("a: [1\n", "not valid YAML at line"),
], ids=["recursive", "deep", "huge-int", "bad-date", "syntax"])
def test_other_hostile_yaml_is_one_named_error(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as err:
        parse_yaml(text, label="x.yaml", error=ManifestError)
    assert str(err.value).startswith("x.yaml: ")


def test_oversized_documents_are_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.write(b"a: '" + b"x" * (MAX_BYTES + 10) + b"'\n")
    with pytest.raises(ManifestError, match="larger than"):
        read_yaml(big, error=ManifestError)
    with pytest.raises(ManifestError, match="larger than"):
        read_yaml(Path("/dev/zero"), label="zero", error=ManifestError)  # reads at most MAX_BYTES + 1
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse_yaml(b"a: \xff\xfe", label="x.yaml", error=ManifestError)


def test_legitimate_anchors_still_work() -> None:
    text = "base: &b {min: 0.7, severity: blocking}\nc1: {<<: *b, metric: roc_auc}\nc2: *b\n"
    assert parse_yaml(text, label="p.yaml", error=PolicyError) == yaml.safe_load(text)


def test_every_user_yaml_goes_through_the_reader(tmp_path: Path) -> None:
    """Policy, manifest, model card, questionnaire template and answers, uploads: each refuses the bomb."""
    from workbench.artefacts import load_manifest, stage_upload
    from workbench.governance import load_model_card
    from workbench.policy import load_policy
    from workbench.questionnaires import import_responses, load_templates

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(POLICY_BOMB)
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "t.yaml").write_text(POLICY_BOMB)
    for call, error in [(lambda: load_policy(bomb), PolicyError), (lambda: load_manifest(bomb), ManifestError),
                        (lambda: load_model_card(bomb), ManifestError),
                        (lambda: load_templates([tdir], include_builtin=False), QuestionnaireError),
                        (lambda: import_responses(None, bomb, review_id="r", reviewer="x", templates={}),
                         QuestionnaireError),
                        (lambda: stage_upload("review.yaml", MANIFEST_BOMB.encode(), {}, root=tmp_path / "up"),
                         ManifestError)]:
        with pytest.raises(error, match="alias bomb"):
            call()
    sources = [p for p in (ROOT / "workbench").rglob("*.py") if p.name != "yamlio.py"]
    sources += list((ROOT / "pages").glob("*.py")) + list((ROOT / "workbench_ui").rglob("*.py")) + [ROOT / "app.py"]
    loaders = [str(p.relative_to(ROOT)) for p in sources
               if any(s in p.read_text() for s in ("yaml.safe_load", "yaml.load(", "yaml.full_load", "yaml.unsafe_load"))]
    assert loaders == [], "YAML read outside workbench.yamlio"


# ----------------------------------------------------------------- models and malformed values


def _cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    """Exit code and the error lines (stderr also carries progress lines, which are not errors)."""
    code = main(argv)
    err = capsys.readouterr().err.splitlines()
    return code, [line for line in err if line.startswith("workbench:") or line.startswith("Traceback")]


def test_a_garbage_onnx_file_is_exit_2_and_one_line(tmp_path: Path, capsys) -> None:
    manifest = write_small_review(tmp_path)
    (tmp_path / "models" / "candidate.onnx").write_bytes(b"\x08\x07garbage, not a protobuf" * 20)
    raw = yaml.safe_load(manifest.read_text())
    raw["candidate"] = {"path": "models/candidate.onnx", "name": "x", "version": "1"}
    manifest.write_text(yaml.safe_dump(raw))
    code, err = _cli(["review", str(manifest), "--out", str(tmp_path / "e.json")], capsys)
    assert code == 2 and len(err) == 1, err
    assert "candidate.path" in err[0] and "not a loadable ONNX model" in err[0]


def test_a_corrupt_skops_file_is_exit_2_and_one_line(tmp_path: Path, capsys) -> None:
    manifest = write_small_review(tmp_path)
    path = tmp_path / "models" / "candidate.skops"
    path.write_bytes(path.read_bytes()[:300])  # truncated zip
    code, err = _cli(["review", str(manifest), "--out", str(tmp_path / "e.json")], capsys)
    assert code == 2 and len(err) == 1, err
    assert "candidate.path" in err[0] and "skops" in err[0]


@pytest.mark.parametrize("value", [[1, 0], {"a": 1}, float("nan")], ids=["list", "mapping", "nan"])
def test_a_non_scalar_positive_label_names_the_field(tmp_path: Path, capsys, value) -> None:
    manifest = write_small_review(tmp_path, extra={"positive_label": value})
    code, err = _cli(["gate", str(manifest), "--no-db"], capsys)
    assert code == 2 and len(err) == 1, err
    assert "positive_label" in err[0] and "review.yaml" in err[0]


def _precomputed(tmp_path: Path, scores: list[float]) -> Path:
    manifest = write_small_review(tmp_path, n=200)
    frame = pd.read_csv(tmp_path / "data" / "evaluation.csv")
    frame["cand_score"] = np.resize(np.asarray([0.2, 0.7]), len(frame))
    frame.loc[: len(scores) + 9, "cand_score"] = 0.5
    for i, s in enumerate(scores):
        frame.loc[10 + i, "cand_score"] = s
    frame.to_csv(tmp_path / "data" / "evaluation.csv", index=False)
    raw = yaml.safe_load(manifest.read_text())
    raw["candidate"] = {"predictions": "cand_score", "name": "scored", "version": "1"}
    raw.pop("baseline")
    manifest.write_text(yaml.safe_dump(raw))
    return manifest


@pytest.mark.parametrize("bad", [float("inf"), float("-inf")], ids=["inf", "-inf"])
def test_infinite_scores_name_the_row(tmp_path: Path, capsys, bad: float) -> None:
    manifest = _precomputed(tmp_path, [bad])
    code, err = _cli(["review", str(manifest), "--out", str(tmp_path / "e.json")], capsys)
    assert code == 2 and len(err) == 1, err
    assert "NaN or infinite" in err[0] and "row 11 (id 'r10')" in err[0]


@pytest.mark.parametrize("bad", [1.7, -0.2], ids=["above", "below"])
def test_probabilities_outside_0_1_name_the_row(bad: float) -> None:
    from workbench.artefacts import check_scores

    frame = pd.DataFrame({"row_id": ["r0", "r1", "r2"]})
    with pytest.raises(DataError, match=r"1 outside \[0, 1\] for a probability model, first at row 2 \(id 'r1'\)"):
        check_scores(np.array([0.2, bad, 0.4]), task="binary", role="candidate", frame=frame, id_column="row_id",
                     label="e.csv")
    # a precomputed score column may hold logits (the product measures what needs no probability)
    check_scores(np.array([0.2, bad, 0.4]), task="binary", role="candidate", frame=frame, id_column="row_id",
                 label="e.csv", probability=False)


def test_scores_check_covers_multiclass_rows() -> None:
    from workbench.artefacts import check_scores

    with pytest.raises(DataError, match=r"NaN or infinite, first at row 2"):
        check_scores(np.array([[0.5, 0.5], [np.nan, 1.0]]), task="multiclass", role="candidate",
                     frame=pd.DataFrame(index=range(2)), id_column=None, label="e.csv")
    check_scores(np.array([-3.0, 12.0]), task="regression", role="candidate", frame=pd.DataFrame(index=range(2)),
                 id_column=None, label="e.csv")  # a regression prediction is not a probability


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.assign(row_id=f["row_id"].where(f.index != 5, "r2")), "duplicate id(s), first 'r2' at rows 3 and 6"),
    (lambda f: f.assign(row_id=f["row_id"].where(f.index != 7, None)), "without an id, first at row 8"),
], ids=["duplicate", "missing"])
def test_duplicate_or_missing_ids_name_the_rows(tmp_path: Path, capsys, edit, message) -> None:
    manifest = write_small_review(tmp_path, n=200)
    path = tmp_path / "data" / "evaluation.csv"
    edit(pd.read_csv(path)).to_csv(path, index=False)
    code, err = _cli(["review", str(manifest), "--out", str(tmp_path / "e.json")], capsys)
    assert code == 2 and len(err) == 1, err
    assert "evaluation.csv" in err[0] and "id_column 'row_id'" in err[0] and message in err[0]


def test_an_unexpected_exception_is_still_exit_2_one_line(monkeypatch, capsys) -> None:
    import workbench.cli._demo as demo_cli

    def boom(args):
        raise RuntimeError("library failed\nwith a second line")

    monkeypatch.setattr(demo_cli, "_run", boom, raising=False)
    parser_fn = demo_cli.register

    def register(sub):
        parser_fn(sub)
        sub.choices["demo"].set_defaults(func=boom)

    monkeypatch.setattr(demo_cli, "register", register)
    code, err = _cli(["demo", "x"], capsys)
    assert code == 2 and len(err) == 1 and "unexpected RuntimeError: library failed with a second line" in err[0]


# ----------------------------------------------------------------- text, files, keys


def test_control_characters_are_escaped_in_the_audit_log_and_errors(tmp_path: Path, capsys) -> None:
    from workbench.store import Store

    db = tmp_path / "w.db"
    with Store.open(db) as store:
        store.audit("system", "note", "review\x1b[2J\r\nseq 99 forged", {"text": "\x1b]0;pwned\x07"})
    assert main(["audit", "log", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert len(out.strip().splitlines()) == 1 and "\\x1b[2J\\r\\nseq 99 forged" in out
    assert main(["audit", "log", "--db", str(db), "--json"]) == 0
    assert "\x1b" not in capsys.readouterr().out
    path = tmp_path / "evil\x1b[31m.yaml"
    path.write_text("a: [1\n")
    code, err = _cli(["review", str(path), "--out", str(tmp_path / "e.json")], capsys)
    assert code == 2 and "\x1b" not in "".join(err) and "evil\\x1b[31m.yaml" in err[0]


def test_free_text_is_length_limited_and_free_of_control_characters(tmp_path: Path) -> None:
    from workbench.store import Store
    from workbench.text import MAX_TEXT, TextError

    with Store.open(tmp_path / "w.db") as store:
        with pytest.raises(TextError, match="display_name: control character"):
            store.add_user("eve", ["admin"], password="a-long-password", display_name="Eve\x1b[8m", actor="cli")
        with pytest.raises(TextError, match="display_name: 121 characters"):
            store.add_user("eve", ["admin"], password="a-long-password", display_name="E" * 121, actor="cli")
        user = store.add_user("ann", ["product_owner"], password="a-long-password", actor="cli")
        rid = store.upsert_review("r", manifest_path="r.yaml", evidence_digest="e" * 64, actor="cli")
        with pytest.raises(TextError, match=f"comment: {MAX_TEXT + 1:,} characters"):
            store.sign_off(rid, user, "product_owner", verdict="approve", comment="x" * (MAX_TEXT + 1),
                           evidence_digest="e" * 64, policy_digest="p" * 64)


def test_the_store_file_is_created_owner_only(tmp_path: Path) -> None:
    from workbench.store import Store

    old = os.umask(0o022)
    try:
        with Store.open(tmp_path / "new" / "w.db") as store:
            store.audit("system", "x", "y", {})
    finally:
        os.umask(old)
    for p in (tmp_path / "new").iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def test_keys_init_refuses_a_folder_inside_a_git_work_tree(tmp_path: Path, capsys) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    code, err = _cli(["keys", "init", "--keys", str(repo / "keys")], capsys)
    assert code == 2 and len(err) == 1 and "inside the git work tree" in err[0]
    assert not (repo / "keys").exists()
    assert main(["keys", "init", "--keys", str(repo / "keys"), "--force"]) == 0
