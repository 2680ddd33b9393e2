"""Explainer selection and SHAP computation in the original (raw) feature space.

* Tree ensembles (scikit-learn trees/forests/boosting, LightGBM, XGBoost) → ``shap.TreeExplainer``
  with ``feature_perturbation="tree_path_dependent"`` (exact, no background needed, fast);
  output space: the model's raw margin (log-odds for boosting, probability for forests).
* Linear models → ``shap.LinearExplainer`` with an independent masker over the background;
  output space: the margin (``decision_function``, log-odds for logistic regression).
* Anything else → ``shap.PermutationExplainer`` over the *whole* pipeline on raw columns with
  an independent masker over the background; output space: P(positive).

For tree and linear models inside a Pipeline the preprocessing is applied first and every
transformed column's attribution is summed into the raw column it came from (one-hot
columns sum into their feature), so attributions stay additive in the raw space.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ArtefactError

TREE_CLASSES = {
    "HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "RandomForestClassifier",
    "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier",
    "GradientBoostingRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor", "LGBMClassifier",
    "LGBMRegressor", "XGBClassifier", "XGBRegressor",
}
ADDITIVITY_TOLERANCE = 1e-6


def split_pipeline(estimator: Any) -> tuple[Any | None, Any]:
    """``(preprocessing or None, final estimator)`` of a Pipeline; ``(None, estimator)`` otherwise."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        pre = estimator[:-1] if len(estimator.steps) > 1 else None
        return pre, estimator.steps[-1][1]
    return None, estimator


def explainer_kind(final: Any) -> str:
    """"tree", "linear" or "permutation" for the final estimator."""
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel

    name = type(final).__name__
    if name in TREE_CLASSES:
        return "tree"
    if isinstance(final, (LinearClassifierMixin, LinearModel)) and hasattr(final, "coef_"):
        return "linear"
    return "permutation"


def column_mapping(pre: Any, raw: Sequence[str]) -> np.ndarray:
    """Raw column index of every transformed column of ``pre`` (fitted)."""
    raw = list(raw)
    out_names = [str(n) for n in pre.get_feature_names_out(raw)]
    last = pre[-1] if hasattr(pre, "steps") else pre
    from sklearn.compose import ColumnTransformer

    if isinstance(last, ColumnTransformer) and len(getattr(pre, "steps", [None])) <= 1:
        return _column_transformer_mapping(last, raw, len(out_names))
    if len(out_names) == len(raw):
        return np.arange(len(raw))
    return np.array([_match(name, raw) for name in out_names])


def _column_transformer_mapping(ct: Any, raw: list[str], n_out: int) -> np.ndarray:
    mapping = np.full(n_out, -1, dtype=np.int64)
    for name, trans, cols in ct.transformers_:
        sl = ct.output_indices_.get(name)
        if sl is None or sl.stop == sl.start or trans == "drop":
            continue
        cols = [raw[c] if isinstance(c, (int, np.integer)) else c for c in np.atleast_1d(cols)]
        width = sl.stop - sl.start
        if width == len(cols):
            idx = [raw.index(c) for c in cols]
        elif len(cols) == 1:
            idx = [raw.index(cols[0])] * width
        else:
            names = [str(n) for n in (trans.get_feature_names_out(cols) if trans != "passthrough" else cols)]
            idx = [_match(n, cols, raw) for n in names]
        mapping[sl] = idx
    if (mapping < 0).any():
        raise ArtefactError(f"cannot map transformed columns {np.flatnonzero(mapping < 0).tolist()} back to raw "
                            "features; give every ColumnTransformer step get_feature_names_out")
    return mapping


def _match(name: str, cols: Sequence[str], raw: Sequence[str] | None = None) -> int:
    raw = list(raw if raw is not None else cols)
    base = name.split("__", 1)[1] if "__" in name else name
    base = base.removeprefix("missingindicator_")
    best = max((c for c in cols if base == c or base.startswith(f"{c}_")), key=len, default=None)
    if best is None:
        raise ArtefactError(f"transformed column {name!r} does not name a raw feature; cannot explain it in "
                            "the original feature space")
    return raw.index(best)


@dataclass(frozen=True)
class RawShap:
    """SHAP values in raw feature space for a batch of rows."""

    values: np.ndarray  # (n, p) raw-feature attributions
    base_value: float
    output: np.ndarray  # model output in the explained space, computed independently of SHAP
    output_space: str


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)


def _positive_column(values: Any, positive_index: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 3:  # (n, p, outputs)
        return arr[:, :, positive_index]
    return arr


class Explainer:
    """A fitted SHAP explainer for one model, able to explain any batch of raw rows."""

    def __init__(self, estimator: Any, features: Sequence[str], background: pd.DataFrame, *,
                 positive_index: int = 1, seed: int = 0,
                 predict: Callable[[pd.DataFrame], np.ndarray] | None = None) -> None:
        import shap

        self.estimator, self.features, self.positive_index = estimator, list(features), positive_index
        self.predict = predict  # model-agnostic scoring (e.g. an ONNX model) when there is no estimator
        self.pre: Any
        self.final: Any
        self.pre, self.final = split_pipeline(estimator) if estimator is not None else (None, None)
        self.kind = explainer_kind(self.final) if estimator is not None else "permutation"
        self.fallback_reason: str | None = None
        self.codecs: dict[str, np.ndarray | pd.api.extensions.ExtensionArray] = {}
        self.adapter: Any = None
        if self.kind in ("tree", "linear"):
            self._build_exact(shap, background)
            probe = background.iloc[: min(20, len(background))]
            raw = self.explain(probe)
            err = np.max(np.abs(raw.base_value + raw.values.sum(axis=1) - raw.output), initial=0.0)
            if not err <= ADDITIVITY_TOLERANCE * max(1.0, float(np.max(np.abs(raw.output), initial=0.0))):
                self._fallback(f"{self.kind} explainer was not additive on the background (error {err:.3g})")
        if self.kind == "permutation":
            # the masker works on numbers: categorical columns travel as codes, decoded for the model
            self.codecs = {f: pd.unique(background[f].dropna()) for f in self.features
                           if not pd.api.types.is_numeric_dtype(background[f])}
            masker = shap.maskers.Independent(self._encode(background), max_samples=len(background))
            self.explainer = shap.PermutationExplainer(self._proba, masker, seed=seed)
            self.output_space = "probability"

    def _fallback(self, reason: str) -> None:
        self.kind, self.fallback_reason = "permutation", reason

    def _build_exact(self, shap: Any, background: pd.DataFrame) -> None:
        bg = self._transform(background)
        self.mapping = (column_mapping(self.pre, self.features) if self.pre is not None
                        else np.arange(len(self.features)))
        if self.kind == "tree":
            from workbench.explain._hgb import (
                CategoricalBoosterAdapter,
                has_categorical_splits,
            )

            model = self.final
            if has_categorical_splits(self.final):  # shap reads numeric thresholds only
                self.adapter = CategoricalBoosterAdapter(self.final)
                model = self.adapter.model
                self.mapping = self.mapping[self.adapter.input_columns()]
            self.explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
            self.output_space = {"log_odds": "log_odds", "probability": "probability"}.get(
                self.explainer.model.tree_output, "raw")
        else:
            self.explainer = shap.LinearExplainer(self.final, shap.maskers.Independent(bg, max_samples=len(bg)))
            self.output_space = "log_odds" if hasattr(self.final, "predict_proba") else "raw"

    def _transform(self, frame: pd.DataFrame) -> np.ndarray:
        X = frame[self.features]
        return _dense(self.pre.transform(X)) if self.pre is not None else _dense(X)

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.features)))
        for j, f in enumerate(self.features):
            if f in self.codecs:
                cats = list(self.codecs[f])
                col = frame[f]
                unseen = [v for v in pd.unique(col.dropna()) if v not in cats]
                self.codecs[f] = np.asarray(cats + unseen, dtype=object)
                out[:, j] = pd.Categorical(col, categories=self.codecs[f]).codes
                out[col.isna().to_numpy(), j] = np.nan
            else:
                out[:, j] = frame[f].to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def _decode(self, X: np.ndarray) -> pd.DataFrame:
        cols = {}
        for j, f in enumerate(self.features):
            if f in self.codecs:
                codes = X[:, j]
                vals = np.full(codes.shape[0], np.nan, dtype=object)
                ok = np.isfinite(codes)
                vals[ok] = self.codecs[f][codes[ok].astype(np.int64)]
                cols[f] = vals
            else:
                cols[f] = X[:, j]
        return pd.DataFrame(cols)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        frame = self._decode(X)
        if self.predict is not None:
            return np.asarray(self.predict(frame), dtype=float)
        if hasattr(self.estimator, "predict_proba"):
            return self.estimator.predict_proba(frame)[:, self.positive_index]
        return np.asarray(self.estimator.predict(frame), dtype=float)

    def model_output(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's output in the explained space, from the model itself (not from SHAP)."""
        X = frame[self.features]
        if self.output_space == "probability":
            if self.kind == "permutation":
                return self._proba(self._encode(X))
            return self.estimator.predict_proba(X)[:, self.positive_index]
        if self.output_space == "log_odds":
            if hasattr(self.estimator, "decision_function"):
                margin = np.asarray(self.estimator.decision_function(X), dtype=float)
                return margin if self.positive_index == 1 else -margin
            p = self.estimator.predict_proba(X)[:, self.positive_index]
            with np.errstate(divide="ignore"):
                return np.log(p) - np.log1p(-p)
        return np.asarray(self.estimator.predict(X), dtype=float)

    def explain(self, frame: pd.DataFrame, *, progress: Callable[[str], None] | None = None) -> RawShap:
        if self.kind == "permutation":
            values, base = self._explain_permutation(frame, progress)
        else:
            Xt = self._transform(frame)
            if self.adapter is not None:
                Xt = self.adapter.augment(Xt)
            if self.kind == "tree":
                sv = self.explainer.shap_values(Xt, check_additivity=False)
            else:
                sv = self.explainer.shap_values(Xt)
            single = np.asarray(sv).ndim == 2  # one margin for class 1: flip it if class 0 is positive
            sv = _positive_column(sv, self.positive_index)
            base = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=float))
            base = base[self.positive_index] if base.size > 1 else base[0]
            if single and self.positive_index == 0 and self.output_space == "log_odds":
                sv, base = -np.asarray(sv), -base
            values = np.zeros((sv.shape[0], len(self.features)))
            np.add.at(values.T, self.mapping, np.asarray(sv, dtype=float).T)  # one-hot columns sum into their feature
        return RawShap(values, float(base), self.model_output(frame), self.output_space)

    def _explain_permutation(self, frame: pd.DataFrame, progress: Callable[[str], None] | None) -> tuple:
        X = self._encode(frame)
        parts, bases, step = [], [], 200
        for start in range(0, X.shape[0], step):
            exp = self.explainer(X[start:start + step], max_evals=2 * len(self.features) + 1, silent=True)
            parts.append(np.asarray(exp.values, dtype=float))
            bases.append(np.asarray(exp.base_values, dtype=float).ravel())
            if progress is not None:
                progress(f"SHAP (permutation) {min(start + step, X.shape[0])}/{X.shape[0]} rows")
        base = np.concatenate(bases)
        return np.concatenate(parts), float(base[0])
