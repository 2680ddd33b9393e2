"""Two app instances, one PostgreSQL store: what one signs off the other shows, and sign-offs made
at the same moment on both are all kept, with the audit chain intact.

Two `streamlit run app.py` servers share WORKBENCH_DB (a fresh PostgreSQL database) and the keys
folder; the evidence is computed once beforehand with `workbench gate` (so neither server spends
a minute on it), then Debian's chromium drives one page per server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._demo import copy_demo
from tests.e2e.test_browser import ARGS, CHROMIUM, ROOT, _free_port, _idle, _open, _sign_in, _wait_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def two_servers(demo_dir: Path, tmp_path: Path, pg_url: str):
    if not CHROMIUM.is_file():
        pytest.fail("Debian chromium is missing: install it with `sudo apt-get install -y chromium`")
    demo = tmp_path / "demo"
    manifest = copy_demo(demo_dir, demo, n_bootstrap=20, latency_calls=50, explain_rows=50)
    env = {**os.environ, "WORKBENCH_DB": pg_url, "WORKBENCH_KEYS": str(tmp_path / "keys"),
           "WORKBENCH_DEMO_DIR": str(demo), "WORKBENCH_UPLOADS": str(tmp_path / "uploads")}
    wb = [sys.executable, "-m", "workbench.cli"]
    subprocess.run([*wb, "keys", "init", "--keys", env["WORKBENCH_KEYS"]], check=True, env=env, capture_output=True)
    subprocess.run([*wb, "users", "demo"], check=True, env=env, capture_output=True)
    gate = subprocess.run([*wb, "gate", str(manifest)], env=env, capture_output=True, text=True, check=False)
    assert gate.returncode in (0, 1, 3), gate.stderr  # a decision (GO, NO-GO or PENDING), evidence stored
    procs, urls, logs = [], [], []
    try:
        for i in range(2):
            port = _free_port()
            logs.append(open(tmp_path / f"server{i}.log", "wb"))  # noqa: SIM115 - closed in finally
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--server.port", str(port)],
                cwd=ROOT, env=env, stdout=logs[-1], stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for i, proc in enumerate(procs):
            _wait_healthy(f"{urls[i]}/_stcore/health", proc, tmp_path / f"server{i}.log")
        yield urls, env
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def _decision_page(page, url: str, name: str) -> None:
    from playwright.sync_api import expect

    _sign_in(page, url, name)
    page.get_by_role("button", name="Open the demo review").click()
    expect(page.get_by_text("Decision:").first).to_be_visible(timeout=300_000)
    _idle(page)
    _open(page, "Decision & sign-off")


def test_two_app_instances_share_one_postgresql_store(two_servers) -> None:
    from playwright.sync_api import expect, sync_playwright

    from workbench.serverkey import load_server_key
    from workbench.store import Store

    (one, two), env = two_servers
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pages = {}
        for name, url in (("alice", one), ("bob", two), ("dave", one)):
            pages[name] = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            _decision_page(pages[name], url, name)
        a, b, d = pages["alice"], pages["bob"], pages["dave"]
        # alice signs off on server one; bob's page on server two shows it after its next run
        a.get_by_role("button", name="Approve").click()
        _idle(a)
        expect(a.get_by_text("approve by alice")).to_be_visible(timeout=60_000)
        _open(b, "Decision & sign-off")
        expect(b.get_by_text("approve by alice")).to_be_visible(timeout=60_000)
        # the same moment on both servers: bob approves on two, dave on one
        t = time.perf_counter()
        b.get_by_role("button", name="Approve").click()
        d.get_by_role("button", name="Approve").click()
        _idle(b)
        _idle(d)
        expect(b.get_by_text("approve by bob")).to_be_visible(timeout=60_000)
        expect(d.get_by_text("approve by dave")).to_be_visible(timeout=60_000)
        print(f"\nTwo instances: concurrent sign-offs settled in {time.perf_counter() - t:.1f} s")
        _open(a, "Decision & sign-off")
        expect(a.get_by_text("approve by bob")).to_be_visible(timeout=60_000)
        expect(a.get_by_text("approve by dave")).to_be_visible(timeout=60_000)
        browser.close()
    with Store.open(env["WORKBENCH_DB"], key=load_server_key(Path(env["WORKBENCH_KEYS"]))) as store:
        review = store.list_reviews()[0].review_id
        assert sorted(s.user for s in store.list_signoffs(review)) == ["alice", "bob", "dave"]
        report = store.verify_integrity()
        assert report.ok and report.key_checked, report.message
        assert [e.seq for e in store.audit_entries()] == list(range(1, store.audit_count() + 1))
