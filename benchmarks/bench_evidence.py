"""Evidence engine benchmark: 1M evaluation rows, 200k reference rows, 20 features (synthetic).

Prints: all binary metrics with 1,000-replicate CIs for both models plus paired deltas; the
naive per-replicate scikit-learn loop timed on a few replicates and extrapolated; the ratio;
calibration with CIs for both models (standalone, and its marginal cost inside the shared
pass the review runs); drift; peak memory. Every figure shows wall-clock and CPU seconds and
the 1-minute load average, because the development machine is shared: CPU seconds of this
process are what the algorithm costs, wall seconds what a user waited.
Run: .venv/bin/python benchmarks/bench_evidence.py [--workers N]
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


class Timer:
    """Wall and CPU seconds of a block, with the load average when it ended."""

    def __enter__(self) -> "Timer":  # noqa: PYI034 - a script, not a library base class
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.load = os.getloadavg()[0]

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU, load {self.load:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reference", type=int, default=200_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--naive-replicates", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="bootstrap threads (default min(2, cores))")
    args = ap.parse_args()
    if args.workers:
        os.environ["WORKBENCH_THREADS"] = str(args.workers)
    from workbench.metrics._assemble import quantitative_evidence

    x, ref, y, cand, base = synthetic(args.rows, args.reference)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}; {time.strftime('%Y-%m-%d %H:%M')}; other engineers share the cores")
    print(f"rows {args.rows:,}, reference {args.reference:,}, features {x.shape[1]}, replicates {args.bootstrap}")

    with Timer() as t_metrics:
        q = quantitative_evidence("binary", y, {"candidate": cand, "baseline": base}, threshold=0.5,
                                  n_boot=args.bootstrap, seed=0, include_calibration=False)
    print(f"binary metrics (11) + {args.bootstrap}-replicate CIs, both models, paired deltas, DeLong, McNemar: "
          f"{t_metrics} (target <= 20 s)")
    print(f"  roc_auc candidate {q['models']['candidate']['metrics']['roc_auc']}")

    rng = np.random.default_rng(1)
    with Timer() as t_naive:
        for _ in range(args.naive_replicates):
            naive_replicate(y, cand, base, 0.5, rng.integers(0, y.size, y.size))
    per = t_naive.wall / args.naive_replicates
    naive = per * args.bootstrap
    print(f"naive sklearn loop (resample copy + 11 metrics x 2 models): {per:.2f} s/replicate ({t_naive}), "
          f"extrapolated to {args.bootstrap}: {naive:.0f} s; speed-up {naive / t_metrics.wall:.0f}x wall, "
          f"{t_naive.cpu / args.naive_replicates * args.bootstrap / t_metrics.cpu:.0f}x CPU (target >= 50x)")

    with Timer() as t_both:
        q2 = quantitative_evidence("binary", y, {"candidate": cand, "baseline": base}, threshold=0.5,
                                   n_boot=args.bootstrap, seed=0, include_calibration=True)
    print(f"metrics + calibration in the review's shared pass: {t_both}; calibration's marginal cost "
          f"{t_both.wall - t_metrics.wall:.2f} s wall, {t_both.cpu - t_metrics.cpu:.2f} s CPU (target <= 3 s); "
          f"ece candidate {q2['models']['candidate']['calibration']['ece']['value']:.4f}")

    with Timer() as t_cal:
        qc = quantitative_evidence("binary", y, {"candidate": cand, "baseline": base}, threshold=0.5,
                                   n_boot=args.bootstrap, seed=0, include_metrics=False)
    cal = qc["models"]["candidate"]["calibration"]
    print(f"calibration alone (quantitative_evidence(include_metrics=False): ECE, quantile ECE, MCE, Brier "
          f"decomposition, slope/intercept, curves, paired deltas) with {args.bootstrap}-replicate CIs, both "
          f"models, preparation included: {t_cal} (target <= 3 s); ece candidate {cal['ece']['value']:.4f} "
          f"[{cal['ece']['ci_low']:.4f}, {cal['ece']['ci_high']:.4f}]")

    try:
        import pandas as pd

        from workbench.metrics.drift import drift_evidence

        cols = [f"f{i}" for i in range(x.shape[1])]
        with Timer() as t_drift:
            drift_evidence(pd.DataFrame(ref, columns=cols), pd.DataFrame(x, columns=cols), features=cols)
        print(f"drift (drift_evidence, {len(cols)} numeric features): {t_drift} (target <= 2 s)")
    except ImportError as exc:  # drift module not present
        print(f"drift: skipped ({exc})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MiB (target <= 3072 MiB)")


if __name__ == "__main__":
    main()
