"""A real PostgreSQL server for the store's tests and benchmark.

``WORKBENCH_TEST_PG`` (a URL of a role allowed to ``CREATE DATABASE``) when set; otherwise a
throwaway cluster started from Debian's ``postgresql`` packages (``initdb`` + ``pg_ctl`` under
``/usr/lib/postgresql/*/bin``) in a temporary folder, listening on 127.0.0.1 only, with
password (scram) logins over TCP, stopped and deleted by :meth:`PgServer.stop`. PostgreSQL
refuses to run as root, so as root the binaries run as the ``postgres`` user (``runuser``).

Each test gets its own database, created from a template that already holds the migrated
schema (``CREATE DATABASE ... TEMPLATE``: a few milliseconds).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PASSWORD = "wb-test-" + secrets.token_hex(8)
TEMPLATE = "wb_template"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A PostgreSQL server the tests may create databases on."""

    def __init__(self, admin_url: str, *, folder: Path | None = None, bin_dir: Path | None = None) -> None:
        self.admin_url = admin_url
        self._folder = folder
        self._bin = bin_dir
        self._count = 0
        self._created: list[str] = []

    # ------------------------------------------------------------------ start / stop
    @classmethod
    def start(cls, *, durable: bool = False) -> PgServer:
        """``WORKBENCH_TEST_PG`` or a new throwaway cluster (``durable``: keep fsync and full-page
        writes on, for benchmarks)."""
        url = os.environ.get("WORKBENCH_TEST_PG")
        server = cls(url) if url else cls._start_cluster(durable=durable)
        server._make_template()
        return server

    @classmethod
    def _start_cluster(cls, *, durable: bool) -> PgServer:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL tests need a server: set WORKBENCH_TEST_PG=postgresql://... or install "
                               "Debian's postgresql package (initdb, pg_ctl); .ci/run does")
        folder = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        folder.chmod(0o755)  # the postgres user must reach its data folder
        (folder / "pw").write_text(PASSWORD)
        (folder / "pw").chmod(0o644)
        as_postgres = os.geteuid() == 0
        if as_postgres:
            shutil.chown(folder, "postgres")
        server = cls("", folder=folder, bin_dir=bin_dir)
        port = _free_port()
        server._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "-E", "UTF8", "--locale=C",
                    "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={folder / 'pw'}", "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=60"
        # A commit does not wait for its WAL flush (an OS crash may lose the last commits, never corrupt):
        # SQLite's WAL with synchronous=NORMAL promises the same. Tests also skip fsync altogether.
        options += " -c synchronous_commit=off"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        server._run("pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"), "-w", "start")
        server.admin_url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
        return server

    def _run(self, tool: str, *args: str) -> None:
        assert self._bin is not None
        command = [str(self._bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        """Stop the throwaway cluster and delete it (databases made on WORKBENCH_TEST_PG are dropped)."""
        if self._folder is None:
            for name in [*self._created, TEMPLATE]:
                self._admin(f'DROP DATABASE IF EXISTS "{name}"')
            return
        try:
            self._run("pg_ctl", "-D", str(self._folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)

    # ------------------------------------------------------------------ databases
    def url(self, dbname: str, *, password: str | None = None) -> str:
        """The URL of ``dbname`` on this server (``password`` replaces the real one)."""
        import psycopg.conninfo

        parts = psycopg.conninfo.conninfo_to_dict(self.admin_url)
        user, host, port = parts.get("user", "postgres"), parts.get("host", "127.0.0.1"), parts.get("port", "5432")
        secret = parts.get("password") if password is None else password
        auth = f"{user}:{secret}" if secret else str(user)
        return f"postgresql://{auth}@{host}:{port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def _make_template(self) -> None:
        from workbench.store import Store

        self._admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        self._admin(f'CREATE DATABASE "{TEMPLATE}"')
        Store.open(self.url(TEMPLATE), key=None).close()

    def fresh_database(self, *, migrated: bool = True) -> str:
        """A new, empty database (holding the current schema when ``migrated``); its URL."""
        self._count += 1
        name = f"wb_{os.getpid()}_{self._count}"
        template = f' TEMPLATE "{TEMPLATE}"' if migrated else ""
        self._admin(f'CREATE DATABASE "{name}"{template}')
        self._created.append(name)
        return self.url(name)
