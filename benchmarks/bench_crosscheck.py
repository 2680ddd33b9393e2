"""Cost of the cross-check section (workbench vs scikit-learn and fairlearn) as the data grows.

Run: ``.venv/bin/python benchmarks/bench_crosscheck.py [--rows 10000 100000 1000000]``

A binary review with two models and two sensitive features (2 and 4 groups). The cross-check
runs on every row up to 100,000 and on a seeded 100,000-row sample above it, so its cost should
stop growing at 100,000 rows. Printed: rows, rows checked, seconds (median of 3, imports and
JIT warmed up), max |difference|, and the machine's load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.crosscheck import cross_check  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    warm = rng.integers(0, 2, 1000)
    cross_check("binary", warm, {"candidate": rng.random(1000)}, threshold=0.5,
                sensitive={"g": rng.choice(list("ab"), 1000)})
    print(f"{'rows':>10} {'checked':>9} {'seconds':>8} {'max |diff|':>11}  load average")
    for n in args.rows:
        y = rng.integers(0, 2, n)
        scores = {"candidate": np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), "baseline": rng.random(n)}
        sensitive = {"sex": rng.choice(["F", "M"], n), "age_band": rng.choice(["18-25", "26-40", "41-65", "65+"], n)}
        times = []
        for _ in range(3):
            t = time.perf_counter()
            cc = cross_check("binary", y, scores, threshold=0.5, sensitive=sensitive)
            times.append(time.perf_counter() - t)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{n:>10,} {cc['rows']:>9,} {statistics.median(times):>8.2f} {cc['max_abs_diff']:>11.1e}  {load}")


if __name__ == "__main__":
    main()
