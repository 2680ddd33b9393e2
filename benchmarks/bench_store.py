"""The review store on SQLite and on PostgreSQL: sign-off writes per second with 4 concurrent
writers, and `audit verify` rows per second.

Run: ``.venv/bin/python benchmarks/bench_store.py [--writes 500] [--verify-rows 20000]``

PostgreSQL is ``WORKBENCH_TEST_PG`` when set (a role allowed to CREATE DATABASE), else a
throwaway cluster from Debian's ``postgresql`` packages on 127.0.0.1 (``tests/_postgres.py``)
with fsync on and ``synchronous_commit=off`` (an OS crash may lose the last commits, never
corrupt: the same promise as SQLite's WAL with ``synchronous=NORMAL``).

Figures printed, per backend:
- 4 writer processes (each its own connection, as separate hosts would have), started together,
  each signing off ``--writes`` times as its own user (authorise, insert, row hash, chained audit
  entry, HMAC; one write transaction each): total sign-offs per second;
- ``audit verify`` (``Store.verify_integrity``: chain, every MAC, checkpoints, every bound row
  re-hashed) on a store of ``--verify-rows`` audited sign-offs: audit entries per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.serverkey import ServerKey  # noqa: E402
from workbench.store import Store  # noqa: E402

WRITERS = 4

_WRITER = textwrap.dedent(
    """
    import sys, time
    from workbench.serverkey import load_server_key
    from workbench.store import Store
    where, keys, review, name, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    with Store.open(where, key=load_server_key(keys)) as store:
        user = store.require_user(name)
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(n):
            store.sign_off(review, user, "security", verdict="approve", comment=f"ok {i}",
                           evidence_digest="e" * 64, policy_digest="p" * 64)
    """
)


def _key_folder(folder: Path) -> tuple[Path, ServerKey]:
    from workbench.report import init_keys
    from workbench.serverkey import load_server_key

    keys = folder / "keys"
    init_keys(keys)
    key = load_server_key(keys)
    assert key is not None
    return keys, key


def concurrent_signoffs(where: Path | str, keys: Path, key: ServerKey, n: int) -> float:
    with Store.open(where, key=key) as store:
        for w in range(WRITERS):
            store.add_user(f"w{w}", ["security"], actor="bench")
        review = store.upsert_review("bench", manifest_path="m", evidence_digest="e" * 64, actor="bench")
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(where), str(keys), review, f"w{w}", str(n)],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for w in range(WRITERS)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    for p in procs:
        p.communicate(timeout=1800)
        if p.returncode:
            raise SystemExit("a writer process failed")
    elapsed = time.perf_counter() - start
    with Store.open(where, key=key) as store:
        assert len(store.list_signoffs(review)) == WRITERS * n and store.verify_integrity().ok
    return WRITERS * n / elapsed


def verify_rate(where: Path | str, key: ServerKey, rows: int) -> tuple[float, float, int]:
    """(entries per wall second, per CPU second of this process, entries) of verify_integrity, best of 3."""
    with Store.open(where, key=key) as store:
        user = store.add_user("sam", ["security"], actor="bench")
        rid = store.upsert_review("verify", manifest_path="m", evidence_digest="e" * 64, actor="bench")
        for start in range(0, rows, 1000):
            with store.transaction():
                for i in range(start, min(rows, start + 1000)):
                    store.sign_off(rid, user, "security", verdict="approve", comment=f"ok {i}",
                                   evidence_digest="e" * 64, policy_digest="p" * 64)
        best, best_cpu = float("inf"), float("inf")
        for _ in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            report = store.verify_integrity()
            best, best_cpu = min(best, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
            assert report.ok, report.message
    return report.entries / best, report.entries / best_cpu, report.entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=500, help="sign-offs per writer process")
    parser.add_argument("--verify-rows", type=int, default=20_000, help="audited sign-offs in the verified store")
    args = parser.parse_args()
    from tests._postgres import PgServer

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    server = PgServer.start(durable=True)
    import psycopg

    with psycopg.connect(server.admin_url) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                    for name in ("server_version", "fsync", "synchronous_commit")}
    print("PostgreSQL " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            keys, key = _key_folder(folder)
            places: dict[str, tuple[Path | str, Path | str]] = {
                "sqlite": (folder / "writes.db", folder / "verify.db"),
                "postgresql": (server.fresh_database(), server.fresh_database()),
            }
            for name, (writes_at, verify_at) in places.items():
                rate = concurrent_signoffs(writes_at, keys, key, args.writes)
                print(f"{name:<10} : {rate:7.0f} sign-offs/s with {WRITERS} concurrent writer processes "
                      f"({args.writes} each); load {os.getloadavg()[0]:.2f}")
                wall, cpu, entries = verify_rate(verify_at, key, args.verify_rows)
                print(f"{name:<10} : audit verify {wall:9.0f} entries/s wall ({cpu:.0f}/CPU-s of the client) over "
                      f"{entries} entries and bound rows; load {os.getloadavg()[0]:.2f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
