"""Shared fixtures. The demo scenario is generated once per test session (it trains models)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (a failure is reproducible from the log); local runs
# keep exploring new examples, which is how the separated-data overflow was found.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def no_server_key_in_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the real ~/.workbench/keys: unless a test names a keys folder,
    WORKBENCH_KEYS is an empty one, as on a fresh machine. (A key left in HOME by one run made
    another run's stores keyed.)"""
    with pytest.MonkeyPatch.context() as mp:
        if "WORKBENCH_KEYS" not in os.environ:
            mp.setenv("WORKBENCH_KEYS", str(tmp_path_factory.mktemp("home-keys") / "none"))
        yield


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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A real PostgreSQL server: WORKBENCH_TEST_PG, else a throwaway cluster (about 2 s to start,
    once per session; ``tests/_postgres.py``)."""
    from tests._postgres import PgServer

    server = PgServer.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a new database of its own, already at the current schema."""
    return pg_server.fresh_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store test's store lives: a SQLite file, then a PostgreSQL database of its own
    (every store test that takes this fixture runs on both backends)."""
    if request.param == "sqlite":
        return tmp_path / "w.db"
    return request.getfixturevalue("pg_url")
