"""`workbench` command line: the composition root.

Each command group lives in its own module ``workbench/cli/_<group>.py`` exposing
``register(subparsers)``; a registered handler receives the parsed ``argparse.Namespace``
and returns the process exit code. Domain errors (``WorkbenchError``) are turned into a
one-line message on stderr and exit code 2 here, and only here.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from workbench import __version__
from workbench.errors import WorkbenchError
from workbench.text import printable

# Order is the order of `workbench --help`.
COMMAND_MODULES = [
    "demo",
    "review",
    "gate",
    "report",
    "users",
    "audit",
    "questionnaire",
    "replay",
    "policy",
    "registry",
    "tokens",
    "objection",
    "ops",
    "explain",
    "store",
]

EXIT_INVALID_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> NoReturn:  # pragma: no cover - exercised via CLI tests
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID_INPUT, f"workbench: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench",
        description="Model Promotion Workbench: evidence-based go/no-go decisions for ML models.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"workbench.cli._{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"workbench.cli._{name}":
                continue  # command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_INVALID_INPUT
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: error: {printable(exc, keep_newlines=True)}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except OSError as exc:  # unwritable --out, a folder where a file was expected, a full disk ...
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"workbench: error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a library failing on hostile input, or a bug: never exit 1, which means NO-GO
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        message = " ".join(str(exc).split())[:300]
        print(f"workbench: error: unexpected {type(exc).__name__}: {printable(message)} "
              "(set WORKBENCH_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INVALID_INPUT


def run() -> NoReturn:
    """The process entry point (console script ``workbench``, ``python -m workbench.cli``): ``main``, then exit.

    Before the interpreter tears itself down, every object still alive is frozen (``gc.freeze``),
    so the collections at exit skip them instead of walking the heap of the imported libraries
    and the computed evidence once more: 0.6-1 CPU-s after a demo review (0.7 s for ``import
    shap`` alone), for a process that is ending. Objects are still released and ``atexit``
    handlers still run; every command has written and closed its files by then. Not in
    ``main``, which the tests call in process.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()


__all__ = ["build_parser", "main", "run"]
