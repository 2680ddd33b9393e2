"""The signed sign-off packet, generated from the app the same way `workbench report` does.

The composition is ``workbench.report.packet_input_for_review``, shared with the CLI, so the app
and `workbench report` produce the same packet for the same state.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from workbench_ui import context


def generate(review: Any, review_id: str, decision: Any, *, user: Any, out_dir: Path,
             progress: Any = None) -> dict[str, Any]:
    """Record the decision shown, then build, sign and write the PDF as `workbench report` does
    (from the evidence stored for the review, which the page has loaded)."""
    from workbench.report import packet_input_for_review, write_packet
    from workbench.report import require_keys
    from workbench_ui import review as review_ui

    say = progress or (lambda _m: None)
    keys = require_keys(context.keys_dir())  # fail before any work
    store = context.store()
    say("recording the decision")
    decision_json = decision.to_dict()
    store.save_decision(review_id, decision_json, actor=user)
    say("collecting evidence, governance and questionnaire results")
    inp = packet_input_for_review(store, review, generated_by=f"{user.name} ({', '.join(user.roles)})",
                                  policy=review_ui.policy(review))
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.fromisoformat(decision_json["decided_at"]).strftime("%Y%m%dT%H%M%S")
    say("rendering and signing the PDF")
    return write_packet(inp, out_dir / f"signoff-packet-{stamp}.pdf", keys=keys.folder, store=store,
                        actor=inp.generated_by)


def verify(pdf: Path) -> Any:
    """Verify a packet with the keys folder's certificate and manifest key (as `workbench verify`)."""
    from workbench.report import verify_packet
    from workbench.report import key_paths

    paths = key_paths(context.keys_dir())
    return verify_packet(pdf, cert=paths.signing_cert,
                         manifest_key=paths.manifest_pub if paths.manifest_pub.is_file() else None)


def packets_dir() -> Path:
    """Where packets generated in the app are written: next to a SQLite store, in ``packets/``
    (``data/packets`` for a PostgreSQL store)."""
    where = context.db_path()
    return (where.resolve().parent if isinstance(where, Path) else Path("data")) / "packets"
