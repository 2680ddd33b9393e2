"""Uploaded reviews are staged safely and then load through the normal secure loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._small_review import write_small_review
from workbench.artefacts import load_review
from workbench.errors import ManifestError
from workbench.artefacts import safe_name, stage_upload


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "review.yaml"}


def test_uploaded_review_is_rewritten_and_loads(tmp_path: Path) -> None:
    manifest = write_small_review(tmp_path / "src")
    staged = stage_upload("review.yaml", manifest.read_bytes(), _files(manifest.parent), root=tmp_path / "up")
    data = load_review(staged)
    original = load_review(manifest)
    assert data.evidence_digest == original.evidence_digest  # same bytes, same lineage


def test_missing_uploads_are_listed_together(tmp_path: Path) -> None:
    manifest = write_small_review(tmp_path / "src")
    files = _files(manifest.parent)
    del files["candidate.skops"], files["reference.csv"]
    with pytest.raises(ManifestError, match=r"candidate\.path \(models/candidate\.skops\), data\.reference"):
        stage_upload("review.yaml", manifest.read_bytes(), files, root=tmp_path / "up")


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\x\\passwd", "/abs/passwd"])
def test_upload_names_cannot_escape_the_folder(name: str) -> None:
    assert safe_name(name) == "passwd"


def test_untrusted_manifest_cannot_name_files_outside_its_folder(tmp_path: Path) -> None:
    import yaml

    manifest = write_small_review(tmp_path / "src")
    outside = tmp_path / "secret.csv"
    outside.write_text("password\nhunter2\n")
    raw = yaml.safe_load(manifest.read_text())
    raw["data"]["reference"] = "../secret.csv"
    manifest.write_text(yaml.safe_dump(raw))
    with pytest.raises(ManifestError, match=r"outside the review's folder are not accepted here: data\.reference \(\.\./secret\.csv\)"):
        load_review(manifest, untrusted=True)


def test_typed_paths_are_confined_to_the_review_roots(tmp_path: Path, monkeypatch) -> None:
    from workbench.artefacts import check_server_path

    (tmp_path / "reviews" / "r1").mkdir(parents=True)
    monkeypatch.setenv("WORKBENCH_REVIEW_ROOTS", str(tmp_path / "reviews"))
    assert check_server_path(str(tmp_path / "reviews" / "r1" / "review.yaml")) == (tmp_path / "reviews" / "r1" / "review.yaml").resolve()
    with pytest.raises(ManifestError, match="reviews can be opened only from"):
        check_server_path(str(tmp_path / "reviews" / ".." / "elsewhere" / "review.yaml"))
