"""A writable copy of the session's demo scenario with lighter review settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml


def copy_demo(demo_dir: Path, dest: Path, **settings: object) -> Path:
    """Copy the demo to ``dest``, override ``settings`` in its manifest; return the manifest path.

    Tests use a small ``n_bootstrap`` (and fewer ``latency_calls``) so a full review takes seconds.
    """
    shutil.copytree(demo_dir, dest)
    manifest = dest / "review.yaml"
    raw = yaml.safe_load(manifest.read_text())
    raw["settings"].update(settings)
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    return manifest
