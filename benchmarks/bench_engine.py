"""Whole-review benchmark of the scale engine: numpy vs DuckDB vs Spark local[2].

Generates a scored Parquet table (label, candidate and baseline scores, two sensitive
attributes, ``--features`` numeric features, an id column) and a reference sample, builds
the reference profile once, then runs the whole review (metrics, exact AUC, calibration,
fairness for two sensitive features and their intersection, drift for every feature,
``--boot`` bootstrap replicates) on each engine in a fresh child process, printing wall time
and peak resident memory of the process tree (psutil; Spark's JVM is a child process).

    .venv/bin/python benchmarks/bench_engine.py --rows 5000000            # a few minutes here
    .venv/bin/python benchmarks/bench_engine.py --rows 50000000 --engines duckdb,spark --numpy-max 0
    # 50M rows: ~8 GB of Parquet under --dir; numpy needs ~12 GB at that size (skip it)

Figures are recorded in docs/SCALE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(folder: Path, rows: int, features: int, *, chunk: int = 2_000_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        y = rng.random(n) < 0.3
        cols = {"id": np.arange(start, start + n, dtype=np.int64), "y": y.astype(np.int8),
                "sc": np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1),
                "sb": 1 / (1 + np.exp(-(-1.0 + 1.2 * y + rng.normal(0, 1.0, n)))),
                "sex": rng.choice(np.array(["F", "M"]), n), "age_band": rng.choice(np.array(["18-30", "31-50", "51+"]), n)}
        for j in range(features):
            cols[f"x{j}"] = rng.normal(0.1 * (j % 3), 1.0, n)
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(folder / "scores.parquet", table.schema)
        writer.write_table(table)
    writer.close()
    ref = {f"x{j}": rng.normal(0.0, 1.0, min(rows, 5_000_000) // 10 or 1000) for j in range(features)}
    pa_tab = pa.table(ref)
    pq.write_table(pa_tab, folder / "reference.parquet")


def child(args: argparse.Namespace) -> None:
    from workbench.engine import ScaleSpec, build_evidence_at_scale, load_profile

    folder = Path(args.dir)
    profile, d = load_profile(folder / "profile.json")
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age_band"),
                     features=tuple(f"x{j}" for j in range(args.features)), id_column="id", n_boot=args.boot,
                     auc="exact", bootstrap_unit=args.bootstrap_unit, bootstrap_buckets=args.buckets)
    spark = None
    if args.engine == "spark":
        from workbench.engine._spark import local_spark_session

        spark = local_spark_session(cores=2, memory=args.spark_memory)
        spark.sparkContext.setLogLevel("ERROR")
    t = time.perf_counter()
    ev = build_evidence_at_scale(folder / "scores.parquet", engine=args.engine, spec=spec, profile=profile,
                                 profile_digest=d, memory_limit=args.memory_limit, spark=spark)
    wall = time.perf_counter() - t
    m = ev["models"]["candidate"]["metrics"]
    print(json.dumps({"engine": args.engine, "wall_s": round(wall, 2), "timings": ev["timings_s"],
                      "roc_auc": m["roc_auc"]["value"], "roc_auc_method": m["roc_auc"]["method"],
                      "roc_auc_ci": [m["roc_auc"]["ci_low"], m["roc_auc"]["ci_high"]],
                      "accuracy": m["accuracy"]["value"], "weights": ev["bootstrap"]["weights"]}))
    if spark is not None:
        spark.stop()


def measure(cmd: list[str]) -> tuple[dict, float, float]:
    """The child's JSON line, the peak RSS (MiB) of its process tree and the tree's CPU seconds
    (user + system, each process's last sample: Spark's JVM and Python workers are children)."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ps = psutil.Process(proc.pid)
    peak, cpu = 0, {}
    while proc.poll() is None:
        try:
            tree = [ps, *ps.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
            for p in tree:
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system
        except psutil.Error:
            pass
        time.sleep(0.2)
    out = proc.stdout.read().strip().splitlines()
    return (json.loads(out[-1]) if out else {"error": f"exit {proc.returncode}"}), peak / 2**20, sum(cpu.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--boot", type=int, default=200)
    p.add_argument("--engines", default="numpy,duckdb,spark")
    p.add_argument("--numpy-max", type=int, default=10_000_000, help="skip numpy above this many rows")
    p.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit")
    p.add_argument("--spark-memory", default="3g")
    p.add_argument("--bootstrap-unit", default="auto", choices=["auto", "row", "bucket"])
    p.add_argument("--buckets", type=int, default=1024, help="buckets of the bucket bootstrap")
    p.add_argument("--dir", default=None, help="work folder (default: a temporary folder, deleted)")
    p.add_argument("--reuse", action="store_true", help="keep the table and profile already in --dir")
    p.add_argument("--engine", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.engine:
        return child(args)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-engine-", dir="/tmp"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not (args.reuse and (folder / "profile.json").exists()):
            t = time.perf_counter()
            generate(folder, args.rows, args.features)
            print(f"generated {args.rows} rows x {args.features} features in {time.perf_counter() - t:.1f} s")
            from workbench.engine import build_profile, save_profile

            t = time.perf_counter()
            save_profile(build_profile(folder / "reference.parquet", features=[f"x{j}" for j in range(args.features)]),
                         folder / "profile.json")
            print(f"reference profile built once in {time.perf_counter() - t:.1f} s")
        for engine in args.engines.split(","):
            if engine == "numpy" and args.rows > args.numpy_max:
                print(f"numpy: skipped above {args.numpy_max} rows")
                continue
            cmd = [sys.executable, __file__, "--engine", engine, "--dir", str(folder), "--features",
                   str(args.features), "--boot", str(args.boot), "--memory-limit", args.memory_limit,
                   "--spark-memory", args.spark_memory, "--bootstrap-unit", args.bootstrap_unit,
                   "--buckets", str(args.buckets)]
            load = os.getloadavg()
            result, peak, cpu = measure(cmd)
            print(f"{engine:7s} rows={args.rows} boot={args.boot} unit={args.bootstrap_unit} peak_rss_mb={peak:.0f} "
                  f"cpu_s={cpu:.1f} "
                  f"load_before={load[0]:.1f} load_after={os.getloadavg()[0]:.1f} {json.dumps(result)}", flush=True)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
