"""Shadow/canary replay of timestamped traffic, and production monitoring of recorded batches.

The public face of ``workbench.replay``: import from here; the ``_`` modules are private.
"""


from workbench.replay._alerts import (
    DELIVERY_ACTOR,
    SIGNATURE_HEADER,
    DeliveryOutcome,
    alert_body,
    channels_of,
    deliver_alert,
    dispatch_alert,
    send_test_alert,
    sign_body,
    verify_signature,
)
from workbench.replay._fallback import FallbackSettings, fallback_summary, fallback_window
from workbench.replay._feedback import add_feedback, feedback_signals, import_feedback, operations_evidence
from workbench.replay._live import (
    LiveContext,
    monitor_source,
    parse_every,
    persistent_breaches,
    run_every,
)
from workbench.replay._timeseries import monitoring_timeseries
from workbench.replay._replay import (
    LATENCY_SAMPLE,
    CanaryGuardrails,
    flips_by_group,
    run_replay,
    stage_index,
)
from workbench.replay._monitor import (
    UPPER_BOUND_METRICS,
    batch_metrics,
    evaluate_rules,
    monitor_batch,
    monitoring_history,
    record_batch,
    review_schedule,
    review_schedule_for,
)

__all__ = [
    "DELIVERY_ACTOR",
    "DeliveryOutcome",
    "FallbackSettings",
    "LATENCY_SAMPLE",
    "LiveContext",
    "SIGNATURE_HEADER",
    "alert_body",
    "channels_of",
    "deliver_alert",
    "dispatch_alert",
    "send_test_alert",
    "sign_body",
    "verify_signature",
    "CanaryGuardrails",
    "UPPER_BOUND_METRICS",
    "add_feedback",
    "batch_metrics",
    "evaluate_rules",
    "fallback_summary",
    "feedback_signals",
    "fallback_window",
    "flips_by_group",
    "import_feedback",
    "monitor_batch",
    "monitor_source",
    "monitoring_timeseries",
    "parse_every",
    "persistent_breaches",
    "monitoring_history",
    "operations_evidence",
    "record_batch",
    "review_schedule",
    "review_schedule_for",
    "run_every",
    "run_replay",
    "stage_index",
]
