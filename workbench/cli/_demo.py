"""`workbench demo DIR`: write the deterministic loan-approval review scenario."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from workbench.cli._common import progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="write a complete demo review scenario (data, models, model card, policy, review.yaml)",
        description=(
            "Write a deterministic loan-approval review into DIR: reference, evaluation and replay "
            "data (Parquet), a baseline and a candidate model (skops), model_card.yaml, policy.yaml "
            "and review.yaml. The same seed gives byte-identical data files. See docs/DEMO.md."
        ),
    )
    parser.add_argument("directory", metavar="DIR", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--seed", type=int, default=None, help="generator and model seed (default 20261126)")
    parser.add_argument("--force", action="store_true", help="overwrite the demo files in a non-empty DIR")
    parser.add_argument("--evaluation-rows", type=int, default=None, metavar="N",
                        help="rows of the labelled evaluation set (default 25,000; at least 1,000). The models "
                             "and the other data sets stay the same, so a smaller N shows what a thinner "
                             "evaluation can and cannot settle (INCONCLUSIVE criteria, rows needed)")
    parser.add_argument("--registry", action="store_true",
                        help="also register both models as two versions of 'credit-approval' (baseline @champion, "
                             "candidate @challenger) in the registry MLFLOW_TRACKING_URI names, else the embedded "
                             "sqlite:///data/mlflow.db, and write review-registry.yaml that reviews them by URI")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from workbench.demo import DEFAULT_SEED, write_demo

    seed = DEFAULT_SEED if args.seed is None else args.seed
    sizes = {} if args.evaluation_rows is None else {"n_evaluation": args.evaluation_rows}
    started = time.perf_counter()
    rows = f", {args.evaluation_rows:,} evaluation rows" if sizes else ""
    progress(f"writing the demo scenario (seed {seed}{rows}) into {args.directory} ...")
    scenario = write_demo(args.directory, seed=seed, force=args.force, **sizes)
    progress(f"done in {time.perf_counter() - started:.1f} s")
    print(scenario.review)
    if args.registry:
        from workbench.demo import register_demo

        done = register_demo(scenario.review)
        v = done["versions"]
        progress(f"registered models:/{done['model']}/{v['baseline']} (@champion) and /{v['candidate']} (@challenger) "
                 f"in {done['registry_uri']}")
        print(done["manifest"])
    return 0
