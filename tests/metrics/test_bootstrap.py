"""Bootstrap weights: determinism, chunk invariance, Poisson(1) distribution, percentile CI."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from workbench.metrics.bootstrap import (
    default_weight_chunk,
    iter_weight_chunks,
    percentile_ci,
    poisson_weights,
)


def test_same_seed_same_weights_other_seed_differs():
    a = poisson_weights(1000, n_boot=3, seed=7)
    assert np.array_equal(a, poisson_weights(1000, n_boot=3, seed=7))
    assert not np.array_equal(a, poisson_weights(1000, n_boot=3, seed=8))
    assert not np.array_equal(a[0], a[1])


@settings(max_examples=30, deadline=None)
@given(
    n_rows=st.integers(0, 50),
    n_boot=st.integers(1, 12),
    chunk=st.integers(1, 5),
    seed=st.integers(0, 2**64 - 1),
)
def test_chunking_never_changes_a_replicate(n_rows, n_boot, chunk, seed):
    full = poisson_weights(n_rows, n_boot=n_boot, seed=seed)
    chunks = list(iter_weight_chunks(n_rows, n_boot=n_boot, seed=seed, chunk_size=chunk))
    assert np.array_equal(np.concatenate(chunks, axis=0), full)
    start = n_boot // 2
    part = poisson_weights(n_rows, n_boot=n_boot, seed=seed, start=start, stop=n_boot)
    assert np.array_equal(part, full[start:])


def test_row_weight_does_not_depend_on_table_length():
    long = poisson_weights(1001, n_boot=4, seed=3)
    short = poisson_weights(17, n_boot=4, seed=3)
    assert np.array_equal(long[:, :17], short)


def test_weights_follow_poisson_one():
    w = poisson_weights(200_000, n_boot=2, seed=11).ravel().astype(int)
    counts = np.bincount(w, minlength=9)[:9]
    k = np.arange(9)
    expected = stats.poisson.pmf(k, 1.0)
    expected[-1] = stats.poisson.sf(7, 1.0)  # 8 holds the folded tail
    expected *= w.size
    keep = expected > 20  # chi-square validity; rarer counts pooled into the last cell
    obs = np.r_[counts[keep], counts[~keep].sum()]
    exp = np.r_[expected[keep], expected[~keep].sum()]
    assert stats.chisquare(obs, exp).pvalue > 1e-4
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.var() - 1.0) < 0.02


def test_replicates_are_independent_of_each_other():
    w = poisson_weights(50_000, n_boot=5, seed=2)
    corr = np.corrcoef(w)
    off = corr[~np.eye(5, dtype=bool)]
    assert np.abs(off).max() < 0.03  # ~ 6 standard errors of 1/sqrt(n)


def test_percentile_ci_matches_numpy_and_ignores_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(size=999)
    low, high = percentile_ci(np.r_[x, np.nan, np.nan])
    assert np.allclose((low, high), np.quantile(x, [0.025, 0.975]), rtol=0, atol=1e-12)
    assert np.isnan(percentile_ci(np.array([np.nan, 1.0]))).all()


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5])
def test_percentile_ci_rejects_bad_confidence(bad):
    with pytest.raises(ValueError, match="confidence"):
        percentile_ci(np.arange(10.0), confidence=bad)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="seed"):
        poisson_weights(3, n_boot=2, seed=-1)
    with pytest.raises(ValueError, match="start"):
        poisson_weights(3, n_boot=2, seed=0, start=3, stop=2)


@settings(max_examples=40, deadline=None)
@given(n_rows=st.integers(0, 3000), n_boot=st.integers(1, 6),
       start=st.one_of(st.integers(0, 50), st.integers(0, 2**64 - 7)), seed=st.integers(0, 2**64 - 1))
def test_uint8_counts_equal_the_inverse_cdf_table(n_rows, n_boot, start, seed):
    """The engine's counts (its compiled Philox4x64 and compare-based mapping) are the same
    numbers as the table lookup on numpy's Philox bits, for any row count (whole or partial
    counter blocks), replicate number and seed."""
    from workbench.metrics.bootstrap import fill_poisson_counts

    out = np.empty((n_boot, n_rows), dtype=np.uint8)
    fill_poisson_counts(out, seed=seed, start=start)
    ref = poisson_weights(n_rows, n_boot=start + n_boot, seed=seed, start=start)
    assert np.array_equal(out, ref)


def test_uint8_counts_of_a_million_rows_equal_numpys_philox():
    from workbench.metrics.bootstrap import fill_poisson_counts

    out = fill_poisson_counts(np.empty((2, 1_000_003), dtype=np.uint8), seed=7, start=998)
    assert np.array_equal(out, poisson_weights(1_000_003, n_boot=1000, seed=7, start=998))
    with pytest.raises(ValueError, match="replicates"):
        fill_poisson_counts(np.empty((2, 3), dtype=np.uint8), seed=7, start=2**64 - 1)


def test_default_chunk_is_the_chunk_of_iter_weight_chunks():
    assert [default_weight_chunk(n) for n in (0, 3, 65_536, 1_000_000, 10**9)] == [256, 256, 256, 16, 1]
    assert [c.shape[0] for c in iter_weight_chunks(3, n_boot=300, seed=0)] == [256, 44]


def test_lazy_kernel_builds_once_under_concurrent_first_calls():
    import threading
    import time

    from workbench.metrics._kernels import lazy_kernel

    calls = []

    @lazy_kernel
    def kernel():
        calls.append(1)
        time.sleep(0.05)  # a slow first build: the other threads arrive while it runs
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(kernel())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)
