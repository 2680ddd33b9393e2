"""Whole-review benchmark: `workbench review` end to end with every section against its budget.

Generates (once; ``--dir D --reuse`` keeps it) a synthetic binary review: 1,000,000 evaluation
rows, 200,000 reference rows, 20 model inputs (17 numeric, 3 categorical), sensitive features
``sex`` and ``age_band``, a histogram gradient boosting candidate and a logistic-regression
baseline (scikit-learn pipelines saved with skops), default settings (n_bootstrap 1,000), and
optionally replay traffic (``--replay-rows``). Then runs

    python -m workbench.cli review review.yaml --out evidence.json

in a child process and prints, per section, wall and CPU seconds (the evidence's
``timings_s`` / ``timings_cpu_s``) next to its budget, the end-to-end wall and CPU time, the
peak RSS of the child, the 1-minute load average before and after, and the naive
scikit-learn loop (resample + the 11 binary metrics of both models) timed on a few
replicates in the same run and extrapolated to n_bootstrap, with the ratio.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_review.py [--rows N] [--dir D --reuse]
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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

N_NUMERIC, N_CATEGORICAL = 17, 3
#: (section(s) in the evidence's timings, budget in seconds); metrics covers calibration
BUDGETS = (
    (("scoring",), None),
    (("metrics",), 12.0),
    (("fairness",), 5.0),
    (("drift",), 1.0),
    (("slices",), 5.0),
    (("explanations",), 8.0),
    (("operational", "robustness"), 8.0),
    (("replay",), 10.0),
)
TOTAL_BUDGET_S = 45.0
PEAK_BUDGET_MIB = 3 * 1024
SPEEDUP_TARGET = 20.0
CANDIDATE_TRUSTED = ("functools.partial", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
                     "sklearn.utils.validation.check_array")
BASELINE_TRUSTED = ("numpy.dtype",)


def _frame(rng: np.random.Generator, n: int, beta: np.ndarray, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, size=(n, N_NUMERIC)).astype(np.float32)
    df = pd.DataFrame(x, columns=[f"x{i:02d}" for i in range(N_NUMERIC)])
    cats = {}
    for j in range(N_CATEGORICAL):
        cats[f"c{j}"] = rng.integers(0, 4 + 2 * j, n)
        df[f"c{j}"] = pd.Categorical.from_codes(cats[f"c{j}"], [f"v{k}" for k in range(4 + 2 * j)]).astype(str)
    df["sex"] = rng.choice(["female", "male"], n)
    df["age_band"] = rng.choice(["18-25", "26-40", "41-60", "61+"], n, p=[0.2, 0.4, 0.3, 0.1])
    logit = x @ beta + 0.3 * (cats["c0"] == 1) - 0.2 * (cats["c1"] == 2) + rng.normal(0, 0.5, n)
    df["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    df["row_id"] = np.arange(n, dtype=np.int64)
    return df


def generate(folder: Path, rows: int, reference: int, replay: int, seed: int = 0) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
    from skops.io import dump

    rng = np.random.default_rng(seed)
    beta = rng.normal(size=N_NUMERIC) / np.sqrt(N_NUMERIC)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "models").mkdir(exist_ok=True)
    ref = _frame(rng, reference, beta)
    ev = _frame(rng, rows, beta, shift=0.05)
    numeric = [f"x{i:02d}" for i in range(N_NUMERIC)]
    categorical = [f"c{j}" for j in range(N_CATEGORICAL)]
    features = numeric + categorical
    ref.to_parquet(folder / "data" / "reference.parquet", index=False)
    ev.to_parquet(folder / "data" / "evaluation.parquet", index=False)
    cand = Pipeline([
        ("prep", ColumnTransformer([("n", "passthrough", numeric),
                                    ("c", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                         dtype=np.float64), categorical)],
                                   verbose_feature_names_out=False)),
        ("model", HistGradientBoostingClassifier(max_iter=100, categorical_features=list(
            range(N_NUMERIC, N_NUMERIC + N_CATEGORICAL)), random_state=seed)),
    ]).fit(ref[features], ref["target"])
    base = Pipeline([
        ("prep", ColumnTransformer([("n", StandardScaler(), numeric),
                                    ("c", OneHotEncoder(handle_unknown="ignore"), categorical)],
                                   verbose_feature_names_out=False)),
        ("model", LogisticRegression(max_iter=1000)),
    ]).fit(ref[features], ref["target"])
    dump(cand, folder / "models" / "candidate.skops")
    dump(base, folder / "models" / "baseline.skops")
    lines = [
        "name: bench review", "task: binary", "target: target", "positive_label: 1", "threshold: 0.5",
        "candidate:", "  path: models/candidate.skops", "  name: gbm", "  version: '2'", "  trusted_types:",
        *[f"  - {t}" for t in CANDIDATE_TRUSTED],
        "baseline:", "  path: models/baseline.skops", "  name: logreg", "  version: '1'", "  trusted_types:",
        *[f"  - {t}" for t in BASELINE_TRUSTED],
        "data:", "  evaluation: data/evaluation.parquet", "  reference: data/reference.parquet",
    ]
    if replay:
        rp = _frame(rng, replay, beta, shift=0.1)
        rp["timestamp"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 28 * 86400, replay)),
                                                                       unit="s")
        rp.drop(columns=["target"]).to_parquet(folder / "data" / "replay.parquet", index=False)
        lines.append("  replay: data/replay.parquet")
    lines += [f"features: [{', '.join(features)}]", "sensitive_features: [sex, age_band]", "id_column: row_id",
              "settings:", "  n_bootstrap: 1000", "  seed: 7"]
    if replay:
        lines += ["replay:", "  timestamp_column: timestamp", "  window: 7D"]
    (folder / "review.yaml").write_text("\n".join(lines) + "\n")
    return folder / "review.yaml"


def naive_seconds_per_replicate(folder: Path, evidence: dict, reps: int) -> float:
    """Resample copy + the 11 binary metrics of scikit-learn for both models, per replicate."""
    from sklearn import metrics as skm
    from skops.io import load

    ev = pd.read_parquet(folder / "data" / "evaluation.parquet")
    feats = evidence["review"]["features"]
    y = ev["target"].to_numpy()
    scores = []
    for role in ("candidate", "baseline"):
        path = folder / "models" / f"{role}.skops"
        trusted = list(CANDIDATE_TRUSTED if role == "candidate" else BASELINE_TRUSTED)
        scores.append(load(path, trusted=trusted).predict_proba(ev[feats])[:, 1])
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(reps):
        idx = rng.integers(0, y.size, y.size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in scores:
                yy, ss = y[idx], s[idx]
                pred = ss >= 0.5
                [skm.accuracy_score(yy, pred), skm.balanced_accuracy_score(yy, pred), skm.precision_score(yy, pred),
                 skm.recall_score(yy, pred), skm.recall_score(1 - yy, ~pred), skm.f1_score(yy, pred),
                 skm.matthews_corrcoef(yy, pred), skm.roc_auc_score(yy, ss), skm.average_precision_score(yy, ss),
                 skm.log_loss(yy, ss), skm.brier_score_loss(yy, ss)]
    return (time.perf_counter() - t) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reference", type=int, default=200_000)
    ap.add_argument("--replay-rows", type=int, default=0, help="replay traffic rows (0: no replay section)")
    ap.add_argument("--naive-replicates", type=int, default=3)
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="keep the data and models already in --dir")
    ap.add_argument("--skip", default=None, help="passed to workbench review --skip")
    args = ap.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench_review_"))
    manifest = folder / "review.yaml"
    if not (args.reuse and manifest.exists()):
        t = time.perf_counter()
        generate(folder, args.rows, args.reference, args.replay_rows)
        print(f"generated {args.rows:,} rows + models in {time.perf_counter() - t:.1f} s ({folder})")
    out = folder / "evidence.json"
    cmd = [sys.executable, "-m", "workbench.cli", "review", str(manifest), "--out", str(out)]
    if args.skip:
        cmd += ["--skip", args.skip]
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = os.getloadavg()[0]
    if proc.returncode not in (0, 1):  # 1 = NO-GO is a verdict, not a failure
        sys.exit(f"workbench review failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mib = after.ru_maxrss / 1024
    evidence = json.loads(out.read_text())
    walls, cpus = evidence.get("timings_s", {}), evidence.get("timings_cpu_s", {})
    print(f"\nworkbench review, {evidence['review']['n_evaluation']:,} evaluation rows, "
          f"{evidence['review']['n_reference']:,} reference rows, {len(evidence['review']['features'])} features, "
          f"n_bootstrap {evidence['settings']['n_bootstrap']}; python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'section':<26}{'wall s':>9}{'CPU s':>9}{'budget s':>10}  status")
    accounted = 0.0
    for names, budget in BUDGETS:
        present = [n for n in names if n in walls]
        if not present:
            continue
        w = sum(walls[n] for n in present)
        c = sum(cpus.get(n, float("nan")) for n in present)
        accounted += w
        statuses = ",".join(evidence["sections"].get(n, {}).get("status", "-") for n in present) if names[0] != "scoring" else "-"
        ok = "" if budget is None else ("ok" if w <= budget else "OVER")
        label = " + ".join(present) + (" + calibration" if names == ("metrics",) else "")
        print(f"{label:<26}{w:>9.2f}{c:>9.2f}{'' if budget is None else f'{budget:.0f}':>10}  {ok} ({statuses})")
    if "cross_check" in walls:
        accounted += walls["cross_check"]
        print(f"{'cross_check (no budget)':<26}{walls['cross_check']:>9.2f}{cpus.get('cross_check', float('nan')):>9.2f}")
    # sections of one stage run side by side: the stage takes its slowest lane, not the sum
    from workbench.evidence import STAGES

    for stage in STAGES:
        if len(stage) > 1:
            lanes = [sum(walls.get(n, 0.0) for n in lane) for lane in stage]
            accounted -= sum(lanes) - max(lanes)
            print(f"{'  side by side: ' + ' | '.join('+'.join(lane) for lane in stage):<26}  "
                  f"lanes {' | '.join(f'{x:.2f}' for x in lanes)} s wall (their CPU overlaps)")
    print(f"{'load, parse, write (rest)':<26}{wall - accounted:>9.2f}")
    print(f"{'TOTAL end to end':<26}{wall:>9.2f}{cpu:>9.2f}{TOTAL_BUDGET_S:>10.0f}  "
          f"{'ok' if wall <= TOTAL_BUDGET_S else 'OVER'}")
    print(f"peak RSS of the review process: {peak_mib:,.0f} MiB (budget {PEAK_BUDGET_MIB:,} MiB) "
          f"{'ok' if peak_mib <= PEAK_BUDGET_MIB else 'OVER'}")
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after")
    if args.naive_replicates > 0:
        per = naive_seconds_per_replicate(folder, evidence, args.naive_replicates)
        total = per * evidence["settings"]["n_bootstrap"]
        print(f"naive scikit-learn loop: {per:.2f} s/replicate -> {total:,.0f} s for "
              f"{evidence['settings']['n_bootstrap']} replicates; the whole review is {total / wall:.1f}x faster "
              f"(target >= {SPEEDUP_TARGET:.0f}x) {'ok' if total / wall >= SPEEDUP_TARGET else 'UNDER'}; "
              f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
