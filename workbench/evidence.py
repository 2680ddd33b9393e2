"""Assemble the evidence JSON (schema_version 1) of a review; see docs/EVIDENCE.md.

``build_evidence`` calls each evidence section once: quantitative metrics with bootstrap CIs,
calibration and paired tests (``workbench.metrics``), drift (``workbench.metrics.drift``),
fairness (``workbench.fairness``), operational measurements (``workbench.metrics.operational``),
robustness (``workbench.metrics.robustness``), slices (``workbench.metrics.slices``) and SHAP
explanations (``workbench.explain``). Every section records its status in
``evidence["sections"]``: a section that cannot run on this review (e.g. operational checks on
precomputed predictions) says ``not_applicable`` with a reason, and a section that fails says
``error`` with the message — one failing section never stops the review.

Sections run in the stages of ``STAGES``. The heavy ones (metrics, slices, fairness, drift,
robustness) already keep both cores busy with their own threads and run one after the other;
explanations (one core) runs beside cross-check. Every untimed section of a small review in two
lanes was tried and dropped: no faster on the 25,000-row demo (12.1 s against 11.2 s), its
sections contend for the interpreter. The sections whose numbers are timings of the models
(operational, and the replay's canary latency guardrail) run last and alone, so no other
section's work inflates what they measure. Scoring the evaluation rows comes first, also alone:
a review of at least twice ``operational.SCORING_BATCH_ROWS`` rows is scored in batches
(``score_in_batches``), and operational's peak memory and throughput are measured on that work
instead of scoring rows again. Every section writes only its own keys and draws
from its own seeded generators, so the evidence does not depend on the schedule.
"""

from __future__ import annotations

import gc
import platform
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.schedule import Messenger, plan_stages, run_side_by_side
from workbench.canonical import digest, to_jsonable

if TYPE_CHECKING:
    import pandas as pd

    from workbench.artefacts import LoadedModel, Manifest, ReviewData, ScoreRunner
    from workbench.metrics import Margin
    from workbench.metrics.operational import BatchMeasure

SCHEMA_VERSION = 1
ENGINE = "numpy"
SECTIONS = ("metrics", "calibration", "drift", "fairness", "operational", "robustness", "slices", "explanations",
            "replay", "cross_check")
#: The schedule: stages one after the other; the lanes of a stage run side by side (each lane's
#: sections in order). Timed sections (operational latency/throughput/memory, the replay's
#: latency guardrail) come last and alone.
STAGES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("metrics",),),
    (("slices",),),
    (("drift",),),
    (("fairness",),),
    (("explanations",), ("cross_check",)),
    # robustness alone: its gradient-boosting predictions use both cores (OpenMP); limited to
    # one thread beside another lane it took 5.2 s at 1M rows instead of 3.0 s idle
    (("robustness",),),
    (("operational",),),
    (("replay",),),
)
#: Slices are exploratory and numerous: their CIs use the first replicates of the shared set.
SLICE_BOOTSTRAP_CAP = 200
#: Metric each task's robustness tests measure the degradation of.
ROBUSTNESS_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mae"}
NOT_APPLICABLE_PRECOMPUTED = "precomputed predictions: there is no model to run"

__all__ = ["ENGINE", "ROBUSTNESS_METRIC", "SCHEMA_VERSION", "SECTIONS", "STAGES", "build_evidence", "content_digest",
           "evidence_trust_problem", "get_path", "review_block", "sign_evidence"]


def content_digest(evidence: dict[str, Any]) -> str:
    """sha256 of the canonical evidence without its ``digest`` and ``signature`` keys."""
    return digest({k: v for k, v in evidence.items() if k not in ("digest", "signature")})


def sign_evidence(evidence: dict[str, Any], key: Any) -> dict[str, Any]:
    """``evidence`` with an Ed25519 ``signature`` of its content digest by the server key."""
    body = {k: v for k, v in evidence.items() if k != "signature"}
    body["digest"] = content_digest(body)
    body["signature"] = {"algorithm": "Ed25519", "key_id": key.key_id, "public_key": key.public_b64,
                         "value": key.sign(body["digest"].encode())}
    return body


def evidence_trust_problem(evidence: dict[str, Any], key: Any | None) -> str | None:
    """Why ``evidence`` read from a file cannot be trusted (None: signed by ``key``, content intact).

    Examples
    --------
    >>> from workbench.serverkey import ServerKey
    >>> key = ServerKey.generate()
    >>> ev = sign_evidence({"evidence_digest": "e", "x": 1}, key)
    >>> evidence_trust_problem(ev, key) is None
    True
    >>> evidence_trust_problem({**ev, "x": 2}, key)
    'its content does not match its digest (edited after `workbench review` wrote it)'
    """
    if evidence.get("digest") != content_digest(evidence):
        return "its content does not match its digest (edited after `workbench review` wrote it)"
    if key is None:
        return "there is no server key to check its signature (run `workbench keys init`), so it is unverified"
    signature = evidence.get("signature")
    if not isinstance(signature, dict):
        return "it is not signed by the workbench's server key (an unsigned or hand-made file)"
    if signature.get("key_id") != key.key_id or not key.verify(str(evidence["digest"]).encode(),
                                                               str(signature.get("value"))):
        return "its signature does not verify against the server key (edited, or signed by another key)"
    return None


def _settings(review: ReviewData, include: tuple[str, ...]) -> dict[str, Any]:
    s = review.manifest.settings
    out = to_jsonable(s.model_dump(mode="json", exclude_none=True))
    out.update(n_bootstrap=s.n_bootstrap, include=list(include), ci_method="poisson_bootstrap_percentile",
               threshold_rule="score >= threshold is positive",
               robustness_metric=ROBUSTNESS_METRIC[review.task])
    return out


def get_path(data: Any, path: str | Sequence[str], default: Any = None) -> Any:
    """Follow a dotted path (or a list of keys) into evidence or decision JSON; ``default`` when absent.

    The one lookup the policy, the report and the app use: list items by index, no KeyError.

    Examples
    --------
    >>> ev = {"models": {"candidate": {"metrics": {"roc_auc": {"value": 0.8}}}}, "tests": [{"p": 0.1}]}
    >>> get_path(ev, "models.candidate.metrics.roc_auc.value"), get_path(ev, "tests.0.p"), get_path(ev, "x.y")
    (0.8, 0.1, None)
    >>> get_path(ev, ["models", "candidate"], default="?") is ev["models"]["candidate"]
    True
    """
    node = data
    for key in path.split(".") if isinstance(path, str) else path:
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, str) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return default
    return node


def review_block(manifest: Manifest, **measured: Any) -> dict[str, Any]:
    """The evidence's ``review`` block: what the manifest says about the review, then what was measured.

    Built here once for every engine (``build_evidence`` in memory, ``workbench.engine`` at scale).
    """
    return {"name": manifest.name, "task": manifest.task, "target": manifest.target,
            "positive_label": to_jsonable(manifest.positive_label), "threshold": float(manifest.threshold),
            **measured}


def _review_block(review: ReviewData) -> dict[str, Any]:
    return review_block(
        review.manifest,
        classes=[to_jsonable(c) for c in review.classes],
        n_evaluation=len(review.evaluation),
        n_reference=None if review.reference is None else len(review.reference),
        n_replay=None if review.replay is None else len(review.replay),
        features=list(review.features), sensitive_features=list(review.sensitive_features),
        id_column=review.id_column,
    )


def build_evidence(
    review: ReviewData,
    *,
    include: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    operations: dict[str, Any] | None = None,
    margins: Mapping[str, Margin] | None = None,
    on_section: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Compute the evidence JSON of a loaded review (``workbench.artefacts.ReviewData``).

    Parameters
    ----------
    review : ReviewData
        Loaded and checked artefacts (``workbench.artefacts.load_review``).
    include : iterable of str, optional
        Sections to compute (default: all of ``SECTIONS``); left-out sections are recorded
        with status ``skipped``.
    progress : callable, optional
        Receives one-line progress messages, always on the calling thread (messages of a
        section running on another thread are passed on when the calling thread is free).
    operations : dict, optional
        What happened after an earlier promotion (``workbench.replay.operations_evidence``:
        monitoring windows, alerts, feedback and contest rates, re-reviews), read from the store by
        the caller; recorded as ``operations``.
    margins : mapping of str to workbench.metrics.Margin, optional
        The non-inferiority margins the policy states per delta (``workbench.policy.evidence_margins``):
        each paired delta is read against its own (recorded as ``margin`` and ``margin_source``),
        the others against ``settings.margin``. Recorded under ``settings.margins``.
    on_section : callable, optional
        ``on_section(done, total, name)`` on the calling thread when scoring (``"scoring"``)
        and each chosen section has finished: a progress bar's steps.

    Returns
    -------
    dict
        JSON-ready evidence with ``digest`` = sha256 of its canonical JSON without ``digest``.
        A section that raised is recorded as ``sections.<name> = {"status": "error", "reason"}``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from workbench.demo import write_demo
    >>> from workbench.artefacts import load_review
    >>> demo = write_demo(Path(tempfile.mkdtemp()) / "demo", n_reference=3000, n_evaluation=2000, n_replay=2000)
    >>> ev = build_evidence(load_review(demo.review), include=["metrics"])
    >>> ev["sections"]["metrics"], ev["sections"]["drift"]
    ({'status': 'ok'}, {'status': 'skipped'})
    >>> auc = ev["models"]["candidate"]["metrics"]["roc_auc"]
    >>> auc["ci_low"] <= auc["value"] <= auc["ci_high"]
    True
    """
    chosen = tuple(SECTIONS if include is None else include)
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        from workbench.errors import ManifestError

        raise ManifestError(f"unknown evidence section(s) {unknown}; known: {', '.join(SECTIONS)}")
    say = Messenger(progress, on_section)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    roles = [r for r in ("candidate", "baseline") if review.models.get(r) is not None]
    scores = {}
    measured: dict[str, BatchMeasure] = {}  # peak memory and throughput of the scoring below, for operational
    for role in roles:
        say(f"scoring {role} on {len(review.evaluation)} rows")
        runner = None if review.models[role].is_precomputed else _batches(role, measured,
                                                                          measure="operational" in chosen)
        scores[role] = np.asarray(review.scores(role, runner=runner))
    reference_scores = _reference_scores(review, chosen, roles, say)
    timings["scoring"] = time.perf_counter() - started
    cpu["scoring"] = time.process_time() - cpu_started
    plan = plan_stages(chosen, STAGES)
    say.total = 1 + sum(len(lane) for stage in plan for lane in stage)
    say.section_done("scoring")

    evidence: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "engine": ENGINE,
        "review": _review_block(review), "settings": _settings(review, chosen),
        "artefacts": [to_jsonable(_record(a)) for a in review.artefacts],
        "evidence_digest": review.evidence_digest,
        "models": {r: _model_header(review.models[r]) for r in roles},
        "deltas": {}, "tests": {}, "sections": {},
    }
    if margins:
        evidence["settings"]["margins"] = {k: {"value": m.value, "relative": m.relative, "source": m.source}
                                           for k, m in sorted(margins.items())}
    ctx = _Context(review, evidence, chosen, scores, say, timings, cpu, margins=margins,
                   reference_scores=reference_scores, measured=measured)
    try:
        for stage in plan:
            # The sections' results stay alive to the end; freezing them (after a collection)
            # keeps the cyclic collector from walking them again and again during the later
            # sections: the timed ones measured up to 1.6x slower single-row calls without it.
            gc.collect()
            gc.freeze()
            ctx.run_stage(stage)
    finally:
        gc.unfreeze()
    say.flush()  # what the other threads said last
    evidence["sections"] = {name: evidence["sections"].get(name, {"status": "skipped"}) for name in SECTIONS}
    if operations is not None:
        evidence["operations"] = operations
    evidence["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    evidence["timings_cpu_s"] = {k: round(v, 4) for k, v in cpu.items()}
    evidence["environment"] = {"python": platform.python_version(), "numpy": np.__version__}
    evidence = to_jsonable(evidence)
    evidence["digest"] = content_digest(evidence)
    return evidence


class _Context:
    """What every section runner reads and writes; ``run`` isolates a section's failure."""

    def __init__(self, review, evidence, chosen, scores, say, timings, cpu, *,
                 margins: Mapping[str, Margin] | None, reference_scores: dict[str, Any],
                 measured: Mapping[str, BatchMeasure] | None = None) -> None:
        self.review, self.evidence, self.chosen = review, evidence, chosen
        self.scores, self.say, self.timings, self.cpu = scores, say, timings, cpu
        self.settings = review.manifest.settings
        self.margins = margins
        self.reference_scores = reference_scores
        #: per role, what was measured while its evaluation rows were scored (large reviews only)
        self.measured = dict(measured or {})
        self._lock = threading.Lock()

    @property
    def models(self) -> dict[str, Any]:
        return self.evidence["models"]

    def run(self, names: tuple[str, ...], runner: Callable[[_Context], dict[str, dict[str, Any]]]) -> None:
        t, c = time.perf_counter(), time.process_time()
        try:
            statuses = runner(self)
        except Exception as exc:  # noqa: BLE001 - one failing section is evidence, not a crash
            message = f"{type(exc).__name__}: {exc}"
            self.say(f"{'/'.join(names)}: error: {message}")
            statuses = {n: {"status": "error", "reason": message} for n in names if n in self.chosen}
        with self._lock:
            self.evidence["sections"].update(statuses)
            # wall time of the section itself; CPU is the whole process's over that time, so for
            # sections that ran side by side it includes the other lane's work
            self.timings[names[0]] = time.perf_counter() - t
            self.cpu[names[0]] = time.process_time() - c
        self.say.section_done(names[0])

    def run_lane(self, lane: tuple[str, ...], *, single_threaded_native: bool = False) -> None:
        """Run a lane's sections in order (``run`` catches each one's failure)."""
        if not single_threaded_native:
            for name in lane:
                self.run(_RUN_AS[name], _RUNNERS[name])
            return
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"):
            for name in lane:
                self.run(_RUN_AS[name], _RUNNERS[name])

    def run_stage(self, stage: tuple[tuple[str, ...], ...]) -> None:
        """Run one stage: its first lane on this thread, the others on worker threads."""
        run_side_by_side(stage, self.run_lane, self.say.flush)


def _batches(role: str, measured: dict[str, BatchMeasure], *, measure: bool) -> ScoreRunner:
    """A runner for ``ReviewData.scores``: a large review's rows in batches (faster than one call),
    measured for the operational section when ``measure`` (kept in ``measured``)."""
    from workbench.metrics.operational import score_in_batches

    def run(score: Callable[[pd.DataFrame], Any], frame: pd.DataFrame) -> np.ndarray:
        out, found = score_in_batches(score, frame, measure=measure)
        if found is not None:
            measured[role] = found
        return out

    return run


def _reference_scores(review: Any, chosen: tuple[str, ...], roles: list[str],
                      say: Callable[[str], None]) -> dict[str, Any]:
    """Each model's scores on the reference rows, for the prediction drift (binary reviews).

    Scored with the evaluation rows (it is scoring, not drift); a model that fails on the
    reference is recorded here and reported by the drift section as before.
    """
    if "drift" not in chosen or review.reference is None or review.task != "binary":
        return {}
    out: dict[str, Any] = {}
    for role in roles:
        if review.models[role].kind == "precomputed":
            continue
        say(f"scoring {role} on {len(review.reference)} reference rows (prediction drift)")
        try:
            out[role] = np.asarray(review.scores(role, review.reference))
        except Exception as exc:  # noqa: BLE001 - the drift section reports it
            out[role] = exc
    return out


def _record(a: Any) -> dict[str, Any]:
    if hasattr(a, "model_dump"):
        return a.model_dump(mode="json")
    if hasattr(a, "__dataclass_fields__"):
        from dataclasses import asdict

        out = asdict(a)
        if out.get("registry", 0) is None:  # only registry models carry a registry lineage
            out.pop("registry")
        return out
    return dict(a)


def _model_header(model: LoadedModel) -> dict[str, Any]:
    return {"name": model.name, "version": model.version, "kind": model.kind}


def _quantitative(ctx: _Context) -> dict[str, dict[str, Any]]:
    from workbench.metrics import quantitative_evidence

    s, review = ctx.settings, ctx.review
    metrics, calibration = "metrics" in ctx.chosen, "calibration" in ctx.chosen
    quant = quantitative_evidence(
        review.task, review.y_true, ctx.scores, threshold=float(review.threshold), classes=tuple(review.classes),
        n_boot=s.n_bootstrap, seed=s.seed, confidence=s.confidence, margin=s.margin, margins=ctx.margins,
        calibration_bins=s.calibration_bins, include_metrics=metrics, include_calibration=calibration,
        progress=ctx.say)
    for role in ctx.models:
        ctx.models[role].update(quant["models"][role])
    ctx.evidence["deltas"], ctx.evidence["tests"] = quant["deltas"], quant["tests"]
    out = {}
    if metrics:
        out["metrics"] = {"status": "ok"}
    if calibration:
        out["calibration"] = _combined_status({r: ctx.models[r]["calibration"] for r in ctx.models})
    return out


def _combined_status(blocks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Section status from the per-model blocks: error > ok (measured) > not_applicable."""
    errors = [f"{role}: {b.get('reason', 'failed')}" for role, b in blocks.items() if b.get("status") == "error"]
    if errors:
        return {"status": "error", "reason": "; ".join(errors)}
    if any(b.get("status") not in ("not_applicable", "skipped") for b in blocks.values()):
        return {"status": "ok"}
    reasons = sorted({str(b.get("reason")) for b in blocks.values() if b.get("reason")})
    return {"status": "not_applicable", "reason": "; ".join(reasons) or "no model to measure"}


def _per_model(ctx: _Context, name: str, measure: Callable[[str, Any], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run ``measure(role, model)`` for each model; precomputed models are not_applicable."""
    blocks: dict[str, dict[str, Any]] = {}
    for role in ctx.models:
        model = ctx.review.models[role]
        if model.kind == "precomputed":
            blocks[role] = {"status": "not_applicable", "reason": NOT_APPLICABLE_PRECOMPUTED}
        else:
            ctx.say(f"{name}: {role}")
            try:
                blocks[role] = measure(role, model)
            except Exception as exc:  # noqa: BLE001 - recorded per model, the other model still runs
                blocks[role] = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
        ctx.models[role][name] = blocks[role]
    return blocks


def _operational(ctx: _Context) -> dict[str, dict[str, Any]]:
    from workbench.metrics.operational import compare_operational, operational_evidence

    s, frame = ctx.settings, ctx.review.evaluation

    timed = [r for r, m in ctx.review.models.items() if m is not None and not m.is_precomputed]
    # both models measured the same way, or both by operational itself: their figures are compared
    measured = ctx.measured if all(r in ctx.measured for r in timed) else {}
    blocks = _per_model(ctx, "operational", lambda role, model: operational_evidence(
        model, frame, latency_calls=s.latency_calls, seed=s.seed, measured=measured.get(role)))
    if "candidate" in blocks and "baseline" in blocks:
        ctx.evidence["operational_deltas"] = compare_operational(blocks["candidate"], blocks["baseline"])
    return {"operational": _combined_status(blocks)}


def _robustness(ctx: _Context) -> dict[str, dict[str, Any]]:
    from workbench.metrics.robustness import BOOTSTRAP_CAP, robustness_evidence

    review, s = ctx.review, ctx.settings
    metric = ROBUSTNESS_METRIC[review.task]
    blocks = _per_model(ctx, "robustness", lambda role, model: robustness_evidence(
        model, review.evaluation, review.y_true, metric=metric, task=review.task, threshold=float(review.threshold),
        features=list(model.features or review.features), seed=s.seed,
        n_boot=min(s.n_bootstrap, BOOTSTRAP_CAP), confidence=s.confidence))
    return {"robustness": _combined_status(blocks)}


def _slices(ctx: _Context) -> dict[str, dict[str, Any]]:
    from workbench.metrics.slices import slice_evidence_models

    review, s = ctx.review, ctx.settings
    frame = review.evaluation
    by = [f for f in dict.fromkeys([*review.features, *review.sensitive_features]) if f in frame.columns]
    out = slice_evidence_models(
        frame, review.y_true, ctx.scores, features=by, threshold=float(review.threshold), task=review.task,
        min_size=s.min_slice_size, n_boot=min(s.n_bootstrap, SLICE_BOOTSTRAP_CAP), seed=s.seed,
        confidence=s.confidence, n_classes=len(review.classes) or None, progress=ctx.say)
    for role, slices in out.items():
        ctx.models[role]["slices"] = slices
    return {"slices": {"status": "ok", "features": by, "n_bootstrap": min(s.n_bootstrap, SLICE_BOOTSTRAP_CAP)}}


def _explanations(ctx: _Context) -> dict[str, dict[str, Any]]:
    from workbench.explain import explanation_evidence

    s = ctx.settings
    out = explanation_evidence(ctx.review, n_rows=s.explain_rows, n_background=s.explain_background,
                               seed=s.seed, n_boot=s.n_bootstrap, progress=ctx.say)
    ctx.evidence["explanations"] = out
    blocks = {r: out[r] for r in ("candidate", "baseline") if isinstance(out.get(r), dict)}
    return {"explanations": _combined_status(blocks)}


def _replay(ctx: _Context) -> dict[str, dict[str, Any]]:
    """Shadow replay of ``data.replay`` window by window, with the staged canary (workbench.replay)."""
    review = ctx.review
    m = review.manifest
    reason = None
    if m.data.replay is None:
        reason = "no replay traffic (manifest data.replay)"
    elif review.task != "binary":
        reason = f"replay supports binary reviews, not {review.task}"
    elif "candidate" not in review.models or review.models["candidate"].kind == "precomputed":
        reason = "precomputed predictions: there is no model to replay"
    if reason is not None:
        ctx.evidence["replay"] = {"status": "not_applicable", "reason": reason}
        return {"replay": {"status": "not_applicable", "reason": reason}}
    from workbench.replay import CanaryGuardrails, run_replay

    result = run_replay(review, guardrails=CanaryGuardrails.from_manifest(m), seed=ctx.settings.seed,
                        progress=ctx.say, reference_scores=ctx.reference_scores)
    ctx.evidence["replay"] = {
        "status": "ok",
        "settings": result["settings"],
        "summary": result["summary"],
        "canary": result["canary"],
        "fallback": result.get("fallback"),
        # every window's detail (models, drift, flips, performance, data quality), so the app's
        # shadow/canary page reads the stored evidence instead of replaying the traffic again
        "windows": [{**w, "agreement_rate": w.get("agreement_rate"), "max_psi": w["drift"].get("max_psi")}
                    for w in result["windows"]],
    }
    return {"replay": {"status": "ok"}}


def _drift(ctx: _Context) -> dict[str, dict[str, Any]]:
    review, s = ctx.review, ctx.settings
    if review.reference is None:
        reason = "no reference data (manifest data.reference)"
        ctx.evidence["drift"] = {"status": "not_applicable", "reason": reason}
        return {"drift": {"status": "not_applicable", "reason": reason}}
    from workbench.metrics.drift import drift_evidence, score_drift

    ctx.say(f"drift: {len(review.features)} features, {len(review.reference)} reference rows")
    out = drift_evidence(review.reference, review.evaluation, features=list(review.features),
                         bands=tuple(s.drift_bands), n_bins=s.drift_bins)
    prediction = {}
    if review.task == "binary":
        for role, score in ctx.scores.items():
            if review.models[role].kind == "precomputed":
                prediction[role] = {"status": "not_applicable",
                                    "reason": "precomputed predictions have no reference scores"}
                continue
            ref_scores = ctx.reference_scores.get(role)
            if isinstance(ref_scores, Exception):
                raise ref_scores
            if ref_scores is None:
                ref_scores = np.asarray(review.scores(role, review.reference))
            prediction[role] = score_drift(ref_scores, score, bands=tuple(s.drift_bands), n_bins=s.drift_bins)
    out["prediction"] = prediction
    out["status"] = "ok"
    ctx.evidence["drift"] = out
    return {"drift": {"status": "ok"}}


def _fairness(ctx: _Context) -> dict[str, dict[str, Any]]:
    from workbench.fairness import fairness_evidence

    s = ctx.settings
    fair = fairness_evidence(ctx.review, min_group_size=s.min_group_size, n_boot=s.n_bootstrap, seed=s.seed,
                             confidence=s.confidence, progress=ctx.say)
    for role, section in fair.get("models", {}).items():
        if role in ctx.models:
            ctx.models[role]["fairness"] = section
    ctx.evidence["fairness_deltas"] = fair.get("fairness_deltas", {})
    ctx.evidence["fairness_proxies"] = fair.get("proxies", {})
    status = fair.get("status", "ok")
    return {"fairness": {"status": status, **({"reason": fair["reason"]} if "reason" in fair else {})}}


def _cross_check(ctx: _Context) -> dict[str, dict[str, Any]]:
    from workbench.crosscheck import DEFAULT_ROWS, cross_check

    review, s = ctx.review, ctx.settings
    sensitive = ({f: review.evaluation[f].to_numpy(dtype=object) for f in review.sensitive_features}
                 if review.task == "binary" else {})
    ctx.say("cross-checking against scikit-learn and fairlearn")
    ctx.evidence["cross_check"] = cross_check(
        review.task, review.y_true, ctx.scores, threshold=float(review.threshold), sensitive=sensitive,
        n_classes=len(review.classes), max_rows=s.cross_check_rows or DEFAULT_ROWS, seed=s.seed)
    return {"cross_check": {"status": "ok"}}


_RUNNERS: dict[str, Callable[[_Context], dict[str, dict[str, Any]]]] = {
    "metrics": _quantitative,
    "drift": _drift,
    "fairness": _fairness,
    "operational": _operational,
    "robustness": _robustness,
    "slices": _slices,
    "explanations": _explanations,
    "replay": _replay,
    "cross_check": _cross_check,
}
#: The section names a runner reports its status (and timing, under the first) for.
_RUN_AS: dict[str, tuple[str, ...]] = {name: (name,) for name in _RUNNERS} | {"metrics": ("metrics", "calibration")}
