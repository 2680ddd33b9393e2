"""Uploaded reviews are staged safely and then load through the normal secure loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._small_review import write_small_review
from workbench.artefacts import load_review
from workbench.errors import ManifestError
from workbench.uploads import safe_name, stage_upload


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
