"""The signed sign-off packet, generated from the app the same way `workbench report` does.

The composition (policy text, questionnaire scores, governance rows) reuses the helpers of
``workbench.cli._report`` so the app and the CLI produce the same packet for the same state.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from workbench_ui import context


def generate(review: Any, review_id: str, decision: Any, evidence: dict[str, Any], *, user: Any,
             out_dir: Path, progress: Any = None) -> dict[str, Any]:
    """Save the decision, build, sign and write the PDF (+ JSON); returns write_packet's result."""
    from workbench._decision_inputs import qualitative_for_review
    from workbench.cli._report import _governance, _policy_text, _questionnaires
    from workbench.governance import governance_for_review, review_documents
    from workbench.report import collect_packet_input, write_packet
    from workbench.report._keys import require_keys
    from workbench_ui import review as review_ui

    say = progress or (lambda _m: None)
    keys = require_keys(context.keys_dir())
    store = context.store()
    say("recording the decision")
    decision_json = decision.to_dict()
    store.save_decision(review_id, decision_json, actor=user)
    policy = review_ui.policy(review)
    at = dt.datetime.fromisoformat(decision_json["decided_at"])
    card, plan = review_documents(review, store=store, review_id=review_id)
    say("running the governance checks")
    checks = governance_for_review(review, policy, today=at.date(), store=store, review_id=review_id)
    inp = collect_packet_input(
        store, review_id, generated_by=f"{user.name} ({', '.join(user.roles)})", policy_text=_policy_text(review),
        evidence=evidence, decision=decision_json,
        questionnaires=_questionnaires(qualitative_for_review(policy, store=store, review_id=review_id)),
        governance=_governance(checks, card), readiness_plan=dict(plan) if plan else {},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = at.strftime("%Y%m%dT%H%M%S")
    say("rendering and signing the PDF")
    return write_packet(inp, out_dir / f"signoff-packet-{stamp}.pdf", keys=keys.folder, store=store,
                        actor=inp.generated_by)


def verify(pdf: Path) -> Any:
    """Verify a packet with the keys folder's certificate and manifest key (as `workbench verify`)."""
    from workbench.report import verify_packet
    from workbench.report._keys import key_paths

    paths = key_paths(context.keys_dir())
    return verify_packet(pdf, cert=paths.signing_cert,
                         manifest_key=paths.manifest_pub if paths.manifest_pub.is_file() else None)


def packets_dir() -> Path:
    """Where packets generated in the app are written: next to the store, in ``packets/``."""
    return context.db_path().resolve().parent / "packets"
