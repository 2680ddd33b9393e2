"""Packet content and rendering: sections, text extraction, determinism, HTML/JSON, charts."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sklearn.calibration import calibration_curve

from workbench.report import (
    SECTION_TITLES,
    PacketInput,
    build_packet,
    render_packet_html,
    render_packet_json,
    render_packet_pdf,
)
from workbench.report._charts import chart_png, iter_charts
from workbench.report._model import NOT_AVAILABLE, ChartSpec, Para, Series

ROOT = Path(__file__).resolve().parents[2]


def _text(pdf: bytes) -> str:
    return "".join("".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages)


def _bare() -> PacketInput:
    return PacketInput(review_name="empty review", generated_at="2026-11-20T10:15:00+00:00", generated_by="ci",
                       evidence={}, decision={"outcome": "PENDING"})


@pytest.fixture(scope="module")
def pdf(realistic_input) -> bytes:
    return render_packet_pdf(realistic_input)


def test_every_section_says_when_its_input_is_missing() -> None:
    packet = build_packet(_bare())
    assert [s.title for s in packet.sections] == [t for _, t in SECTION_TITLES]
    for section in packet.sections:
        notes = [b for b in section.blocks if isinstance(b, Para) and b.style == "missing"]
        if section.id != "summary":
            assert notes, f"section {section.title} renders nothing for an empty input"
    text = _text(render_packet_pdf(_bare()))
    assert "".join(NOT_AVAILABLE.lower().split()) in text.lower()
    assert "PENDING" in text


def test_pdf_text_has_every_heading_decision_criterion_and_signoff(pdf, realistic_input) -> None:
    text = _text(pdf)
    for _, title in SECTION_TITLES:
        assert "".join(title.split()) in text, title
    assert "NO-GO" in text
    for c in realistic_input.decision["criteria"]:
        assert c["id"] in text, c["id"]
    for s in realistic_input.signoffs:
        assert s["user"] in text and s["role"] in text
    for w in realistic_input.waivers:
        assert w["criterion"] in text
    assert realistic_input.evidence["evidence_digest"] in text
    assert realistic_input.audit_head in text


def test_pdftoppm_renders_every_page(pdf, tmp_path: Path) -> None:
    f = tmp_path / "p.pdf"
    f.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(f), str(tmp_path / "page")], check=True, timeout=60)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == len(PdfReader(io.BytesIO(pdf)).pages) >= 10
    assert all(p.stat().st_size > 1000 for p in pngs)


@pytest.mark.slow
def test_two_builds_are_byte_identical_even_across_processes(pdf, realistic_input) -> None:
    assert render_packet_pdf(realistic_input) == pdf
    code = (f"import hashlib, sys; sys.path.insert(0, {str(ROOT)!r}); from tests.report.conftest import build_realistic_input;"
            "from workbench.report import render_packet_pdf;"
            "print(hashlib.sha256(render_packet_pdf(build_realistic_input())).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True, timeout=120).stdout.strip()
    assert out == hashlib.sha256(pdf).hexdigest()


def test_pdf_dates_come_from_the_decision_not_the_clock(pdf) -> None:
    meta = PdfReader(io.BytesIO(pdf)).metadata
    assert meta["/CreationDate"].startswith("D:20261120101500")


def test_reliability_diagram_plots_the_evidence_calibration_curve(realistic_input) -> None:
    packet = build_packet(realistic_input)
    spec = next(c.spec for c in iter_charts(packet) if c.spec.kind == "reliability")
    curve = realistic_input.evidence["models"]["candidate"]["calibration"]["curve"]["uniform"]
    cand = next(s for s in spec.series if s.role == "candidate")
    assert cand.x == tuple(b["mean_predicted"] for b in curve)
    assert cand.y == tuple(b["fraction_positive"] for b in curve)


def test_roc_curve_is_thinned_but_keeps_its_end_points(realistic_input) -> None:
    spec = next(c.spec for c in iter_charts(build_packet(realistic_input)) if c.spec.title == "ROC curve")
    roc = realistic_input.evidence["models"]["candidate"]["curves"]["roc"]
    cand = next(s for s in spec.series if s.role == "candidate")
    assert len(cand.x) <= 160
    assert (cand.x[0], cand.y[0]) == (roc["fpr"][0], roc["tpr"][0])
    assert (cand.x[-1], cand.y[-1]) == (roc["fpr"][-1], roc["tpr"][-1])
    assert all(b >= a for a, b in zip(cand.x, cand.x[1:]))  # still monotone: a real ROC curve


def test_chart_png_is_deterministic_and_untagged() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    frac, mean = calibration_curve(y, s, n_bins=8)
    spec = ChartSpec("reliability", "r", "x", "y", (Series("cand", "candidate", tuple(mean), tuple(frac)),), diagonal=True)
    a, b = chart_png(spec), chart_png(spec)
    assert a == b and a[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Software" not in a and b"atplotlib" not in a


def test_html_is_self_contained_and_has_the_same_sections(realistic_input) -> None:
    html = render_packet_html(realistic_input)
    assert "src=\"http" not in html and "href=\"http" not in html and "<script" not in html
    assert html.count("data:image/png;base64,") == len(list(iter_charts(build_packet(realistic_input))))
    for _, title in SECTION_TITLES:
        assert title in html
    for c in realistic_input.decision["criteria"]:
        assert c["id"] in html


def test_json_export_carries_every_section_and_is_canonical(realistic_input) -> None:
    text = render_packet_json(realistic_input)
    data = json.loads(text)
    assert data["schema"] == "workbench.packet/1"
    assert [s["title"] for s in data["sections"]] == [t for _, t in SECTION_TITLES]
    assert data["cover"]["decision"] == "NO-GO"
    assert text == render_packet_json(realistic_input)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=60), comment=st.text(max_size=200))
def test_any_text_renders_and_survives_extraction(name: str, comment: str) -> None:
    """Review names and comments come from users: markup characters and any Unicode must render."""
    inp = dataclasses.replace(_bare(), review_name=name, signoffs=({"user": "u1", "role": "legal", "comment": comment},))
    pdf = render_packet_pdf(inp)
    assert pdf.startswith(b"%PDF-") and len(PdfReader(io.BytesIO(pdf)).pages) >= 10


def test_fairness_section_names_insufficient_groups_and_the_bounds(realistic_input) -> None:
    section = next(s for s in build_packet(realistic_input).sections if s.id == "fairness")
    notes = " ".join(b.text for b in section.blocks if isinstance(b, Para))
    groups = realistic_input.evidence["models"]["candidate"]["fairness"]["age_band"]["groups"]
    small = [g for g, v in groups.items() if v["n"] < 30]
    assert small and all(f"{g} (n={groups[g]['n']})" in notes for g in small)
    cells = [c for b in section.blocks if hasattr(b, "rows") for r in b.rows for c in r]
    assert "fairness-demographic-parity" in cells and "min 0.800" in cells


def test_explanations_in_the_explain_module_shape_render_side_by_side() -> None:
    """Shape documented in workbench.explain: importance lists with CIs and a diff with rank moves."""
    imp_c = [{"feature": "income", "rank": 1, "value": 0.3, "ci_low": 0.28, "ci_high": 0.33, "share": 0.6},
             {"feature": "age", "rank": 2, "value": 0.1, "ci_low": 0.09, "ci_high": 0.12, "share": 0.2}]
    imp_b = [{"feature": "age", "rank": 1, "value": 0.2, "ci_low": 0.18, "ci_high": 0.22, "share": 0.5},
             {"feature": "income", "rank": 2, "value": 0.15, "ci_low": 0.1, "ci_high": 0.2, "share": 0.3}]
    evidence = {"explanations": {"candidate": {"status": "ok", "importance": imp_c},
                                 "baseline": {"status": "ok", "importance": imp_b},
                                 "diff": {"spearman": -1.0, "top_k_candidate": ["income", "age"],
                                          "rank_moves": [{"feature": "income", "rank_candidate": 1,
                                                          "rank_baseline": 2, "move": 1}]}}}
    inp = dataclasses.replace(_bare(), evidence=evidence)
    section = next(s for s in build_packet(inp).sections if s.id == "explanations")
    spec = next(c.spec for c in iter_charts(build_packet(inp)) if c.spec.kind == "bars")
    assert spec.categories == ("income", "age")
    assert [s.y for s in spec.series] == [(0.3, 0.1), (0.15, 0.2)]
    assert [s.err_low for s in spec.series] == [(0.28, 0.09), (0.1, 0.18)]
    rows = [r for b in section.blocks if hasattr(b, "rows") for r in b.rows]
    assert ("income", "0.300 [0.280, 0.330]", "0.150 [0.100, 0.200]", "1", "2") in rows
    assert ("Spearman", "-1.000") in rows and ("income", "1", "2", "1") in rows
    assert "Rankmoves" in _text(render_packet_pdf(inp))  # _text drops whitespace


def test_objections_and_the_waivers_second_pair_of_eyes_are_in_the_packet(realistic_input) -> None:
    """Dissent and its resolution as the decision recorded them (issue 15 item 7), and who granted a waiver."""
    decision = {**realistic_input.decision, "objections": [
        {"objection_id": 1, "author": "grace", "rationale": "18-25 applicants were not consulted", "status": "accepted",
         "resolved_by": "carol", "resolved_role": "data_governance", "resolution": "youth panel consulted"},
        {"objection_id": 2, "author": "dave", "rationale": "pen test pending", "status": "open"}]}
    waiver = {"criterion_id": "fairness-equalized-odds", "user": "carol", "role": "data_governance",
              "rationale": "pilot", "expires": "2027-01-31", "countersigned_by": "erin", "countersigned_role": "legal"}
    proposed = {**waiver, "criterion_id": "latency-p95", "countersigned_by": None, "countersigned_role": None}
    inp = dataclasses.replace(realistic_input, decision=decision, waivers=(waiver, proposed))
    text = _text(render_packet_pdf(inp))
    for phrase in ("Objections", "18-25applicantswerenotconsulted", "carol(data_governance):youthpanelconsulted",
                   "pentestpending", "OPEN", "grantedbyerin(legal)", "PROPOSED"):
        assert phrase in text, phrase
    html = render_packet_html(inp)
    assert "pen test pending" in html and "youth panel consulted" in html
    assert "Noreviewerobjected." in _text(render_packet_pdf(realistic_input))  # _text drops spaces


def test_the_packet_shows_inconclusive_with_its_rows_margins_and_underpowered_passes() -> None:
    import datetime as dt

    from workbench.policy import decide, parse_policy

    policy = parse_policy({"id": "p", "version": "1", "criteria": [
        {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.80},
        {"id": "auc-non-inferior", "kind": "relative", "metric": "roc_auc", "max_drop": 0.01}]})
    evidence = {"evidence_digest": "e" * 64, "review": {"name": "thin", "n_evaluation": 2000},
                "models": {"candidate": {"metrics": {"roc_auc": {"value": 0.82, "ci_low": 0.79, "ci_high": 0.85}}},
                           "baseline": {"metrics": {"roc_auc": {"value": 0.80, "ci_low": 0.77, "ci_high": 0.83}}}},
                "deltas": {"roc_auc": {"value": 0.02, "ci_low": 0.005, "ci_high": 0.035, "mde": 0.021,
                                       "reading": "better", "margin": 0.01}}}
    decision = decide(policy, evidence, at=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    floor = decision.criterion("auc-floor")
    assert floor.status == "INCONCLUSIVE" and decision.criterion("auc-non-inferior").underpowered
    html = render_packet_html(PacketInput(review_name="thin", generated_at="2026-12-03T10:00:00+00:00",
                                          generated_by="ci", evidence=evidence, decision=decision.to_dict()))
    assert "INCONCLUSIVE" in html
    assert f"Rows needed to settle it: {floor.rows_needed:,}." in html
    assert "Margin 0.010." in html and "Underpowered (minimum detectable effect above the margin): max_drop." in html
    # the evidence's metric table gives each paired delta its MDE and the margin its reading used
    assert "MDE (80% power)" in html and "0.021" in html and "better (0.010)" in html


def test_operational_and_robustness_show_their_intervals(realistic_input) -> None:
    """Metric objects print with their interval; bare numbers of older evidence still print."""
    section = next(s for s in build_packet(realistic_input).sections if s.id == "quantitative")
    rows = {(r[0], r[1]): r for b in section.blocks if hasattr(b, "rows") for r in b.rows}
    assert rows[("candidate", "0.410 [0.400, 0.430]")][2:5] == ("0.630 [0.600, 0.700]", "0.900",
                                                                 "250,000 [240,000, 262,000]")
    assert ("baseline", "0.410") in rows
    tests = {(r[0], r[1]): r for b in section.blocks if hasattr(b, "rows") for r in b.rows if r[1] == "gaussian_noise"}
    assert tests[("candidate", "gaussian_noise")][5:7] == ("0.870 [0.850, 0.890]", "0.030 [0.020, 0.040]")
    assert tests[("baseline", "gaussian_noise")][5:7] == ("0.870", "0.030")
