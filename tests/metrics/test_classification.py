"""Every binary and multiclass metric equals scikit-learn; undefined values carry a reason."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from workbench.metrics import _registry as R
from workbench.metrics._binary import BINARY_METRICS, BinaryPrepared, binary_metrics, finalise_counts
from workbench.metrics._multiclass import MULTICLASS_METRICS, multiclass_metrics
from workbench.metrics._registry import metrics_for
from workbench.metrics.bootstrap import poisson_weights


def _sk_binary(y, s, w, threshold):
    pred = (s >= threshold).astype(int)
    kw = {"sample_weight": w}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = {
            "accuracy": skm.accuracy_score(y, pred, **kw),
            "precision": skm.precision_score(y, pred, zero_division=np.nan, **kw),
            "recall": skm.recall_score(y, pred, zero_division=np.nan, **kw),
            "specificity": skm.recall_score(1 - y, 1 - pred, zero_division=np.nan, **kw),
            "f1": skm.f1_score(y, pred, zero_division=np.nan, **kw),
            "mcc": skm.matthews_corrcoef(y, pred, **kw),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred, **kw),
            "log_loss": skm.log_loss(y, s, labels=[0, 1], **kw),
            "brier_score": skm.brier_score_loss(y, s, pos_label=1, **kw),
        }
        present = np.unique(y if w is None else y[w > 0])
        if present.size == 2:
            ref["roc_auc"] = skm.roc_auc_score(y, s, **kw)
            ref["average_precision"] = skm.average_precision_score(y, s, **kw)
    return ref, present.size


binary_case = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0]) | st.floats(0, 1), min_size=n, max_size=n),
        st.none() | st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=n, max_size=n),
        st.sampled_from([0.3, 0.5, 0.8]),
    )
)


@settings(max_examples=120, deadline=None)
@given(binary_case)
def test_binary_metrics_equal_sklearn_with_ties_and_weights(case):
    y, s, w, threshold = case
    y, s = np.array(y), np.array(s)
    w = None if w is None else np.array(w)
    if w is not None and w.sum() == 0:
        w[0] = 1.0
    ours = binary_metrics(y, s, threshold=threshold, sample_weight=w)
    ref, n_classes = _sk_binary(y, s, w, threshold)
    for name, expected in ref.items():
        got = ours[name]
        if got.defined:
            assert got.value == pytest.approx(expected, rel=1e-9, abs=1e-12), name
        else:
            assert got.reason, name
            if name == "balanced_accuracy":  # sklearn averages the recall of the one class present
                assert n_classes == 1 and got.reason == R.REASON_ONE_CLASS
                continue
            # scikit-learn answers 0 (its zero-division convention) or NaN here
            assert np.isnan(expected) or expected == 0.0, (name, expected)
    if n_classes == 1:
        for name in ("roc_auc", "balanced_accuracy", "average_precision" if y.sum() == 0 else "roc_auc"):
            assert not ours[name].defined
        assert ours["roc_auc"].reason == R.REASON_ONE_CLASS


def test_single_class_is_undefined_with_reason_not_nan():
    m = binary_metrics([1, 1, 1], [0.2, 0.6, 0.9])
    assert m["roc_auc"] == R.MetricValue(None, False, R.REASON_ONE_CLASS)
    assert m["specificity"].reason == R.REASON_NO_NEGATIVE
    assert m["recall"].defined and m["recall"].value == pytest.approx(2 / 3)
    m0 = binary_metrics([0, 0], [0.7, 0.9])
    assert m0["average_precision"].reason == R.REASON_NO_POSITIVE
    assert m0["recall"].reason == R.REASON_NO_POSITIVE
    assert binary_metrics([0, 1], [0.1, 0.2])["precision"].reason == R.REASON_NO_PREDICTED_POSITIVE


def test_scores_outside_unit_interval_make_log_loss_undefined():
    m = binary_metrics([0, 1, 1], [-2.0, 0.5, 3.0], threshold=0.0)
    assert not m["log_loss"].defined and "probabilities" in m["log_loss"].reason
    assert m["roc_auc"].value == 1.0


def test_bootstrap_replicates_equal_sklearn_weighted():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 3000)
    s = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 2)  # many ties
    prep = BinaryPrepared(y, s, threshold=0.5)
    w = poisson_weights(y.size, n_boot=4, seed=9)
    reps = prep.finalise(w @ prep.columns.astype(np.float32), w.astype(np.uint8))
    for r in range(4):
        ref, _ = _sk_binary(y, s, w[r].astype(float), 0.5)
        for name in BINARY_METRICS:
            assert reps[name][r] == pytest.approx(ref[name], rel=2e-6), name


@pytest.mark.parametrize("n_rows, n_boot, chunk", [(3000, 5, None), (5001, 7, 3), (700, 9, 4)])
def test_the_executors_replicates_equal_the_six_column_sums(n_rows, n_boot, chunk):
    """run_bootstrap reads TP, FP, positives and rows from the running sums in score order and
    multiplies only the log-loss and Brier columns: the same numbers as the six-column product
    (counts exactly; log loss and Brier to the bit), and scikit-learn's on the same weights."""
    from workbench.metrics._engine import _Plan, _single_threaded_blas, run_bootstrap

    rng = np.random.default_rng(n_rows)
    y = rng.integers(0, 2, n_rows)
    s = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 2)  # ties, also at the threshold
    prep = BinaryPrepared(y, s, threshold=0.5)
    reps = run_bootstrap({"m": prep}, n_rows=n_rows, n_boot=n_boot, seed=3, chunk_size=chunk)["m"]
    counts = poisson_weights(n_rows, n_boot=n_boot, seed=3).astype(np.uint8)

    class SixColumns:  # the former layout: every column through the float32 product
        columns = prep.columns

    with _single_threaded_blas():  # as on the executor's workers
        six = np.concatenate([_Plan({"c": SixColumns()}, n_rows).linear_sums(counts[a:a + (chunk or n_boot)])
                              for a in range(0, n_boot, chunk or n_boot)])
    ref = finalise_counts(six)
    for name in ("accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "mcc",
                 "log_loss", "brier_score"):
        assert np.array_equal(reps[name], ref[name], equal_nan=True), name
    for r in range(n_boot):
        sk, _ = _sk_binary(y, s, counts[r].astype(float), 0.5)
        for name in BINARY_METRICS:
            assert reps[name][r] == pytest.approx(sk[name], rel=2e-6), name


def test_registry_knows_every_metric_and_its_direction():
    binary = metrics_for("binary")
    assert tuple(binary) == BINARY_METRICS
    assert binary["roc_auc"].greater_is_better and not binary["log_loss"].greater_is_better
    assert binary["accuracy"].needs == "labels" and binary["roc_auc"].needs == "scores"
    assert tuple(metrics_for("multiclass")) == MULTICLASS_METRICS
    with pytest.raises(KeyError, match="known"):
        R.get_metric("auc", task="binary")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_registered_metric_is_invariant_to_row_order(task):
    rng = np.random.default_rng(1)
    n = 60
    if task == "binary":
        y, s = rng.integers(0, 2, n), rng.random(n)
    elif task == "multiclass":
        y = rng.integers(0, 3, n)
        s = rng.dirichlet(np.ones(3), n)
    else:
        y, s = rng.normal(size=n), rng.normal(size=n)
    perm = rng.permutation(n)
    for name, spec in metrics_for(task).items():
        a, b = spec.function(y, s), spec.function(y[perm], s[perm])
        assert a.defined and a.value == pytest.approx(b.value, rel=1e-12), name


multiclass_case = st.integers(3, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
        st.integers(0, 2**32 - 1),
        st.booleans(),
    )
)


@settings(max_examples=50, deadline=None)
@given(multiclass_case)
def test_multiclass_metrics_equal_sklearn(case):
    y, seed, weighted = case
    y = np.array(y)
    rng = np.random.default_rng(seed)
    s = np.round(rng.dirichlet(np.ones(4), y.size), 2)
    s = s / s.sum(axis=1, keepdims=True)
    w = rng.choice([0.5, 1.0, 2.0], y.size) if weighted else None
    ours = multiclass_metrics(y, s, sample_weight=w)
    pred = s.argmax(axis=1)
    labels = [0, 1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = {"accuracy": skm.accuracy_score(y, pred, sample_weight=w),
               "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
               "log_loss": skm.log_loss(y, s, labels=labels, sample_weight=w)}
        for avg in ("macro", "weighted"):
            for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
                ref[f"{name}_{avg}"] = fn(y, pred, labels=np.unique(np.r_[y, pred]), average=avg, zero_division=np.nan, sample_weight=w)
        if np.unique(y).size == 4:
            ref["roc_auc_ovr"] = skm.roc_auc_score(y, s, multi_class="ovr", average="macro", labels=labels, sample_weight=w)
        per_p = skm.precision_score(y, pred, labels=labels, average=None, zero_division=np.nan, sample_weight=w)
    for name, expected in ref.items():
        got = ours[name]
        if np.isnan(expected):
            assert not got.defined, name
        elif not got.defined:
            # sklearn averages the defined classes with their support; when that support is 0
            # it answers 0.0 — we report the average as undefined instead.
            assert name.endswith("_weighted") and expected == 0.0, name
        else:
            assert got.defined and got.value == pytest.approx(expected, rel=1e-9, abs=1e-12), name
    if np.unique(y).size < 4:
        assert ours["roc_auc_ovr"].reason == R.REASON_CLASS_ABSENT
    for c in range(4):
        got = ours["per_class"][c]["precision"]
        assert (not got.defined) if np.isnan(per_p[c]) else got.value == pytest.approx(per_p[c])
