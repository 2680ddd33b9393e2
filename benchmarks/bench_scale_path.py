"""The whole path of a scale review through the real CLI: review → gate → sign-offs → gate → report → verify.

One command, on the generated case (``--rows`` scored rows in Parquet parts of 2M rows: label,
candidate and baseline scores, two sensitive attributes, ``--features`` numeric features, an id
column; a reference sample; a policy with an AUC floor, a drift and a fairness criterion and
``--signoffs`` required roles). The case, a keyed store with one user per role, the registered
policy and the server key are created in ``--dir`` when absent and reused after that. Each step
runs ``workbench …`` in a child process; the script prints its wall time, exit code and the peak
resident memory of its process tree (psutil), with the load average before and after.

    # the 50M-row case (generated once: ~9 GB under --dir; then every run reuses it)
    .venv/bin/python benchmarks/bench_scale_path.py --rows 50000000 --dir /tmp/scale50m
    .venv/bin/python benchmarks/bench_scale_path.py --rows 5000000 --dir /tmp/scale5m     # while iterating

Figures are recorded in docs/SCALE.md ("The whole path at 50M rows").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PART_ROWS = 2_000_000
ROLES = ("product_owner", "data_scientist", "data_governance", "security", "legal", "operations")


def generate(folder: Path, rows: int, features: int) -> None:
    """The scored table as Parquet parts (the distribution of benchmarks/bench_engine.py) and a reference."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lake = folder / "lake"
    lake.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k, start in enumerate(range(0, rows, PART_ROWS)):
        n = min(PART_ROWS, rows - start)
        y = rng.random(n) < 0.3
        cols = {"id": np.arange(start, start + n, dtype=np.int64), "y": y.astype(np.int8),
                "sc": np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1),
                "sb": 1 / (1 + np.exp(-(-1.0 + 1.2 * y + rng.normal(0, 1.0, n)))),
                "sex": rng.choice(np.array(["F", "M"]), n),
                "age_band": rng.choice(np.array(["18-30", "31-50", "51+"]), n)}
        for j in range(features):
            cols[f"x{j}"] = rng.normal(0.1 * (j % 3), 1.0, n)
        pq.write_table(pa.table(cols), lake / f"part-{k:04d}.parquet")
    n_ref = max(1000, min(rows, 5_000_000) // 10)
    pq.write_table(pa.table({f"x{j}": rng.normal(0.0, 1.0, n_ref) for j in range(features)}),
                   folder / "reference.parquet")


def prepare(folder: Path, args: argparse.Namespace) -> None:
    """Manifest, policy, profile, keys, store with users and the registered policy (once)."""
    import yaml

    from workbench.engine import build_profile, save_profile
    from workbench.report import init_keys
    from workbench.store import Store

    features = [f"x{j}" for j in range(args.features)]
    roles = list(ROLES[: args.signoffs])
    policy = {"id": "scale-path", "version": "1", "criteria": [
        {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.7},
        {"id": "auc-non-inferior", "kind": "relative", "metric": "roc_auc", "max_drop": 0.01, "mode": "absolute",
         "ci": "lower"},
        {"id": "drift-psi", "kind": "drift", "max_psi": 0.25},
        {"id": "fairness-dp", "kind": "fairness", "metric": "demographic_parity_ratio", "features": "all",
         "min": 0.8, "ci": "point"},
        {"id": "signoffs", "kind": "signoff", "roles": roles}]}
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    manifest = {"name": f"scale path {args.rows}", "task": "binary", "target": "y", "positive_label": 1,
                "candidate": {"predictions": "sc", "name": "gbm", "version": "2.0"},
                "baseline": {"predictions": "sb", "name": "logreg", "version": "1.0"},
                "data": {"evaluation": "lake/part-*.parquet", "reference": "reference.parquet"},
                "features": features, "sensitive_features": ["sex", "age_band"], "id_column": "id",
                "policy": "policy.yaml", "settings": {"n_bootstrap": args.boot, "seed": 0}}
    (folder / "review.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    if not (folder / "profile.json").exists():
        save_profile(build_profile(folder / "reference.parquet", features=features), folder / "profile.json")
    keys = folder / "keys"
    if not keys.exists():
        init_keys(keys)
    db = folder / "workbench.db"
    if db.exists():
        db.unlink()  # a fresh store every run: the sign-offs are measured, not reused
        for extra in (folder / "workbench.db-wal", folder / "workbench.db-shm"):
            extra.unlink(missing_ok=True)
    os.environ["WORKBENCH_KEYS"] = str(keys)
    with Store.open(db) as store:
        for role in {*roles, "data_governance", "product_owner"}:
            store.add_user(f"u_{role}", [role], password=f"{role}-secret-1", actor="bench")


def measure(cmd: list[str], *, stdin: str | None = None) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, peak RSS MB of the process tree, last stdout line)."""
    import psutil

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stdin is not None:
        proc.stdin.write(stdin)
    proc.stdin.close()
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - t
    out, err = proc.stdout.read(), proc.stderr.read()
    lines = (out.strip() or err.strip()).splitlines()
    if proc.returncode == 2:
        lines = [ln for ln in err.splitlines() if ln.startswith("workbench: error")] or lines
    return proc.returncode, wall, peak / 2**20, lines[-1] if lines else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--boot", type=int, default=200)
    p.add_argument("--signoffs", type=int, default=6, help="required sign-off roles (1-6)")
    p.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit of the review")
    p.add_argument("--dir", required=True, help="work folder; the generated case is kept and reused")
    args = p.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "case.json"
    want = {"rows": args.rows, "features": args.features}
    if not marker.exists() or json.loads(marker.read_text()) != want:
        t = time.perf_counter()
        generate(folder, args.rows, args.features)
        marker.write_text(json.dumps(want))
        (folder / "profile.json").unlink(missing_ok=True)
        print(f"generated {args.rows:,} rows x {args.features} features in {time.perf_counter() - t:.1f} s", flush=True)
    prepare(folder, args)
    wb = [sys.executable, "-m", "workbench.cli"]
    env_db = ["--db", str(folder / "workbench.db")]
    manifest, evidence = str(folder / "review.yaml"), str(folder / "evidence.json")
    gov = ("data_governance", "data_governance-secret-1")
    steps: list[tuple[str, list[str], str | None]] = [
        ("policy register", [*wb, "policy", "register", str(folder / "policy.yaml"), "--model", "gbm", *env_db,
                             "--as", f"u_{gov[0]}", "--password-stdin"], gov[1] + "\n"),
        ("review (duckdb)", [*wb, "review", manifest, "--out", evidence, "--engine", "duckdb", "--memory-limit",
                             args.memory_limit, "--reference-profile", str(folder / "profile.json")], None),
        ("gate (before sign-offs)", [*wb, "gate", manifest, "--evidence", evidence, *env_db], None)]
    for role in ROLES[: args.signoffs]:
        steps.append((f"signoff {role}", [*wb, "signoff", manifest, "--role", role, "--verdict", "approve",
                                          "--comment", "benchmark", *env_db, "--as", f"u_{role}", "--password-stdin"],
                      f"{role}-secret-1\n"))
    steps += [
        ("gate (after sign-offs)", [*wb, "gate", manifest, "--evidence", evidence, *env_db], None),
        ("report", [*wb, "report", manifest, "--out", str(folder / "packet.pdf"), *env_db, "--as", "u_product_owner",
                    "--password-stdin"], "product_owner-secret-1\n"),
        ("verify --manifest", [*wb, "verify", str(folder / "packet.pdf"), "--manifest", manifest], None)]
    print(f"{'step':28s} {'exit':>4s} {'wall s':>8s} {'peak MB':>8s}  load before→after  last line", flush=True)
    total = 0.0
    for name, cmd, stdin in steps:
        load = os.getloadavg()[0]
        code, wall, peak, last = measure(cmd, stdin=stdin)
        total += wall
        print(f"{name:28s} {code:4d} {wall:8.1f} {peak:8.0f}  {load:5.1f}→{os.getloadavg()[0]:<5.1f}  {last[:110]}",
              flush=True)
    ev = json.loads(Path(evidence).read_text())
    auc = ev["models"]["candidate"]["metrics"]["roc_auc"]
    print(f"total {total:.1f} s; review timings {json.dumps(ev.get('timings_s'))}; ROC AUC {auc['value']:.6f} "
          f"({auc['ci_low']:.6f}, {auc['ci_high']:.6f}) {auc.get('method')}; sample {ev['sample']['rows']:,} rows")


if __name__ == "__main__":
    main()
