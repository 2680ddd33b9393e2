"""Replay benchmark: shadow replay of N timestamped rows through both demo models.

Compares, each in a fresh subprocess (peak RSS via ``resource.getrusage``):

* ``once``: read the whole Parquet file and score it with both models in one batch each;
* ``replay``: ``workbench.replay.run_replay`` streaming the same file by record batches,
  window by window (drift, flips, quality, performance, latency sample per window).

Run: ``.venv/bin/python benchmarks/bench_replay.py [--rows 1000000] [--window 7D]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def prepare(root: Path, rows: int) -> tuple[Path, Path]:
    from workbench.demo import _data as _demo_data
    from workbench.demo import write_demo

    scenario = root / "scenario"
    if not (scenario / "review.yaml").is_file():
        write_demo(scenario)
    big = root / f"replay_{rows}.parquet"
    if not big.is_file():
        frame = _demo_data.replay_frame(20261126, rows, first_id=10_000_000)
        frame.to_parquet(big, row_group_size=65_536)
    return scenario / "review.yaml", big


def _child(mode: str, manifest: str, data: str, window: str) -> None:
    import resource

    from workbench.artefacts import load_review
    from workbench.artefacts import load_manifest

    m = load_manifest(manifest)
    review = load_review(m.model_copy(update={"data": m.data.model_copy(update={"replay": None})}))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if mode == "once":
        import pandas as pd
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            frame = pd.read_parquet(data)
            for model in review.models.values():
                model.predict_scores(frame)
        rows = len(frame)
    else:
        from workbench.replay import run_replay

        out = run_replay(review, source=Path(data), window=window)  # the default latency sample, as `workbench replay`
        rows = out["summary"]["rows"]
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "peak_rss_mb": peak / 1024,
                      "rss_before_mb": base / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--window", default="7D")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "workbench_bench_replay")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "MANIFEST", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, args.window)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    manifest, data = prepare(args.workdir, args.rows)
    results = {}
    for mode in ("once", "replay"):
        out = subprocess.run([sys.executable, __file__, "--window", args.window, "--child", mode,
                              str(manifest), str(data)], capture_output=True, text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    once, rep = results["once"], results["replay"]
    print(f"rows {rep['rows']:,}, window {args.window}, both models, 1 native thread each")
    print(f"score once in one batch: {once['seconds']:.1f} s ({once['rows'] / once['seconds']:,.0f} rows/s), "
          f"peak RSS {once['peak_rss_mb']:.0f} MiB")
    print(f"shadow replay, streamed: {rep['seconds']:.1f} s ({rep['rows'] / rep['seconds']:,.0f} rows/s), "
          f"peak RSS {rep['peak_rss_mb']:.0f} MiB")
    print(f"replay / once: {rep['seconds'] / once['seconds']:.1f}x time, "
          f"{rep['peak_rss_mb'] / once['peak_rss_mb']:.2f}x peak memory")


if __name__ == "__main__":
    main()
