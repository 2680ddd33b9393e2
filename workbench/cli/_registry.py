"""`workbench promote`, `workbench rollback` and `workbench registry …` (the MLflow Model Registry).

Exit codes of `promote`: 0 promoted, 1 refused (every reason printed; the registry unchanged),
2 invalid input or an unreachable registry. `rollback`: 0 rolled back, 2 nothing to roll back
to; `rollback --drill`: 0 every check passed, 1 a check failed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import add_db_option, add_keys_option, db_path, keys_dir, progress
from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.cli._gate import _parse_at
from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store import Store


def _store(args: argparse.Namespace) -> Store:
    from workbench.store import Store, store_exists

    path = db_path(args)
    if not store_exists(path):
        raise StoreError(f"review store {path} does not exist: pass --db PATH or set WORKBENCH_DB")
    return Store.open(path, create=False)


@audited_refusals("promote")
def _run_promote(args: argparse.Namespace) -> int:
    from workbench.promotion import promote_review

    with _store(args) as store:
        user = authenticate(store, args, command="promote")
        outcome = promote_review(Path(args.manifest), alias=args.alias, user=user, store=store, keys=keys_dir(args),
                                 policy_path=args.policy, at=_parse_at(args.at) if args.at else None,
                                 progress=progress)
    if outcome.recovered:
        j = outcome.recovered
        print(f"undid an interrupted promotion of models:/{j['name']}/{j['to']} to @{j['alias']} (restored "
              f"@{j['alias']} → {j.get('from') or 'none'})")
    if args.json:
        print(json.dumps(outcome.to_dict(), indent=2, sort_keys=True))
    elif outcome.exit_code == 0:
        print(f"PROMOTED models:/{outcome.model}/{outcome.version} to @{outcome.alias}"
              + (f"; version {outcome.replaced} is now @previous-{outcome.alias}" if outcome.replaced else ""))
    else:
        print(f"REFUSED: models:/{outcome.model}@{outcome.alias} unchanged")
        for reason in outcome.reasons:
            print(f"  - {reason}")
    return outcome.exit_code


def _registry(args: argparse.Namespace) -> Registry:
    from workbench.registry import Registry, registry_uri

    return Registry(registry_uri(args.registry_uri))


@audited_refusals("rollback")
def _run_rollback(args: argparse.Namespace) -> int:
    from workbench.promotion import rollback_drill_model, rollback_model

    registry = _registry(args)
    with _store(args) as store:
        user = authenticate(store, args, command="rollback")
        if args.drill:
            report = rollback_drill_model(registry, args.model, alias=args.alias, user=user, store=store)
            print(f"rollback drill of models:/{args.model}@{args.alias} on @{report.drill_alias}: "
                  f"{'OK' if report.ok else 'FAILED'} in {report.seconds:.2f} s")
            for check, ok, detail in report.checks:
                print(f"  {'ok  ' if ok else 'FAIL'}  {check}: {detail}")
            return 0 if report.ok else 1
        if not args.reason:
            raise StoreError("rollback: --reason TEXT is required (it is written to the registry and the audit log)")
        result = rollback_model(registry, args.model, alias=args.alias, reason=args.reason, user=user, store=store)
    print(f"ROLLED BACK models:/{result.name}@{result.alias}: version {result.from_version} → {result.to_version}")
    return 0


def _run_register(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    registry = _registry(args)
    source = Path(args.file)
    if not source.is_file():
        raise StoreError(f"registry register: {source} is not a file")
    with tempfile.TemporaryDirectory(prefix="workbench-register-") as tmp:
        shutil.copy(source, Path(tmp) / source.name)
        version = registry.register_folder(args.name, Path(tmp), artifact_root=args.artifact_root)
    for alias in args.alias or ():
        registry.set_alias(args.name, alias, version.version)
    tail = f" as @{', @'.join(args.alias)}" if args.alias else ""
    print(f"registered {source.name} as models:/{args.name}/{version.version}{tail} (run {version.run_id})")
    return 0


def _run_show(args: argparse.Namespace) -> int:
    registry = _registry(args)
    aliases = registry.aliases(args.name)
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        by_version.setdefault(version, []).append(alias)
    for v in registry.versions(args.name):
        tags = {k: t for k, t in v.tags.items() if k.startswith("workbench.")}
        print(f"version {v.version}  {', '.join('@' + a for a in by_version.get(v.version, [])) or '-'}  run {v.run_id}")
        for key, value in sorted(tags.items()):
            print(f"    {key} = {value}")
    return 0


def _identity(p: argparse.ArgumentParser) -> None:
    add_credentials(p)


def _registry_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry-uri", default=None,
                   help="MLflow registry (default: env MLFLOW_TRACKING_URI, else sqlite:///data/mlflow.db)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "promote", help="move the registry alias to the reviewed candidate on GO (0 promoted, 1 refused)",
        description="Promote the review's candidate registry version (candidate.uri) to --alias, only when the "
                    "current decision is GO, every sign-off is fresh, the latest signed packet verifies and the "
                    "registry still looks as it did at review time. The former holder stays reachable as "
                    "previous-<alias>; the new version is tagged with the decision, evidence, policy, packet and "
                    "approvers. Refused: exit 1 with every reason, nothing changed.")
    p.add_argument("manifest", metavar="MANIFEST", help="the review.yaml (its candidate is a models:/ URI)")
    p.add_argument("--alias", default="champion", help="the alias to move (default champion)")
    p.add_argument("--policy", type=Path, default=None, help="policy YAML overriding the manifest's 'policy:'")
    p.add_argument("--at", default=None, help="decision time, ISO 8601 (default: now, UTC)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _identity(p)
    add_db_option(p)
    add_keys_option(p)
    p.set_defaults(func=_run_promote)

    r = subparsers.add_parser(
        "rollback", help="move the registry alias back to previous-<alias> (--drill: rehearse it)",
        description="Move models:/MODEL@ALIAS back to the version held by previous-ALIAS, tag why and who, and "
                    "audit it. With --drill, do the same on drill-ALIAS instead, verify the previous version's "
                    "files hash as recorded at promotion and that it loads, report the time, and remove the drill "
                    "alias (exit 1 when a check fails).")
    r.add_argument("model", metavar="MODEL", help="registered model name")
    r.add_argument("--alias", default="champion", help="the alias to roll back (default champion)")
    r.add_argument("--reason", default=None, help="why (required unless --drill)")
    r.add_argument("--drill", action="store_true", help="rehearse on drill-<alias>; the real alias is untouched")
    _identity(r)
    _registry_option(r)
    add_db_option(r)
    r.set_defaults(func=_run_rollback)

    g = subparsers.add_parser("registry", help="register a model file as a registry version, show versions",
                              description="Work with the MLflow Model Registry the workbench reviews and promotes.")
    sub = g.add_subparsers(dest="registry_command", metavar="SUBCOMMAND", required=True)
    reg = sub.add_parser("register", help="log a model file (skops/ONNX) and register it as a new version",
                         description="Log FILE as the 'model' artifacts of a new run and register it as the next "
                                     "version of NAME (created when missing); --alias sets aliases on it.")
    reg.add_argument("name", metavar="NAME", help="registered model name")
    reg.add_argument("file", metavar="FILE", help="the model file (e.g. models/candidate.skops)")
    reg.add_argument("--alias", action="append", default=None, help="alias to set on the new version; repeatable")
    reg.add_argument("--artifact-root", type=Path, default=None,
                     help="artifact folder for a new experiment on a local registry (default: MLflow's)")
    _registry_option(reg)
    reg.set_defaults(func=_run_register)
    show = sub.add_parser("show", help="list a model's versions, aliases and workbench tags")
    show.add_argument("name", metavar="NAME")
    _registry_option(show)
    show.set_defaults(func=_run_show)
