"""The MLflow Model Registry adapter: resolve, download and hash, aliases and tags.

MLflow is the optional extra ``registry`` and is imported only when a registry is used.
Every MLflow failure becomes one :class:`~workbench.errors.RegistryError` line: an unknown
model, version or alias, or a registry that cannot be reached. Nothing here unpickles or
loads a model: the workbench's own secure loader (``workbench.artefacts``) reads the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.canonical import digest
from workbench.errors import RegistryError
from workbench.registry._uri import ModelRef, parse_model_uri

# A registry that does not answer should fail in seconds, not after MLflow's default seven
# retries with exponential back-off (minutes). Users may still override these variables.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # stdout is the workbench's (machine-readable) output
}


@contextlib.contextmanager
def _mlflow_call(what: str, uri: str) -> Iterator[None]:
    """Quiet MLflow (its deprecation warnings and INFO logs are not ours) and turn its
    exceptions into one RegistryError line naming ``what`` and the registry."""
    saved = {k: os.environ.get(k) for k in _HTTP_DEFAULTS}
    for key, default in _HTTP_DEFAULTS.items():
        os.environ.setdefault(key, default)
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except RegistryError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types; each becomes one line
        raise RegistryError(_message(exc, what, uri)) from None
    finally:
        logger.setLevel(level)
        for key, before in saved.items():
            if before is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = before


def _message(exc: Exception, what: str, uri: str) -> str:
    code = getattr(exc, "error_code", None)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
        return f"registry {uri}: {what}: {text}"
    lowered = text.lower()
    if any(s in lowered for s in ("connection", "max retries", "timed out", "failed to establish", "refused")):
        return f"registry {uri} is not reachable ({what}); check MLFLOW_TRACKING_URI or the manifest's registry_uri"
    return f"registry {uri}: {what}: {type(exc).__name__}: {text[:300]}"


@dataclass(frozen=True)
class ArtifactFile:
    """One file of a model version's artifact folder: its path inside the folder, hash, size."""

    path: str
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class RegistryVersion:
    """A registered model version as the registry describes it."""

    name: str
    version: str
    run_id: str | None
    source: str
    aliases: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FetchedModel:
    """A model version resolved once and downloaded: what was asked for, what it resolved to,
    the local folder and the SHA-256 of every artifact file."""

    uri: str
    version: RegistryVersion
    folder: Path
    files: tuple[ArtifactFile, ...]

    @property
    def files_digest(self) -> str:
        """One digest over every artifact file's path and hash (changes when any file does)."""
        return files_digest(self.files)

    def lineage(self) -> dict[str, Any]:
        """What the review's lineage records: name, version, run id, source and every file's hash."""
        return {"uri": self.uri, "name": self.version.name, "version": self.version.version,
                "run_id": self.version.run_id, "source": self.version.source,
                "files": [f.to_dict() for f in self.files], "files_sha256": self.files_digest}


def files_digest(files: tuple[ArtifactFile, ...] | list[dict[str, Any]]) -> str:
    """Digest of (path, sha256) of every file, in path order.

    Examples
    --------
    >>> a = files_digest([{"path": "m.skops", "sha256": "0" * 64, "bytes": 1}])
    >>> a == files_digest((ArtifactFile("m.skops", "0" * 64, 1),))
    True
    """
    pairs = sorted((f.path, f.sha256) if isinstance(f, ArtifactFile) else (f["path"], f["sha256"]) for f in files)
    return digest([list(p) for p in pairs])


def hash_folder(folder: Path) -> tuple[ArtifactFile, ...]:
    """SHA-256 and size of every regular file under ``folder`` (paths relative, '/'-separated)."""
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out.append(ArtifactFile(path.relative_to(folder).as_posix(), h.hexdigest(), path.stat().st_size))
    return tuple(out)


def _version(mv: Any) -> RegistryVersion:
    return RegistryVersion(name=mv.name, version=str(mv.version), run_id=mv.run_id or None, source=str(mv.source),
                           aliases=tuple(sorted(getattr(mv, "aliases", None) or ())), tags=dict(mv.tags or {}))


class Registry:
    """One MLflow registry (SQLite file or tracking server), opened lazily.

    Examples
    --------
    >>> Registry("sqlite:///data/mlflow.db").uri
    'sqlite:///data/mlflow.db'
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._client: Any = None

    def __repr__(self) -> str:
        return f"Registry({self.uri!r})"

    def _call(self, what: str) -> contextlib.AbstractContextManager[None]:
        return _mlflow_call(what, self.uri)

    @property
    def client(self) -> Any:
        """The ``mlflow.MlflowClient`` (imported on first use)."""
        if self._client is None:
            try:
                from mlflow import MlflowClient  # lazy: mlflow is large and optional
            except ImportError:
                raise RegistryError(
                    "the model registry needs MLflow: pip install 'model-promotion-workbench[registry]'"
                ) from None
            with self._call("open"):
                self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    # ------------------------------------------------------------------ reading
    def resolve(self, ref: ModelRef | str) -> RegistryVersion:
        """The version an alias or version number names, as the registry has it now."""
        ref = parse_model_uri(ref) if isinstance(ref, str) else ref
        with self._call(ref.uri):
            if ref.alias is not None:
                mv = self.client.get_model_version_by_alias(ref.name, ref.alias)
            else:
                mv = self.client.get_model_version(ref.name, ref.version)
        return _version(mv)

    def version(self, name: str, version: str) -> RegistryVersion:
        return self.resolve(ModelRef(f"models:/{name}/{version}", name, None, str(version)))

    def aliases(self, name: str) -> dict[str, str]:
        """Alias → version of a registered model."""
        with self._call(f"model {name!r}"):
            model = self.client.get_registered_model(name)
        return {a: str(v) for a, v in (model.aliases or {}).items()}

    def model_tags(self, name: str) -> dict[str, str]:
        with self._call(f"model {name!r}"):
            return dict(self.client.get_registered_model(name).tags or {})

    def versions(self, name: str) -> list[RegistryVersion]:
        with self._call(f"model {name!r}"):
            found = self.client.search_model_versions(f"name = '{name}'")
        return sorted((_version(mv) for mv in found), key=lambda v: int(v.version))

    def snapshot(self, name: str) -> dict[str, Any]:
        """Everything a promotion may change: aliases, model tags, every version's tags."""
        return {"aliases": self.aliases(name), "model_tags": self.model_tags(name),
                "versions": {v.version: dict(v.tags) for v in self.versions(name)}}

    def download(self, version: RegistryVersion, dst: Path) -> tuple[ArtifactFile, ...]:
        """Download a version's artifact folder into ``dst`` and hash every file."""
        import mlflow.artifacts

        dst.mkdir(parents=True, exist_ok=True)
        with self._call(f"models:/{version.name}/{version.version} (download)"):
            uri = self.client.get_model_version_download_uri(version.name, version.version)
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst), tracking_uri=self.uri)
        files = hash_folder(dst)
        if not files:
            raise RegistryError(f"registry {self.uri}: models:/{version.name}/{version.version} has no artifact files")
        return files

    def fetch(self, uri: str, dst: Path) -> FetchedModel:
        """Resolve ``uri`` once, download that version into ``dst`` and hash it."""
        version = self.resolve(uri)
        return FetchedModel(uri=uri, version=version, folder=dst, files=self.download(version, dst))

    # ------------------------------------------------------------------ writing
    def set_alias(self, name: str, alias: str, version: str) -> None:
        with self._call(f"set alias {name}@{alias}"):
            self.client.set_registered_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        with self._call(f"delete alias {name}@{alias}"):
            self.client.delete_registered_model_alias(name, alias)

    def set_version_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        with self._call(f"tag models:/{name}/{version}"):
            for key, value in tags.items():
                self.client.set_model_version_tag(name, str(version), key, str(value))

    def delete_version_tags(self, name: str, version: str, keys: list[str] | tuple[str, ...]) -> None:
        with self._call(f"untag models:/{name}/{version}"):
            present = self.client.get_model_version(name, str(version)).tags or {}
            for key in keys:
                if key in present:
                    self.client.delete_model_version_tag(name, str(version), key)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        with self._call(f"tag model {name!r}"):
            self.client.set_registered_model_tag(name, key, value)

    def delete_model_tag(self, name: str, key: str) -> None:
        with self._call(f"untag model {name!r}"):
            if key in (self.client.get_registered_model(name).tags or {}):
                self.client.delete_registered_model_tag(name, key)

    def register_folder(self, name: str, folder: Path, *, experiment: str = "workbench-registry",
                        artifact_root: Path | None = None, description: str = "") -> RegistryVersion:
        """Log every file of ``folder`` as a run's ``model`` artifacts and register them as a
        new version of ``name`` (created when missing). What the README's "register" step does.
        """
        with self._call(f"register {name!r}"):
            client = self.client
            exp = client.get_experiment_by_name(experiment)
            if exp is None:
                location = artifact_root.resolve().as_uri() if artifact_root is not None else None
                exp_id = client.create_experiment(experiment, artifact_location=location)
            else:
                exp_id = exp.experiment_id
            run = client.create_run(exp_id)
            client.log_artifacts(run.info.run_id, str(folder), artifact_path="model")
            client.set_terminated(run.info.run_id)
            try:
                client.get_registered_model(name)
            except Exception:  # noqa: BLE001 - "does not exist" is the expected case
                client.create_registered_model(name)
            mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id,
                                             description=description or None)
        return _version(mv)


__all__ = ["ArtifactFile", "FetchedModel", "Registry", "RegistryVersion", "files_digest", "hash_folder"]
