"""Shared AppTest fixtures: the demo review copied with a small bootstrap, a real store and keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager

from tests._demo import copy_demo
from workbench.cli import main as cli


class _NavigationFirst(PagesManager):
    """AppTest re-detects the legacy `pages/` folder on every run and then runs a page file without app.py.

    A real server stops doing that after the first `st.navigation` call (which sets the class flag
    to False for the process); this does the same for AppTest, so every run goes through app.py's
    login gate and sidebar as in production.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture(autouse=True)
def _navigation_first(monkeypatch):
    from streamlit.testing.v1 import app_test

    monkeypatch.setattr(app_test, "PagesManager", _NavigationFirst)


@pytest.fixture(scope="session")
def env(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("app")
    demo = root / "demo"
    copy_demo(demo_dir, demo, n_bootstrap=50)
    db, keys = root / "workbench.db", root / "keys"
    # As `make run`: the server key first, so every audit entry of the store is MACed with it.
    assert cli(["keys", "init", "--keys", str(keys)]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_KEYS", str(keys))
        assert cli(["users", "demo", "--db", str(db)]) == 0
    return {"root": root, "demo": demo, "db": db, "keys": keys}


@pytest.fixture(autouse=True)
def _environment(env, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", str(env["db"]))
    monkeypatch.setenv("WORKBENCH_KEYS", str(env["keys"]))
    monkeypatch.setenv("WORKBENCH_DEMO_DIR", str(env["demo"]))
    monkeypatch.setenv("WORKBENCH_UPLOADS", str(env["root"] / "uploads"))
    monkeypatch.setenv("WORKBENCH_EXPLAIN_ROWS", "20")
