"""Evidence engine benchmark: 1M evaluation rows, 200k reference rows, 20 features (synthetic).

Prints: all binary metrics with 1,000-replicate CIs for both models plus paired deltas; the
naive per-replicate scikit-learn loop timed on a few replicates and extrapolated; the ratio;
calibration with CIs for both models; peak memory. Run: .venv/bin/python benchmarks/bench_evidence.py
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import warnings

import numpy as np
from sklearn import metrics as skm


def synthetic(n_eval: int, n_ref: int, n_features: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_eval, n_features)).astype(np.float32)
    beta = rng.normal(size=n_features) / np.sqrt(n_features)
    logit = x @ beta
    y = (rng.random(n_eval) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    cand = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.5, n_eval))))
    base = 1 / (1 + np.exp(-(0.8 * logit + rng.normal(0, 0.8, n_eval))))
    ref = rng.normal(0.05, 1.0, size=(n_ref, n_features)).astype(np.float32)
    return x, ref, y, cand, base


def naive_replicate(y, cand, base, threshold, idx):
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in (cand, base):
            yy, ss = y[idx], s[idx]
            pred = ss >= threshold
            out += [skm.accuracy_score(yy, pred), skm.balanced_accuracy_score(yy, pred),
                    skm.precision_score(yy, pred), skm.recall_score(yy, pred),
                    skm.recall_score(1 - yy, ~pred), skm.f1_score(yy, pred), skm.matthews_corrcoef(yy, pred),
                    skm.roc_auc_score(yy, ss), skm.average_precision_score(yy, ss),
                    skm.log_loss(yy, ss), skm.brier_score_loss(yy, ss)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reference", type=int, default=200_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--naive-replicates", type=int, default=3)
    args = ap.parse_args()
    from workbench.metrics._assemble import quantitative_evidence
    from workbench.metrics._engine import run_bootstrap
    from workbench.metrics.calibration import CalibrationPrepared

    x, ref, y, cand, base = synthetic(args.rows, args.reference)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}; {time.strftime('%Y-%m-%d %H:%M')}; other engineers share the cores")
    print(f"rows {args.rows:,}, reference {args.reference:,}, features {x.shape[1]}, replicates {args.bootstrap}")

    t = time.perf_counter()
    q = quantitative_evidence("binary", y, {"candidate": cand, "baseline": base}, threshold=0.5,
                              n_boot=args.bootstrap, seed=0, include_calibration=False)
    t_metrics = time.perf_counter() - t
    print(f"binary metrics (11) + {args.bootstrap}-replicate CIs, both models, paired deltas, DeLong, McNemar: "
          f"{t_metrics:.2f} s (target <= 20 s)")
    print(f"  roc_auc candidate {q['models']['candidate']['metrics']['roc_auc']}")

    rng = np.random.default_rng(1)
    t = time.perf_counter()
    for _ in range(args.naive_replicates):
        naive_replicate(y, cand, base, 0.5, rng.integers(0, y.size, y.size))
    per = (time.perf_counter() - t) / args.naive_replicates
    naive = per * args.bootstrap
    print(f"naive sklearn loop (resample copy + 11 metrics x 2 models): {per:.2f} s/replicate, "
          f"extrapolated to {args.bootstrap}: {naive:.0f} s; speed-up {naive / t_metrics:.0f}x (target >= 50x)")

    t = time.perf_counter()
    comps = {r: CalibrationPrepared(y, s, n_bins=10) for r, s in (("candidate", cand), ("baseline", base))}
    reps = run_bootstrap(comps, n_rows=y.size, n_boot=args.bootstrap, seed=0)
    points = {r: c.point() for r, c in comps.items()}
    t_cal = time.perf_counter() - t
    print(f"calibration (ECE/MCE/Brier decomposition/slope) with {args.bootstrap}-replicate CIs, both models: "
          f"{t_cal:.2f} s (target <= 3 s); ece candidate {points['candidate']['ece'].value:.4f}, "
          f"{len(reps['candidate']['ece'])} replicates")

    try:
        import pandas as pd

        from workbench.metrics.drift import drift_evidence

        cols = [f"f{i}" for i in range(x.shape[1])]
        t = time.perf_counter()
        drift_evidence(pd.DataFrame(ref, columns=cols), pd.DataFrame(x, columns=cols), features=cols)
        print(f"drift (drift_evidence, {len(cols)} numeric features): {time.perf_counter() - t:.2f} s (target <= 2 s)")
    except ImportError as exc:  # drift module not present
        print(f"drift: skipped ({exc})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MiB (target <= 3072 MiB)")


if __name__ == "__main__":
    main()
