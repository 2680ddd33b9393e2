"""`workbench questionnaire …`: list templates, export printable forms, import answers."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.cli._common import add_db_option, db_path
from workbench.errors import QuestionnaireError, StoreError


def _dirs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--templates", type=Path, action="append", default=[], metavar="DIR",
                        help="extra template folder (as named in the policy); repeatable")


def _templates(args: argparse.Namespace):
    from workbench.questionnaires import load_templates

    return load_templates(args.templates)


def _list(args: argparse.Namespace) -> int:
    templates = _templates(args)
    width = max((len(t) for t in templates), default=0)
    for tid, t in templates.items():
        n = len(t.questions)
        blocking = sum(q.blocking is not None for q in t.questions)
        print(f"{tid:<{width}}  v{t.version}  {n:>2} questions  {blocking} blocking  "
              f"roles: {', '.join(t.roles)}  — {t.title}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from workbench.questionnaires import get_template
    from workbench.questionnaires.export import template_markdown, template_yaml_skeleton

    template = get_template(args.id, extra_dirs=args.templates)
    text = template_markdown(template) if args.format == "md" else template_yaml_skeleton(template)
    if args.out is None:
        print(text, end="")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def resolve_review(store, ref: str) -> str:
    """A review id, or the id of the review stored for a manifest path."""
    path = Path(ref)
    if path.is_file():
        from workbench.artefacts import load_manifest

        manifest = load_manifest(path, check_files=False)
        review_id = store.review_id_for(manifest.name)
        where = f"manifest {path} (review {review_id})"
    else:
        review_id, where = ref, f"review {ref!r}"
    if store.get_review(review_id) is None:
        raise StoreError(f"{where} is not in the store {store.path}; run `workbench review` on the manifest "
                         "or open it in the app first, or pass the right --db")
    return review_id


@audited_refusals("questionnaire import")
def _import(args: argparse.Namespace) -> int:
    from workbench.questionnaires import import_responses
    from workbench.store import Store, store_exists

    templates = _templates(args)
    path = db_path(args)
    if not store_exists(path):
        raise StoreError(f"{path}: no review store here; check --db / WORKBENCH_DB")
    with Store.open(path, create=False) as store:
        review_id = resolve_review(store, args.review)
        if args.as_user and store.get_user(args.as_user) is None:
            raise QuestionnaireError(f"--as {args.as_user}: not a registered user; "
                                     f"add them with `workbench users add {args.as_user} --role ROLE`")
        # The answers are the authenticated reviewer's own: --as only names whose password is given.
        user = authenticate(store, args, command="questionnaire import")
        saved = import_responses(store, args.responses, review_id=review_id, reviewer=user.name,
                                 templates=templates, submit_after=args.submit, actor=user.name)
    for r in saved:
        print(f"{r.questionnaire_id}: {r.reviewer} revision {r.revision} version {r.version} {r.status} "
              f"({len(r.answers)} answers) in review {review_id}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("questionnaire", help="qualitative review questionnaires",
                                   description="List questionnaire templates, export printable forms, "
                                               "import answers gathered outside the app.")
    sub = parser.add_subparsers(dest="questionnaire_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list the questionnaire templates")
    _dirs_option(p)
    p.set_defaults(func=_list)

    p = sub.add_parser("export", help="write a printable form (md) or the answers skeleton (yaml)")
    p.add_argument("id", help="questionnaire id (see `workbench questionnaire list`)")
    p.add_argument("--format", choices=("md", "yaml"), default="md",
                   help="md: printable Markdown form; yaml: the file `questionnaire import` reads")
    p.add_argument("--out", type=Path, default=None, help="write here instead of stdout")
    _dirs_option(p)
    p.set_defaults(func=_export)

    p = sub.add_parser("import", help="load answers from a YAML file into the store (validated, audited)")
    p.add_argument("responses", type=Path, metavar="RESPONSES.yaml")
    p.add_argument("--review", required=True, metavar="REVIEW_ID_OR_MANIFEST",
                   help="review id, or the review.yaml whose review is in the store")
    add_credentials(p, as_help="the registered reviewer who gave these answers (authenticated)")
    p.add_argument("--submit", action="store_true",
                   help="submit after saving (every required question must be answered)")
    add_db_option(p)
    _dirs_option(p)
    p.set_defaults(func=_import)
