"""`workbench alerts test` and `workbench feedback import`: operations after promotion.

Exit codes: ``alerts test`` 0 when every channel acknowledged, 1 naming each channel that did not
(or when the plan names no channel); ``feedback import`` 0, or 1 when a contest/overturn alert fired;
2 for invalid input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.cli._common import add_db_option, db_path, progress
from workbench.cli._auth import add_credentials, audited_refusals, authenticate


def register(subparsers: argparse._SubParsersAction) -> None:
    a = subparsers.add_parser("alerts", help="verify alert delivery channels",
                              description="Alert delivery channels of readiness.monitoring.alerts.")
    asub = a.add_subparsers(dest="alerts_command", required=True, metavar="{test}")
    t = asub.add_parser(
        "test", help="send a test alert through every channel and report which acknowledged",
        description="Send one test alert through every channel in readiness.monitoring.alerts (signed "
        "webhook, Slack-compatible webhook, SMTP e-mail with STARTTLS when offered). Each channel is retried "
        "with back-off and given up within --deadline seconds; every attempt is stored and audited as the "
        "workbench's own delivery (no user credentials needed, no gate needs to have run). Exit 0 when every "
        "channel acknowledged (HTTP 2xx / SMTP 250), 1 naming the failing channel(s).")
    t.add_argument("manifest", type=Path, help="review manifest (review.yaml)")
    t.add_argument("--deadline", type=float, default=30.0, help="seconds before a channel is given up (max 30)")
    add_db_option(t)
    t.set_defaults(func=_run_alerts_test)
    f = subparsers.add_parser("feedback", help="record contests, complaints and praise about decisions",
                              description="Feedback from the people a model's decisions affect.")
    fsub = f.add_subparsers(dest="feedback_command", required=True, metavar="{import}")
    i = fsub.add_parser(
        "import", help="import feedback.csv (id, kind, text, outcome) and raise contest/overturn alerts",
        description="Import feedback records (columns id, kind = contest|complaint|praise|comment, text, outcome "
        "= pending|upheld|overturned). Each record is linked to the decision it is about (score, decision, top "
        "reasons, group) from the review's data, stored and audited once (re-importing is idempotent). Contest "
        "and overturn rates per group are checked against readiness.monitoring.thresholds (contest_rate, "
        "overturn_rate) and alerts go through the channels. Exit 1 when such an alert fired.")
    i.add_argument("manifest", type=Path, help="review manifest (review.yaml)")
    i.add_argument("csv", type=Path, help="feedback CSV")
    i.add_argument("--out", type=Path, default=None, help="write the JSON summary here (default stdout)")
    add_db_option(i)
    add_credentials(i, as_help="who imports the feedback (support staff)")
    i.set_defaults(func=_run_feedback_import)


def _run_alerts_test(args: argparse.Namespace) -> int:
    from workbench.artefacts import load_manifest
    from workbench.errors import ManifestError
    from workbench.replay import channels_of, send_test_alert
    from workbench.store import Store

    if not 0 < args.deadline <= 30:
        raise ManifestError(f"--deadline: {args.deadline:g}: give seconds in (0, 30]")
    manifest = load_manifest(args.manifest)
    if not channels_of(manifest):
        progress(f"{manifest.display_file}: readiness.monitoring.alerts names no channel; nothing can be "
                 "delivered (alert_channel is only a label)")
        return 1
    with Store.open(db_path(args)) as store:
        outcomes = send_test_alert(manifest, store=store, deadline_s=args.deadline)
    for o in outcomes:
        state = "acknowledged" if o.delivered else f"FAILED ({o.error})"
        print(f"{o.kind:8} {o.channel}: {state} after {o.attempts} attempt(s), {o.elapsed_s:.2f} s")
    failing = [o.channel for o in outcomes if not o.delivered]
    if failing:
        progress(f"alerts test: {len(failing)} channel(s) did not acknowledge: {', '.join(failing)}")
        return 1
    return 0


@audited_refusals("feedback import")
def _run_feedback_import(args: argparse.Namespace) -> int:
    from workbench.artefacts import load_manifest, load_review
    from workbench.canonical import to_jsonable
    from workbench.errors import DataError
    from workbench.replay import import_feedback
    from workbench.store import Store

    if not args.csv.is_file():
        raise DataError(f"feedback CSV: file not found: {args.csv}")
    manifest = load_manifest(args.manifest)
    light = manifest.model_copy(update={"data": manifest.data.model_copy(update={"replay": None})})
    review = load_review(light, progress=progress)
    with Store.open(db_path(args)) as store:
        user = authenticate(store, args, command="feedback import")
        result = import_feedback(review, args.csv, store=store, actor=user.name)
    text = json.dumps(to_jsonable(result), indent=1, sort_keys=True) + "\n"
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text, encoding="utf-8")
    progress(f"feedback: {result['imported']} new, {result['duplicates']} already recorded; "
             f"{len(result['alerts'])} alert(s)")
    return 1 if result["alerts"] else 0
