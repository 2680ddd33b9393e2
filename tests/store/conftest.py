"""Fixtures shared by the store tests: a fresh SQLite store file per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.store import Store


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "w.db") as s:
        yield s
