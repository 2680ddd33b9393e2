"""Cost of the one YAML reader on hostile documents: time and peak memory to refuse each bomb.

Run: ``.venv/bin/python benchmarks/bench_yaml.py``

Each case runs in a fresh child process so its peak RSS is its own; the table prints the
document size, the time ``read_yaml`` takes to refuse (or accept) it, the reader's own peak
Python allocation (tracemalloc) and how much the child's peak RSS grew while reading. Goal (issue 15): every bomb refused
in < 1 s and < 100 MB. A legitimate 0.6 MB policy-like file is included for scale.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_hostile_input import MANIFEST_BOMB, POLICY_BOMB, _bomb  # noqa: E402

_CHILD = textwrap.dedent(
    """
    import json, sys, time, tracemalloc
    from workbench.errors import PolicyError
    from workbench.yamlio import read_yaml
    def rss_mb():
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) / 1024
    before = rss_mb()
    tracemalloc.start()
    t = time.perf_counter()
    try:
        read_yaml(sys.argv[1], error=PolicyError)
        outcome = "accepted"
    except PolicyError as exc:
        outcome = "refused: " + str(exc).split(": ", 2)[1][:40]
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    rss = rss_mb() - before  # growth of the process's peak RSS while reading
    print(json.dumps({"s": elapsed, "peak_mb": peak / 2**20, "rss_mb": rss, "outcome": outcome}))
    """
)


def _legit(n_criteria: int) -> str:
    rows = [f"  - {{id: c{i}, kind: absolute, metric: roc_auc, min: 0.{i % 9 + 1}, severity: blocking}}"
            for i in range(n_criteria)]
    return "criteria:\n" + "\n".join(rows) + "\n"


def main() -> None:
    cases = {
        "policy bomb (9 levels x 9)": POLICY_BOMB,
        "manifest bomb (10 levels x 8)": MANIFEST_BOMB,
        "wide bomb (5 levels x 40)": _bomb(5, 40),
        "recursive alias": "a: &a [1, *a]\n",
        "deep nesting (10k brackets)": "x: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "legitimate 0.6 MB policy-like file": _legit(8_000),
    }
    print(f"{'case':<36}{'bytes':>10}{'time s':>9}{'peak MB':>9}{'+RSS MB':>8}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in cases.items():
            path = Path(tmp) / "doc.yaml"
            path.write_text(text)
            out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True,
                                 env={"PYTHONPATH": str(ROOT)}, check=True)
            r = json.loads(out.stdout)
            print(f"{name:<36}{len(text.encode()):>10,}{r['s']:>9.3f}{r['peak_mb']:>9.1f}{r['rss_mb']:>8.0f}  {r['outcome']}")


if __name__ == "__main__":
    main()
