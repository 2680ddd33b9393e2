"""`workbench audit verify|log`: check and read the hash-chained audit trail."""

from __future__ import annotations

import argparse
import json
import sys

from workbench.cli._common import add_db_option, db_path

EXIT_INTACT, EXIT_BROKEN = 0, 1


def _verify(args: argparse.Namespace) -> int:
    from workbench.store import Store

    with Store.open(db_path(args), create=False) as store:
        result = store.verify_audit()
    if args.json:
        print(json.dumps({"ok": result.ok, "checked": result.checked, "first_bad_seq": result.first_bad_seq,
                          "problem": result.problem, "message": result.message,
                          "head_hash": result.head_hash, "triggers_present": result.triggers_present}))
    elif result.ok:
        print(f"{result.message}; head {result.head_hash}")
    else:
        from workbench.text import printable

        print(printable(f"audit chain BROKEN at seq {result.first_bad_seq} ({result.problem}): {result.message}"),
              file=sys.stderr)
    if not result.triggers_present and not args.json:
        print("warning: the append-only triggers on audit_log are missing", file=sys.stderr)
    return EXIT_INTACT if result.ok else EXIT_BROKEN


def _log(args: argparse.Namespace) -> int:
    from workbench.canonical import canonical_json
    from workbench.store import Store
    from workbench.text import printable

    with Store.open(db_path(args), create=False) as store:
        entries = store.audit_entries(subject=args.subject, actor=args.actor, action=args.action,
                                      limit=args.limit, newest_first=True)
    for entry in reversed(entries):
        if args.json:
            print(json.dumps(entry.__dict__, sort_keys=True, separators=(",", ":")))  # ASCII: \u-escaped
        else:
            # Names, subjects and payloads hold user text: escape control characters so an entry
            # cannot rewrite the terminal or forge a second line.
            print(printable(f"{entry.seq:>6}  {entry.ts}  {entry.actor:<14} {entry.action:<20} {entry.subject}  "
                            f"{canonical_json(entry.payload)}"))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `audit verify|log`."""
    audit = subparsers.add_parser("audit", help="verify and read the tamper-evident audit trail",
                                  description="Verify and read the hash-chained audit trail.")
    sub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    verify = sub.add_parser("verify", help="recompute the chain: exit 0 intact, 1 broken (names the row)")
    verify.add_argument("--json", action="store_true", help="print the result as one JSON object")
    add_db_option(verify)
    verify.set_defaults(func=_verify)

    log = sub.add_parser("log", help="print audit entries, oldest first")
    log.add_argument("--subject", default=None, help="only entries about this subject (review id, user:NAME)")
    log.add_argument("--actor", default=None, help="only entries by this actor")
    log.add_argument("--action", default=None, help="only this action, e.g. sign_off")
    log.add_argument("--limit", type=int, default=None, help="only the newest N matching entries")
    log.add_argument("--json", action="store_true", help="one JSON object per line")
    add_db_option(log)
    log.set_defaults(func=_log)
