"""Review store: reviews, evidence runs, responses, sign-offs, waivers, users, monitoring, audit chain.

The public face of ``workbench.store``: import from here; the ``_`` modules are private.
"""


from workbench.store._store import (
    Alert,
    ApiToken,
    Objection,
    AuditEntry,
    AuditVerification,
    DecisionRecord,
    Document,
    EvidenceRun,
    ExportRecord,
    IntegrityReport,
    MonitoringBatch,
    PolicyRegistration,
    ROLES,
    Response,
    Review,
    SCHEMA_VERSION,
    SignOff,
    Store,
    User,
    Waiver,
)
from workbench.store._backend import Location, parse_location, redact, store_exists
from workbench.store._copy import copy_store
from workbench.store._operations import Delivery, Feedback, ScheduledReview
from workbench.store._reviews import (
    DOCUMENT_KINDS,
    ReviewsMixin,
    review_id_for,
)

__all__ = [
    "Alert",
    "ApiToken",
    "Objection",
    "AuditEntry",
    "AuditVerification",
    "DOCUMENT_KINDS",
    "DecisionRecord",
    "Delivery",
    "Document",
    "EvidenceRun",
    "ExportRecord",
    "IntegrityReport",
    "Feedback",
    "Location",
    "MonitoringBatch",
    "PolicyRegistration",
    "ROLES",
    "Response",
    "Review",
    "ReviewsMixin",
    "SCHEMA_VERSION",
    "ScheduledReview",
    "SignOff",
    "Store",
    "User",
    "Waiver",
    "copy_store",
    "parse_location",
    "redact",
    "review_id_for",
    "store_exists",
]
