"""Shared fixtures. The demo scenario is generated once per test session (it trains models)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (a failure is reproducible from the log); local runs
# keep exploring new examples, which is how the separated-data overflow was found.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete demo review scenario written by `workbench demo` (read-only for tests)."""
    from workbench.demo import write_demo

    root = tmp_path_factory.mktemp("demo")
    write_demo(root / "scenario")
    return root / "scenario"


@pytest.fixture(scope="session")
def demo_manifest(demo_dir: Path) -> Path:
    return demo_dir / "review.yaml"
