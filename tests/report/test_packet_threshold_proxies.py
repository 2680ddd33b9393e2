"""The packet prints the decision threshold, the cross-check and the proxy values the evidence holds."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests._small_review import write_small_review
from workbench.artefacts import load_review
from workbench.evidence import build_evidence
from workbench.report import PacketInput, build_packet, render_packet_html, render_packet_pdf
from workbench.report._model import fmt


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict:
    review = load_review(write_small_review(tmp_path_factory.mktemp("pk"), n=400, extra={"threshold": 0.35}))
    return build_evidence(review, include=["metrics", "fairness", "cross_check"])


def _input(evidence: dict) -> PacketInput:
    return PacketInput(review_name="small review", generated_at="2026-11-20T10:15:00+00:00", generated_by="ci",
                       evidence=evidence, decision={"outcome": "PENDING"})


def _rows(packet, section_id: str) -> list[tuple]:
    section = next(s for s in packet.sections if s.id == section_id)
    return [r for b in section.blocks if hasattr(b, "rows") for r in b.rows]


def test_the_decision_threshold_reaches_the_cover_and_the_quantitative_section(evidence) -> None:
    inp = _input(evidence)
    packet = build_packet(inp)
    assert packet.cover.threshold == "score >= 0.350 is positive (positive label 1)"
    text = "".join("".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(render_packet_pdf(inp))).pages)
    assert text.count("score>=0.350ispositive(positivelabel1)") >= 2  # cover table and the quantitative note
    assert "Decision threshold" in render_packet_html(inp)


def test_the_cross_check_is_printed(evidence) -> None:
    rows = _rows(build_packet(_input(evidence)), "quantitative")
    cc = evidence["cross_check"]["models"]["candidate"]
    largest = max(p["abs_diff"] for p in cc["metrics"].values() if p["abs_diff"] is not None)
    assert ("candidate", "metrics", "scikit-learn", fmt(len(cc["metrics"])), fmt(largest), "0") in rows
    assert any(r[:3] == ("baseline", "fairness: group", "fairlearn") for r in rows)


def test_proxy_tables_show_the_values_the_evidence_has(evidence) -> None:
    packet = build_packet(_input(evidence))
    rows = _rows(packet, "fairness")
    first = evidence["fairness_proxies"]["group"]["associations"][0]
    assert ("group", first["feature"], fmt(first["cramers_v"]), fmt(first["mutual_information"]), first["strength"]) in rows
    reliance = {"candidate": {"proxies": {"income": 0.2, "open_lines": 0.05}, "proxy_share": 0.25,
                              "sensitive_features_used": [], "sensitive_share": 0.0}}
    ev = {**evidence, "explanations": {"candidate": {"status": "ok", "importance": [
        {"feature": "income", "rank": 1, "value": 0.3, "ci_low": 0.2, "ci_high": 0.4}]},
        "diff": {"spearman": 1.0, "reliance": reliance}}}
    rows = _rows(build_packet(dataclasses.replace(_input(evidence), evidence=ev)), "explanations")
    assert ("candidate", "0.000", "0.250", "none", "income 0.200, open_lines 0.050") in rows
