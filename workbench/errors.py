"""One exception hierarchy for the whole product.

Every error a user can cause (a bad file, a wrong field, a refused permission) is a
``WorkbenchError`` subclass whose message names the file, field or column and says what to
do. They are translated exactly once: in ``workbench.cli`` to a one-line message on stderr
and exit code 2, and in ``workbench_ui`` to ``st.error``. A failed check or a failed policy
is *not* an exception: checks return results.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class ManifestError(WorkbenchError):
    """The review manifest (review.yaml) is missing, malformed or names a bad field."""


class ArtefactError(WorkbenchError):
    """A model or data file cannot be loaded safely or does not fit the manifest."""


class DataError(ArtefactError):
    """A data set lacks a column, has wrong dtypes or labels that do not fit the task."""


class PolicyError(WorkbenchError):
    """The promotion policy YAML is malformed or refers to something that does not exist."""


class QuestionnaireError(WorkbenchError):
    """A questionnaire template or a response does not fit its schema."""


class StoreError(WorkbenchError):
    """The review store cannot be opened, migrated or written."""


class StaleWriteError(StoreError):
    """An optimistic-concurrency check failed: somebody saved a newer version first."""


class PermissionDenied(StoreError):
    """A user tried an action their roles do not allow (the attempt is audited)."""


class IntegrityError(StoreError):
    """A row the decision would read, or the audit chain itself, fails the integrity check
    (inserted, edited or deleted outside the workbench; forged entry; truncated tail)."""


class RegistryError(WorkbenchError):
    """The model registry cannot be reached, or names an unknown model, version or alias."""


class SigningError(WorkbenchError):
    """A signing key or certificate is missing or unusable, or signing failed."""


class VerificationError(WorkbenchError):
    """A packet or signature could not be verified (raised only for unreadable input)."""


__all__ = [
    "ArtefactError",
    "DataError",
    "IntegrityError",
    "ManifestError",
    "PermissionDenied",
    "PolicyError",
    "QuestionnaireError",
    "RegistryError",
    "SigningError",
    "StaleWriteError",
    "StoreError",
    "VerificationError",
    "WorkbenchError",
]
