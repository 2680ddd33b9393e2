"""Reason codes for one decision: the model's decision, its top reasons in words, what would change it.

A row is named by its id: the value of the manifest's ``id_column`` (compared as text), or —
when the manifest names no id column — the row's 0-based position in the data file. It is
looked up in the evaluation data, then the replay data, or in a production batch passed in.

The reasons are the candidate's SHAP values in the original features (the same explainer,
background and seed as the review's explanations): read from the review's explained sample
when the row is in it, else computed for this one row (``shap_source`` says which). Each reason
places the row's value among the *approved cases* — the evaluation rows the candidate scores at
or above the manifest's threshold — in the feature's own units ("debt ratio 0.62 is higher than
85% of approved cases: lowered the log-odds score by 1.04"). Contributions are in the explainer's
output space (log-odds for boosting and logistic models), named in every sentence; the decision's
score is the probability of the positive class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from workbench.canonical import to_jsonable
from workbench.errors import DataError
from workbench.explain._counterfactual import ActionableSpec, nearest_change

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.explain._explain import ModelExplanation

__all__ = ["Reason", "ReasonCodes", "UnknownRowError", "find_row", "reason_codes"]

Source = Literal["evaluation", "replay", "batch"]
SHAP_NOTES = {
    "review_sample": "read from the review's explained sample",
    "this_row": "computed for this row with the review's explainer and background (the row is not in the "
                "review's explained sample)",
}


class UnknownRowError(DataError):
    """Raised when no row of the searched data has the requested id."""


@dataclass(frozen=True)
class Reason:
    """One feature's part in the decision, with its place among the approved cases."""

    feature: str
    value: Any
    contribution: float
    comparison: str
    percentile: float | None  # share of approved cases with a lower value (numeric features)
    sentence: str


@dataclass(frozen=True)
class ReasonCodes:
    """The decision on one row, its top reasons and what would most change it (see module docstring)."""

    row_id: str
    source: str
    data_file: str
    score: float
    threshold: float
    positive: bool
    decision: str
    output_space: str
    base_value: float
    shap_source: Literal["review_sample", "this_row"]
    additivity_error: float
    population: str
    reasons: tuple[Reason, ...]
    contributions: tuple[dict[str, Any], ...]
    change: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the CLI's ``--json`` and a contest record's ``links["reasons"]``."""
        out = to_jsonable(asdict(self))
        out["available"] = True
        out["shap_note"] = SHAP_NOTES[self.shap_source]
        out["change"]["sentence"] = change_sentence(self.change, self.decision_words)
        # the contest record's earlier shape (feature, value, contribution of the top three)
        out["top"] = [{"feature": r.feature, "value": to_jsonable(r.value), "contribution": r.contribution}
                      for r in self.reasons]
        return out

    @property
    def decision_words(self) -> tuple[str, str]:
        """(this decision, the other one), e.g. ("not approved", "approved")."""
        word = self.decision.removeprefix("not ")
        return (self.decision, f"not {word}" if self.positive else word)

    def text(self) -> str:
        """Human-readable lines (the CLI's default output and the contest view)."""
        where = f"{self.source} data, {self.data_file}"
        lines = [f"Row {self.row_id} ({where})",
                 f"Decision: {self.decision} (probability {self.score:.3f}, threshold {self.threshold:.2f})",
                 f"Top reasons (SHAP values in {self.output_space.replace('_', '-')}, "
                 f"{SHAP_NOTES[self.shap_source]}):"]
        lines += [f"  {i}. {r.sentence}" for i, r in enumerate(self.reasons, start=1)] or ["  (none)"]
        lines += ["What would most change it:", f"  {change_sentence(self.change, self.decision_words)}"]
        if self.change.get("available"):
            lines.append(f"  ({self.change['note']})")
        lines.append(f"{self.population[0].upper()}{self.population[1:]}.")
        return "\n".join(lines)


def _label(feature: str) -> str:
    return feature.replace("_", " ")


def fmt_value(value: Any) -> str:
    """A feature value in its own units: ``0.62``, ``48,200``, ``'contract'``.

    Examples
    --------
    >>> fmt_value(0.6213), fmt_value(48213.4), fmt_value(3), fmt_value("contract"), fmt_value(None)
    ('0.621', '48,213', '3', "'contract'", 'missing')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return repr(str(value))


def find_row(frame: pd.DataFrame, row_id: str, *, id_column: str | None) -> pd.DataFrame | None:
    """The one-row frame with this id (first match), or None.

    ``id_column`` None: ``row_id`` is the row's 0-based position.
    """
    if id_column is not None and id_column in frame.columns:
        hit = np.flatnonzero((frame[id_column].astype(str) == str(row_id)).to_numpy())
        return frame.iloc[hit[:1]] if hit.size else None
    text = str(row_id).strip()
    if text.isdigit() and int(text) < len(frame):
        return frame.iloc[[int(text)]]
    return None


def _locate(review: ReviewData, row_id: str, source: Source | None, batch: pd.DataFrame | None,
            batch_label: str | None) -> tuple[pd.DataFrame, str, str]:
    m = review.manifest
    id_col = review.id_column
    if batch is not None:
        places = [("batch", batch, batch_label or "production batch")]
    else:
        places = [("evaluation", review.evaluation, m.data.evaluation.as_posix())]
        if review.replay is not None and m.data.replay is not None:
            places.append(("replay", review.replay, m.data.replay.as_posix()))
        if source is not None:
            places = [p for p in places if p[0] == source]
            if not places:
                raise DataError(f"the manifest names no {source} data; search evaluation or replay")
    for name, frame, label in places:
        if id_col and id_col not in frame.columns:
            raise DataError(f"{label}: no column {id_col} (the manifest's id_column) to find row {row_id!r} by")
        row = find_row(frame, row_id, id_column=id_col)
        if row is not None:
            return row, name, label
    what = f"{id_col} = {row_id!r}" if id_col else f"row position {row_id!r} (no id_column in the manifest)"
    raise UnknownRowError(f"no row with {what} in {' or '.join(label for _, _, label in places)}")


def _explanation(review: ReviewData) -> ModelExplanation:
    from workbench.explain._explain import explain_review

    s = review.manifest.settings
    return explain_review(review, "candidate", n_rows=s.explain_rows, n_background=s.explain_background, seed=s.seed)


ShapSource = Literal["review_sample", "this_row"]


def _shap_row(expl: ModelExplanation, row: pd.DataFrame, row_id: str, *, in_evaluation: bool
              ) -> tuple[np.ndarray, float, float, ShapSource]:
    if in_evaluation:
        hit = np.flatnonzero(expl.ids.astype(str) == str(row_id))
        if hit.size:
            i = int(hit[0])
            return expl.values[i], expl.base_value, float(expl.output[i]), "review_sample"
    raw = expl.explainer.explain(row)
    return raw.values[0], raw.base_value, float(raw.output[0]), "this_row"


def _compare(value: Any, approved: pd.Series, group: str) -> tuple[str, float | None]:
    """'is higher than 85% of approved cases' (numeric) or 'is shared by 12% of ...' (categorical)."""
    numeric = pd.api.types.is_numeric_dtype(approved) and not pd.api.types.is_bool_dtype(approved)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        share = float(approved.isna().mean() * 100) if len(approved) else 0.0
        return f"is missing (as for {share:.0f}% of {group})", None
    if numeric:
        ref = approved.to_numpy(dtype=np.float64, na_value=np.nan)
        ref = ref[np.isfinite(ref)]
        if ref.size == 0:
            return f"has no {group} to compare with", None
        below = float(np.mean(ref < float(value)) * 100)
        above = float(np.mean(ref > float(value)) * 100)
        if below >= above:
            return f"is higher than {below:.0f}% of {group}", below
        return f"is lower than {above:.0f}% of {group}", below
    share = float((approved.astype(str) == str(value)).mean() * 100) if len(approved) else 0.0
    return f"is shared by {share:.0f}% of {group}", None


_SCORE_NAMES = {"log_odds": "the log-odds score", "probability": "the probability", "raw": "the model's output"}


def _effect(contribution: float, output_space: str) -> str:
    """'lowered the log-odds score by 1.19': the unit is named, as the decision's score is a probability."""
    what = _SCORE_NAMES.get(output_space, "the score")
    if contribution == 0:
        return f"did not move {what}"
    return f"{'raised' if contribution > 0 else 'lowered'} {what} by {abs(contribution):.2f}"


def change_sentence(change: Mapping[str, Any], words: tuple[str, str]) -> str:
    """'Lowering debt ratio from 0.62 to 0.41 would change the decision to approved (probability 0.14 → 0.52).'"""
    if not change.get("available"):
        return f"Not searched: {change.get('reason', 'no actionable feature')}."
    parts = []
    for c in change["changes"]:
        verb = "Raising" if c["to"] > c["from"] else "Lowering"
        parts.append(f"{verb} {_label(c['feature'])} from {fmt_value(c['from'])} to {fmt_value(c['to'])}")
    what = " and ".join(parts)
    scores = f"probability {change['score_before']:.2f} → {change['score_after']:.2f}"
    if change["flips"]:
        return f"{what} would change the decision to {words[1]} ({scores})."
    return (f"No feasible change of {', '.join(_label(f) for f in change['searched']['features'])} flips the "
            f"decision; the largest move is {what[0].lower()}{what[1:]} ({scores}).")


def reason_codes(
    review: ReviewData,
    row_id: str,
    *,
    source: Source | None = None,
    batch: pd.DataFrame | None = None,
    batch_label: str | None = None,
    explanation: ModelExplanation | None = None,
    actionable: Mapping[str, ActionableSpec] | None = None,
    top: int = 3,
    context: Mapping[str, Any] | None = None,
) -> ReasonCodes:
    """The candidate's decision on one row, its top ``top`` reasons and what would most change it.

    Parameters
    ----------
    review : ReviewData
        A binary review whose candidate can be executed.
    row_id : str
        The row's ``id_column`` value (or 0-based position when the manifest has no id column).
    source : "evaluation" | "replay", optional
        Where to look; default: evaluation, then replay.
    batch, batch_label : optional
        A production batch (a monitored prediction) to look in instead, and its file name.
    explanation : ModelExplanation, optional
        The review's candidate explanation when already computed (the app's cache); default:
        computed as the review computes it (``settings.explain_rows``, ``explain_background``, ``seed``).
    actionable : mapping, optional
        Features the search may move; default: the manifest's ``actionable_features``.
    context : mapping, optional
        Extra facts carried in the result (e.g. the monitoring batch id).

    Raises
    ------
    UnknownRowError
        When no searched data holds the id (the message names the id and the data files).
    DataError
        For a non-binary task or a candidate without an executable model.
    """
    if review.task != "binary":
        raise DataError("reason codes are computed for binary tasks")
    model = review.models["candidate"]
    if model.is_precomputed:
        raise DataError("the candidate is precomputed scores: there is no model to explain or to ask "
                        "what would change a decision")
    row, where, label = _locate(review, str(row_id), source, batch, batch_label)
    m = review.manifest
    threshold = float(m.threshold)
    score = float(np.asarray(model.predict_scores(row), dtype=float).reshape(-1)[0])
    positive = score >= threshold
    expl = explanation if explanation is not None else _explanation(review)
    values, base, output, shap_source = _shap_row(expl, row, str(row_id), in_evaluation=where == "evaluation")
    approved = review.evaluation[review.scores("candidate") >= threshold]
    word = _label(m.target)
    features = list(expl.features)
    contributions = [{"feature": f, "value": to_jsonable(row[f].iloc[0]), "contribution": float(values[j])}
                     for j, f in enumerate(features)]
    sign = 1.0 if positive else -1.0  # reasons push towards the decision made
    order = sorted(range(len(features)), key=lambda j: -sign * values[j])
    reasons = []
    for j in order[:top]:
        if sign * values[j] <= 0:
            break
        f, v = features[j], row[features[j]].iloc[0]
        comparison, pct = _compare(v, approved[f], f"{word} cases")
        shown = "" if pd.isna(v) else f" {fmt_value(v)}"  # "debt ratio is missing", not "missing is missing"
        reasons.append(Reason(f, to_jsonable(v), float(values[j]), comparison, pct,
                              f"{_label(f)}{shown} {comparison}: {_effect(float(values[j]), expl.output_space)}"))
    change = nearest_change(row, score=model.predict_scores, reference=review.evaluation,
                            actionable=m.actionable_features if actionable is None else actionable,
                            threshold=threshold, features=features)
    population = (f"{word} cases: the {len(approved):,} evaluation rows the candidate scores at or above the threshold "
                  f"{threshold:g} (of {len(review.evaluation):,})")
    return ReasonCodes(
        row_id=str(row_id), source=where, data_file=label, score=score, threshold=threshold, positive=positive,
        decision=word if positive else f"not {word}", output_space=expl.output_space, base_value=float(base),
        shap_source=shap_source, additivity_error=float(abs(base + values.sum() - output)), population=population,
        reasons=tuple(reasons), contributions=tuple(sorted(contributions, key=lambda c: -abs(c["contribution"]))),
        change=change, context=dict(context or {}))
