"""Tests of workbench.engine; ``make_frame`` builds the shared scored evaluation table."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_frame(n: int, *, seed: int = 0, ties: bool = True) -> pd.DataFrame:
    """A scored table: label, candidate (rounded: ties) and baseline scores, two sensitive
    attributes (one with missing values), a numeric feature with NaN, a categorical one."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    cand = np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1)
    if ties:
        cand = np.round(cand, 3)
    base = 1 / (1 + np.exp(-(-1.0 + 1.2 * y + rng.normal(0, 1.0, n))))
    sex = rng.choice(np.array(["F", "M"], dtype=object), n)
    age = rng.choice([1, 2, 3], n, p=[0.5, 0.4, 0.1]).astype(float)
    age[rng.random(n) < 0.02] = np.nan
    x1 = rng.normal(0.2, 1.1, n)
    x1[rng.random(n) < 0.01] = np.nan
    return pd.DataFrame({"id": np.arange(n) * 7 + 11, "y": y.astype(np.int64), "sc": cand, "sb": base,
                         "sex": sex, "age": age, "x1": x1,
                         "c1": rng.choice(np.array(["a", "b", "c", "d"], dtype=object), n, p=[0.4, 0.3, 0.2, 0.1])})


def make_reference(n: int, *, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x1": rng.normal(0.0, 1.0, n),
                         "c1": rng.choice(np.array(["a", "b", "c"], dtype=object), n, p=[0.5, 0.3, 0.2])})


def assert_cells_agree(new, old, new_cells: dict, old_cells: dict, roles) -> None:
    """Two partials (e.g. the workers' read and Spark's own) hold the same fairness cells: joint counts
    and their bootstrap exactly, calibration sums to rounding; cells matched by their key."""
    for key, c in new_cells.items():
        assert np.array_equal(new.fairness.joint[c], old.fairness.joint[old_cells[key]]), key
        assert np.array_equal(new.boot.joint[:, c], old.boot.joint[:, old_cells[key]]), key
        for role in roles:
            assert np.allclose(new.fairness.calibration[role][c], old.fairness.calibration[role][old_cells[key]],
                               atol=1e-9)
            assert np.allclose(new.boot.fair_calibration[role][:, c],
                               old.boot.fair_calibration[role][:, old_cells[key]], atol=1e-8)


def assert_numeric_drift_equal(a, others) -> None:
    """One feature's drift cells equal in every partial of ``others``: counts exact, sums to rounding."""
    for other in others:
        assert np.array_equal(a.counts, other.counts) and np.array_equal(a.at_edge, other.at_edge)
        assert np.allclose(a.sums, other.sums, rtol=1e-12, atol=1e-9)
        assert (a.n_missing, a.minimum, a.maximum) == (other.n_missing, other.minimum, other.maximum)
