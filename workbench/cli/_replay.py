"""`workbench replay`, `workbench canary` and `workbench monitor`.

Exit codes: replay 0; canary 0 when every stage held, 1 when a guardrail halted it or the fallback breached
its guardrails; monitor 0
when no alert fired for the batch, 1 when at least one did; 2 for invalid input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import add_db_option, db_path, progress
from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.errors import DataError, ManifestError

if TYPE_CHECKING:
    from workbench.artefacts import Manifest


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay", help="shadow-replay the manifest's timestamped traffic through both models",
        description="Stream data.replay window by window (replay.window, replay.timestamp_column) through "
        "candidate and baseline: agreement, score differences, flips by group, latency, errors, data "
        "quality, drift and performance per window. Writes JSON (stdout or --out); exit 0.",
    )
    _common(p)
    p.set_defaults(func=_run_replay)
    c = subparsers.add_parser(
        "canary", help="simulate a staged canary rollout with guardrails over the replay",
        description="Route a growing share of each replay window to the candidate (--stages) and check the "
        "guardrails (error rate, latency p95, PSI, performance drop vs baseline). Exit 0 when every stage "
        "held, 1 when a breach halted the rollout (the JSON names the window and the evidence).",
    )
    _common(c)
    c.add_argument("--stages", default=None, help="comma-separated traffic percentages, e.g. 5,25,50,100 "
                   "(default: manifest replay.canary_stages)")
    c.add_argument("--max-psi", type=float, default=None, help="PSI guardrail (default: monitoring threshold psi, 0.25)")
    c.add_argument("--max-error-rate", type=float, default=None, help="candidate error-rate guardrail (default 0.01)")
    c.add_argument("--max-latency-ms", type=float, default=None,
                   help="latency p95 guardrail in ms (default: monitoring threshold latency_ms.p95)")
    c.add_argument("--max-performance-drop", type=float, default=None,
                   help="largest allowed ROC AUC drop vs the baseline on the same rows (default 0.02)")
    c.set_defaults(func=_run_canary)
    m = subparsers.add_parser(
        "monitor", help="append a production batch to the review's monitoring history and raise alerts",
        description="Score a batch (Parquet/CSV), compute drift, performance, calibration, fairness and "
        "latency, store it in the review's history, raise alerts from readiness.monitoring.thresholds "
        "(stored and audited) and report whether a review is due. Exit 1 when an alert fired. "
        "With --source instead of --batch: read production logs incrementally (a checkpoint in the store: a "
        "restart never counts a row twice or skips one), one record per window, late labels from --outcomes "
        "joined on id_column, alerts delivered through readiness.monitoring.alerts, a re-review opened when "
        "breaches persist; --every keeps it running until SIGTERM/SIGINT.",
    )
    m.add_argument("manifest", type=Path, help="review manifest (review.yaml)")
    what = m.add_mutually_exclusive_group(required=True)
    what.add_argument("--batch", type=Path, help="production batch (Parquet or CSV)")
    what.add_argument("--source", help="production prediction logs: a glob of Parquet files ('logs/*.parquet') "
                      "or a DuckDB table (duckdb:FILE::TABLE)")
    m.add_argument("--outcomes", type=Path, action="append", default=[],
                   help="labels that arrived later (id_column and target), repeatable; with --source")
    m.add_argument("--every", default=None, help="with --source: run again every interval (30s, 15m, 1h, 1d) until "
                   "SIGTERM")
    m.add_argument("--fairness-boot", type=int, default=200, help="bootstrap replicates of the per-window "
                   "fairness CIs (with --source)")
    m.add_argument("--no-deliver", action="store_true", help="store alerts but do not send them (with --source)")
    m.add_argument("--out", type=Path, default=None, help="write the JSON result here (default stdout)")
    add_db_option(m)
    add_credentials(m, as_help="who records the batch (or a WORKBENCH_TOKEN scoped 'monitor')")
    m.set_defaults(func=_run_monitor)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path, help="review manifest (review.yaml)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON result here (default stdout)")
    p.add_argument("--window", default=None, help="window length, e.g. 7D or 1D (default: manifest replay.window)")
    p.add_argument("--latency-sample", type=int, default=None, help="single-row calls timed per window and model "
                   "(default workbench.replay.LATENCY_SAMPLE, 5; the latency guardrail reads the calls of every "
                   "window so far)")
    p.add_argument("--seed", type=int, default=0, help="seed for latency sampling and canary routing")
    p.add_argument("--inject-failures", type=float, default=None, metavar="RATE",
                   help="fallback drill: share of the candidate's routed calls made to fail (overrides replay.fallback)")
    p.add_argument("--inject-timeouts", type=float, default=None, metavar="RATE",
                   help="fallback drill: share of routed calls that run past the latency budget")
    p.add_argument("--latency-budget-ms", type=float, default=None, help="a candidate call slower than this falls back")
    p.add_argument("--kill-switch-at", type=float, default=None, metavar="STAGE",
                   help="canary stage (percent) at which the kill switch returns all traffic to the baseline")


def _load(path: Path) -> Any:
    from workbench.artefacts import load_review
    from workbench.artefacts import load_manifest

    manifest = load_manifest(path)
    if manifest.data.replay is None:
        raise ManifestError(f"{manifest.display_file}: data.replay: no replay file to stream; add one")
    source = manifest.resolve(manifest.data.replay)
    # the replay file is streamed by windows, so the loader must not read it whole
    light = manifest.model_copy(update={"data": manifest.data.model_copy(update={"replay": None})})
    return load_review(light, progress=progress), source


def _write(result: dict[str, Any], out: Path | None) -> None:
    from workbench.canonical import to_jsonable

    text = json.dumps(to_jsonable(result), indent=1, sort_keys=True, allow_nan=False) + "\n"
    if out is None:
        print(text, end="")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        progress(f"wrote {out}")


def _latency_sample(args: argparse.Namespace) -> int:
    from workbench.replay import LATENCY_SAMPLE

    return LATENCY_SAMPLE if args.latency_sample is None else args.latency_sample


def _run_replay(args: argparse.Namespace) -> int:
    from workbench.replay import run_replay

    review, source = _load(args.manifest)
    result = run_replay(review, source=source, window=args.window, latency_sample=_latency_sample(args),
                        seed=args.seed, fallback=_fallback(args, review.manifest), progress=progress)
    _write(result, args.out)
    return 0


def _stages(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        stages = tuple(float(s) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise ManifestError(f"--stages: {text!r} is not a comma-separated list of percentages ({exc})") from exc
    if not stages or any(not 0 < s <= 100 for s in stages) or list(stages) != sorted(stages):
        raise ManifestError(f"--stages: {text!r}: give increasing percentages in (0, 100], e.g. 5,25,50,100")
    return stages


def _run_canary(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from workbench.replay import CanaryGuardrails, run_replay

    review, source = _load(args.manifest)
    try:
        guardrails = CanaryGuardrails.from_manifest(
            review.manifest, stages=_stages(args.stages), max_psi=args.max_psi,
            max_error_rate=args.max_error_rate, max_latency_p95_ms=args.max_latency_ms,
            max_performance_drop=args.max_performance_drop)
    except ValidationError as exc:
        raise ManifestError(f"canary guardrails: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    result = run_replay(review, source=source, window=args.window, guardrails=guardrails,
                        latency_sample=_latency_sample(args), seed=args.seed, fallback=_fallback(args, review.manifest),
                        progress=progress)
    _write(result, args.out)
    canary = result["canary"]
    progress(f"canary {canary['status']}: {canary['recommendation']}")
    fb = result.get("fallback")
    if fb is not None:
        progress(f"fallback {fb['status']}: rate {fb['fallback_rate']}, windows breached {fb['windows_breached']}")
    return 1 if canary["status"] == "halted" or (fb is not None and not fb["within_guardrails"]) else 0


def _fallback(args: argparse.Namespace, manifest: Manifest) -> Any:
    """The manifest's replay.fallback with the command-line drill options on top (None: no simulation)."""
    from pydantic import ValidationError

    from workbench.artefacts import FallbackPlan

    overrides = {k: v for k, v in (("failure_rate", args.inject_failures), ("timeout_rate", args.inject_timeouts),
                                   ("latency_budget_ms", args.latency_budget_ms),
                                   ("kill_switch_at_stage", args.kill_switch_at)) if v is not None}
    base = manifest.replay.fallback
    if base is None and not overrides:
        return None
    try:
        return FallbackPlan(**{**(base.model_dump() if base is not None else {}), **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ManifestError(f"fallback drill: {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc


@audited_refusals("monitor")
def _run_monitor(args: argparse.Namespace) -> int:
    from workbench.artefacts import load_review
    from workbench.artefacts import load_manifest
    from workbench.replay import record_batch
    from workbench.store import Store

    manifest = load_manifest(args.manifest)
    if args.source is not None:
        return _run_live(args, manifest)
    if args.outcomes or args.every:
        raise DataError("--outcomes and --every go with --source (live logs), not --batch")
    if not args.batch.is_file():
        raise DataError(f"--batch: file not found: {args.batch}")
    light = manifest.model_copy(update={"data": manifest.data.model_copy(update={"replay": None})})
    payload = args.batch.read_bytes()  # read once: the rows scored are the bytes digested
    with Store.open(db_path(args), create=False) as store:
        user = authenticate(store, args, command="monitor", token_scope="monitor")
        review = load_review(light, progress=progress)
        result = record_batch(review, args.batch.name, payload, store=store, actor=user,
                              label=f"--batch {args.batch}")
    _write(result, args.out)
    schedule = result["review_schedule"]
    progress(f"batch {result['batch_id']} ({'new' if result['new_batch'] else 'already recorded'}); "
             f"{len(result['alerts'])} alert(s); review {schedule['status']}")
    return 1 if any(not a["rule"].startswith("review_") for a in result["alerts"]) else 0


def _run_live(args: argparse.Namespace, manifest: Manifest) -> int:
    import signal
    import threading

    from workbench.artefacts import load_review
    from workbench.replay import monitor_source, parse_every, run_every
    from workbench.store import Store

    every = parse_every(args.every) if args.every else None
    if not 0 <= args.fairness_boot <= 10_000:
        raise DataError(f"--fairness-boot {args.fairness_boot}: give 0..10000 replicates")
    light = manifest.model_copy(update={"data": manifest.data.model_copy(update={"replay": None})})
    review = load_review(light, progress=progress)
    fired: list[int] = []
    # who records the windows: authenticated once, before the first read (a password is read once)
    with Store.open(db_path(args)) as store:
        actor = authenticate(store, args, command="monitor", token_scope="monitor").name

    def once() -> None:
        with Store.open(db_path(args)) as store:
            result = monitor_source(review, args.source, store=store, actor=actor, outcomes=args.outcomes,
                                    deliver=not args.no_deliver, n_boot=args.fairness_boot, progress=progress)
        _write(result, args.out)
        breaches = [a for a in result["alerts"] if a["rule"] != "re_review_recommended"]
        fired.append(len(breaches))
        progress(f"monitor: {result['rows_read']} new rows, {len(result['windows'])} window(s), "
                 f"{result['labels_applied']} window(s) relabelled, {len(result['alerts'])} alert(s)")
        if result["rereview"] is not None:
            progress("re-review recommended: " + "; ".join(r["reason"] for r in result["rereview"]["reasons"]))
        for d in result["deliveries"]:
            if not d["delivered"]:
                progress(f"alert {d['alert_id']} not delivered through {d['channel']}: {d['error']}")

    if every is None:
        once()
        return 1 if fired[-1] else 0
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        runs = run_every(once, every, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    progress(f"monitor stopped after {runs} run(s)")
    return 1 if any(fired) else 0
