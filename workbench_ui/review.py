"""Cached access to the loaded review, its evidence, policy, decision and explanations.

Heavy results are cached by content, so moving between pages reuses everything:

* the loaded review by the manifest path and its files' stamps (``st.cache_resource``);
* the evidence by the review's evidence digest, in process and in the store (a restart reuses
  the stored run instead of recomputing it);
* the decision by (evidence digest, policy digest, audit-chain head, day): every state change
  (answer, sign-off, waiver, document) appends to the audit chain, so the head moves exactly
  when the decision may change;
* SHAP explanations by (evidence digest, role, rows);
* the PII scan of the data sets by evidence digest (the decision and the governance page reuse it
  after every state change, which re-decides but leaves the data as they were).

Cached objects are shared between sessions and must not be mutated by pages.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from workbench.artefacts import ReviewData, load_review
from workbench.canonical import digest
from workbench.errors import ManifestError
from workbench.artefacts import load_manifest
from workbench_ui import context

if TYPE_CHECKING:
    from workbench.auth import User
    from workbench.governance import CheckResult

_compute_lock = threading.Lock()  # two sessions opening the same review compute its evidence once


def _stamp(path: Path) -> str:
    """Changes whenever the manifest or any file it names changes on disk."""
    m = load_manifest(path)
    files = [path]
    for role in ("candidate", "baseline"):
        entry = getattr(m, role)
        if entry is not None and getattr(entry, "path", None) is not None:
            files.append(m.resolve(entry.path))
    files += [m.resolve(p) for p in (m.data.evaluation, m.data.reference, m.data.replay, m.policy, m.model_card) if p]
    return digest([[str(f), f.stat().st_mtime_ns, f.stat().st_size] for f in files if f.exists()])


@st.cache_resource(show_spinner=False, max_entries=4)
def _load(path: str, stamp: str) -> ReviewData:
    # Manifests reach the app from browser users (uploads, typed paths): never let one ask for
    # pickles or extra skops types, and keep every file it names inside its own folder.
    return load_review(Path(path), untrusted=True)


def review_data(path: Path | None = None) -> ReviewData:
    """The loaded review (models, frames); raises WorkbenchError on bad input."""
    path = path or context.manifest_path()
    if path is None:
        raise ManifestError("no review is loaded: open one on the Load review page")
    return _load(str(path), _stamp(path))


def open_review(path: Path, *, actor: str | User) -> tuple[ReviewData, str]:
    """Load a review and register it in the store (same id as the CLI: name + manifest path)."""
    data = review_data(path)
    m = data.manifest
    review_id = context.store().upsert_review(m.name, manifest_path=str(m.source), evidence_digest=data.evidence_digest,
                                              actor=actor)
    return data, review_id


def require_review() -> tuple[ReviewData, str]:
    """The loaded review and its id, or a pointer to the Load page and stop."""
    path, rid = context.manifest_path(), context.review_id()
    if path is None or rid is None:
        st.info("No review is loaded yet.", icon=":material/info:")
        st.page_link("pages/load.py", label="Load a review", icon=":material/upload_file:")
        st.stop()
    return review_data(path), rid


@st.cache_resource(show_spinner=False)
def _registry() -> dict[str, Any]:
    """Process-wide results keyed by content digest (evidence, explanations, timings, running jobs)."""
    return {"evidence": {}, "explanations": {}, "timings": {}, "stored": set(), "jobs": {}}


@dataclass
class _Job:
    """One evidence computation on a background thread, followed by every session that waits for it."""

    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    total: int = 1
    message: str = "scoring the models"
    error: BaseException | None = None
    finished: threading.Event = field(default_factory=threading.Event)


def evidence(review: ReviewData, review_id: str | None) -> dict[str, Any]:
    """The review's evidence JSON: from memory, else from the store, else computed (with progress).

    The computation runs on a background thread, once per evidence digest, while the page shows
    its progress section by section: a reviewer who moves to another page meanwhile does not
    stop it, and the pages that do not need the evidence stay usable.
    """
    reg = _registry()["evidence"]
    key = review.evidence_digest
    if key in reg:
        return _stored(reg[key], review_id)
    with _compute_lock:
        if key in reg:
            return _stored(reg[key], review_id)
        store = context.store()
        run = store.evidence_by_digest(review_id, key) if review_id else None
        if run is not None and run.evidence is not None:
            reg[key] = run.evidence
            _registry()["stored"].add((str(store.path), review_id, key))
            return run.evidence
        job = _registry()["jobs"].get(key)
        if job is None:
            user = context.current_user()
            job = _registry()["jobs"][key] = _start(review, review_id, store, user.user if user else "app")
    _follow(job)
    if job.error is not None:
        with _compute_lock:
            _registry()["jobs"].pop(key, None)  # the next visit tries again
        raise job.error
    return _stored(reg[key], review_id)


def _start(review: ReviewData, review_id: str | None, store: Any, actor: str | User) -> _Job:
    from workbench.evidence import build_evidence

    job = _Job()
    key = review.evidence_digest
    registry = _registry()  # fetched on the script thread: the worker makes no Streamlit call
    from workbench.policy import evidence_margins

    margins = evidence_margins(policy(review))  # the policy's margins, read on the script thread too

    def section_done(done: int, total: int, name: str) -> None:
        job.done, job.total = done, total

    def work() -> None:
        try:
            ev = build_evidence(review, progress=lambda msg: setattr(job, "message", msg), on_section=section_done,
                                margins=margins)
            if review_id:
                store.save_evidence(review_id, ev, actor=actor)
                registry["stored"].add((str(store.path), review_id, key))
            registry["timings"][key] = time.perf_counter() - job.started
            registry["evidence"][key] = ev
        except BaseException as exc:  # noqa: BLE001 - shown by the page that waits for it
            job.error = exc
        finally:
            with _compute_lock:
                if job.error is None:
                    registry["jobs"].pop(key, None)
            job.finished.set()

    threading.Thread(target=work, name=f"evidence-{key[:12]}", daemon=True).start()
    return job


def _follow(job: _Job) -> None:
    """Show the job's progress (one step per section) until it has finished."""
    if job.finished.is_set():
        return
    with st.status("Computing the evidence: metrics, calibration, drift, fairness …", expanded=True) as status:
        bar = st.progress(0.0, text="scoring the models")
        while not job.finished.wait(0.25):
            bar.progress(job.done / job.total, text=f"{job.done} of {job.total} steps done, "
                                                    f"{time.perf_counter() - job.started:.0f} s")
            status.update(label=f"Computing evidence — {job.message}")
        if job.error is not None:
            status.update(label="The evidence could not be computed", state="error")
        else:
            status.update(label=f"Evidence computed in {time.perf_counter() - job.started:.0f} s", state="complete",
                          expanded=False)


def _stored(ev: dict[str, Any], review_id: str | None) -> dict[str, Any]:
    """Evidence computed in this process for one store is saved once in any other store the
    process serves (another WORKBENCH_DB): the decision and the packet read it from the store."""
    if not review_id:
        return ev
    store = context.store()
    mark = (str(store.path), review_id, ev["evidence_digest"])
    if mark not in _registry()["stored"]:
        if store.evidence_by_digest(review_id, ev["evidence_digest"]) is None:
            user = context.current_user()
            store.save_evidence(review_id, ev, actor=user.user if user else "app")
        _registry()["stored"].add(mark)
    return ev


def evidence_seconds(review: ReviewData) -> float | None:
    """Wall time the evidence took in this process (None when it came from the store)."""
    return _registry()["timings"].get(review.evidence_digest)


@st.cache_resource(show_spinner=False, max_entries=8)
def _policy(path: str, stamp: str) -> Any:
    from workbench.policy import manifest_policy

    return manifest_policy(load_manifest(Path(path)))


def policy(review: ReviewData) -> Any:
    """The review's promotion policy (manifest ``policy:``, else the shipped default)."""
    src = review.manifest.source
    if src is None:  # a manifest built in memory: no file to key the cache by
        from workbench.policy import manifest_policy

        return manifest_policy(review.manifest)
    return _policy(str(src), _stamp(src))


@st.cache_resource(show_spinner=False, max_entries=8)
def _privacy(evidence_digest: str, _review: ReviewData) -> CheckResult:
    """The PII scan of the review's data sets, once per evidence digest (which covers every data file's hash):
    every sign-in, answer or sign-off moves the audit head and so re-decides, but the data have not changed."""
    from workbench.governance import privacy_for_review

    return privacy_for_review(_review)


@st.cache_resource(show_spinner=False, max_entries=16)
def _decision(evidence_digest: str, policy_digest: str, head: str | None, day: str, _review: ReviewData,
              _policy_obj: Any, _evidence: dict, review_id: str) -> Any:
    from workbench.policy import authoritative_policy, decide_review, limit_decision

    store = context.store()
    chosen = _review.manifest.policy is not None
    pol, what_if = authoritative_policy(_review, _policy_obj, store, chosen=chosen)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    decision = decide_review(_review, pol, _evidence, at=at, store=store, review_id=review_id,
                             privacy=lambda: _privacy(evidence_digest, _review))
    return decision if what_if is None else limit_decision(decision, what_if, what_if=True)


def decision(review: ReviewData, review_id: str) -> Any:
    """The current decision (``workbench.policy.Decision``); recomputed only after a state change."""
    ev = evidence(review, review_id)
    pol = policy(review)
    head = context.store().audit_head()
    return _decision(review.evidence_digest, pol.digest, head, dt.date.today().isoformat(), review, pol, ev, review_id)


def explanation(review: ReviewData, role: str, *, n_rows: int) -> Any:
    """SHAP values of one model on ``n_rows`` evaluation rows (computed once per content, with progress)."""
    from workbench.explain import explain_review

    reg = _registry()["explanations"]
    key = (review.evidence_digest, role, n_rows)
    if key not in reg:
        s = review.manifest.settings
        with st.status(f"Explaining the {role} model on {n_rows:,} rows (SHAP) …", expanded=False) as status:
            reg[key] = explain_review(review, role, n_rows=n_rows, n_background=s.explain_background,
                                      seed=s.seed, progress=lambda msg: status.update(label=f"{role}: {msg}"))
            status.update(label=f"{role} explained", state="complete")
    return reg[key]


def has_explanation(review: ReviewData, role: str, *, n_rows: int) -> bool:
    return (review.evidence_digest, role, n_rows) in _registry()["explanations"]


@st.cache_resource(show_spinner=False, max_entries=8)
def _governance(evidence_digest: str, policy_digest: str, head: str | None, day: str, _review: ReviewData,
                _policy_obj: Any, review_id: str) -> dict[str, Any]:
    from workbench.governance import governance_for_review

    return governance_for_review(_review, _policy_obj, today=dt.date.fromisoformat(day), store=context.store(),
                                 review_id=review_id, privacy=lambda: _privacy(evidence_digest, _review))


def governance(review: ReviewData, review_id: str) -> dict[str, Any]:
    """Governance check results keyed by criterion id (recomputed after a state change)."""
    pol = policy(review)
    return _governance(review.evidence_digest, pol.digest, context.store().audit_head(), dt.date.today().isoformat(),
                       review, pol, review_id)
