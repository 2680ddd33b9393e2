"""Audited-write throughput and audit-chain verification time of the review store.

Run: ``.venv/bin/python benchmarks/bench_audit.py [--writes 3000] [--verify-entries 100000]``

Figures printed:
- single writer: audited state changes per second, each its own ``BEGIN IMMEDIATE``
  transaction (a decision row + one hash-chained audit row), and bare ``store.audit`` appends;
- two writer processes on one file, started together: total audited writes per second;
- ``verify_audit`` on a log of 100k entries (goal < 2 s), plus the time to append them in
  one transaction.
Goals (issue 4): >= 2,000 audited writes/s single writer; verify 100k entries in < 2 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.store._store import Store  # noqa: E402

_WRITER = textwrap.dedent(
    """
    import sys, time
    from workbench.store import Store
    path, review, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Store.open(path) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        t = time.perf_counter()
        for i in range(n):
            store.save_decision(review, {"outcome": "GO", "i": i}, actor="bench")
        print(time.perf_counter() - t, flush=True)
    """
)


def _rate(n: int, work) -> tuple[float, float]:
    """(per wall second, per CPU second of this process): the machine is shared, so both."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return n / (time.perf_counter() - wall), n / max(time.process_time() - cpu, 1e-9)


def single_writer(folder: Path, n: int) -> tuple[tuple[float, float], tuple[float, float]]:
    with Store.open(folder / "single.db") as store:
        review = store.upsert_review("bench", manifest_path="m", evidence_digest="e", actor="bench")

        def decisions() -> None:
            for i in range(n):
                store.save_decision(review, {"outcome": "GO", "i": i}, actor="bench")

        def bare() -> None:
            for i in range(n):
                store.audit("bench", "note", review, {"i": i})

        rates = _rate(n, decisions), _rate(n, bare)
        assert store.verify_audit().ok
    return rates


def two_writers(folder: Path, n: int) -> float:
    path = folder / "two.db"
    with Store.open(path) as store:
        review = store.upsert_review("bench", manifest_path="m", evidence_digest="e", actor="bench")
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), review, str(n)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        p.stdout.readline()  # type: ignore[union-attr]
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    for p in procs:
        p.communicate(timeout=600)
        if p.returncode:
            raise SystemExit("a writer process failed")
    elapsed = time.perf_counter() - start
    with Store.open(path) as store:
        assert store.audit_count() == 1 + 2 * n and store.verify_audit().ok
    return 2 * n / elapsed


def verify_time(folder: Path, n: int) -> tuple[float, float, float]:
    with Store.open(folder / "verify.db") as store:
        start = time.perf_counter()
        with store.transaction():
            for i in range(n):
                store.audit(f"user{i % 7}", "response_saved", f"review-{i % 13}",
                            {"i": i, "answers_digest": "ab" * 32, "version": i % 5})
        build = time.perf_counter() - start
        best, best_cpu = float("inf"), float("inf")
        for _ in range(3):
            start, cpu = time.perf_counter(), time.process_time()
            result = store.verify_audit()
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        assert result.ok and result.checked == n
    return build, best, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--verify-entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (dec_wall, dec_cpu), (bare_wall, bare_cpu) = single_writer(folder, args.writes)
        print(f"single writer : {dec_wall:8.0f} audited decisions/s wall ({dec_cpu:.0f}/CPU-s), "
              f"{bare_wall:.0f} bare audit appends/s wall ({bare_cpu:.0f}/CPU-s); "
              f"{args.writes} each, one transaction per write; goal >= 2000/s")
        both = two_writers(folder, args.writes)
        print(f"two processes : {both:8.0f} audited decisions/s in total ({args.writes} each, concurrently)")
        build, verify, verify_cpu = verify_time(folder, args.verify_entries)
        print(f"verify        : {verify:8.3f} s wall ({verify_cpu:.3f} s CPU) for {args.verify_entries} "
              "entries (best of 3; goal < 2 s); "
              f"appending them in one transaction took {build:.2f} s")


if __name__ == "__main__":
    main()
