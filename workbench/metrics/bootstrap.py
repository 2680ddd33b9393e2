"""Counter-based Poisson bootstrap: one machinery for every confidence interval.

A bootstrap replicate is a vector of Poisson(1) weights, one per row ("Poisson bootstrap",
the large-n equivalent of resampling with replacement). The weight of row ``i`` in replicate
``r`` is a pure function of ``(seed, r, i)``:

* the bits come from numpy's counter-based ``Philox4x64`` generator keyed by ``seed`` with the
  replicate number in the counter, so replicate ``r`` is the same whichever chunk of
  replicates is asked for, whichever module asks, and whatever ``n_rows`` is (row ``i`` of a
  longer table gets the same weight as row ``i`` of a shorter one);
* each row takes 16 bits, mapped to a count by the inverse CDF of Poisson(1) evaluated at the
  bucket mid-point: every probability is within ``2**-16`` of the exact Poisson(1) mass
  (counts above 8 are folded into 8; their total mass is 1.1e-6).

Candidate and baseline are always weighted by the same replicates, so their metrics are
paired. Weights are small integers stored as float32, so weighted counts up to 2**24 are
exact in float32 sums.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from workbench.metrics._kernels import lazy_kernel

__all__ = [
    "POISSON_TABLE_BITS",
    "default_weight_chunk",
    "fill_poisson_counts",
    "iter_weight_chunks",
    "percentile_ci",
    "poisson_weights",
]

POISSON_TABLE_BITS = 16
_KEY_SALT = 0x5EED_B007_5712_A9E1  # second key word: separates this stream from other Philox uses


@lru_cache(maxsize=1)
def _poisson_table() -> np.ndarray:
    """Inverse CDF of Poisson(1) at the mid-points of 2**16 equal-probability buckets."""
    k = np.arange(9)
    # P(K = k) = e^-1 / k!  (computed here so the module does not need scipy)
    fact = np.cumprod(np.r_[1.0, np.arange(1, 9, dtype=float)])
    cdf = np.cumsum(np.exp(-1.0) / fact)
    size = 1 << POISSON_TABLE_BITS
    mid = (np.arange(size, dtype=np.float64) + 0.5) / size
    table = np.searchsorted(cdf[:-1], mid, side="right")
    return np.minimum(table, k[-1]).astype(np.float32)


def _check(n_rows: int, n_boot: int, seed: int) -> None:
    if int(n_rows) < 0 or int(n_boot) < 0:
        raise ValueError(f"n_rows and n_boot must be >= 0, got n_rows={n_rows}, n_boot={n_boot}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed}")


@lru_cache(maxsize=1)
def _count_cuts() -> tuple[int, ...]:
    """Smallest 16-bit draw giving a count >= k, for k = 1..8 (the table is non-decreasing)."""
    table = _poisson_table()
    return tuple(int(np.searchsorted(table, k, side="left")) for k in range(1, 9))


def _raw_bits(n_rows: int, replicate: int, seed: int) -> np.ndarray:
    key = np.array([int(seed), _KEY_SALT], dtype=np.uint64)
    counter = np.array([0, int(replicate), 0, 0], dtype=np.uint64)
    gen = np.random.Philox(key=key, counter=counter)
    return gen.random_raw((n_rows + 3) // 4).view(np.uint16)[:n_rows]


def _replicate_into(out: np.ndarray, replicate: int, *, seed: int, table: np.ndarray) -> None:
    np.take(table, _raw_bits(out.shape[0], replicate, seed), out=out)


def fill_poisson_counts(out: np.ndarray, *, seed: int, start: int = 0) -> np.ndarray:
    """Write replicates ``start .. start + len(out) - 1`` as uint8 counts into ``out`` (k, n).

    The path used by the evidence engine; identical values to :func:`poisson_weights`. The
    Philox bits come from a compiled copy of numpy's ``Philox4x64`` (``_philox``: the same
    10 rounds on the same counters and keys, two counter blocks in flight at a time) and are
    mapped to counts by eight compares each in the same kernel: 0.5 instead of 1.0-2.0 ms per
    1M-row replicate (numpy's ``random_raw`` computes one block at a time behind a function
    call per 64-bit draw).
    """
    if out.dtype != np.uint8 or out.ndim != 2:
        raise ValueError("out must be a 2-d uint8 array")
    _check(out.shape[1], out.shape[0], seed)
    if not 0 <= int(start) <= 2**64 - max(out.shape[0], 1):
        raise ValueError(f"replicates must be in [0, 2**64), got start={start}")
    if out.size:
        # whole counter blocks (4 x 64 bits = 16 rows); the draws past n_rows are not used
        bits = np.empty(4 * ((out.shape[1] + 15) // 16), dtype=np.uint64)
        _philox_count_kernel()(np.uint64(seed), np.uint64(_KEY_SALT), np.uint64(start), bits, out)
    return out


@lazy_kernel
def _philox_count_kernel():
    """``kernel(seed, salt, start, bits, out)``: replicates ``start ..`` as uint8 counts into ``out``
    (k, n), with ``bits`` a uint64 work array of 4 * ceil(n / 16) (``_philox.philox_counts``)."""
    from workbench.metrics import _philox  # imports numba: on first use only

    cuts = np.asarray(_count_cuts(), dtype=np.uint16)
    return lambda seed, salt, start, bits, out: _philox.philox_counts(seed, salt, start, cuts, bits, out)


def poisson_weights(
    n_rows: int, *, n_boot: int, seed: int, start: int = 0, stop: int | None = None
) -> np.ndarray:
    """Poisson(1) bootstrap weights for replicates ``start .. stop-1``.

    Parameters
    ----------
    n_rows : int
        Number of rows (observations).
    n_boot : int
        Total number of replicates of the bootstrap (``stop`` defaults to it).
    seed : int
        Seed in ``[0, 2**64)``; the same seed gives the same weights on every machine.
    start, stop : int, optional
        Replicate range to generate.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(stop - start, n_rows)``; entries are counts 0..8.

    Examples
    --------
    >>> w = poisson_weights(5, n_boot=10, seed=1)
    >>> w.shape, w.dtype.name
    ((10, 5), 'float32')
    >>> bool((poisson_weights(5, n_boot=10, seed=1, start=3, stop=4) == w[3:4]).all())
    True
    """
    _check(n_rows, n_boot, seed)
    stop = n_boot if stop is None else int(stop)
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    table = _poisson_table()
    out = np.empty((stop - start, int(n_rows)), dtype=np.float32)
    for i, r in enumerate(range(start, stop)):
        _replicate_into(out[i], r, seed=seed, table=table)
    return out


def default_weight_chunk(n_rows: int) -> int:
    """Replicates per chunk of weights: about 64 MiB of float32 (16M weights), 1 to 256.

    Examples
    --------
    >>> default_weight_chunk(1_000), default_weight_chunk(1_000_000), default_weight_chunk(10**9)
    (256, 16, 1)
    """
    return max(1, min(256, (16 << 20) // max(int(n_rows), 1)))


def iter_weight_chunks(
    n_rows: int, *, n_boot: int, seed: int, chunk_size: int | None = None
) -> Iterator[np.ndarray]:
    """Yield the bootstrap weights in chunks of replicates, shape ``(<= chunk_size, n_rows)``.

    ``chunk_size`` defaults to about 64 MiB of float32 weights per chunk. Concatenating the
    chunks gives exactly ``poisson_weights(n_rows, n_boot=n_boot, seed=seed)``.

    Examples
    --------
    >>> chunks = list(iter_weight_chunks(4, n_boot=5, seed=0, chunk_size=2))
    >>> [c.shape[0] for c in chunks]
    [2, 2, 1]
    """
    _check(n_rows, n_boot, seed)
    if chunk_size is None:
        chunk_size = default_weight_chunk(n_rows)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    for start in range(0, n_boot, chunk_size):
        yield poisson_weights(
            n_rows, n_boot=n_boot, seed=seed, start=start, stop=min(n_boot, start + chunk_size)
        )


def percentile_ci(replicates: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile confidence interval of bootstrap replicates, ignoring NaN replicates.

    Returns ``(nan, nan)`` when fewer than two replicates are finite; callers report such an
    interval as undefined with a reason.

    Parameters
    ----------
    replicates : array-like
        One value per replicate (NaN where the statistic was undefined in that replicate).
    confidence : float
        Two-sided coverage, e.g. 0.95 gives the 2.5% and 97.5% percentiles.

    Examples
    --------
    >>> low, high = percentile_ci(np.r_[np.arange(101.0), np.nan], confidence=0.8)
    >>> round(low, 9), round(high, 9)
    (10.0, 90.0)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    values = np.asarray(replicates, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size < 2:
        return (float("nan"), float("nan"))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return (float(low), float(high))
