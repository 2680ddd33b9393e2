"""Coverage of the product's 95% intervals, checked by simulation (issue 21 item 6).

Alongside ``test_paired.py::test_bootstrap_auc_ci_coverage_by_simulation`` (one model's AUC):
the paired candidate - baseline delta, the fairness disparities (and their candidate - baseline
delta) and the calibration ECE, each through the same code the review runs (``run_bootstrap`` +
``paired_delta``, ``compare_fairness``, ``quantitative_evidence``), on data whose true values are
known in closed form and are **not** 0: a disparity or an ECE of exactly 0 sits on the boundary of
a non-negative statistic, where no percentile interval covers nominally.

How many simulations. Each test counts how many of ``S`` simulated data sets have an interval
that covers the true value; if the true coverage is 95%, that count is Binomial(S, 0.95), with a
standard deviation of sqrt(0.95 * 0.05 / S) as a share. The band 93-97% is +-2 points:

* S = 400 (the AUC test): sd 1.09 points, the band is +-1.84 sd, a 95% interval lands in it with
  probability 0.934;
* S = 600: sd 0.89 points, +-2.25 sd, probability 0.975;
* S = 800: sd 0.77 points, +-2.60 sd, probability 0.991.

A test that checks several intervals on the same data sets uses S = 800, so that all of them
landing in the band is likely for a correct method (about 0.96 for four); one interval, S = 600.
A miscalibrated method fails clearly: an interval with a true coverage of 90% (or 99%) lands in
the band with probability < 0.001 at S = 600. Replicates: 400 per data set, as in the AUC test
(the Monte Carlo error of percentile ends from 400 replicates costs well under a point of
coverage). Seeds are fixed, so a run is reproducible; the arithmetic above says the chosen seeds
are not a lucky pick.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workbench.fairness import compare_fairness
from workbench.metrics import BinaryPrepared, paired_delta, quantitative_evidence, run_bootstrap

LOW, HIGH = 0.93, 0.97
N_BOOT = 400


def _band(covered: np.ndarray, name: str) -> None:
    share = float(np.mean(covered))
    print(f"{name}: coverage {share:.3f} over {covered.size} simulations")  # shown with -s
    assert LOW <= share <= HIGH, f"{name}: {share:.3f} of {covered.size} intervals cover the true value"


@pytest.mark.slow
def test_paired_auc_delta_interval_coverage_by_simulation():
    """Candidate and baseline on the same rows (correlated scores): the paired delta's interval."""
    sims, n, rho = 600, 1000, 0.5
    mu_c, mu_b = 1.2, 0.8  # binormal, unit variances: AUC = Phi(mu / sqrt(2)) whatever the correlation
    true_delta = stats.norm.cdf(mu_c / np.sqrt(2)) - stats.norm.cdf(mu_b / np.sqrt(2))  # 0.088
    rng = np.random.default_rng(21)
    covered = np.zeros(sims, dtype=bool)
    for i in range(sims):
        y = rng.random(n) < 0.4
        e = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
        prepared = {"candidate": BinaryPrepared(y, mu_c * y + e[:, 0], threshold=0.0),
                    "baseline": BinaryPrepared(y, mu_b * y + e[:, 1], threshold=0.0)}
        reps = run_bootstrap(prepared, n_rows=n, n_boot=N_BOOT, seed=i)
        point = {role: prep.point()["roc_auc"].value for role, prep in prepared.items()}
        d = paired_delta(reps["candidate"]["roc_auc"], reps["baseline"]["roc_auc"], candidate_value=point["candidate"],
                         baseline_value=point["baseline"], greater_is_better=True)
        covered[i] = d["ci_low"] <= true_delta <= d["ci_high"]
    _band(covered, "paired roc_auc delta")


@pytest.mark.slow
def test_fairness_disparity_interval_coverage_by_simulation():
    """Two groups whose selection rates, TPRs and FPRs differ by known amounts (all disparities > 0)."""
    sims, n = 800, 2000
    base = {"A": 0.4, "B": 0.3}
    models = {"candidate": {"tpr": {"A": 0.80, "B": 0.65}, "fpr": {"A": 0.20, "B": 0.15}},
              "baseline": {"tpr": {"A": 0.75, "B": 0.70}, "fpr": {"A": 0.20, "B": 0.18}}}

    def selection(model: dict, g: str) -> float:
        return base[g] * model["tpr"][g] + (1 - base[g]) * model["fpr"][g]

    cand, bl = models["candidate"], models["baseline"]
    dp = {r: abs(selection(m, "A") - selection(m, "B")) for r, m in models.items()}  # 0.14 and 0.084
    truth = {
        "demographic_parity_difference": dp["candidate"],
        "demographic_parity_ratio": selection(cand, "B") / selection(cand, "A"),  # 0.682
        # max(|dTPR| = 0.15, |dFPR| = 0.05): the two are 0.10 apart, ~3 standard errors, so the max is smooth
        "equalized_odds_difference": 0.15,
        "demographic_parity_difference delta": dp["candidate"] - dp["baseline"],  # 0.056
    }
    rng = np.random.default_rng(2121)
    covered = {k: np.zeros(sims, dtype=bool) for k in truth}
    for i in range(sims):
        in_a = rng.random(n) < 0.5
        group = np.where(in_a, "A", "B")
        y = (rng.random(n) < np.where(in_a, base["A"], base["B"])).astype(int)
        preds = {}
        for role, m in models.items():
            rate = np.where(y == 1, np.where(in_a, m["tpr"]["A"], m["tpr"]["B"]),
                            np.where(in_a, m["fpr"]["A"], m["fpr"]["B"]))
            preds[role] = ((rng.random(n) < rate).astype(int), None)
        out = compare_fairness(y, preds, {"group": group}, n_boot=N_BOOT, seed=i, intersections=False)
        section = out["models"]["candidate"]["group"]
        for name, true in truth.items():
            entry = out["deltas"]["group"][name.split()[0]] if name.endswith("delta") else section[name]
            covered[name][i] = entry["ci_low"] <= true <= entry["ci_high"]
    for name, hits in covered.items():
        _band(hits, name)


@pytest.mark.slow
def test_calibration_ece_interval_coverage_by_simulation():
    """Scores uniform on [0, 1], outcomes at min(p + 0.1, 1): every one of the 10 uniform bins is off.

    Bins 1-9 have a gap of 0.1 between the mean outcome and the mean score; in the last bin
    [0.9, 1] every outcome is 1 and the mean score 0.95, a gap of 0.05: true ECE = 0.9 x 0.1 +
    0.1 x 0.05 = 0.095, each bin's gap >= 4 standard errors from 0 at 200 rows a bin.
    """
    sims, n = 600, 2000
    true_ece = 0.9 * 0.1 + 0.1 * 0.05
    rng = np.random.default_rng(2122)
    covered = np.zeros(sims, dtype=bool)
    for i in range(sims):
        p = rng.random(n)
        y = (rng.random(n) < np.minimum(p + 0.1, 1.0)).astype(int)
        ece = quantitative_evidence("binary", y, {"candidate": p}, n_boot=N_BOOT, seed=i, include_metrics=False,
                                    calibration_bins=10)["models"]["candidate"]["calibration"]["ece"]
        covered[i] = ece["ci_low"] <= true_ece <= ece["ci_high"]
    _band(covered, "calibration ece")
