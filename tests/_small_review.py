"""A small, real review scenario for tests that need models and data but not the full demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["x1", "x2"]
CATEGORICAL = ["colour"]


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    group = rng.choice(["a", "b"], size=n)
    logit = 1.2 * x1 - 0.8 * x2 + (colour == "red") * 0.7
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"row_id": [f"r{i}" for i in range(n)], "x1": x1, "x2": x2,
                         "colour": colour, "group": group, "label": y})


def linear_pipeline() -> Pipeline:
    pre = ColumnTransformer([("num", StandardScaler(), NUMERIC),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])


def forest_pipeline() -> Pipeline:
    pre = ColumnTransformer([("num", "passthrough", NUMERIC),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)])
    return Pipeline([("pre", pre), ("clf", RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0))])


FOREST_TRUSTED = ["sklearn.tree._tree.Tree"]


def write_small_review(root: Path, *, n: int = 600, extra: dict | None = None) -> Path:
    """Write data, two skops models and a review.yaml into ``root``; return the manifest path."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "models").mkdir(exist_ok=True)
    train, evaluation = make_frame(n, 1), make_frame(n, 2)
    train.to_csv(root / "data" / "reference.csv", index=False)
    evaluation.to_csv(root / "data" / "evaluation.csv", index=False)
    X = train[NUMERIC + CATEGORICAL]
    sio.dump(forest_pipeline().fit(X, train["label"]), root / "models" / "candidate.skops")
    sio.dump(linear_pipeline().fit(X, train["label"]), root / "models" / "baseline.skops")
    manifest = {
        "name": "small review",
        "task": "binary",
        "target": "label",
        "positive_label": 1,
        "candidate": {"path": "models/candidate.skops", "name": "forest", "version": "2.0",
                      "trusted_types": FOREST_TRUSTED},
        "baseline": {"path": "models/baseline.skops", "name": "logreg", "version": "1.0"},
        "data": {"evaluation": "data/evaluation.csv", "reference": "data/reference.csv"},
        "sensitive_features": ["group"],
        "id_column": "row_id",
        **(extra or {}),
    }
    path = root / "review.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path
