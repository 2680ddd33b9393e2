"""Secure model loading: skops with a reviewed allow-list, ONNX, and pinned pickle only.

Pickle and joblib execute code while loading, so they are refused unless the manifest entry
says ``allow_pickle: true`` *and* pins the file's SHA-256 — the hash is checked before a single
byte is unpickled. skops lists the types a file would instantiate; anything beyond skops'
defaults must be named in ``trusted_types`` after a human looked at it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.canonical import sha256_file
from workbench.errors import ArtefactError
from workbench.artefacts._manifest import ModelEntry

#: Extra skops types the server trusts for manifests it did not write itself (uploads and
#: paths opened in the app): reviewed data-holding internals of scikit-learn, numpy and
#: LightGBM models — no type here executes code of the file's choosing. An operator may add
#: more through the environment variable WORKBENCH_TRUSTED_TYPES (comma-separated).
SERVER_TRUSTED_TYPES: frozenset[str] = frozenset({
    "collections.OrderedDict",
    "functools.partial",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
})


def server_trusted_types() -> frozenset[str]:
    """``SERVER_TRUSTED_TYPES`` plus the operator's WORKBENCH_TRUSTED_TYPES."""
    extra = os.environ.get("WORKBENCH_TRUSTED_TYPES", "")
    return SERVER_TRUSTED_TYPES | {t.strip() for t in extra.split(",") if t.strip()}


def check_untrusted_entry(entry: ModelEntry, *, label: str) -> None:
    """Refuse what a manifest from an untrusted source may not ask for.

    Whoever writes a manifest chooses its ``allow_pickle``, ``sha256`` and ``trusted_types``;
    when that is a browser user rather than the operator, those choices would let them run
    code on the server. So: no pickles at all, and only the server's reviewed extra types.
    """
    if entry.kind in ("pickle", "joblib") or entry.allow_pickle:
        raise ArtefactError(
            f"{label}: pickle/joblib models are not accepted here (loading one can run arbitrary code); "
            f"{_SKOPS_HINT}, or review this model from the command line on a machine you control"
        )
    refused = sorted(set(entry.trusted_types) - server_trusted_types())
    if refused:
        raise ArtefactError(
            f"{label}: trusted_types not accepted from this source: {', '.join(refused)}. Only types the "
            "server operator reviewed are trusted here (WORKBENCH_TRUSTED_TYPES)"
        )


_SKOPS_HINT = (
    "convert it to skops: `import skops.io as sio; sio.dump(model, 'model.skops')`, "
    "then point the manifest at the .skops file"
)


@dataclass(frozen=True)
class ArtefactRecord:
    """Lineage of one input file: what it is, its hash and size (and shape for data)."""

    role: str
    path: str
    sha256: str
    bytes: int
    format: str
    rows: int | None = None
    columns: int | None = None
    schema_fingerprint: str | None = None
    #: for a registry model: uri, name, version, run_id, source and every artifact file's hash
    registry: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score a data frame, whatever its file format.

    ``predict_scores(frame)`` returns, for a binary task, P(positive label) as shape ``(n,)``;
    for multiclass the probabilities as ``(n, k)`` in the order of ``classes``; for regression
    the predictions. ``frame`` is a full data frame: the model picks its own columns.
    """

    role: str
    kind: str
    task: str
    features: tuple[str, ...]
    estimator: Any = None
    record: ArtefactRecord | None = None
    classes: tuple[Any, ...] = ()
    positive_index: int | None = None
    prediction_column: str | None = None
    name: str = "model"
    version: str = "unversioned"
    _onnx: Any = field(default=None, repr=False, compare=False)

    @property
    def is_precomputed(self) -> bool:
        return self.kind == "precomputed"

    def predict_scores(self, frame: pd.DataFrame) -> np.ndarray:
        if self.is_precomputed:
            return self._precomputed(frame)
        X = frame.loc[:, list(self.features)]
        if self._onnx is not None:
            out = self._onnx.run(X)
        elif self.task == "regression":
            return np.asarray(self.estimator.predict(X), dtype=float)
        else:
            out = np.asarray(self.estimator.predict_proba(X), dtype=float)
        if self.task == "binary":
            return out[:, self.positive_index]
        if self.task == "regression":
            return np.asarray(out, dtype=float).ravel()
        return out

    def _precomputed(self, frame: pd.DataFrame) -> np.ndarray:
        col = self.prediction_column
        assert col is not None
        if self.task == "multiclass":
            cols = [f"{col}{c}" for c in self.classes]
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise ArtefactError(f"{self.role}.predictions: columns missing from the data: {', '.join(missing)}")
            return frame[cols].to_numpy(dtype=float)
        if col not in frame.columns:
            raise ArtefactError(
                f"{self.role}.predictions: column '{col}' is not in the data set; "
                "add the precomputed scores as that column"
            )
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = int(np.isnan(values).sum())
        if bad:
            raise ArtefactError(f"{self.role}.predictions: column '{col}' has {bad} missing or non-numeric scores")
        return values


class _OnnxRunner:
    """Feeds a data frame to an onnxruntime session and returns probabilities or predictions."""

    def __init__(self, path: Path, task: str) -> None:
        try:
            import onnxruntime as ort  # lazy: heavy import
        except ImportError:
            raise ArtefactError(f"{path.name}: ONNX models need onnxruntime: pip install onnxruntime") from None
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self.inputs = self.session.get_inputs()
        except Exception as exc:  # a corrupt, truncated or non-ONNX file: onnxruntime raises its own types
            raise ArtefactError(f"{path.name}: not a loadable ONNX model ({type(exc).__name__}: "
                                f"{_first_line(exc)})") from None
        self.task = task

    def run(self, X: pd.DataFrame) -> np.ndarray:
        feeds: dict[str, np.ndarray] = {}
        if len(self.inputs) == 1 and X.shape[1] > 1:
            feeds[self.inputs[0].name] = X.to_numpy(dtype=np.float32)
        else:
            for inp in self.inputs:
                if inp.name not in X.columns:
                    raise ArtefactError(f"ONNX model input '{inp.name}' is not a column of the data")
                col = X[inp.name]
                if "string" in inp.type:
                    arr = col.astype(str).to_numpy(dtype=object)
                elif "int64" in inp.type:
                    arr = col.to_numpy(dtype=np.int64)
                elif "double" in inp.type:
                    arr = col.to_numpy(dtype=np.float64)
                else:
                    arr = col.to_numpy(dtype=np.float32)
                feeds[inp.name] = arr.reshape(-1, 1)
        outputs = self.session.run(None, feeds)
        names = [o.name for o in self.session.get_outputs()]
        if self.task == "regression":
            return np.asarray(outputs[0], dtype=float).ravel()
        for name, value in zip(names, outputs, strict=True):
            if "prob" in name.lower():
                if isinstance(value, list):  # zipmap output: list of dicts
                    raise ArtefactError("ONNX model returns a ZipMap; convert with options={'zipmap': False}")
                return np.asarray(value, dtype=float)
        return np.asarray(outputs[-1], dtype=float)

    @property
    def classes(self) -> tuple[Any, ...]:
        meta = self.session.get_modelmeta().custom_metadata_map
        raw = meta.get("classes")
        return tuple(raw.split(",")) if raw else ()


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut at ``limit`` characters (loader errors can be pages long)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _record(role: str, path: Path, display: str, fmt: str) -> ArtefactRecord:
    return ArtefactRecord(role=role, path=display, sha256=sha256_file(path), bytes=path.stat().st_size, format=fmt)


def load_skops(path: Path, *, trusted: Sequence[str], label: str) -> Any:
    """Load a skops file, refusing any type that is neither a skops default nor in ``trusted``."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt or non-skops file
        raise ArtefactError(f"{label}: not a readable skops file ({type(exc).__name__}: {_first_line(exc)})") from None
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise ArtefactError(
            f"{label}: refusing to load types that are not trusted: {', '.join(refused)}. "
            "Review them, then list them under the model's trusted_types in the manifest"
        )
    try:
        return sio.load(path, trusted=list(trusted) or None)
    except Exception as exc:
        raise ArtefactError(f"{label}: skops could not load the model ({type(exc).__name__}: {_first_line(exc)})") from None


def load_pinned_pickle(path: Path, entry: ModelEntry, *, label: str) -> Any:
    """Unpickle only a file whose SHA-256 matches the manifest's pin; check before loading."""
    if not entry.allow_pickle:
        raise ArtefactError(
            f"{label}: pickle/joblib files can run arbitrary code when loaded and are refused. "
            f"Either {_SKOPS_HINT}, or (only for a file you trust) set allow_pickle: true and "
            "sha256: <the file's SHA-256> in the manifest entry"
        )
    pinned = entry.pinned_sha256
    if pinned is None:
        raise ArtefactError(f"{label}: allow_pickle needs a pinned sha256: in the manifest entry ({_SKOPS_HINT})")
    data = path.read_bytes()  # hash and unpickle the same bytes: no swap between check and load
    actual = hashlib.sha256(data).hexdigest()
    if actual != pinned:
        raise ArtefactError(
            f"{label}: sha256 mismatch: the manifest pins {pinned[:12]}…, the file is {actual[:12]}…; "
            "the file changed since it was reviewed — refusing to unpickle it"
        )
    import joblib  # handles plain pickles and joblib files alike

    try:
        return joblib.load(io.BytesIO(data))
    except Exception as exc:
        raise ArtefactError(f"{label}: could not unpickle ({type(exc).__name__}: {exc})") from None


def load_model(
    entry: ModelEntry,
    *,
    role: str,
    base_dir: Path,
    task: str,
    features: Sequence[str],
    positive_label: Any = None,
    classes: Sequence[Any] = (),
    manifest_label: str = "review.yaml",
    untrusted: bool = False,
    registry_uri: str | None = None,
) -> LoadedModel:
    """Load one model entry of the manifest into a :class:`LoadedModel`.

    ``untrusted=True`` for a manifest the operator did not write (browser uploads, paths
    typed into the app): see :func:`check_untrusted_entry`. An entry with ``uri:`` is resolved
    in the registry at ``registry_uri`` (see :func:`workbench.registry.registry_uri`).
    """
    if untrusted:
        check_untrusted_entry(entry, label=f"{manifest_label}: {role}")
    common: dict[str, Any] = dict(role=role, task=task, features=tuple(features), name=entry.name, version=entry.version)
    if entry.uri is not None:
        return _load_registry_model(entry, role=role, task=task, positive_label=positive_label, classes=classes,
                                    manifest_label=manifest_label, registry_uri=registry_uri, common=common)
    if entry.kind == "precomputed":
        return LoadedModel(kind="precomputed", prediction_column=entry.predictions, classes=tuple(classes),
                           positive_index=1 if task == "binary" else None, **common)
    assert entry.path is not None
    path = entry.path if entry.path.is_absolute() else base_dir / entry.path
    label = f"{manifest_label}: {role}.path ({entry.path.as_posix()})"
    if not path.is_file():
        raise ArtefactError(f"{manifest_label}: {role}.path: file not found: {entry.path.as_posix()}")
    fmt = entry.kind
    record = _record(role, path, entry.path.as_posix(), fmt)
    return _load_file(path, fmt, entry, record=record, label=label, task=task, positive_label=positive_label,
                      classes=classes, common=common)


def _load_file(path: Path, fmt: str, entry: ModelEntry, *, record: ArtefactRecord, label: str, task: str,
               positive_label: Any, classes: Sequence[Any], common: dict[str, Any]) -> LoadedModel:
    if fmt == "onnx":
        try:
            runner = _OnnxRunner(path, task)
        except ArtefactError as exc:
            raise ArtefactError(f"{label}: {exc}") from None
        model_classes = runner.classes or tuple(classes)
        return LoadedModel(kind="onnx", record=record, classes=tuple(model_classes),
                           positive_index=_positive_index(model_classes, positive_label, task, label),
                           _onnx=runner, **common)
    if fmt == "skops":
        estimator = load_skops(path, trusted=entry.trusted_types, label=label)
    else:
        estimator = load_pinned_pickle(path, entry, label=label)
    if task != "regression" and not hasattr(estimator, "predict_proba"):
        raise ArtefactError(f"{label}: a {task} model needs predict_proba; {type(estimator).__name__} has none")
    model_classes = tuple(getattr(estimator, "classes_", classes))
    return LoadedModel(kind=fmt, estimator=estimator, record=record, classes=model_classes,
                       positive_index=_positive_index(model_classes, positive_label, task, label), **common)


_REGISTRY_SUFFIXES: dict[str, tuple[str, ...]] = {
    "skops": (".skops",), "onnx": (".onnx",), "pickle": (".pkl", ".pickle"), "joblib": (".joblib",)}


def pick_model_file(folder: Path, *, fmt: str | None, label: str) -> tuple[Path, str]:
    """The one model file of a downloaded registry version and its format.

    A skops file or ``model.onnx`` is preferred; MLflow's pickled flavours (``model.pkl``,
    ``python_model.pkl``) are found too, but load only with ``allow_pickle`` and a pinned sha256.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for kind in ([fmt] if fmt and fmt != "registry" else list(_REGISTRY_SUFFIXES)):
        found = [p for p in files if p.suffix.lower() in _REGISTRY_SUFFIXES[kind]]
        if len(found) == 1:
            return found[0], kind
        if len(found) > 1:
            names = ", ".join(p.relative_to(folder).as_posix() for p in found)
            raise ArtefactError(f"{label}: {len(found)} {kind} files in the version's artifacts ({names}); register one")
    names = ", ".join(p.relative_to(folder).as_posix() for p in files) or "none"
    raise ArtefactError(f"{label}: no model file the workbench can load (a .skops file, model.onnx, or a pickle "
                        f"pinned by sha256) among the version's artifacts: {names}")


def _load_registry_model(entry: ModelEntry, *, role: str, task: str, positive_label: Any, classes: Sequence[Any],
                         manifest_label: str, registry_uri: str | None, common: dict[str, Any]) -> LoadedModel:
    from workbench.registry import Registry
    from workbench.registry import registry_uri as default_registry

    assert entry.uri is not None
    label = f"{manifest_label}: {role}.uri ({entry.uri})"
    registry = Registry(default_registry(registry_uri))
    with tempfile.TemporaryDirectory(prefix="workbench-registry-") as tmp:
        fetched = registry.fetch(entry.uri, Path(tmp))  # resolved once: alias -> version, then hashed
        lineage = fetched.lineage()
        if entry.predictions is not None:  # scores precomputed elsewhere; the version is only recorded
            record = ArtefactRecord(role=role, path=entry.uri, sha256=fetched.files_digest,
                                    bytes=sum(f.bytes for f in fetched.files), format="registry", registry=lineage)
            return LoadedModel(kind="precomputed", prediction_column=entry.predictions, classes=tuple(classes),
                               positive_index=1 if task == "binary" else None, record=record, **common)
        path, fmt = pick_model_file(Path(tmp), fmt=entry.format, label=label)
        record = ArtefactRecord(role=role, path=entry.uri, sha256=sha256_file(path), bytes=path.stat().st_size,
                                format=fmt, registry=lineage)
        return _load_file(path, fmt, entry, record=record, label=label, task=task, positive_label=positive_label,
                          classes=classes, common=common)


def _positive_index(model_classes: Sequence[Any], positive_label: Any, task: str, label: str) -> int | None:
    if task != "binary":
        return None
    if not model_classes:
        return 1
    for i, c in enumerate(model_classes):
        if c == positive_label or str(c) == str(positive_label):
            return i
    raise ArtefactError(
        f"{label}: positive_label {positive_label!r} is not one of the model's classes "
        f"({', '.join(map(repr, model_classes))})"
    )


__all__ = ["SERVER_TRUSTED_TYPES", "ArtefactRecord", "LoadedModel", "check_untrusted_entry", "load_model",
           "load_pinned_pickle", "load_skops", "pick_model_file", "server_trusted_types"]
