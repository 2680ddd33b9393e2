"""Fixtures shared by the store tests: a fresh store per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.store import Store


@pytest.fixture
def store(store_location: Path | str):
    with Store.open(store_location) as s:
        yield s
