"""Repeated looks keep their error rate (issue 21 item 5): the sequential alert rule, by simulation.

A monitored signal: the accuracy of the promoted model on each window's 500 labelled rows, with
the monitoring threshold ``accuracy >= 0.80``. Each simulated monitoring run is 50 windows.

* **No change, at the threshold.** The true accuracy is exactly 0.80 in every window, the least
  favourable case for false alarms (any true value above the threshold alarms less). The point
  rule fires whenever a window's accuracy dips below 0.80: about half the windows, so virtually
  every run raises a false alarm. The sequential rule (look ``k`` spends ``alpha / (k (k + 1))``)
  must keep the share of runs with any false alarm within the binomial band of the nominal
  ``alpha = 0.05``: with 2,000 runs the count is Binomial(2000, 0.05) if the rate is exactly
  nominal, and its two-sided 99% range is about 3.8%-6.3% of runs. (The union bound guarantees at
  most ``alpha``; with independent windows the rate is close to it, 1 - prod(1 - alpha_k) = 0.048
  over 50 windows, so the band is the right yardstick, not merely "<= alpha".)
* **A planted shift.** 25 windows at 0.82, then the accuracy drops to 0.74 (3.4 standard errors
  below the threshold): the detection delay, in windows after the shift, is reported.

The decisions come from ``workbench.replay._sequential.sequential_breach`` vectorised over all
runs, and the same decisions are checked window by window through ``evaluate_rules``, the
function the alerting paths (``monitor_batch``, ``monitor_source``) call.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from workbench.replay import evaluate_rules
from workbench.replay._monitor import rule_looks
from workbench.replay._sequential import proportion_standard_error, sequential_breach

ALPHA, LIMIT, N_ROWS, WINDOWS, RUNS = 0.05, 0.80, 500, 50, 2000


def _accuracy(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """(RUNS, WINDOWS) window accuracies for true accuracies ``p`` (broadcast over runs)."""
    return rng.binomial(N_ROWS, np.broadcast_to(p, (RUNS, WINDOWS))) / N_ROWS


def _sequential(acc: np.ndarray) -> np.ndarray:
    looks = np.arange(1, WINDOWS + 1)[None, :]  # the signal has a value in every window
    se = proportion_standard_error(LIMIT, N_ROWS)
    return sequential_breach(acc, np.full(acc.shape, se), LIMIT, ceiling=False, look=looks, alpha=ALPHA)[0]


def _window(acc: float) -> dict:
    return {"rows": N_ROWS, "models": {"candidate": {"performance": {"accuracy": float(acc)}, "n_labelled": N_ROWS}}}


def test_no_change_keeps_the_false_alarm_rate_over_50_windows_within_the_nominal_band():
    rng = np.random.default_rng(2105)
    acc = _accuracy(rng, np.full(WINDOWS, LIMIT))
    alarms = _sequential(acc)
    share = float(alarms.any(axis=1).mean())
    low, high = binom.ppf([0.005, 0.995], RUNS, ALPHA) / RUNS
    point_share = float((acc < LIMIT).any(axis=1).mean())
    print(f"false alarms over {WINDOWS} windows: sequential {share:.4f} of {RUNS} runs (band {low:.4f}-{high:.4f}), "
          f"point rule {point_share:.4f}")
    assert low <= share <= high
    assert point_share > 0.99  # the uncorrected rule: a false alarm in nearly every run
    # the alerting path decides the same, window by window (first 40 runs)
    thresholds = {"accuracy": LIMIT}
    for run in range(40):
        history = [_window(a) for a in acc[run]]
        looks = rule_looks(history, thresholds)
        fired = [bool(evaluate_rules(w, thresholds, looks=lk, alpha=ALPHA)[0]) for w, lk in zip(history, looks)]
        assert fired == alarms[run].tolist()


def test_a_planted_shift_is_detected_and_its_delay_reported():
    rng = np.random.default_rng(2106)
    shift_at = 25
    truth = np.where(np.arange(WINDOWS) < shift_at, 0.82, 0.74)
    alarms = _sequential(_accuracy(rng, truth))
    before = alarms[:, :shift_at].any(axis=1).mean()
    after = alarms[:, shift_at:]
    detected = after.any(axis=1)
    delay = np.argmax(after, axis=1)[detected] + 1  # 1 = the first window after the shift
    print(f"planted shift 0.82 -> 0.74 at window {shift_at + 1}: detected in {detected.mean():.3f} of runs, "
          f"delay median {np.median(delay):.0f}, mean {delay.mean():.2f}, 90th percentile "
          f"{np.percentile(delay, 90):.0f} windows; false alarms before the shift {before:.4f}")
    assert before <= ALPHA
    assert detected.mean() >= 0.99
    assert np.median(delay) <= 3 and np.percentile(delay, 90) <= 8


def test_looks_count_only_windows_where_the_signal_has_a_value():
    labelled = {"models": {"candidate": {"performance": {"accuracy": 0.8}, "n_labelled": 100}}}
    unlabelled = {"models": {"candidate": {"performance": {}}}}
    looks = rule_looks([labelled, unlabelled, labelled], {"accuracy": 0.8, "roc_auc": 0.7})
    assert looks == [{"accuracy": 1}, {}, {"accuracy": 2}]


def test_each_signal_takes_its_standard_error_or_says_it_used_the_point_value():
    # a fairness ratio with its window's bootstrap interval: 0.76 against a floor of 0.8 is within noise
    # when the 95% interval is [0.66, 0.86] (se 0.051; at look 1 the bound is 0.76 + 1.96 se = 0.86)
    fair = {"models": {"candidate": {"fairness": {"sex": {"demographic_parity_ratio": 0.76,
                                                         "ci": {"demographic_parity_ratio": [0.66, 0.86]}}}}}}
    assert evaluate_rules(fair, {"demographic_parity_ratio": 0.8}, looks={"demographic_parity_ratio": 1},
                          alpha=ALPHA)[0] == []
    tight = {"models": {"candidate": {"fairness": {"sex": {"demographic_parity_ratio": 0.76,
                                                          "ci": {"demographic_parity_ratio": [0.75, 0.77]}}}}}}
    fired = evaluate_rules(tight, {"demographic_parity_ratio": 0.8}, looks={"demographic_parity_ratio": 1}, alpha=ALPHA)[0]
    assert [f["decision"] for f in fired] == ["sequential"] and fired[0]["bound"] < 0.8 and fired[0]["look"] == 1
    # ROC AUC: Hanley-McNeil at the threshold from the window's positives and negatives
    auc = {"models": {"candidate": {"performance": {"roc_auc": 0.70}, "n_labelled": 2000, "label_rate": 0.3}}}
    fired = evaluate_rules(auc, {"roc_auc": 0.74}, looks={"roc_auc": 1}, alpha=ALPHA)[0]
    assert fired and fired[0]["se"] == pytest.approx(0.012838, abs=1e-6)  # docs/POLICY.md's worked example
    assert evaluate_rules(auc, {"roc_auc": 0.74}, looks={"roc_auc": 10}, alpha=ALPHA)[0] == []  # 0.743 >= 0.74
    # PSI has no standard error: the point rule, and the alert says so
    psi = {"drift": {"max_psi": 0.3}, "models": {"candidate": {}}}
    fired = evaluate_rules(psi, {"psi": 0.25}, looks={"psi": 7}, alpha=ALPHA)[0]
    assert fired[0]["decision"] == "point" and "no standard error" in fired[0]["message"]
