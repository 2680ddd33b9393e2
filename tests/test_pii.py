"""PII scan: planted personal data is found (and validated), clean data gives no false positive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.governance import column_name_kind, iban_valid, luhn_valid, mask, scan_frame


def _luhn_oracle(number: str) -> bool:
    """Independent Luhn: double every second digit from the right via a lookup table."""
    doubled = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]
    digits = [int(c) for c in number][::-1]
    return sum(d if i % 2 == 0 else doubled[d] for i, d in enumerate(digits)) % 10 == 0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_luhn_matches_an_independent_implementation(number):
    assert luhn_valid(number) == _luhn_oracle(number)


def test_iban_mod97_known_examples():
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("DE89 3704 0044 0532 0130 01")
    assert not iban_valid("XX00")


def _planted() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    notes = np.array(["all fine", "customer called back", "approved after review"] * (n // 3 + 1))[:n].astype(object)
    # planted rows (exact counts asserted below)
    notes[5] = "reach me at jane.doe@example.com"
    notes[17] = "cc: j.smith+loans@bank.co.uk and nothing else"
    notes[42] = "phone +44 7911 123456 after 5pm"
    notes[43] = "call (555) 123-4567"
    notes[44] = "or 555-987-6543"
    notes[60] = "card 4111 1111 1111 1111 on file"          # Luhn valid (Visa test number)
    notes[61] = "card 4111 1111 1111 1112 typo"             # Luhn invalid: not a card
    notes[70] = "SSN 123-45-6789"
    notes[80] = "IBAN GB82 WEST 1234 5698 7654 32"
    notes[90] = "login from 192.168.10.77"
    notes[91] = "login from fe80::1ff:fe23:4567:890a"
    return pd.DataFrame({
        "application_id": [f"A{i:08d}" for i in range(n)],
        "notes": pd.Series(notes, dtype="string"),
        "income": rng.normal(50_000, 10_000, n),
        "submitted": pd.Series(pd.date_range("2026-08-03", periods=n, freq="h")).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "version": ["1.2.3"] * n,
        "customer_name": ["Ann Example"] * n,
        "home_address": ["1 Main Street"] * n,
        "product_name": ["loan"] * n,
    })


def test_planted_pii_is_found_with_exact_counts_and_masked_samples():
    report = scan_frame(_planted(), dataset="evaluation")
    got = {(f.column, f.kind): f.count for f in report.findings}
    assert got == {
        ("notes", "email"): 2,
        ("notes", "phone"): 3,
        ("notes", "payment_card"): 1,
        ("notes", "ssn"): 1,
        ("notes", "iban"): 1,
        ("notes", "ip_address"): 2,
        ("customer_name", "name_column"): 400,
        ("home_address", "address_column"): 400,
    }
    card = next(f for f in report.findings if f.kind == "payment_card")
    assert card.samples == ("card **** **** **** 1111 on file",)
    email = next(f for f in report.findings if f.kind == "email")
    assert email.samples[0] == "reach me at j*******@*******.com"
    for f in report.findings:
        for s in f.samples:
            assert "jane.doe" not in s and "4111 1111 1111 1111" not in s and "123-45-6789" not in s
    assert not report.sampled and report.rows_scanned == 400


def test_luhn_invalid_card_is_not_reported():
    df = pd.DataFrame({"x": ["4111 1111 1111 1112", "5500 0000 0000 0005"]})
    assert scan_frame(df).findings == ()


def test_card_numbers_stored_as_integers():
    df = pd.DataFrame({"pan": np.array([4111111111111111, 4111111111111112, 12], dtype="int64")})
    (f,) = scan_frame(df).findings
    assert (f.kind, f.count, f.samples) == ("payment_card", 1, ("************1111",))


def test_large_frames_are_sampled_deterministically():
    df = pd.DataFrame({"notes": ["ok"] * 1000})
    df.loc[500, "notes"] = "x@y.org"
    a, b = scan_frame(df, max_rows=100), scan_frame(df, max_rows=100)
    assert a == b and a.sampled and a.rows_scanned == 100 and a.to_dict()["sampling"] == "evenly spaced rows"
    assert [f.count for f in a.findings] == [1]  # row 500 is one of the evenly spaced rows


@pytest.mark.parametrize(
    ("name", "kind"),
    [("first_name", "name_column"), ("LastName", "name_column"), ("name", "name_column"), ("applicant_name", "name_column"),
     ("street", "address_column"), ("postcode", "address_column"), ("product_name", None), ("region", None),
     ("employment_type", None), ("ip_address", None), ("age_band", None)],
)
def test_column_name_heuristics(name, kind):
    assert column_name_kind(name) == kind


def test_mask_keeps_separators_and_last_four():
    assert mask("555-987-6543", "phone") == "***-***-6543"
    assert mask("a@b.io", "email") == "a@*.io"


def test_no_false_positive_on_the_demo_data(demo_dir):
    frames = {p.stem: pd.read_parquet(p) for p in sorted((demo_dir / "data").glob("*.parquet"))}
    assert set(frames) >= {"evaluation", "reference", "replay"}
    for name, frame in frames.items():
        report = scan_frame(frame, dataset=name)
        assert report.findings == (), (name, [f.to_dict() for f in report.findings])
