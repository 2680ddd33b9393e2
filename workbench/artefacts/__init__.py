"""Review artefacts: the manifest, secure model and data loading, lineage records, uploads.

The public face of ``workbench.artefacts``: import from here; the ``_`` modules are private.
"""


from workbench.artefacts._review import (
    ArtefactRecord,
    LoadedModel,
    ReviewData,
    check_ids,
    check_scores,
    data_record,
    dtype_problems,
    lineage_digest,
    load_model,
    load_pinned_pickle,
    load_review,
    load_skops,
    read_table,
    schema_fingerprint,
)
from workbench.artefacts._manifest import (
    DataEntry,
    EmailChannel,
    EvidenceSettings,
    FILE_FIELDS,
    FallbackPlan,
    Manifest,
    ModelEntry,
    MonitoringPlan,
    ReadinessPlan,
    ReplaySettings,
    WebhookChannel,
    check_files,
    format_validation_error,
    load_manifest,
)
from workbench.artefacts._uploads import (
    check_server_path,
    review_roots,
    safe_name,
    stage_upload,
)
from workbench.artefacts._models import (
    SERVER_TRUSTED_TYPES,
    check_untrusted_entry,
    pick_model_file,
    server_trusted_types,
)

__all__ = [
    "ArtefactRecord",
    "DataEntry",
    "EmailChannel",
    "EvidenceSettings",
    "FILE_FIELDS",
    "FallbackPlan",
    "LoadedModel",
    "Manifest",
    "ModelEntry",
    "MonitoringPlan",
    "ReadinessPlan",
    "ReplaySettings",
    "WebhookChannel",
    "ReviewData",
    "SERVER_TRUSTED_TYPES",
    "check_files",
    "check_ids",
    "check_scores",
    "check_server_path",
    "check_untrusted_entry",
    "data_record",
    "dtype_problems",
    "format_validation_error",
    "lineage_digest",
    "pick_model_file",
    "load_manifest",
    "load_model",
    "load_pinned_pickle",
    "load_review",
    "load_skops",
    "read_table",
    "review_roots",
    "safe_name",
    "schema_fingerprint",
    "server_trusted_types",
    "stage_upload",
]
