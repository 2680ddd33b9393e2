"""`workbench review MANIFEST --out evidence.json`: compute the evidence JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.cli._common import progress
from workbench.errors import ManifestError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "review",
        help="compute the evidence JSON of a review (progress on stderr)",
        description="Load the manifest's models and data, compute metrics with bootstrap CIs, "
        "calibration, paired candidate-vs-baseline tests, drift and fairness, and write the evidence JSON.",
    )
    p.add_argument("manifest", type=Path, help="review manifest (review.yaml)")
    p.add_argument("--out", type=Path, required=True, help="where to write the evidence JSON")
    p.add_argument("--bootstrap", type=int, default=None, metavar="N", help="bootstrap replicates (default: manifest settings, 1000)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: manifest settings, 0)")
    p.add_argument("--skip", default="", metavar="SECTIONS",
                   help="comma-separated sections to skip: metrics, calibration, drift, fairness, "
                   "operational, robustness, slices, explanations")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from workbench.artefacts import load_review
    from workbench.evidence import SECTIONS, build_evidence
    from workbench.manifest import load_manifest

    skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    unknown = sorted(set(skip) - set(SECTIONS))
    if unknown:
        raise ManifestError(f"--skip: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    if args.bootstrap is not None and not 0 <= args.bootstrap <= 100_000:
        raise ManifestError(f"--bootstrap must be between 0 and 100000, got {args.bootstrap}")
    if args.seed is not None and not 0 <= args.seed < 2**64:
        raise ManifestError(f"--seed must be between 0 and 2**64-1, got {args.seed}")
    manifest = load_manifest(args.manifest)
    overrides = {k: v for k, v in (("n_bootstrap", args.bootstrap), ("seed", args.seed)) if v is not None}
    if overrides:  # before loading, so the evidence digest covers the settings actually used
        manifest = manifest.model_copy(update={"settings": manifest.settings.model_copy(update=overrides)})
    review = load_review(manifest, progress=progress)
    evidence = build_evidence(review, include=[s for s in SECTIONS if s not in skip], progress=progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(evidence, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    progress(f"wrote {args.out} (digest {evidence['digest'][:12]}, evidence digest {evidence['evidence_digest'][:12]})")
    return 0
