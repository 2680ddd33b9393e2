"""`workbench report` (signed sign-off packet), `workbench verify` and `workbench keys init`.

Exit codes of `verify`: 0 valid, 1 invalid or tampered (the reason is printed), 2 unreadable input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.cli._common import (
    add_db_option,
    add_keys_option,
    db_path,
    keys_dir,
    progress,
)
from workbench.errors import StoreError, VerificationError

if TYPE_CHECKING:
    from workbench.store import Store


def _actor(args: argparse.Namespace, store: Store) -> str:
    # The packet names its author: an authenticated user (password or a token scoped 'report').
    user = authenticate(store, args, command="report", token_scope="report")
    return f"{user.name} ({', '.join(user.roles)})" if user.roles else user.name


@audited_refusals("report")
def _run_report(args: argparse.Namespace) -> int:
    from workbench.engine import open_review
    from workbench.report import packet_input_for_review, write_packet
    from workbench.report import require_keys
    from workbench.store import Store

    keys = require_keys(keys_dir(args))  # fail before any heavy work
    from workbench.store import store_exists

    path = db_path(args)
    if not store_exists(path):
        raise StoreError(f"review store {path} does not exist: run `workbench gate {args.manifest} --db {path}` first")
    with Store.open(path, create=False) as store:
        author = _actor(args, store)  # before loading the models: no work for an unauthenticated caller
        review = open_review(Path(args.manifest), progress=progress, sample=0)  # in memory, or a scale lineage
        inp = packet_input_for_review(store, review, generated_by=author)
        result = write_packet(inp, args.out, keys=keys.folder, html=args.html, json_path=args.json, store=store,
                              actor=inp.generated_by)
    print(f"{result['pdf']}  {result['bytes']:,} bytes  sha256 {result['sha256']}  decision "
          f"{result['manifest']['manifest']['decision']['decision']}")
    return 0


def _run_verify(args: argparse.Namespace) -> int:
    from workbench.report import verify_packet
    from workbench.report import key_paths

    paths = key_paths(keys_dir(args))
    cert = Path(args.cert) if args.cert else paths.signing_cert
    if not cert.is_file():
        raise VerificationError(f"certificate {cert} not found: pass --cert CERT (the signer's certificate, PEM or DER)")
    # The manifest key is pinned to the certificate: --manifest-key, else the Ed25519 public key
    # kept beside the certificate (a keys folder holds both), else only the embedded key, which
    # the certificate's PAdES signature vouches for.
    beside = cert.parent / paths.manifest_pub.name
    manifest_key = Path(args.manifest_key) if args.manifest_key else (beside if beside.is_file() else None)
    store = None
    if args.db:
        from workbench.store import Store

        store = Store.open(args.db, create=False)
    try:
        result = verify_packet(Path(args.packet), cert=cert, manifest_key=manifest_key, store=store,
                               review_manifest=args.manifest)
    finally:
        if store is not None:
            store.close()
    for c in result.checks:
        print(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    if result.valid:
        print(f"VALID: {args.packet}")
    else:
        print(f"INVALID: {args.packet}: {result.reasons[0]}")
    return result.exit_code


def _run_keys_init(args: argparse.Namespace) -> int:
    from workbench.report import init_keys

    kwargs = {"organisation": args.org} if args.org else {}
    paths = init_keys(keys_dir(args), force=args.force, **kwargs)
    print(f"created a development signing key and self-signed certificate in {paths.folder}")
    print(f"  certificate (give it to auditors): {paths.signing_cert}")
    print(f"  manifest public key (Ed25519):     {paths.manifest_pub}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("report", help="build the signed sign-off packet (PDF; optional HTML/JSON)",
                              description="Build the signed PDF sign-off packet of a review from the store "
                                          "(run `workbench gate MANIFEST --db` first).")
    p.add_argument("manifest", metavar="MANIFEST", help="the review's review.yaml")
    p.add_argument("--out", required=True, type=Path, help="signed PDF to write")
    p.add_argument("--html", type=Path, default=None, help="also write a self-contained HTML version")
    p.add_argument("--json", type=Path, default=None, help="also write the packet content as JSON")
    add_credentials(p, as_help="registered user generating the packet (or a WORKBENCH_TOKEN scoped 'report')")
    add_db_option(p)
    add_keys_option(p)
    p.set_defaults(func=_run_report)

    v = subparsers.add_parser("verify", help="verify a signed packet: 0 valid, 1 invalid or tampered",
                              description="Check the PDF signature (intact, whole file, no later changes), the "
                                          "embedded Ed25519 manifest and that it matches the PDF.")
    v.add_argument("packet", metavar="PACKET.pdf")
    v.add_argument("--cert", default=None, help="the signer's certificate (default: the one in the keys folder)")
    v.add_argument("--manifest-key", default=None, help="Ed25519 public key (PEM) the manifest must be signed with")
    v.add_argument("--db", default=None, metavar="PATH|URL", help="also check the audit chain head is in this store's chain")
    v.add_argument("--manifest", type=Path, default=None, metavar="review.yaml",
                   help="also re-derive the evidence digest from the review's artefacts")
    add_keys_option(v)
    v.set_defaults(func=_run_verify)

    k = subparsers.add_parser("keys", help="signing keys (`keys init` creates a development key and certificate)")
    ksub = k.add_subparsers(dest="keys_command", metavar="SUBCOMMAND")
    ki = ksub.add_parser("init", help="create a self-signed development certificate, RSA key and Ed25519 key",
                         description="Create signing keys in the keys folder (--keys, env WORKBENCH_KEYS, default "
                                     "~/.workbench/keys), files mode 0600. Never put keys in the repository.")
    ki.add_argument("--force", action="store_true",
                    help="replace existing keys, or create them inside a git work tree (refused otherwise)")
    ki.add_argument("--org", default=None, help="organisation name in the certificate")
    add_keys_option(ki)
    ki.set_defaults(func=_run_keys_init)
