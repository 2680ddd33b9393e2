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
