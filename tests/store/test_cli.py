"""`workbench users …` and `workbench audit …` through the real CLI entry point."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.cli._users import DEMO_USERS, demo_password
from workbench.store import Store


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str],
         stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))  # not a TTY: nothing may prompt
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _as_admin(monkeypatch: pytest.MonkeyPatch, db: str | Path) -> None:
    """A store with an admin, whose credentials the following commands use (as a script would)."""
    with Store.open(db) as store:
        if store.get_user("root") is None:
            store.add_user("root", ["admin"], password="root-secret-1", actor="test")
    monkeypatch.setenv("WORKBENCH_USER", "root")
    monkeypatch.setenv("WORKBENCH_PASSWORD", "root-secret-1")


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WORKBENCH_USER", "WORKBENCH_PASSWORD", "WORKBENCH_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def test_users_add_reads_one_line_from_stdin(tmp_path: Path, monkeypatch, capsys) -> None:
    db = str(tmp_path / "w.db")
    code, out, _ = _run(monkeypatch, capsys, ["users", "add", "first", "--role", "admin", "--password-stdin",
                                              "--db", db], stdin="first-pass-1\n")
    assert code == 0  # the first admin of an empty store needs no credentials
    monkeypatch.setenv("WORKBENCH_USER", "first")
    monkeypatch.setenv("WORKBENCH_PASSWORD", "first-pass-1")
    code, out, _ = _run(monkeypatch, capsys, ["users", "add", "dave", "--role", "security", "--role", "legal",
                                              "--password-stdin", "--db", db], stdin="s3cret-pass\nignored\n")
    assert code == 0 and "dave (legal, security)" in out
    with Store.open(db) as store:
        assert store.authenticate("dave", "s3cret-pass").roles == ("legal", "security")
        first, dave = store.audit_entries(action="user_added")
        assert first.actor.startswith("cli:") and dave.actor == "first"


def test_users_add_without_a_terminal_needs_password_stdin(tmp_path: Path, monkeypatch, capsys) -> None:
    db = tmp_path / "w.db"
    _as_admin(monkeypatch, db)
    code, _, err = _run(monkeypatch, capsys, ["users", "add", "dave", "--role", "security", "--db", str(db)])
    assert code == 2 and "--password-stdin" in err and len(err.strip().splitlines()) == 1
    code, out, _ = _run(monkeypatch, capsys, ["users", "add", "dave", "--role", "security", "--no-password",
                                              "--db", str(db)])
    assert code == 0 and "cannot log in" in out


def test_users_add_bad_role_and_duplicate_are_one_line_errors(tmp_path: Path, monkeypatch, capsys) -> None:
    db = str(tmp_path / "w.db")
    _as_admin(monkeypatch, db)
    with pytest.raises(SystemExit) as exc:
        _run(monkeypatch, capsys, ["users", "add", "x", "--role", "boss", "--db", db])
    assert exc.value.code == 2
    capsys.readouterr()
    args = ["users", "add", "x", "--role", "legal", "--password-stdin", "--db", db]
    assert _run(monkeypatch, capsys, args, stdin="password-1\n")[0] == 0
    code, _, err = _run(monkeypatch, capsys, args, stdin="password-1\n")
    assert code == 2 and "already exists" in err


def test_users_demo_is_idempotent_and_labelled_demo_only(tmp_path: Path, monkeypatch, capsys) -> None:
    db = str(tmp_path / "w.db")
    code, out, _ = _run(monkeypatch, capsys, ["users", "demo", "--db", db])
    assert code == 0 and "DEMO ONLY" in out and out.count("[created]") == len(DEMO_USERS)
    code, out, _ = _run(monkeypatch, capsys, ["users", "demo", "--db", db])
    assert code == 0 and out.count("[exists]") == len(DEMO_USERS)
    with Store.open(db) as store:
        assert store.is_demo and store.audit_count() == len(DEMO_USERS) + 1  # + store_marked_demo
        by_role = store.users_by_role()
        assert all(by_role[role] for role in by_role)  # one demo user per role
        assert store.authenticate("alice", demo_password("alice")).roles == ("product_owner",)


def test_users_list_and_disable(tmp_path: Path, monkeypatch, capsys) -> None:
    db = str(tmp_path / "w.db")
    _as_admin(monkeypatch, db)
    _run(monkeypatch, capsys, ["users", "add", "ann", "--role", "legal", "--no-password", "--db", db])
    assert _run(monkeypatch, capsys, ["users", "disable", "ann", "--db", db])[0] == 0
    code, out, _ = _run(monkeypatch, capsys, ["users", "list", "--db", db])
    assert code == 0 and "ann" in out and "disabled" in out
    code, _, err = _run(monkeypatch, capsys, ["users", "disable", "zed", "--db", db])
    assert code == 2 and "'zed' does not exist" in err


def test_db_from_environment_and_missing_store(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "env.db"))
    assert _run(monkeypatch, capsys, ["users", "add", "ann", "--role", "admin", "--no-password"])[0] == 0
    assert (tmp_path / "env.db").exists()
    code, out, _ = _run(monkeypatch, capsys, ["audit", "verify", "--json"])
    assert code == 0 and '"ok": true' in out
    code, _, err = _run(monkeypatch, capsys, ["audit", "verify", "--db", str(tmp_path / "none.db")])
    assert code == 2 and "no review store" in err and not (tmp_path / "none.db").exists()


def test_every_command_has_help(capsys) -> None:
    for argv in (["users", "--help"], ["users", "add", "--help"], ["users", "demo", "--help"],
                 ["audit", "--help"], ["audit", "verify", "--help"], ["audit", "log", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out
