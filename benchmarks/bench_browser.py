"""Page switches in the browser, once the evidence is stored: where the time goes, old against new.

Starts ``streamlit run app.py`` for this checkout and, with ``--base DIR``, for another checkout
(e.g. a ``git worktree`` of main), both on one store with the demo review (100 replicates). A first
session per server computes or reads the evidence and warms the server's caches; then ``--rounds``
new browser sessions per server, alternating (base, this, base, this), each sign in, open the demo
and switch to every page, as the second session of ``tests/e2e/test_browser.py`` does.

Per page it prints the median over rounds of: seconds from the click until the page is drawn (the
e2e test's mark: run finished, no placeholder, every chart and table in view drawn), the browser's
main-thread busy seconds (Chrome's TaskDuration; less sensitive to other processes than wall time),
the bytes Streamlit sent over the websocket, and the plotly charts (traces, points). Plus the
first view and the load average. Debian chromium through Playwright's ``executable_path``.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_browser.py [--base ../main] [--rounds 3] [--dir D]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.test_browser import _DRAWN, ARGS, CHROMIUM, PAGES, _free_port, _idle, _stop, _wait_healthy  # noqa: E402

_CHARTS = """() => {
  const size = (v) => !v ? 0 : v.shape ? String(v.shape).split(',').reduce((a, b) => a * Number(b), 1)
    : Array.from(v).reduce((n, r) => n + (r && typeof r === 'object' && 'length' in r ? r.length : 1), 0);
  return [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"] .js-plotly-plot')]
    .map((gd) => [gd.data.length, gd.data.reduce((n, t) => n + size(t.z || t.x || t.y), 0)]);
}"""


def _setup(root: Path) -> dict[str, str]:
    from tests._demo import copy_demo
    from workbench.demo import write_demo

    if not (root / "demo").exists():
        write_demo(root / "scenario")
        copy_demo(root / "scenario", root / "demo", n_bootstrap=100)
    env = {**os.environ, "WORKBENCH_DB": str(root / "w.db"), "WORKBENCH_KEYS": str(root / "keys"),
           "WORKBENCH_DEMO_DIR": str(root / "demo"), "WORKBENCH_UPLOADS": str(root / "uploads")}
    if not (root / "keys").exists():
        wb = [sys.executable, "-m", "workbench.cli"]
        subprocess.run([*wb, "keys", "init", "--keys", env["WORKBENCH_KEYS"]], check=True, env=env, capture_output=True)
        subprocess.run([*wb, "users", "demo", "--db", env["WORKBENCH_DB"]], check=True, env=env, capture_output=True)
    return env


def _serve(tree: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, object, str]:
    port = _free_port()
    out = open(log, "wb")  # noqa: SIM115 - closed by _stop
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port)],
                            cwd=tree, env={**env, "PYTHONPATH": str(tree)}, stdout=out, stderr=subprocess.STDOUT)
    _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc, log)
    return proc, out, f"http://127.0.0.1:{port}"


def _session(browser, url: str) -> dict:
    from playwright.sync_api import expect

    from tests.e2e.test_browser import _sign_in

    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(len(p))))
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")

    def busy() -> float:
        return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")

    _sign_in(page, url, "grace")
    t = time.perf_counter()
    page.get_by_role("button", name="Open the demo review").click()
    expect(page.get_by_text("Decision:").first).to_be_visible(timeout=600_000)
    page.wait_for_function(_DRAWN, polling=25, timeout=600_000)
    out = {"first_view_s": time.perf_counter() - t, "pages": {}}
    _idle(page)
    for title in PAGES:
        n, b0, t = len(frames), busy(), time.perf_counter()
        page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        expect(page.get_by_role("heading", name=title.replace("Robustness & operations", "Robustness"), exact=False)
               .first).to_be_visible(timeout=120_000)
        if title.startswith("Shadow"):
            expect(page.get_by_text("Decision flips by group")).to_be_visible(timeout=300_000)
        page.wait_for_function(_DRAWN, polling=25, timeout=120_000)
        out["pages"][title] = {"drawn_s": time.perf_counter() - t, "busy_s": busy() - b0,
                               "ws_kb": sum(frames[n:]) / 1024, "charts": page.evaluate(_CHARTS)}
        _idle(page)
    ctx.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, help="another checkout to compare against (old)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, help="working folder (demo, store, keys); default a temporary one")
    ap.add_argument("--json", type=Path, help="also write every measurement here")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-browser-"))
    root.mkdir(parents=True, exist_ok=True)
    env = _setup(root)
    trees = {"base": args.base.resolve()} if args.base else {}
    trees["this"] = ROOT
    servers = {name: _serve(tree, env, root / f"server-{name}.log") for name, tree in trees.items()}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    loads = [os.getloadavg()[0]]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            for name, (_, _, url) in servers.items():  # evidence (computed once, then stored) and server caches
                _session(browser, url)
            for _ in range(args.rounds):
                for name, (_, _, url) in servers.items():
                    results[name].append(_session(browser, url))
                    loads.append(os.getloadavg()[0])
            browser.close()
    finally:
        for proc, out, _ in servers.values():
            _stop(proc, out)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))

    def med(name: str, page: str, key: str) -> float:
        return statistics.median(r["pages"][page][key] for r in results[name])

    print(f"\nmedian of {args.rounds} new sessions per server, load average {min(loads):.1f}-{max(loads):.1f}")
    print(f"{'page':30}" + "".join(f"{n + ' drawn s':>14}{n + ' busy s':>13}" for n in trees) + f"{'ws KiB':>8}  charts (traces/points)")
    for page in PAGES:
        last = results["this"][-1]["pages"][page]
        print(f"{page:30}" + "".join(f"{med(n, page, 'drawn_s'):14.2f}{med(n, page, 'busy_s'):13.2f}" for n in trees)
              + f"{last['ws_kb']:8.0f}  " + " ".join(f"{a}/{b}" for a, b in last["charts"]))
    for n in trees:
        slow = [max(r["pages"][p]["drawn_s"] for p in PAGES) for r in results[n]]
        first = [r["first_view_s"] for r in results[n]]
        print(f"{n}: slowest switch per session {', '.join(f'{s:.2f}' for s in slow)} s; "
              f"first view {', '.join(f'{s:.2f}' for s in first)} s")


if __name__ == "__main__":
    main()
