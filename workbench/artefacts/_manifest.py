"""The review manifest (``review.yaml``): schema and loading.

A manifest names the two models, the data sets, the task and where the policy and model card
live. Paths are relative to the manifest's folder. The schema is strict: an unknown or
misplaced key is an error with its path, never silently dropped, and every error names the
file, the field path and what is wrong, e.g.::

    review.yaml: candidate.path: file not found: models/x.skops

Examples
--------
>>> from workbench.artefacts import Manifest
>>> m = Manifest.model_validate({
...     "name": "r", "task": "binary", "target": "y", "positive_label": 1,
...     "candidate": {"predictions": "cand_score"},
...     "data": {"evaluation": "eval.csv"}})
>>> m.candidate.kind
'precomputed'
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from workbench.yamlio import read_yaml
from workbench.errors import ManifestError
from workbench.registry import URI_PATTERN

Task = Literal["binary", "multiclass", "regression"]
ModelFormat = Literal["skops", "onnx", "pickle", "joblib"]

_SUFFIX_FORMATS: dict[str, ModelFormat] = {
    ".skops": "skops",
    ".onnx": "onnx",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
}


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """One model of the review: a file (skops/ONNX/pickle), a registry version, or precomputed predictions.

    ``uri`` names a version in the model registry (``models:/NAME@alias`` or
    ``models:/NAME/7``); it is resolved once, downloaded and loaded through the same secure
    loader as a file. With ``predictions`` as well, the scores are the precomputed column and the
    registry version is only recorded (hashed) so that the review can be promoted.

    ``predictions`` names a column holding precomputed scores (binary: P(positive); regression:
    the prediction) in every data set, or — for multiclass — a prefix ``proba_`` whose columns
    ``<prefix><class>`` hold the class probabilities. With ``predictions_file`` the column lives
    in that separate CSV/Parquet file instead (teams that score elsewhere export one), joined to
    the evaluation data on the manifest's ``id_column``.
    """

    path: Path | None = None
    uri: str | None = Field(default=None, pattern=URI_PATTERN)
    name: str = "model"
    version: str = "unversioned"
    format: ModelFormat | None = None
    trusted_types: tuple[str, ...] = ()
    allow_pickle: bool = False
    sha256: str | None = Field(default=None, pattern=r"^(sha256:)?[0-9a-fA-F]{64}$")
    predictions: str | None = None
    predictions_file: Path | None = None

    @model_validator(mode="after")
    def _path_or_predictions(self) -> ModelEntry:
        if self.predictions_file is not None and self.predictions is None:
            raise ValueError("predictions_file needs 'predictions': the score column in that file")
        if self.path is None and self.predictions is None and self.uri is None:
            raise ValueError("give 'path' (a model file), 'uri' (models:/NAME@alias) or 'predictions' (a score column)")
        if self.path is not None and self.predictions is not None:
            raise ValueError("give 'path' or 'predictions', not both")
        if self.path is not None and self.uri is not None:
            raise ValueError("give 'path' (a file) or 'uri' (a registry version), not both")
        return self

    @property
    def kind(self) -> str:
        """``precomputed`` or the model file format (inferred from the suffix if not given)."""
        if self.predictions is not None:
            return "precomputed"
        if self.format is not None:
            return self.format
        if self.uri is not None:
            return "registry"
        assert self.path is not None
        return _SUFFIX_FORMATS.get(self.path.suffix.lower(), "skops")

    @property
    def pinned_sha256(self) -> str | None:
        if self.sha256 is None:
            return None
        return self.sha256.removeprefix("sha256:").lower()


class DataEntry(_Strict):
    evaluation: Path
    reference: Path | None = None
    replay: Path | None = None


class EvidenceSettings(_Strict):
    """How evidence is computed; part of the evidence digest."""

    n_bootstrap: int = Field(default=1000, ge=0, le=100_000)
    seed: int = 0
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    margin: float = Field(default=0.0, ge=0.0, description="non-inferiority margin for deltas")
    min_slice_size: int = Field(default=200, ge=1)
    min_group_size: int = Field(default=30, ge=1)
    latency_calls: int = Field(default=1000, ge=10)
    explain_rows: int = Field(default=2000, ge=10)
    explain_background: int = Field(default=200, ge=10)
    calibration_bins: int = Field(default=10, ge=2, le=100)
    drift_bins: int = Field(default=10, ge=2, le=100)
    drift_bands: tuple[float, float] = (0.1, 0.25)
    cross_check_rows: int | None = Field(
        default=None, ge=100, description="rows the cross-check against scikit-learn/fairlearn runs on: all rows "
        "up to this, a seeded sample above it (default 100,000)")


class ActionableFeature(_Strict):
    """A model input the person a decision is about can change, and in which direction.

    Read by the reason codes' "what would change it" search (``workbench explain``): only these
    features are moved, only in ``direction`` and within ``[min, max]`` (original units).
    """

    direction: Literal["increase", "decrease", "any"] = Field(
        default="any", description="the feasible direction of change from the person's current value")
    min: float | None = Field(default=None, description="smallest feasible value (original units)")
    max: float | None = Field(default=None, description="largest feasible value (original units)")

    @model_validator(mode="after")
    def _ordered(self) -> ActionableFeature:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self


class FallbackPlan(_Strict):
    """Fallback simulation of the replay: failure/timeout injection into the candidate's calls, the
    kill switch, and the guardrails on the decisions served (``workbench.replay`` explains each)."""

    failure_rate: float = Field(default=0.0, ge=0, le=1, description="share of routed calls made to fail")
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="share of routed calls made to time out")
    latency_budget_ms: float = Field(default=100.0, gt=0, description="a candidate call slower than this falls back")
    kill_switch_at_stage: float | None = Field(default=None, gt=0, le=100,
                                               description="canary stage (percent) at which all traffic returns "
                                               "to the baseline")
    max_fallback_rate: float | None = Field(default=0.05, ge=0, le=1)
    max_added_latency_ms: float | None = Field(default=None, gt=0, description="guardrail on the p95 added latency")
    max_performance_drop: float | None = Field(default=0.02, ge=0, description="served vs baseline-only, roc_auc")
    min_labelled: int = Field(default=200, ge=1)
    seed: int = 0


class ReplaySettings(_Strict):
    timestamp_column: str = "timestamp"
    window: str = "7D"
    canary_stages: tuple[float, ...] = (5, 25, 50, 100)
    fallback: FallbackPlan | None = None


class _Channel(_Strict):
    @model_serializer(mode="wrap")
    def _omit_none(self, handler: Any) -> Any:
        # optional settings left unset are not "missing" items of the readiness plan
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


class WebhookChannel(_Channel):
    """An HTTP endpoint that receives each alert as JSON, signed with HMAC-SHA256.

    ``secret_env`` names the environment variable holding the shared secret (the secret itself
    never sits in the manifest); ``format: slack`` posts a Slack-compatible ``{"text": ...}`` body.
    """

    kind: Literal["webhook"]
    name: str | None = None
    url: str = Field(pattern=r"^https?://")
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    format: Literal["workbench", "slack"] = "workbench"

    @property
    def label(self) -> str:
        return self.name or f"webhook {self.url}"


class SmtpSettings(_Channel):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "workbench@localhost"
    username_env: str | None = None
    password_env: str | None = None
    starttls: Literal["auto", "require", "never"] = "auto"
    ca_file: Path | None = None


class EmailChannel(_Channel):
    """Alerts by e-mail through an SMTP relay (STARTTLS whenever the server offers it)."""

    kind: Literal["email"]
    name: str | None = None
    to: tuple[str, ...] = Field(min_length=1)
    smtp: SmtpSettings = SmtpSettings()

    @property
    def label(self) -> str:
        return self.name or f"email {', '.join(self.to)}"


AlertChannel = WebhookChannel | EmailChannel


class MonitoringPlan(_Strict):
    """Post-deployment monitoring: thresholds, alert channels, cadence.

    ``alert_channel`` is a free-text label kept for old manifests (never a delivery channel);
    ``alerts`` lists the channels alerts are actually delivered through. ``rereview_after_windows``
    breached windows in a row of the same signal recommend a re-review. ``false_alarm_rate`` is the
    chance of any false alarm over the whole monitoring horizon that the sequential alert rule
    spends across windows (docs/POLICY.md, "Sequential monitoring").
    """

    metrics: tuple[str, ...] = ()
    thresholds: dict[str, float] = Field(default_factory=dict)
    alert_channel: str | None = None
    alerts: tuple[Annotated[AlertChannel, Field(discriminator="kind")], ...] = ()
    cadence_days: int | None = Field(default=None, ge=1)
    rereview_after_windows: int = Field(default=3, ge=1)
    window: str | None = None
    false_alarm_rate: float = Field(default=0.05, gt=0, lt=1)

    @model_serializer(mode="wrap")
    def _omit_unset_operations(self, handler: Any) -> Any:
        # A plan written before alert delivery existed dumps exactly as before: the governance
        # readiness check counts every key it sees, and an unset optional key is not "missing".
        data = handler(self)
        if isinstance(data, dict):
            for key, default in (("alerts", ()), ("window", None), ("rereview_after_windows", 3),
                                 ("false_alarm_rate", 0.05)):
                if getattr(self, key) == default:
                    data.pop(key, None)
        return data


class RollbackPlan(_Strict):
    previous_model: str | None = None
    procedure: str | None = None


class IncidentResponse(_Strict):
    owner: str | None = None
    severity_levels: tuple[str, ...] = ()
    runbook: str | None = None


class ReadinessPlan(_Strict):
    """The production readiness plan: what happens on and after deployment."""

    deployment_steps: tuple[str, ...] = ()
    monitoring: MonitoringPlan = MonitoringPlan()
    rollback: RollbackPlan = RollbackPlan()
    incident_response: IncidentResponse = IncidentResponse()
    post_implementation_reviews: tuple[dt.date, ...] = ()


# Every manifest field that names a file, as (section or None, key). The existence check, the
# folder-containment check of untrusted manifests and the upload staging all walk this one list.
FILE_FIELDS: tuple[tuple[str | None, str], ...] = (
    ("candidate", "path"), ("candidate", "predictions_file"), ("baseline", "path"),
    ("baseline", "predictions_file"), ("data", "evaluation"), ("data", "reference"), ("data", "replay"),
    (None, "policy"), (None, "model_card"))


class Manifest(_Strict):
    """The parsed ``review.yaml``. ``base_dir`` is the manifest's folder (not part of the file)."""

    name: str = Field(min_length=1)
    task: Task
    target: str
    positive_label: Any = None
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    candidate: ModelEntry
    baseline: ModelEntry | None = None
    data: DataEntry
    features: tuple[str, ...] | None = None
    sensitive_features: tuple[str, ...] = ()
    id_column: str | None = None
    actionable_features: dict[str, ActionableFeature] = Field(
        default_factory=dict,
        description="inputs the person affected can change (direction, bounds), for the reason codes' "
                    "nearest feasible change; never a sensitive feature")
    policy: Path | None = None
    model_card: Path | None = None
    settings: EvidenceSettings = EvidenceSettings()
    replay: ReplaySettings = ReplaySettings()
    readiness: ReadinessPlan | None = None
    registry_uri: str | None = Field(default=None, min_length=1,
                                     description="MLflow registry for models:/ URIs (default: MLFLOW_TRACKING_URI, "
                                                 "else sqlite:///data/mlflow.db)")
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("features", "sensitive_features")
    @classmethod
    def _unique(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and len(set(value)) != len(value):
            dupes = sorted({v for v in value if value.count(v) > 1})
            raise ValueError(f"duplicate column names: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _prediction_files_need_ids(self) -> Manifest:
        for role in ("candidate", "baseline"):
            entry = getattr(self, role)
            if entry is not None and entry.predictions_file is not None and not self.id_column:
                raise ValueError(f"{role}.predictions_file is joined on id_column: set id_column")
        return self

    @model_validator(mode="after")
    def _actionable_are_inputs(self) -> Manifest:
        for name in self.actionable_features:
            if name in self.sensitive_features or name in (self.id_column, self.target):
                role = ("a sensitive feature" if name in self.sensitive_features
                        else "the id column" if name == self.id_column else "the target")
                raise ValueError(f"actionable_features.{name}: is {role}; only model inputs a person can change "
                                 "may be actionable")
            if self.features is not None and name not in self.features:
                raise ValueError(f"actionable_features.{name}: not one of the model's features "
                                 f"({', '.join(self.features)})")
        return self

    @field_validator("positive_label")
    @classmethod
    def _scalar_label(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ValueError(f"must be a single class label (a string or a number), got {type(value).__name__} "
                             f"{_short(value)}; e.g. positive_label: 1")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"must be a finite class label, got {value}")
        return value

    @model_validator(mode="after")
    def _binary_needs_positive_label(self) -> Manifest:
        if self.task == "binary" and self.positive_label is None:
            raise ValueError("positive_label is required for a binary task (e.g. positive_label: 1)")
        return self

    def resolve(self, path: Path | str) -> Path:
        """A manifest-relative path made absolute against the manifest's folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)

    def named_files(self) -> list[tuple[str, Path]]:
        """(field, manifest-relative path) of every file the manifest names (see FILE_FIELDS)."""
        out = []
        for section, key in FILE_FIELDS:
            node = self if section is None else getattr(self, section)
            value = getattr(node, key, None) if node is not None else None
            if value is not None:
                out.append((f"{section}.{key}" if section else key, value))
        return out

    @property
    def display_file(self) -> str:
        return self.source.name if self.source else "review.yaml"

    def content(self) -> dict[str, Any]:
        """The manifest's content for digests: everything but local paths and the file location."""
        data = self.model_dump(mode="json", exclude={"base_dir", "source"})
        for role in ("candidate", "baseline"):
            if data.get(role):
                data[role].pop("path", None)
                data[role].pop("predictions_file", None)
                if data[role].get("uri") is None:  # digests of file-only manifests stay as they were
                    data[role].pop("uri", None)
        if data.get("settings", {}).get("cross_check_rows") is None:
            data["settings"].pop("cross_check_rows", None)  # unset: digests of older manifests stay the same
        if not data.get("actionable_features"):
            data.pop("actionable_features", None)  # unset: digests of older manifests stay the same
        data.pop("data", None)
        data.pop("registry_uri", None)  # where the registry lives; the versions are in the lineage
        data.pop("policy", None)
        data.pop("model_card", None)
        return data


def _format_location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def format_validation_error(exc: ValidationError, *, file: str) -> str:
    """One line per problem: ``file: field.path: message``."""
    lines = []
    for err in exc.errors():
        loc = _format_location(tuple(p for p in err["loc"] if not str(p).startswith("function-")))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the manifest reference in README.md)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        msg = msg.removeprefix("Value error, ")
        lines.append(f"{file}: {loc}: {msg}")
    return "\n".join(lines)


def load_manifest(path: str | Path, *, check_files: bool = True) -> Manifest:
    """Read, validate and return a review manifest.

    Parameters
    ----------
    path
        The ``review.yaml`` file.
    check_files
        Also check that every referenced file exists (model files, data sets, policy, card).

    Raises
    ------
    ManifestError
        With one line per problem naming the file, the field path and what to do.
    """
    path = Path(path)
    label = path.name
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found (pass the path of a review.yaml)")
    raw = read_yaml(path, label=label, error=ManifestError, what="manifest")
    if not isinstance(raw, dict):
        raise ManifestError(f"{label}: expected a mapping of keys (name, task, candidate, ...), got {type(raw).__name__}")
    try:
        manifest = Manifest.model_validate({**raw, "base_dir": path.parent.resolve(), "source": path.resolve()})
    except ValidationError as exc:
        raise ManifestError(format_validation_error(exc, file=label)) from None
    if check_files:
        _check_files(manifest, label)  # the keyword shadows check_files here
    return manifest


def check_files(m: Manifest, label: str | None = None, *, skip: tuple[str, ...] | list[str] = ()) -> None:
    """Check that every file the manifest names exists (``Manifest.named_files``), one line each.

    ``label`` starts each line (default: the manifest's file name); ``skip`` lists fields not to
    check, e.g. ``("data.evaluation",)`` when it is a glob the scale engine expands.

    Examples
    --------
    >>> m = Manifest.model_validate({
    ...     "name": "r", "task": "binary", "target": "y", "positive_label": 1,
    ...     "candidate": {"predictions": "s"}, "data": {"evaluation": "part-*.parquet"},
    ...     "base_dir": "/nonexistent"})
    >>> check_files(m, skip=("data.evaluation",))
    >>> check_files(m)
    Traceback (most recent call last):
    ...
    workbench.errors.ManifestError: review.yaml: data.evaluation: file not found: part-*.parquet (paths are relative to the manifest's folder)
    """
    label = m.display_file if label is None else label
    problems = [
        f"{label}: {field}: file not found: {rel.as_posix()} (paths are relative to the manifest's folder)"
        for field, rel in m.named_files()
        if field not in skip and not m.resolve(rel).is_file()
    ]
    if problems:
        raise ManifestError("\n".join(problems))


_check_files = check_files


__all__ = [
    "FILE_FIELDS",
    "ActionableFeature",
    "DataEntry",
    "EvidenceSettings",
    "Manifest",
    "ModelEntry",
    "ReadinessPlan",
    "ReplaySettings",
    "check_files",
    "format_validation_error",
    "load_manifest",
]
