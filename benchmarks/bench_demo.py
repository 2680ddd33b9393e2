"""Small-review benchmark: the 25,000-row demo review, end to end and as the app's first view.

1. ``workbench demo D`` then ``workbench review D/review.yaml --out e.json`` in a child process:
   each section's wall and CPU seconds (the evidence's ``timings_s`` / ``timings_cpu_s``), the
   end-to-end wall and CPU time against the 15 s budget, and the load average.
2. The app (Streamlit's AppTest, server side, no browser), each session in its own process on a
   fresh store: the first reviewer opens the demo (the evidence is computed, budget 20 s to the
   first page); a second process opens it again (the evidence comes from the store, budget 5 s)
   and switches to every page of the navigation (budget 1 s each, evidence loaded).

The browser's view of the same journey is measured by ``tests/e2e/test_browser.py``, which
prints its timings. Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_demo.py [--dir D] [--skip-app]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REVIEW_BUDGET_S, FIRST_VIEW_BUDGET_S, STORED_VIEW_BUDGET_S, SWITCH_BUDGET_S = 15.0, 20.0, 5.0, 1.0

# Run in a child process: one AppTest session against the store in WORKBENCH_DB; prints JSON.
_SESSION = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
from workbench_ui.navigation import SECTIONS
switch = sys.argv[1] == "switch"
out = {}
t = time.perf_counter()
at = AppTest.from_file("app.py", default_timeout=600)
at.session_state["wb_user"] = "alice"
at.run()
out["app_start_s"] = time.perf_counter() - t
t = time.perf_counter()
at.button(key="open_demo").click().run()
out["open_demo_s"] = time.perf_counter() - t
out["errors"] = [e.value for e in at.error] + [str(e.value) for e in at.exception]
if switch:
    out["switch_s"] = {}
    for path, title, _ in [p for items in SECTIONS.values() for p in items][1:]:
        t = time.perf_counter()
        at.switch_page(path).run()
        out["switch_s"][title] = time.perf_counter() - t
        out["errors"] += [f"{title}: {e.value}" for e in at.error] + [f"{title}: {e.value}" for e in at.exception]
print("RESULT " + json.dumps(out))
"""


def _child(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def review(folder: Path, env: dict[str, str]) -> None:
    out = folder / "evidence.json"
    load = os.getloadavg()[0]
    proc, wall, cpu = _child([sys.executable, "-m", "workbench.cli", "review", str(folder / "demo" / "review.yaml"),
                              "--out", str(out)], env)
    if proc.returncode not in (0, 1):
        sys.exit(f"workbench review failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    ev = json.loads(out.read_text())
    walls, cpus = ev["timings_s"], ev.get("timings_cpu_s", {})
    print(f"workbench review of the demo: {ev['review']['n_evaluation']:,} evaluation rows, n_bootstrap "
          f"{ev['settings']['n_bootstrap']}; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"{'section':<16}{'wall s':>9}{'CPU s':>9}   (sections of one stage run side by side: their CPU overlaps)")
    for name, w in sorted(walls.items(), key=lambda kv: -kv[1]):
        print(f"{name:<16}{w:>9.2f}{cpus.get(name, float('nan')):>9.2f}")
    print(f"{'TOTAL end to end':<16}{wall:>9.2f}{cpu:>9.2f}   budget {REVIEW_BUDGET_S:.0f} s "
          f"{'ok' if wall <= REVIEW_BUDGET_S else 'OVER'}")


def _session(kind: str, env: dict[str, str]) -> tuple[dict, float]:
    proc, wall, _ = _child([sys.executable, "-c", _SESSION, kind], env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"app session failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):]), wall


def app(folder: Path, env: dict[str, str]) -> None:
    env = {**env, "WORKBENCH_DB": str(folder / "app.db"), "WORKBENCH_DEMO_DIR": str(folder / "demo")}
    subprocess.run([sys.executable, "-m", "workbench.cli", "users", "demo", "--db", env["WORKBENCH_DB"]], check=True,
                   env=env, capture_output=True, cwd=ROOT)
    load = os.getloadavg()[0]
    first, first_wall = _session("open", env)
    second, _ = _session("switch", env)
    print(f"\napp (AppTest, server side), fresh store; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"first reviewer: app start {first['app_start_s']:.2f} s + open the demo (evidence computed) "
          f"{first['open_demo_s']:.2f} s = first page {first['app_start_s'] + first['open_demo_s']:.2f} s "
          f"(budget {FIRST_VIEW_BUDGET_S:.0f}) {'ok' if first['app_start_s'] + first['open_demo_s'] <= FIRST_VIEW_BUDGET_S else 'OVER'}"
          f"; process {first_wall:.1f} s with imports")
    print(f"second process, evidence in the store: open the demo {second['open_demo_s']:.2f} s (budget "
          f"{STORED_VIEW_BUDGET_S:.0f}) {'ok' if second['open_demo_s'] <= STORED_VIEW_BUDGET_S else 'OVER'}")
    slowest = max(second["switch_s"].items(), key=lambda kv: kv[1])
    print("page switches: " + ", ".join(f"{k} {v:.2f}" for k, v in second["switch_s"].items()))
    print(f"slowest page switch {slowest[0]} {slowest[1]:.2f} s (budget {SWITCH_BUDGET_S:.0f}) "
          f"{'ok' if slowest[1] <= SWITCH_BUDGET_S else 'OVER'}")
    errors = first["errors"] + second["errors"]
    if errors:
        print("errors shown by the app: " + "; ".join(errors))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder)")
    ap.add_argument("--skip-app", action="store_true", help="only the `workbench review` part")
    args = ap.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench_demo_"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_KEYS": str(folder / "keys")}
    if not (folder / "demo" / "review.yaml").exists():
        subprocess.run([sys.executable, "-m", "workbench.cli", "demo", str(folder / "demo")], check=True, env=env,
                       capture_output=True, cwd=ROOT)
    review(folder, env)
    if not args.skip_app:
        app(folder, env)


if __name__ == "__main__":
    main()
