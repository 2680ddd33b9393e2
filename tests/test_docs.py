"""Every CLI command is documented: it has help text and appears in the README (STYLE habit 10)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from workbench.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                out.append(((*prefix, name), helps.get(name) or sub.description or ""))
                out.extend(_commands(sub, (*prefix, name)))
    return out


COMMANDS = _commands(build_parser())


def test_the_cli_has_the_documented_command_groups() -> None:
    top = {c[0][0] for c in COMMANDS}
    assert {"demo", "review", "gate", "report", "verify", "keys", "users", "audit", "questionnaire",
            "signoff", "waive", "replay", "canary", "monitor"} <= top


@pytest.mark.parametrize(("words", "help_text"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(words: tuple[str, ...], help_text: str) -> None:
    assert help_text.strip(), f"`workbench {' '.join(words)}` has no help text"
    # A subcommand may be written after its group in a README line such as "users list | users disable".
    pattern = r"workbench " + r"\s+".join(map(re.escape, words)) + r"\b"
    grouped = len(words) > 1 and re.search(rf"\b{re.escape(words[0])}\s+{re.escape(words[1])}\b", README)
    assert re.search(pattern, README) or grouped, f"`workbench {' '.join(words)}` is not documented in README.md"
