"""`workbench audit verify|bind|log`: check, bind and read the hash-chained audit trail."""

from __future__ import annotations

import argparse
import json
import sys

from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.cli._common import add_db_option, add_keys_option, db_path, keys_dir

EXIT_INTACT, EXIT_BROKEN = 0, 1


def _open(args: argparse.Namespace):  # noqa: ANN202 - a Store
    from workbench.serverkey import load_server_key
    from workbench.store import Store

    return Store.open(db_path(args), create=False, key=load_server_key(keys_dir(args)))


def _verify(args: argparse.Namespace) -> int:
    with _open(args) as store:
        result = store.verify_audit()
        integrity = store.verify_integrity()
    ok = result.ok and integrity.ok
    if args.json:
        print(json.dumps({"ok": ok, "checked": result.checked, "first_bad_seq": result.first_bad_seq,
                          "problem": result.problem, "message": result.message if not result.ok else integrity.message,
                          "head_hash": result.head_hash, "triggers_present": result.triggers_present,
                          "rows": integrity.rows, "checkpoints": integrity.checkpoints,
                          "key_checked": integrity.key_checked,
                          "problems": [{"kind": p.kind, "table": p.table, "row": p.row, "seq": p.seq,
                                        "message": p.message} for p in integrity.problems]}))
    elif ok:
        print(f"{integrity.message}; head {result.head_hash}")
    else:
        from workbench.text import printable

        if not result.ok:
            print(printable(f"audit chain BROKEN at seq {result.first_bad_seq} ({result.problem}): {result.message}"),
                  file=sys.stderr)
        for problem in integrity.problems:
            if problem.kind != "chain":
                print(printable(f"integrity: {problem.message}"), file=sys.stderr)
    if not result.triggers_present and not args.json:
        print("warning: the append-only triggers on audit_log are missing", file=sys.stderr)
    return EXIT_INTACT if ok else EXIT_BROKEN


@audited_refusals("audit bind")
def _bind(args: argparse.Namespace) -> int:

    with _open(args) as store:
        user = authenticate(store, args, command="audit bind")
        entry = store.bind_legacy(user)
    print(f"bound {entry.payload['rows_bound']} rows and MACed {entry.payload['entries_maced']} earlier entries "
          f"(audit seq {entry.seq}, by {user.name}); the head is signed")
    return 0


def _log(args: argparse.Namespace) -> int:
    from workbench.canonical import canonical_json
    from workbench.text import printable

    with _open(args) as store:
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
    add_keys_option(verify)
    verify.set_defaults(func=_verify)

    bind = sub.add_parser(
        "bind", help="once, after upgrading to schema 3: bind earlier rows and entries (an admin with the server key)",
        description="Bind the rows and audit entries written before row binding (schema 3) as they are now: "
        "their hashes go into one audited entry, every earlier entry gets its MAC, and the head is signed. "
        "Whatever was tampered with before this moment is bound as found: run `audit verify` on a backup first.")
    add_credentials(bind, as_help="an admin user name in the store")
    add_db_option(bind)
    add_keys_option(bind)
    bind.set_defaults(func=_bind)

    log = sub.add_parser("log", help="print audit entries, oldest first")
    log.add_argument("--subject", default=None, help="only entries about this subject (review id, user:NAME)")
    log.add_argument("--actor", default=None, help="only entries by this actor")
    log.add_argument("--action", default=None, help="only this action, e.g. sign_off")
    log.add_argument("--limit", type=int, default=None, help="only the newest N matching entries")
    log.add_argument("--json", action="store_true", help="one JSON object per line")
    add_db_option(log)
    log.set_defaults(func=_log)
