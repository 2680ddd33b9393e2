"""The bootstrap executor: one pass over the replicates feeds every prepared component.

A component (``BinaryPrepared``, ``CalibrationPrepared``, ...) exposes ``columns`` (per-row
values whose weighted sums it needs) and ``finalise(sums, weights)``. For each chunk of
replicates the executor generates the Poisson counts once (uint8), takes all the linear sums
of all components in a single float32 matrix product, and hands each component its slice
plus the counts for its rank statistics. Candidate and baseline therefore share every
replicate (paired), and the weights are generated once for the whole review.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np

from workbench.metrics.bootstrap import fill_poisson_counts


class Component(Protocol):
    columns: np.ndarray

    def finalise(self, sums: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]: ...


def default_chunk(n_rows: int, *, budget_elements: int = 16 << 20) -> int:
    return int(max(1, min(64, budget_elements // max(n_rows, 1))))


def run_bootstrap(
    components: Mapping[str, Component],
    *,
    n_rows: int,
    n_boot: int,
    seed: int,
    chunk_size: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Replicate values ``{component: {statistic: array (n_boot, ...)}}``.

    Examples
    --------
    >>> from workbench.metrics._binary import BinaryPrepared
    >>> prep = BinaryPrepared([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.3], threshold=0.5)
    >>> reps = run_bootstrap({"m": prep}, n_rows=4, n_boot=20, seed=1)
    >>> reps["m"]["roc_auc"].shape
    (20,)
    """
    names = list(components)
    out: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in names}
    if n_boot <= 0 or not names:
        return {name: {} for name in names}
    widths = [components[n].columns.shape[1] for n in names]
    bounds = np.cumsum([0, *widths])
    matrix = np.empty((n_rows, int(bounds[-1])), dtype=np.float32)
    for name, lo, hi in zip(names, bounds[:-1], bounds[1:]):
        matrix[:, lo:hi] = components[name].columns
    k = chunk_size or default_chunk(n_rows)
    counts = np.empty((k, n_rows), dtype=np.uint8)
    weights = np.empty((k, n_rows), dtype=np.float32)
    for start in range(0, n_boot, k):
        size = min(k, n_boot - start)
        c, w = counts[:size], weights[:size]
        fill_poisson_counts(c, seed=seed, start=start)
        np.copyto(w, c)
        sums = w @ matrix
        for name, lo, hi in zip(names, bounds[:-1], bounds[1:]):
            values = components[name].finalise(sums[:, lo:hi].astype(np.float64), c)
            for stat, v in values.items():
                out[name].setdefault(stat, []).append(np.asarray(v))
        if progress is not None:
            progress(f"bootstrap: {start + size}/{n_boot} replicates")
    return {name: {stat: np.concatenate(v, axis=0) for stat, v in stats.items()} for name, stats in out.items()}
