"""Loading a review's artefacts safely, checking them against the manifest, and their lineage.

``load_review(manifest)`` returns a :class:`ReviewData`: the data frames, both models behind one
``predict_scores`` interface, the encoded labels, and an :class:`ArtefactRecord` (SHA-256, size,
format, rows, schema fingerprint) for every file. Every problem is reported with the file and
column it concerns and what to do; nothing here computes evidence.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.artefacts._models import ArtefactRecord, LoadedModel, load_model, load_pinned_pickle, load_skops
from workbench.canonical import digest, sha256_file
from workbench.errors import ArtefactError, DataError, ManifestError
from workbench.artefacts._manifest import Manifest, Task, load_manifest

_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_CHECK_ROWS = 256

#: Runs a model's ``predict_scores`` on a frame its own way (e.g. in batches): ``ReviewData.scores``.
ScoreRunner = Callable[[Callable[[pd.DataFrame], np.ndarray], pd.DataFrame], np.ndarray]


def schema_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the ordered (column, dtype) pairs: changes when the schema changes.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    >>> schema_fingerprint(a) == schema_fingerprint(a.iloc[:1])
    True
    """
    return digest([[str(c), str(t)] for c, t in frame.dtypes.items()])


def read_table(path: Path, *, label: str, payload: bytes | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file — or its uploaded ``payload`` (``path`` then only names it);
    errors name ``label`` (the manifest field) and the file."""
    fmt = _READERS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{label}: unsupported data format '{path.suffix}' (use .csv or .parquet)")
    source = path if payload is None else io.BytesIO(payload)
    try:
        return pd.read_parquet(source) if fmt == "parquet" else pd.read_csv(source, low_memory=False)
    except Exception as exc:
        raise DataError(f"{label}: cannot read {path.name} ({type(exc).__name__}: {exc})") from None


def data_record(role: str, path: Path, display: str, frame: pd.DataFrame) -> ArtefactRecord:
    return ArtefactRecord(
        role=role,
        path=display,
        sha256=sha256_file(path),
        bytes=path.stat().st_size,
        format=_READERS[path.suffix.lower()],
        rows=int(len(frame)),
        columns=int(frame.shape[1]),
        schema_fingerprint=schema_fingerprint(frame),
    )


def lineage_digest(artefacts: Sequence[ArtefactRecord], manifest_content: dict[str, Any]) -> str:
    """The review's evidence digest: what the evidence was computed *from*.

    It covers every artefact's hash, size, rows and schema fingerprint (not its local path) and
    the manifest's content including the evidence settings, so re-running a review on the same
    inputs reproduces it and any change to a model, a data set or a setting changes it. The
    policy is not part of it: sign-offs bind to the policy digest separately.
    """
    items = sorted(
        ({k: v for k, v in a.to_dict().items() if k != "path"} for a in artefacts if a.role != "policy"),
        key=lambda d: (d["role"], d["sha256"]),
    )
    return digest({"artefacts": items, "manifest": manifest_content})


@dataclass
class ReviewData:
    """Everything a review computes on, loaded and checked. See docs/ARCHITECTURE.md."""

    manifest: Manifest
    evaluation: pd.DataFrame
    reference: pd.DataFrame | None
    replay: pd.DataFrame | None
    features: tuple[str, ...]
    y_true: np.ndarray
    classes: tuple[Any, ...]
    models: dict[str, LoadedModel]
    artefacts: list[ArtefactRecord]
    evidence_digest: str
    _scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def task(self) -> Task:
        return self.manifest.task

    @property
    def sensitive_features(self) -> tuple[str, ...]:
        return self.manifest.sensitive_features

    @property
    def id_column(self) -> str | None:
        return self.manifest.id_column

    @property
    def threshold(self) -> float:
        return self.manifest.threshold

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.models)

    def scores(self, role: str, frame: pd.DataFrame | None = None, *, runner: ScoreRunner | None = None) -> np.ndarray:
        """Model scores on ``frame`` (default: the evaluation set, cached).

        ``runner(predict_scores, evaluation)``, when given, runs the model on the evaluation set
        the first time (e.g. ``workbench.metrics.operational.score_in_batches``, which scores in
        batches and measures the model while doing so); once cached it is not called.
        """
        model = self.models[role]
        if frame is None:
            if role not in self._scores:
                scores = (runner(model.predict_scores, self.evaluation) if runner is not None
                          else model.predict_scores(self.evaluation))
                check_scores(scores, task=self.task, role=role, frame=self.evaluation, id_column=self.id_column,
                             label=self.manifest.data.evaluation.as_posix(), probability=not model.is_precomputed)
                self._scores[role] = scores
            return self._scores[role]
        return model.predict_scores(frame)

    def encode_labels(self, values: pd.Series) -> np.ndarray:
        """Labels of another frame (e.g. replay) encoded like ``y_true``; missing stay NaN."""
        return _encode(values, self.manifest, self.classes)


def _matches(series: pd.Series, label: Any) -> pd.Series:
    exact = series == label
    return exact if exact.any() else series.astype(str) == str(label)


def _encode(values: pd.Series, m: Manifest, classes: tuple[Any, ...]) -> np.ndarray:
    if m.task == "regression":
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    present = values.notna().to_numpy()
    out = np.full(len(values), np.nan)
    if m.task == "binary":
        out[present] = _matches(values[present], m.positive_label).to_numpy(dtype=float)
        return out
    lookup = {str(c): i for i, c in enumerate(classes)}
    out[present] = [lookup.get(str(v), np.nan) for v in values[present]]
    return out


def _infer_features(m: Manifest, frame: pd.DataFrame) -> tuple[str, ...]:
    if m.features is not None:
        return m.features
    excluded = {m.target, *m.sensitive_features, m.id_column, m.replay.timestamp_column}
    for role in ("candidate", "baseline"):
        entry = getattr(m, role)
        if entry is not None and entry.predictions:
            excluded.add(entry.predictions)
            excluded.update(c for c in frame.columns if str(c).startswith(entry.predictions))
    return tuple(c for c in frame.columns if c not in excluded)


def _check_columns(m: Manifest, frame: pd.DataFrame, label: str, *, features: Sequence[str], need_target: bool) -> None:
    wanted = {"target": [m.target] if need_target else [], "features": list(features),
              "sensitive_features": list(m.sensitive_features), "id_column": [m.id_column] if m.id_column else []}
    problems = []
    for field_name, cols in wanted.items():
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            problems.append(f"{label}: {field_name}: column(s) not in the data: {', '.join(map(str, missing))}")
    if problems:
        raise DataError("\n".join(problems) + f"\n{label}: available columns: {', '.join(map(str, frame.columns))}")


def _labels(m: Manifest, frame: pd.DataFrame, label: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    y = frame[m.target]
    missing = int(y.isna().sum())
    if missing:
        raise DataError(f"{label}: target '{m.target}' has {missing} missing labels; the evaluation set must be fully labelled")
    if m.task == "regression":
        values = pd.to_numeric(y, errors="coerce")
        bad = int(values.isna().sum())
        if bad:
            raise DataError(f"{label}: target '{m.target}' has {bad} non-numeric values for a regression task")
        return values.to_numpy(dtype=float), ()
    distinct = sorted(y.unique().tolist(), key=str)
    if m.task == "binary":
        shown = ", ".join(map(str, distinct[:6])) + (" …" if len(distinct) > 6 else "")
        if len(distinct) != 2:
            raise DataError(
                f"{label}: target '{m.target}' has {len(distinct)} distinct values ({shown}); "
                f"a binary task needs exactly two, one of them positive_label {m.positive_label!r}"
            )
        positive = _matches(y, m.positive_label)
        if not positive.any():
            raise DataError(f"{label}: positive_label {m.positive_label!r} does not occur in target '{m.target}' (values: {shown})")
        negative = next(v for v in distinct if str(v) != str(m.positive_label))
        return positive.to_numpy(dtype=np.int8).astype(int), (negative, m.positive_label)
    if len(distinct) < 2:
        raise DataError(f"{label}: target '{m.target}' has a single class; a multiclass review needs at least two")
    classes = tuple(distinct)
    return _encode(y, m, classes).astype(int), classes


_MOSTLY_NUMERIC = 0.9


def _non_numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").isna() & s.notna()


def dtype_problems(frame: pd.DataFrame, reference: pd.DataFrame | None, features: Sequence[str], label: str) -> list[str]:
    """Columns whose values do not fit the reference's type (or, without one, their own), with counts.

    Examples
    --------
    >>> f = pd.DataFrame({"age": ["31", "n/a", "45"] + ["40"] * 17})
    >>> dtype_problems(f, None, ["age"], "eval.csv")
    ["eval.csv: column 'age' looks numeric but has 1 non-numeric values (e.g. 'n/a'); clean or convert it"]
    """
    problems = []
    for col in features:
        s = frame[col]
        if s.isna().all():
            problems.append(f"{label}: column '{col}' is entirely empty ({len(s)} missing values)")
            continue
        ref = reference[col] if reference is not None and col in reference.columns else None
        numeric_here = pd.api.types.is_numeric_dtype(s)
        if ref is not None and pd.api.types.is_numeric_dtype(ref) and not numeric_here:
            bad = _non_numeric(s)
            problems.append(
                f"{label}: column '{col}' should be numeric like the reference but has {int(bad.sum())} "
                f"non-numeric values (dtype {s.dtype}); clean or convert it"
            )
        elif ref is not None and not pd.api.types.is_numeric_dtype(ref) and numeric_here and not ref.isna().all():
            problems.append(
                f"{label}: column '{col}' is numeric here but categorical (dtype {ref.dtype}) in the "
                "reference; the models were trained on categories — check the export"
            )
        elif ref is None and not numeric_here and (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            # Without a reference, a text column whose values are almost all numbers is a bad export.
            bad = _non_numeric(s)
            present = int(s.notna().sum())
            if present and 0 < int(bad.sum()) <= (1 - _MOSTLY_NUMERIC) * present:
                example = s[bad].iloc[0]
                problems.append(
                    f"{label}: column '{col}' looks numeric but has {int(bad.sum())} non-numeric values "
                    f"(e.g. {example!r}); clean or convert it"
                )
    return problems


def _check_model_accepts(model: LoadedModel, frame: pd.DataFrame, label: str, *, id_column: str | None = None) -> None:
    sample = frame.iloc[:_CHECK_ROWS]
    try:
        scores = model.predict_scores(sample)
    except ArtefactError:
        raise
    except Exception as exc:
        raise ArtefactError(
            f"{label}: the {model.role} model ({model.name} {model.version}) failed on the evaluation "
            f"features: {type(exc).__name__}: {exc}"
        ) from None
    check_scores(scores, task=model.task, role=model.role, frame=sample, id_column=id_column, label=label,
                 probability=not model.is_precomputed)


#: How far past [0, 1] a probability may stray through float32 rounding (ONNX) before it is an error.
_PROBABILITY_SLACK = 1e-6


def check_scores(scores: np.ndarray, *, task: str, role: str, frame: pd.DataFrame, id_column: str | None,
                 label: str, probability: bool = True) -> None:
    """Refuse scores that are NaN/inf, or outside [0, 1] for a probability model, naming the first bad row.

    ``probability`` is False for precomputed binary scores: a score column may hold logits or
    any ranking score (the metrics that need probabilities then say so), only not NaN/inf.

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["a", "b", "c"]})
    >>> check_scores(np.array([0.1, 1.7, 0.3]), task="binary", role="candidate", frame=f, id_column="id",
    ...              label="review.yaml")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: review.yaml: the candidate model's scores: 1 outside [0, 1] for a probability model, first at row 2 (id 'b'): 1.7
    """
    values = np.asarray(scores, dtype=float)
    flat = values.reshape(len(values), -1) if values.ndim > 1 else values.reshape(-1, 1)
    bad_value = ~np.isfinite(flat).all(axis=1)
    what = "NaN or infinite"
    if not bad_value.any() and task != "regression" and probability:
        bad_value = ((flat < -_PROBABILITY_SLACK) | (flat > 1 + _PROBABILITY_SLACK)).any(axis=1)
        what = "outside [0, 1] for a probability model"
    if not bad_value.any():
        return
    first = int(np.flatnonzero(bad_value)[0])
    where = f"row {first + 1}"
    if id_column and id_column in frame.columns:
        where += f" (id {frame[id_column].iloc[first]!r})"
    shown = flat[first, 0] if flat.shape[1] == 1 else flat[first].tolist()
    raise DataError(f"{label}: the {role} model's scores: {int(bad_value.sum())} {what}, first at {where}: {shown}")


def check_ids(frame: pd.DataFrame, id_column: str, label: str) -> None:
    """Every row has an id and no id repeats; the message names the rows.

    Examples
    --------
    >>> check_ids(pd.DataFrame({"id": ["a", "b", "a"]}), "id", "eval.csv")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: eval.csv: id_column 'id': 1 duplicate id(s), first 'a' at rows 1 and 3; every row needs its own id
    """
    ids = frame[id_column]
    missing = ids.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(f"{label}: id_column {id_column!r}: {len(rows)} row(s) without an id, first at row {rows[0] + 1}")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = ids.iloc[rows[0]]
        again = int(rows[1:][(ids.iloc[rows[1:]] == first).to_numpy()][0])
        n = int(ids.duplicated().sum())
        raise DataError(f"{label}: id_column {id_column!r}: {n} duplicate id(s), first {first!r} at rows "
                        f"{rows[0] + 1} and {again + 1}; every row needs its own id")


def _join_predictions(m: Manifest, role: str, evaluation: pd.DataFrame) -> tuple[pd.DataFrame, ArtefactRecord]:
    """Attach a model's precomputed scores from its predictions file, one per evaluation row by id."""
    entry = getattr(m, role)
    rel, col, key = entry.predictions_file, entry.predictions, m.id_column
    assert key is not None  # the manifest requires id_column beside a predictions_file
    label = f"{m.display_file}: {role}.predictions_file ({rel.as_posix()})"
    path = m.resolve(rel)
    preds = read_table(path, label=label)
    missing = [c for c in (key, col) if c not in preds.columns]
    if missing:
        raise DataError(f"{label}: column(s) not in the file: {', '.join(missing)} (available: {', '.join(map(str, preds.columns))})")
    if key not in evaluation.columns:
        raise DataError(f"{m.display_file}: id_column: column {key!r} is not in the evaluation data; the predictions are joined on it")
    if col in evaluation.columns:
        raise DataError(f"{label}: the evaluation data already has a column {col!r}; name the score column differently")
    dupes = int(preds[key].duplicated().sum())
    if dupes:
        raise DataError(f"{label}: {dupes} duplicate {key} values; give one prediction per row")
    scores = preds.set_index(key)[col]
    joined = evaluation[key].map(scores)
    unmatched = int(joined.isna().sum())
    if unmatched:
        raise DataError(f"{label}: {unmatched} of {len(evaluation)} evaluation rows have no prediction (matched on {key})")
    return evaluation.assign(**{col: joined.to_numpy()}), data_record(f"{role}_predictions", path, rel.as_posix(), preds)


def _check_contained(m: Manifest) -> None:
    """An untrusted manifest may only name files inside its own folder (no ``../`` or absolute paths)."""
    if m.registry_uri is not None:  # the server would connect wherever the uploader says
        from workbench.registry import normalise_registry_uri, registry_uri

        if normalise_registry_uri(m.registry_uri) != normalise_registry_uri(registry_uri(None)):
            raise ManifestError(f"{m.display_file}: registry_uri: not accepted here; the server uses only the registry "
                                "its operator configured (MLFLOW_TRACKING_URI)")
    root = m.base_dir.resolve()
    outside = [f"{field} ({rel.as_posix()})" for field, rel in m.named_files()
               if not m.resolve(rel).resolve().is_relative_to(root)]
    if outside:
        raise ManifestError(f"{m.display_file}: files outside the review's folder are not accepted here: "
                            f"{', '.join(outside)}; keep every artefact next to review.yaml")



def document_records(m: Manifest) -> list[ArtefactRecord]:
    """The lineage records of the manifest's policy and model card files (those that exist).

    One rule for the in-memory loader and the scale engine, so both give a review the same lineage.
    """
    records = []
    for key in ("policy", "model_card"):
        rel = getattr(m, key)
        if rel is not None and m.resolve(rel).is_file():
            path = m.resolve(rel)
            records.append(ArtefactRecord(role=key, path=rel.as_posix(), sha256=sha256_file(path),
                                          bytes=path.stat().st_size, format="yaml"))
    return records

def load_review(
    manifest: Manifest | str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    untrusted: bool = False,
) -> ReviewData:
    """Load and check every artefact of a review.

    Pass ``untrusted=True`` when the manifest comes from someone other than the operator
    (the app does, for uploads and typed paths): pickles are refused and only the server's
    reviewed extra skops types are trusted, whatever the manifest asks for.

    Raises
    ------
    ManifestError, ArtefactError, DataError
        With messages naming the manifest field, the file and the column.
    """
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    if untrusted:
        _check_contained(m)
    say = progress or (lambda _msg: None)
    label_file = m.display_file
    frames: dict[str, pd.DataFrame | None] = {}
    records: list[ArtefactRecord] = []
    for key in ("evaluation", "reference", "replay"):
        rel = getattr(m.data, key)
        if rel is None:
            frames[key] = None
            continue
        say(f"reading {key} data {rel.as_posix()}")
        path = m.resolve(rel)
        if not path.is_file():
            raise ArtefactError(f"{label_file}: data.{key}: file not found: {rel.as_posix()}")
        frame = read_table(path, label=f"{label_file}: data.{key} ({rel.as_posix()})")
        frames[key] = frame
        records.append(data_record(key, path, rel.as_posix(), frame))
    evaluation = frames["evaluation"]
    assert evaluation is not None
    eval_label = f"{m.data.evaluation.as_posix()}"
    if m.id_column and m.id_column in evaluation.columns:
        check_ids(evaluation, m.id_column, eval_label)
    for role in ("candidate", "baseline"):
        entry = getattr(m, role)
        if entry is not None and entry.predictions_file is not None:
            evaluation, record = _join_predictions(m, role, evaluation)
            records.append(record)
    features = _infer_features(m, evaluation)
    if not features:
        raise DataError(f"{label_file}: features: no feature columns left in {eval_label} after removing target, sensitive and id columns")
    _check_columns(m, evaluation, eval_label, features=features, need_target=True)
    if frames["reference"] is not None:
        assert m.data.reference is not None  # the reference frame is read from it
        _check_columns(m, frames["reference"], m.data.reference.as_posix(), features=features, need_target=False)
    problems = dtype_problems(evaluation, frames["reference"], features, eval_label)
    if problems:
        raise DataError("\n".join(problems))
    y_true, classes = _labels(m, evaluation, eval_label)
    models: dict[str, LoadedModel] = {}
    for role in ("candidate", "baseline"):
        entry = getattr(m, role)
        if entry is None:
            continue
        say(f"loading {role} model")
        model = load_model(entry, role=role, base_dir=m.base_dir, task=m.task, features=features,
                           positive_label=m.positive_label, classes=classes, manifest_label=label_file,
                           untrusted=untrusted, registry_uri=m.registry_uri)
        _check_model_accepts(model, evaluation, label_file, id_column=m.id_column)
        models[role] = model
        if model.record is not None:
            records.append(model.record)
    records += document_records(m)
    return ReviewData(
        manifest=m,
        evaluation=evaluation,
        reference=frames["reference"],
        replay=frames["replay"],
        features=features,
        y_true=y_true,
        classes=classes,
        models=models,
        artefacts=records,
        evidence_digest=lineage_digest(records, m.content()),
    )


__all__ = [
    "ArtefactRecord",
    "LoadedModel",
    "ReviewData",
    "ScoreRunner",
    "check_ids",
    "check_scores",
    "data_record",
    "dtype_problems",
    "lineage_digest",
    "load_model",
    "load_pinned_pickle",
    "load_review",
    "load_skops",
    "read_table",
    "schema_fingerprint",
]
