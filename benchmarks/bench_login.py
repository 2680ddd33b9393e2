"""Sign-in time for a known user with a wrong password, an unknown user and a user without a
password (issue 15 item 4: the time must not tell who exists). Prints medians in ms.

    PYTHONPATH=. python benchmarks/bench_login.py [--rounds 15]

Throttling is cleared between attempts (an admin unlock), so every attempt runs the full check.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workbench.errors import PermissionDenied
from workbench.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "w.db") as store:
        store.add_user("carol", ["legal"], password="carol-secret-1", actor="bench")
        store.add_user("nopass", ["legal"], actor="bench")
        cases = {"known user, wrong password": ("carol", "wrong-password"),
                 "unknown user": ("ghost", "wrong-password"),
                 "user without a password": ("nopass", "wrong-password"),
                 "known user, right password": ("carol", "carol-secret-1")}
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.rounds):
            for label, (name, password) in cases.items():  # interleaved: drift hits every case alike
                t = time.perf_counter()
                try:
                    store.authenticate(name, password)
                except PermissionDenied:
                    pass
                times[label].append((time.perf_counter() - t) * 1000)
                store.unlock_user(name, actor="bench")
        for label, values in times.items():
            print(f"{label:<28} median {statistics.median(values):7.2f} ms  "
                  f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})")
        known, unknown = (statistics.median(times[k]) for k in ("known user, wrong password", "unknown user"))
        print(f"unknown / known (wrong password): {unknown / known:.2f}")


if __name__ == "__main__":
    main()
