"""The demo's two models: the production baseline and the candidate, saved with skops.

Both are scikit-learn Pipelines trained on the reference sample. The baseline one-hot encodes
and scales for a logistic regression; the candidate ordinal-encodes each categorical feature
into *one* column (so SHAP values map back to raw features) and lets a histogram gradient
boosting classifier treat those columns as categorical. Unknown categories become -1, which
the booster treats as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.demo._data import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from workbench.errors import ArtefactError

# Types outside skops' defaults that each pipeline needs, reviewed once by hand:
# SimpleImputer stores its fitted dtype (a numpy.dtype); the booster keeps a TreePredictor per
# tree and a functools.partial around check_array. None of them executes code when loaded.
BASELINE_TRUSTED_TYPES: tuple[str, ...] = ("numpy.dtype",)
CANDIDATE_TRUSTED_TYPES: tuple[str, ...] = (
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)

_NUMERIC = [c for c in FEATURES if c in NUMERIC_FEATURES]
_CATEGORICAL = [c for c in FEATURES if c in CATEGORICAL_FEATURES]


def baseline_pipeline() -> Any:
    """Median-impute and scale numerics, one-hot categoricals, logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [("impute", SimpleImputer(strategy="most_frequent")), ("onehot", OneHotEncoder(handle_unknown="ignore"))]
    )
    prep = ColumnTransformer(
        [("numeric", numeric, _NUMERIC), ("categorical", categorical, _CATEGORICAL)],
        verbose_feature_names_out=False,
    )
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=1000))])


def candidate_pipeline(*, seed: int) -> Any:
    """Numerics as they are (the booster handles NaN), one ordinal column per categorical."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float64)
    prep = ColumnTransformer(
        [("numeric", "passthrough", _NUMERIC), ("categorical", encoder, _CATEGORICAL)],
        verbose_feature_names_out=False,
    )
    n_num = len(_NUMERIC)
    booster = HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.1,
        categorical_features=list(range(n_num, n_num + len(_CATEGORICAL))),
        random_state=seed,
    )
    return Pipeline([("prep", prep), ("model", booster)])


def train(reference: pd.DataFrame, *, target: str, seed: int) -> tuple[Any, Any]:
    """Fit (baseline, candidate) on the reference sample's model inputs."""
    X = reference[list(FEATURES)]
    y = reference[target].to_numpy()
    return baseline_pipeline().fit(X, y), candidate_pipeline(seed=seed).fit(X, y)


def save_skops(model: Any, path: Path, *, reviewed: Sequence[str]) -> tuple[str, ...]:
    """Save ``model`` with skops and return the extra types it needs, in ``reviewed`` order.

    Raises
    ------
    ArtefactError
        If the saved file needs a type nobody reviewed (e.g. after a library upgrade).
    """
    import skops.io as sio

    sio.dump(model, path)
    needed = set(sio.get_untrusted_types(file=path))
    unreviewed = sorted(needed - set(reviewed))
    if unreviewed:
        raise ArtefactError(
            f"{path}: skops needs types that the demo's allow-list does not cover: {', '.join(unreviewed)}; "
            "review them and add them to workbench/_demo_models.py"
        )
    return tuple(t for t in reviewed if t in needed)
