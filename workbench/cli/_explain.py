"""`workbench explain MANIFEST --id ID`: the reason codes of one decision.

The row is named by the manifest's ``id_column`` value (no id column: its 0-based position) and
looked up in the evaluation data, then the replay data (``--in`` picks one), or in a production
batch file (``--batch``, a monitored prediction: the batch recorded by ``workbench monitor`` is
named when the store holds it). Output: readable text, or ``--json``. Exit 0; 2 for bad input,
including an id no searched file holds (the message names the id and the files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import add_db_option, add_keys_option, progress

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain", help="reason codes of one decision: the model's decision, its top reasons and what would change it",
        description="The candidate's decision on one row, its top reasons in the original features and in words "
        "(SHAP values, as the review computes them), and the nearest feasible change of the manifest's "
        "actionable_features that would change it (the model's response, not a causal claim).")
    p.add_argument("manifest", type=Path, help="review manifest (review.yaml)")
    p.add_argument("--id", required=True, dest="row_id",
                   help="the row's id_column value (no id_column in the manifest: its 0-based position)")
    p.add_argument("--in", dest="source", choices=("evaluation", "replay"), default=None,
                   help="data to search (default: evaluation, then replay)")
    p.add_argument("--batch", type=Path, default=None,
                   help="a production batch file (CSV/Parquet) holding the row: a monitored prediction")
    p.add_argument("--top", type=int, default=3, help="how many reasons (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_db_option(p)
    add_keys_option(p)
    p.set_defaults(func=_run)


def _monitoring(args: argparse.Namespace, review: ReviewData, digest: str) -> dict[str, Any]:
    """The recorded monitoring batch with this file's digest, when a store is there to ask."""
    from workbench.cli._gate import _open_store

    store = _open_store(args)
    if store is None:
        return {"batch_digest": digest, "monitoring_batch": None, "note": "no review store to look the batch up in"}
    with store:
        found = store.find_monitoring_batch(store.review_id_for(review.manifest.name), digest)
    if found is None:
        return {"batch_digest": digest, "monitoring_batch": None,
                "note": "this file is not a monitoring batch recorded for this review"}
    return {"batch_digest": digest, "monitoring_batch": found.batch_id, "window_start": found.window_start,
            "window_end": found.window_end}


def _run(args: argparse.Namespace) -> int:
    from workbench.artefacts import load_manifest, load_review, read_table
    from workbench.errors import DataError
    from workbench.explain import reason_codes

    if args.top < 1:
        raise DataError("--top: give a positive number of reasons")
    if args.batch is not None and args.source is not None:
        raise DataError("--in and --batch exclude each other: a batch is searched on its own")
    manifest = load_manifest(args.manifest)
    batch = context = None
    if args.batch is not None:
        if not args.batch.is_file():
            raise DataError(f"--batch: file not found: {args.batch}")
        payload = args.batch.read_bytes()
        batch = read_table(args.batch, label="--batch", payload=payload)
        # the batch stands in for the replay data, which need not be read
        manifest = manifest.model_copy(update={"data": manifest.data.model_copy(update={"replay": None})})
    review = load_review(manifest, progress=progress)
    if args.batch is not None:
        context = _monitoring(args, review, hashlib.sha256(payload).hexdigest())
    progress(f"explaining {args.row_id} ...")
    codes = reason_codes(review, args.row_id, source=args.source, batch=batch,
                         batch_label=str(args.batch) if args.batch else None, top=args.top, context=context)
    if args.json:
        print(json.dumps(codes.to_dict(), indent=1, sort_keys=True, allow_nan=False))
    else:
        print(codes.text())
        if context:
            batch_id = context.get("monitoring_batch")
            print(f"Monitoring: recorded batch {batch_id} ({context['window_start'][:10]} – "
                  f"{context['window_end'][:10]})" if batch_id is not None else f"Monitoring: {context['note']}")
    return 0
