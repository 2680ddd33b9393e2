"""PII scan of tabular data: e-mail, phone, US SSN, payment card (Luhn), IBAN (mod-97), IPv4/IPv6,
and columns named like personal names or addresses.

Values are scanned per column, vectorised with pandas string methods over the column's
*distinct* values (counts come from ``value_counts``, so a repeated value costs one match);
a cheap regex pre-filter selects candidates and only those go through the exact validators
(Luhn, mod-97, ``ipaddress``). Frames longer than ``max_rows`` are sampled deterministically
(evenly spaced rows) and the report says so. Samples are masked: never the raw value.

Examples
--------
>>> import pandas as pd
>>> r = scan_frame(pd.DataFrame({"note": ["mail jane.doe@example.com", "ok"], "x": [1, 2]}))
>>> [(f.column, f.kind, f.count) for f in r.findings]
[('note', 'email', 1)]
>>> r.findings[0].samples
('mail j*******@*******.com',)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

PII_KINDS = ("email", "phone", "ssn", "payment_card", "iban", "ip_address", "name_column", "address_column")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,8}){1,4}(?![\w])")
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}|^\d{1,2}[-./]\d{1,2}[-./]\d{4}")

_NAME_TOKENS = {"firstname", "lastname", "surname", "fullname", "forename", "givenname", "familyname", "maidenname"}
_NAME_OWNERS = {"first", "last", "full", "given", "family", "middle", "customer", "client", "applicant",
                "user", "person", "contact", "patient", "employee", "holder", "account"}
_ADDRESS_TOKENS = {"address", "addr", "street", "postcode", "zipcode", "postal", "housenumber"}


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string (payment card numbers).

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (spaces ignored).

    >>> iban_valid("GB82 WEST 1234 5698 7654 32"), iban_valid("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    s = text.replace(" ", "").upper()
    if not (15 <= len(s) <= 34 and s[:2].isalpha() and s[2:4].isdigit() and s.isalnum()):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _card_ok(m: str) -> bool:
    d = _digits(m)
    return 13 <= len(d) <= 19 and len(set(d)) > 1 and luhn_valid(d)


def _phone_ok(m: str) -> bool:
    d = _digits(m)
    if _DATE_LIKE.match(m) or not 9 <= len(d) <= 15:
        return False
    if _SSN.fullmatch(m) or (len(d) >= 13 and luhn_valid(d)):
        return False  # an SSN or a card number, reported as such
    return m.startswith(("+", "(")) or len(d) >= 10


def _ip_ok(m: str) -> bool:
    try:
        ipaddress.ip_address(m)
    except ValueError:
        return False
    return True


# kind, pre-filter regex, validator of a match (None: the regex is exact enough)
_DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", _EMAIL, None),
    ("ssn", _SSN, None),
    ("payment_card", _CARD, _card_ok),
    ("iban", _IBAN, iban_valid),
    ("ip_address", _IPV4, _ip_ok),
    ("ip_address", _IPV6, _ip_ok),
    ("phone", _PHONE, _phone_ok),
)


def mask(text: str, kind: str) -> str:
    """Mask a matched value for display: keep the e-mail's first letter and top-level domain,
    or the last four characters of a number; every other letter or digit becomes ``*``.

    >>> mask("jane.doe@example.com", "email"), mask("4111 1111 1111 1111", "payment_card")
    ('j*******@*******.com', '**** **** **** 1111')
    """
    if kind == "email" and "@" in text:
        local, _, domain = text.partition("@")
        head, _, tld = domain.rpartition(".")
        return local[:1] + "*" * (len(local) - 1) + "@" + "*" * len(head) + "." + tld
    keep = 4
    out, seen = [], 0
    for ch in reversed(text):
        if ch.isalnum():
            seen += 1
            out.append(ch if seen <= keep else "*")
        else:
            out.append(ch)
    return "".join(reversed(out))


@dataclass(frozen=True)
class PiiFinding:
    """PII of one kind in one column: rows affected (in the scanned rows) and masked samples."""

    dataset: str
    column: str
    kind: str
    count: int
    samples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "column": self.column, "kind": self.kind,
                "count": self.count, "samples": list(self.samples)}


@dataclass(frozen=True)
class PiiReport:
    """The scan of one data set."""

    dataset: str
    rows_total: int
    rows_scanned: int
    columns_scanned: tuple[str, ...]
    findings: tuple[PiiFinding, ...]

    @property
    def sampled(self) -> bool:
        return self.rows_scanned < self.rows_total

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "rows_total": self.rows_total,
            "rows_scanned": self.rows_scanned,
            "sampled": self.sampled,
            "sampling": "evenly spaced rows" if self.sampled else None,
            "columns_scanned": list(self.columns_scanned),
            "findings": [f.to_dict() for f in self.findings],
        }


def _tokens(column: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(column))
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def column_name_kind(column: str) -> str | None:
    """``name_column`` / ``address_column`` when the column name suggests personal data.

    >>> column_name_kind("customer_name"), column_name_kind("product_name"), column_name_kind("HomeAddress")
    ('name_column', None, 'address_column')
    """
    toks = _tokens(column)
    joined = {a + b for a, b in zip(toks, toks[1:], strict=False)}
    if _NAME_TOKENS & (set(toks) | joined) or toks == ["name"]:
        return "name_column"
    if "name" in toks and _NAME_OWNERS & set(toks):
        return "name_column"
    if _ADDRESS_TOKENS & (set(toks) | joined) and not {"ip", "mac", "email"} & set(toks):
        return "address_column"
    return None


def _scan_strings(values: pd.Series, counts: pd.Series, *, samples: int) -> dict[str, tuple[int, list[str]]]:
    """Per kind: rows with at least one valid match, and the first masked samples.

    Detectors run in a fixed order (e-mail, SSN, card, IBAN, IP, phone); a valid match is
    blanked out of the working text so a later, looser detector (phone) cannot count it again.
    """
    work = values.copy()
    shown = values.copy()
    out: dict[str, tuple[int, list[str]]] = {}
    for kind, rx, ok in _DETECTORS:
        hit = work.str.contains(rx, regex=True, na=False)
        if not hit.any():
            continue
        n, found = out.get(kind, (0, []))
        for idx, ms in work[hit].str.findall(rx).items():
            good = [m for m in ms if ok is None or ok(m)]
            if not good:
                continue
            idx = cast(int, idx)  # values has a RangeIndex: its labels are positions
            n += int(counts.iloc[idx])
            text, masked = work.loc[idx], shown.loc[idx]
            for m in good:
                text = text.replace(m, " ")
                masked = masked.replace(m, mask(m, kind))
            work.loc[idx], shown.loc[idx] = text, masked  # type: ignore[call-overload]  # pandas-stubs: int label
            if len(found) < samples:
                found.append(masked[:80])
        if n:
            out[kind] = (n, found)
    return out


def _card_ints(s: pd.Series) -> pd.Series:
    """Values of an integer column that are 13-19 digit Luhn-valid numbers (cards stored as ints)."""
    v = s.dropna()
    v = v[v.abs() >= 10**12]
    if v.empty:
        return v
    ok = {x: _card_ok(str(int(x))) for x in v.unique()}
    return v[v.map(ok).astype(bool)]


def scan_frame(frame: pd.DataFrame, *, dataset: str = "data", max_rows: int = 200_000, samples: int = 3) -> PiiReport:
    """Scan every column of ``frame`` for personal data.

    Parameters
    ----------
    frame
        The data set.
    dataset
        Its name in the report (e.g. ``evaluation``).
    max_rows
        Larger frames are scanned on ``max_rows`` evenly spaced rows (deterministic).
    samples
        Masked samples kept per column and kind.
    """
    total = len(frame)
    if total > max_rows:
        step = total / max_rows
        frame = frame.iloc[[int(i * step) for i in range(max_rows)]]
    findings: list[PiiFinding] = []
    for col in frame.columns:
        s = frame[col]
        name_kind = column_name_kind(str(col))
        if name_kind is not None and s.notna().any():
            shown = [mask(str(x), name_kind) for x in s.dropna().unique()[:samples]]
            findings.append(PiiFinding(dataset, str(col), name_kind, int(s.notna().sum()), tuple(shown)))
        if pd.api.types.is_integer_dtype(s.dtype):
            cards = _card_ints(s)
            if len(cards):
                shown = [mask(str(int(x)), "payment_card") for x in cards.unique()[:samples]]
                findings.append(PiiFinding(dataset, str(col), "payment_card", len(cards), tuple(shown)))
            continue
        if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype)):
            continue
        vc = s.dropna().astype(str).value_counts(sort=False)
        if vc.empty:
            continue
        values = pd.Series(vc.index, dtype="object").astype(str)
        counts = pd.Series(vc.to_numpy())
        for kind, (n, found) in sorted(_scan_strings(values, counts, samples=samples).items()):
            findings.append(PiiFinding(dataset, str(col), kind, n, tuple(found)))
    return PiiReport(dataset, total, len(frame), tuple(str(c) for c in frame.columns), tuple(findings))


__all__ = ["PII_KINDS", "PiiFinding", "PiiReport", "column_name_kind", "iban_valid", "luhn_valid", "mask", "scan_frame"]
