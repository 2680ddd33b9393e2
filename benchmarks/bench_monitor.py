"""Live-monitoring throughput on logged rows read incrementally, and alert latency breach → receipt.

Run: ``.venv/bin/python benchmarks/bench_monitor.py [--rows 10000000] [--files 20] [--days 100]``

What it does:
1. writes a small real review (random forest candidate, logistic baseline; tests/_small_review.py)
   and ``--rows`` logged prediction rows as ``--files`` Parquet files over ``--days`` daily windows;
   the last file's inputs drift;
2. first run: ``monitor_source`` over all files but the last two (the checkpoint starts empty);
3. second run: the last two files appear and only their rows are read (incremental);
4. checks that every row was counted exactly once (sum of window rows == rows written,
   checkpoints == file sizes);
5. alert latency: a local HTTP receiver and a local SMTP server (aiosmtpd, STARTTLS) on 127.0.0.1
   receive the drift alert of the second run; latency = receipt time − the alert's stored
   ``created_at`` (the moment the breach was recorded).

Figures printed: rows/s (wall and per CPU second of this process) for each run, the per-window
fairness bootstrap (``--fairness-boot``), store size, alert latency per channel, load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._receivers import _self_signed, free_port  # noqa: E402
from tests._small_review import write_small_review  # noqa: E402
from workbench.artefacts import load_manifest, load_review  # noqa: E402
from workbench.replay import monitor_source  # noqa: E402
from workbench.store import Store  # noqa: E402

START = pd.Timestamp("2025-01-01", tz="UTC")


def write_logs(folder: Path, rows: int, files: int, days: int, seed: int = 0) -> list[Path]:
    """``rows`` rows over ``days`` days in ``files`` time-ordered Parquet files; the last file drifts."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = rows // files
    seconds = days * 86400
    paths = []
    for f in range(files):
        rng = np.random.default_rng(seed + f)
        n = per_file if f < files - 1 else rows - per_file * (files - 1)
        lo = f * per_file
        idx = np.arange(lo, lo + n)
        frame = pd.DataFrame({
            "row_id": idx.astype(str),
            "x1": rng.normal(size=n) + (2.0 if f == files - 1 else 0.0),
            "x2": rng.normal(size=n),
            "colour": rng.choice(np.array(["red", "green", "blue"]), size=n),
            "group": rng.choice(np.array(["a", "b"]), size=n),
            "timestamp": START + pd.to_timedelta((idx * seconds) // rows, unit="s"),
        })
        path = folder / f"part-{f:03d}.parquet"
        frame.to_parquet(path, index=False, row_group_size=250_000)
        paths.append(path)
    return paths


class _Receivers:
    def __init__(self, tmp: Path) -> None:
        import ssl

        from aiosmtpd.controller import Controller

        self.hook_times: list[float] = []
        self.mail_times: list[float] = []
        times = self.hook_times

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                times.append(time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        cert, key = _self_signed(tmp)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        mail_times = self.mail_times

        class Mail:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                mail_times.append(time.time())
                return "250 accepted"

        self.smtp_port = free_port()
        self.smtp = Controller(Mail(), hostname="127.0.0.1", port=self.smtp_port, tls_context=ctx)
        self.smtp.start()
        self.channels = [
            {"kind": "webhook", "name": "hook", "url": f"http://127.0.0.1:{self.http.server_address[1]}/",
             "secret_env": "WB_BENCH_SECRET"},
            {"kind": "email", "name": "mail", "to": ["oncall@example.org"],
             "smtp": {"host": "127.0.0.1", "port": self.smtp_port, "ca_file": str(cert)}}]

    def close(self) -> None:
        self.http.shutdown()
        self.smtp.stop()


def _run(review, pattern: str, store: Store, n_boot: int) -> tuple[dict, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = monitor_source(review, pattern, store=store, actor="bench", n_boot=n_boot)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--fairness-boot", type=int, default=200)
    args = parser.parse_args()
    os.environ["WB_BENCH_SECRET"] = "bench-secret"
    tmp = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    receivers = _Receivers(tmp)
    manifest = write_small_review(tmp / "review", n=5000, extra={
        "replay": {"timestamp_column": "timestamp", "window": "1D"},
        "readiness": {"monitoring": {"thresholds": {"psi": 0.25}, "alerts": receivers.channels,
                                     "rereview_after_windows": 100}}})
    review = load_review(load_manifest(manifest))
    t = time.perf_counter()
    paths = write_logs(tmp / "logs", args.rows, args.files, args.days)
    print(f"wrote {args.rows:,} rows in {len(paths)} files in {time.perf_counter() - t:.1f} s; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    staged = tmp / "staged"
    staged.mkdir()
    for p in paths[-2:]:
        p.rename(staged / p.name)
    pattern = str(tmp / "logs" / "*.parquet")
    with Store.open(tmp / "bench.db") as store:
        first, wall1, cpu1 = _run(review, pattern, store, args.fairness_boot)
        print(f"run 1: {first['rows_read']:,} rows, {len(first['windows'])} windows in {wall1:.1f} s wall / "
              f"{cpu1:.1f} s CPU -> {first['rows_read'] / wall1:,.0f} rows/s wall, "
              f"{first['rows_read'] / cpu1:,.0f} rows/s CPU; load {os.getloadavg()[0]:.2f}", flush=True)
        for p in staged.iterdir():
            p.rename(tmp / "logs" / p.name)
        second, wall2, cpu2 = _run(review, pattern, store, args.fairness_boot)
        print(f"run 2 (incremental): {second['rows_read']:,} new rows, {len(second['windows'])} windows in "
              f"{wall2:.1f} s wall / {cpu2:.1f} s CPU -> {second['rows_read'] / wall2:,.0f} rows/s wall; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        third, wall3, _ = _run(review, pattern, store, args.fairness_boot)
        batches = store.list_monitoring_batches(first["review_id"])
        counted = sum(b.rows for b in batches)
        checkpoint = store.checkpoints(first["review_id"], second["source"])
        sizes = {str(p): len(pd.read_parquet(p, columns=["x1"])) for p in sorted((tmp / "logs").iterdir())}
        print(f"rows counted {counted:,} of {args.rows:,} written (exactly once: {counted == args.rows}); "
              f"checkpoints == file sizes: {checkpoint == sizes}; a third run read {third['rows_read']} rows "
              f"in {wall3:.1f} s", flush=True)
        total_wall, total_cpu = wall1 + wall2, cpu1 + cpu2
        print(f"overall: {args.rows / total_wall:,.0f} rows/s wall, {args.rows / total_cpu:,.0f} rows/s CPU "
              f"(fairness bootstrap {args.fairness_boot} replicates per window)", flush=True)
        psi_alerts = [a for a in second["alerts"] if a["rule"].startswith("psi")]
        stored = {a.alert_id: a for a in store.list_alerts(first["review_id"])}
        time.sleep(0.5)
        if psi_alerts:
            created = dt.datetime.fromisoformat(stored[psi_alerts[0]["alert_id"]].created_at).timestamp()
            hook = min(t for t in receivers.hook_times if t >= created)
            mail = min(t for t in receivers.mail_times if t >= created)
            print(f"alert latency breach recorded -> receipt: webhook {1000 * (hook - created):.1f} ms, "
                  f"e-mail (STARTTLS) {1000 * (mail - created):.1f} ms; {len(psi_alerts)} drift alert(s), "
                  f"{len(second['deliveries'])} deliveries", flush=True)
        else:
            print("no drift alert fired (unexpected)")
    print(f"store {os.path.getsize(tmp / 'bench.db') / 2**20:.0f} MiB; peak RSS "
          f"{_peak_rss_mib():.0f} MiB; load {os.getloadavg()}", flush=True)
    receivers.close()


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
