"""Text from users, made safe to store and to print.

Names, comments, rationales and answers end up in terminals (``workbench audit log``, error
lines) and in the app. A control character in them could rewrite a terminal line (``\\r``),
recolour or hide text (ANSI escapes, ``\\x1b[...``) or forge a second log line (``\\n``). So
free text is length-limited when it is written (:func:`check_text`) and every control
character is escaped when it is printed (:func:`printable`).
"""

from __future__ import annotations

import re
import unicodedata

from workbench.errors import WorkbenchError

#: Longest free text (comment, rationale, answer) accepted, in characters.
MAX_TEXT = 4000
#: Longest display name or other short label accepted, in characters.
MAX_LABEL = 120

# C0 and C1 controls, DEL, and the Unicode format/separator characters that reorder or hide text
# (bidi overrides U+202A-202E/2066-2069, line/paragraph separators U+2028/2029, zero-width U+200B-200F).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_UNSAFE_KEEP_NEWLINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """``str(value)`` with every control character escaped (``\\x1b`` → ``\\\\x1b``), safe for a terminal.

    Examples
    --------
    >>> printable("bob\\x1b[2K\\rroot")
    'bob\\\\x1b[2K\\\\rroot'
    >>> printable("two\\nlines")
    'two\\\\nlines'
    >>> printable("two\\nlines", keep_newlines=True)
    'two\\nlines'
    """
    pattern = _UNSAFE_KEEP_NEWLINES if keep_newlines else _UNSAFE
    return pattern.sub(_escape, str(value))


class TextError(WorkbenchError):
    """A name, comment or rationale is too long or holds characters that cannot be stored."""


def check_text(value: str, *, what: str, limit: int = MAX_TEXT, multiline: bool = True) -> str:
    """Return ``value`` if it fits ``limit`` characters and holds no control characters, else raise.

    Line breaks and tabs are allowed in multi-line text (comments, rationales); nothing else
    below U+0020 is. The text is NFC-normalised so that what is stored is what is compared.

    Examples
    --------
    >>> check_text("looks fine", what="comment")
    'looks fine'
    >>> check_text("x" * 5, what="comment", limit=4)
    Traceback (most recent call last):
    ...
    workbench.text.TextError: comment: 5 characters, at most 4 allowed
    >>> check_text("ok\\x1b[31m", what="comment")
    Traceback (most recent call last):
    ...
    workbench.text.TextError: comment: control character \\x1b at position 3 is not allowed
    """
    if not isinstance(value, str):
        raise TextError(f"{what}: expected text, got {type(value).__name__}")
    value = unicodedata.normalize("NFC", value)
    if len(value) > limit:
        raise TextError(f"{what}: {len(value):,} characters, at most {limit:,} allowed")
    allowed = {"\n", "\t", "\r"} if multiline else set()
    for i, ch in enumerate(value):
        if ch not in allowed and (match := _UNSAFE.match(ch)):
            raise TextError(f"{what}: control character {_escape(match)} at position {i + 1} "
                            "is not allowed")
    return value


__all__ = ["MAX_LABEL", "MAX_TEXT", "TextError", "check_text", "printable"]
