"""Options shared by several commands (store location, keys folder, progress)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.store import Location

DEFAULT_DB = Path("data/workbench.db")
DEFAULT_KEYS = Path("~/.workbench/keys")


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        metavar="PATH|URL",
        help="review store: a SQLite file or postgresql://user@host/dbname; env WORKBENCH_DB; "
             "default data/workbench.db",
    )


def add_keys_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keys",
        type=Path,
        default=None,
        help="signing keys folder; env WORKBENCH_KEYS; default ~/.workbench/keys",
    )


def db_path(args: argparse.Namespace) -> Location:
    """The store from --db, then $WORKBENCH_DB, then the default: a SQLite file (Path) or a
    PostgreSQL URL (str). Another ``scheme://`` is a StoreError (exit 2), never a folder."""
    from workbench.store import parse_location

    if getattr(args, "db", None):
        return parse_location(args.db)
    env = os.environ.get("WORKBENCH_DB")
    return parse_location(env) if env else DEFAULT_DB


def keys_dir(args: argparse.Namespace) -> Path:
    """The keys folder from --keys, then $WORKBENCH_KEYS, then the default."""
    if getattr(args, "keys", None):
        return Path(args.keys).expanduser()
    env = os.environ.get("WORKBENCH_KEYS")
    return Path(env).expanduser() if env else DEFAULT_KEYS.expanduser()


def progress(message: str) -> None:
    """Progress goes to stderr so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)


def stdin_is_interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
