"""`workbench store migrate`: copy a review store to another backend and verify it on arrival."""

from __future__ import annotations

import argparse

from workbench.cli._common import add_keys_option, keys_dir


def _migrate(args: argparse.Namespace) -> int:
    from workbench.serverkey import load_server_key
    from workbench.store import Store, copy_store, parse_location

    source_at, target_at = parse_location(args.source), parse_location(args.target)
    key = load_server_key(keys_dir(args))
    with Store.open(source_at, create=False, key=key) as source, Store.open(target_at, key=key) as target:
        report = copy_store(source, target)
        print(f"copied {source.path} to {target.path}: {report.message}; head {report.head_hash}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `store migrate`."""
    store = subparsers.add_parser("store", help="move a review store between SQLite and PostgreSQL",
                                  description="Operations on a whole review store.")
    sub = store.add_subparsers(dest="store_command", metavar="SUBCOMMAND", required=True)
    migrate = sub.add_parser(
        "migrate", help="copy a store into a new, empty one (e.g. SQLite to PostgreSQL) and verify it there",
        description="Copy every row of a store, exactly as stored, into an empty store (a new SQLite file or an "
        "empty PostgreSQL database), then verify the chain, MACs, checkpoints and bound rows on arrival; a copy "
        "that does not verify is rolled back. Both stores are checked with the server key of --keys.")
    migrate.add_argument("--from", dest="source", required=True, metavar="PATH|URL", help="the store to copy")
    migrate.add_argument("--to", dest="target", required=True, metavar="PATH|URL",
                         help="the empty target: a SQLite file or postgresql://user@host/dbname")
    add_keys_option(migrate)
    migrate.set_defaults(func=_migrate)
