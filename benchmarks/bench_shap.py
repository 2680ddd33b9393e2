"""SHAP for the demo candidate (HistGradientBoosting with categorical splits) on 2,000 rows.

Writes the demo scenario into a temporary directory (or uses ``--demo DIR``), then times the
explanation in raw feature space, the bootstrap CIs of global importance and the explanation
diff against the baseline, with the peak memory of the process (tracemalloc for Python
allocations, RSS for everything).

Run: ``.venv/bin/python benchmarks/bench_shap.py [--demo DIR] [--rows 2000]``
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", type=Path, default=None)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--background", type=int, default=200)
    args = ap.parse_args()
    from workbench.artefacts import load_review

    if args.demo is None:
        from workbench.demo import write_demo

        tmp = Path(tempfile.mkdtemp(prefix="bench-shap-"))
        write_demo(tmp / "scenario")
        args.demo = tmp / "scenario"
    review = load_review(args.demo / "review.yaml")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{len(review.evaluation):,} evaluation rows")
    t = time.perf_counter()
    import shap  # noqa: F401  (import cost reported separately: the app imports it once)

    print(f"import shap: {time.perf_counter() - t:.2f} s")
    from workbench.explain import _explain as ex

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    t, cpu = time.perf_counter(), time.process_time()
    e = ex.explain_review(review, "candidate", n_rows=args.rows, n_background=args.background)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"candidate ({e.method}, {e.output_space}): {len(e.ids)} rows explained in {elapsed:.2f} s wall, "
          f"{cpu:.2f} s CPU; peak traced memory {peak / 2**20:.1f} MiB; peak RSS {rss:.0f} MiB "
          f"(before {rss_before:.0f} MiB); additivity max error {e.additivity['max_abs_error']:.2e} (target <= 15 s)")
    t = time.perf_counter()
    imp = ex.global_importance(e, n_boot=1000)
    print(f"global importance with 1,000-replicate CIs: {time.perf_counter() - t:.2f} s; top 3: "
          + ", ".join(f"{r['feature']} {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" for r in imp[:3]))
    t = time.perf_counter()
    out = ex.explanation_evidence(review, n_rows=args.rows, n_background=args.background)
    d = out["diff"]
    print(f"full explanation evidence (both models, cached candidate): {time.perf_counter() - t:.2f} s; "
          f"Spearman {d['spearman']:.3f}, Kendall {d['kendall']:.3f}, top-5 overlap {d['top_k_overlap']:.2f}, "
          f"flips {[f['feature'] for f in d['direction_flips']]}")
    t = time.perf_counter()
    row_id = review.evaluation[review.id_column].iloc[-1]
    ex.local_explanation(e, row_id, frame=review.evaluation, id_column=review.id_column)
    print(f"local explanation of a row outside the sample: {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
