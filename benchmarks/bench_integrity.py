"""Cost of binding the record to the chain: `audit verify` on 100k audited rows, sign-off writes.

Run: ``.venv/bin/python benchmarks/bench_integrity.py [--rows 100000] [--writes 1000]``

Figures printed:
- the sign-off write path (authorise, insert, row hash, chained audit entry, HMAC; each its own
  ``BEGIN IMMEDIATE``) in ms per write, with a server key and without one;
- ``Store.verify_integrity`` (chain, every entry's MAC, checkpoints, every bound row re-hashed)
  and the plain chain check ``verify_audit`` on a store holding ``--rows`` audited sign-offs
  (filled in batches of 1,000 writes per transaction: the same code path, fewer commits).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.serverkey import ServerKey  # noqa: E402
from workbench.store import Store  # noqa: E402


def _prepare(path: Path, key: ServerKey | None) -> tuple[Store, object, str]:
    store = Store.open(path, key=key)
    user = store.add_user("sam", ["security"], password="sam-secret-1", actor="bench")
    rid = store.upsert_review("bench", manifest_path="review.yaml", evidence_digest="e" * 64, actor="bench")
    return store, user, rid


def _sign(store: Store, user: object, rid: str, i: int) -> None:
    store.sign_off(rid, user, "security", verdict="approve", comment=f"ok {i}", evidence_digest="e" * 64,
                   policy_digest="p" * 64)


def write_cost(folder: Path, writes: int, key: ServerKey | None) -> float:
    store, user, rid = _prepare(folder / f"w-{'keyed' if key else 'plain'}.db", key)
    started = time.perf_counter()
    for i in range(writes):
        _sign(store, user, rid, i)
    elapsed = time.perf_counter() - started
    store.close()
    return 1000 * elapsed / writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="audited sign-offs in the verified store")
    parser.add_argument("--writes", type=int, default=1_000, help="single-transaction sign-offs timed")
    args = parser.parse_args()
    key = ServerKey.generate()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"sign-off write, keyed (hash + HMAC):   {write_cost(folder, args.writes, key):6.2f} ms/write")
        print(f"sign-off write, no server key:        {write_cost(folder, args.writes, None):6.2f} ms/write")

        store, user, rid = _prepare(folder / "big.db", key)
        started = time.perf_counter()
        done = 0
        while done < args.rows:
            with store.transaction():
                for _ in range(min(1000, args.rows - done)):
                    _sign(store, user, rid, done)
                    done += 1
        print(f"filled {args.rows:,} audited sign-offs in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        chain = store.verify_audit()
        print(f"verify_audit (chain only), {chain.checked:,} entries:       {time.perf_counter() - started:.2f} s")
        started, cpu = time.perf_counter(), time.process_time()
        report = store.verify_integrity()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.ok, report.message
        print(f"verify_integrity, {report.entries:,} entries, {report.rows:,} rows: {elapsed:.2f} s wall, "
              f"{cpu:.2f} s CPU")
        store.close()


if __name__ == "__main__":
    main()
