"""Moving an alias on evidence: promotion, its recovery, rollback and the rollback drill.

The checks that decide *whether* a promotion may happen (decision GO, fresh sign-offs, a
verified packet) are made by the caller from the store and the packet; this module checks the
registry side — the alias still points at the reviewed baseline, the reviewed versions still
resolve to the same files — and performs the move so that it can be recovered.

A promotion writes a journal (a registered-model tag) *before* it touches an alias, and removes
it last. A journal found by the next call means the previous promotion was interrupted: it is
undone (aliases and tags back as they were) and the caller is told, so the store records why.
MLflow gives no compare-and-swap on aliases; the registry is re-read right before the move.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import RegistryError
from workbench.registry._client import Registry, files_digest

#: Registered-model tag holding the journal of a promotion in progress.
JOURNAL_TAG = "workbench.promotion_in_progress"
TAG_PREFIX = "workbench."


def previous_alias(alias: str) -> str:
    """The alias that keeps the former holder reachable (the rollback target).

    Examples
    --------
    >>> previous_alias("champion")
    'previous-champion'
    """
    return f"previous-{alias}"


def drill_alias(alias: str) -> str:
    """The alias a rollback drill moves instead of the real one.

    Examples
    --------
    >>> drill_alias("champion")
    'drill-champion'
    """
    return f"drill-{alias}"


@dataclass(frozen=True)
class PromotionRequest:
    """What to promote: the reviewed lineage of candidate and baseline and the tags to write."""

    name: str
    alias: str
    candidate: Mapping[str, Any]
    baseline: Mapping[str, Any] | None
    tags: Mapping[str, str]


@dataclass(frozen=True)
class PromotionResult:
    name: str
    alias: str
    version: str
    replaced: str | None
    tags: Mapping[str, str]


def lineage_changes(reviewed: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]]) -> list[str]:
    """What differs between the registry lineage recorded at review time and now, one line each.

    ``reviewed`` and ``current`` are evidence ``artefacts`` lists; only their ``registry`` parts count.

    Examples
    --------
    >>> old = [{"role": "candidate", "registry": {"uri": "models:/m@c", "version": "2", "files": [
    ...     {"path": "model.skops", "sha256": "a" * 64, "bytes": 1}]}}]
    >>> new = [{"role": "candidate", "registry": {"uri": "models:/m@c", "version": "3", "files": [
    ...     {"path": "model.skops", "sha256": "b" * 64, "bytes": 1}]}}]
    >>> lineage_changes(old, new)
    ['candidate: models:/m@c now resolves to version 3, the review saw version 2']
    >>> new[0]["registry"]["version"] = "2"
    >>> lineage_changes(old, new)
    ['candidate: models:/m@c version 2: model.skops changed since the review (sha256 bbbbbbbbbbbb… ≠ aaaaaaaaaaaa…)']
    """
    def by_role(items: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        return {a["role"]: a["registry"] for a in items if a.get("registry")}

    before, after = by_role(reviewed), by_role(current)
    problems = []
    for role in sorted(set(before) | set(after)):
        b, a = before.get(role), after.get(role)
        if b is None or a is None:
            problems.append(f"{role}: {'no longer' if a is None else 'now'} a registry model (the review "
                            f"{'had' if b is not None else 'did not have'} one)")
            continue
        if b.get("uri") != a.get("uri"):
            problems.append(f"{role}: the manifest now names {a.get('uri')}, the review used {b.get('uri')}")
        elif str(b.get("version")) != str(a.get("version")):
            problems.append(f"{role}: {a['uri']} now resolves to version {a['version']}, the review saw version {b['version']}")
        else:
            old = {f["path"]: f["sha256"] for f in b.get("files", ())}
            new = {f["path"]: f["sha256"] for f in a.get("files", ())}
            for path in sorted(set(old) | set(new)):
                if old.get(path) != new.get(path):
                    problems.append(f"{role}: {a['uri']} version {a['version']}: {path} changed since the review "
                                    f"(sha256 {str(new.get(path))[:12]}… ≠ {str(old.get(path))[:12]}…)")
    return problems


def registry_problems(registry: Registry, request: PromotionRequest) -> list[str]:
    """Reasons the registry no longer looks as it did at review time (empty: it does)."""
    name, alias = request.name, request.alias
    problems = []
    cand = request.candidate
    if cand.get("name") != name:
        problems.append(f"the candidate is {cand.get('name')!r} in the registry, not {name!r}")
        return problems
    registry.version(name, str(cand["version"]))  # raises when the version was deleted
    holder = registry.aliases(name).get(alias)
    base = request.baseline
    if holder == str(cand["version"]):
        problems.append(f"models:/{name}@{alias} already points at the candidate version {holder}")
    elif base is not None and base.get("name") == name:
        if holder != str(base["version"]):
            now = f"version {holder}" if holder else "no version"
            problems.append(f"models:/{name}@{alias} now points at {now}, but the review compared the candidate "
                            f"with version {base['version']}: someone moved the alias since the review")
    elif holder is not None:
        problems.append(f"models:/{name}@{alias} points at version {holder}, which this review did not compare "
                        "the candidate with (name that version as the manifest's baseline)")
    return problems


def _journal(registry: Registry, name: str) -> dict[str, Any] | None:
    raw = registry.model_tags(name).get(JOURNAL_TAG)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise RegistryError(f"models:/{name}: the promotion journal tag {JOURNAL_TAG} is not JSON; inspect and delete it") from None


def recover(registry: Registry, name: str) -> dict[str, Any] | None:
    """Undo a promotion that was interrupted half-way; return its journal, or None when none was.

    Aliases go back to the holders the journal recorded and the tags the promotion wrote are
    restored, so the registry is as it was before the interrupted call.
    """
    j = _journal(registry, name)
    if j is None:
        return None
    aliases = registry.aliases(name)
    for alias_name, holder in ((j["alias"], j.get("from")), (j["previous_alias"], j.get("previous_holder"))):
        if holder is not None:
            registry.set_alias(name, alias_name, holder)
        elif alias_name in aliases:
            registry.delete_alias(name, alias_name)
    before = j.get("tags_before", {})
    registry.delete_version_tags(name, j["to"], [k for k in j.get("tags", ()) if k not in before])
    if before:
        registry.set_version_tags(name, j["to"], before)
    if j.get("from") is not None:
        registry.delete_version_tags(name, j["from"], list(j.get("from_tags_added", ())))
    registry.delete_model_tag(name, JOURNAL_TAG)
    return j


def promote(registry: Registry, request: PromotionRequest, *,
            step: Callable[[str], None] | None = None) -> PromotionResult:
    """Move ``alias`` to the candidate, keep the former holder as ``previous-<alias>``, tag.

    Call only after every precondition passed; the registry side is checked again here, right
    before the move. ``step`` is called after each registry write (tests interrupt with it).
    """
    problems = registry_problems(registry, request)
    if problems:
        raise RegistryError("; ".join(problems))
    name, alias, to = request.name, request.alias, str(request.candidate["version"])
    aliases = registry.aliases(name)
    prev = previous_alias(alias)
    holder, prev_holder = aliases.get(alias), aliases.get(prev)
    current_tags = dict(registry.version(name, to).tags)
    tags = {**request.tags, f"{TAG_PREFIX}files_sha256": str(request.candidate.get("files_sha256", "")),
            f"{TAG_PREFIX}replaced_version": holder or ""}
    from_tags: dict[str, str] = {}
    if holder is not None and request.baseline is not None and request.baseline.get("files_sha256"):
        if f"{TAG_PREFIX}files_sha256" not in registry.version(name, holder).tags:
            from_tags = {f"{TAG_PREFIX}files_sha256": str(request.baseline["files_sha256"])}
    journal = {"name": name, "alias": alias, "previous_alias": prev, "to": to, "from": holder,
               "previous_holder": prev_holder, "tags": sorted(tags),
               "tags_before": {k: current_tags[k] for k in tags if k in current_tags},
               "from_tags_added": sorted(from_tags), "started_at": time.time()}
    say = step or (lambda _s: None)
    registry.set_model_tag(name, JOURNAL_TAG, json.dumps(journal, sort_keys=True))
    say("journal")
    if holder is not None:
        registry.set_alias(name, prev, holder)
        say("previous")
        if from_tags:
            registry.set_version_tags(name, holder, from_tags)
    registry.set_version_tags(name, to, tags)
    say("tags")
    registry.set_alias(name, alias, to)
    say("alias")
    registry.delete_model_tag(name, JOURNAL_TAG)
    return PromotionResult(name=name, alias=alias, version=to, replaced=holder, tags=tags)


@dataclass(frozen=True)
class RollbackResult:
    name: str
    alias: str
    from_version: str | None
    to_version: str


def rollback(registry: Registry, name: str, alias: str, *, reason: str, actor: str, at: str) -> RollbackResult:
    """Move ``alias`` back to ``previous-<alias>`` and tag why and who; the previous alias is removed."""
    if not reason.strip():
        raise RegistryError("rollback needs a --reason")
    aliases = registry.aliases(name)
    prev = previous_alias(alias)
    target, current = aliases.get(prev), aliases.get(alias)
    if target is None:
        raise RegistryError(f"models:/{name}: no {prev} alias, so nothing to roll back to "
                            f"(aliases: {', '.join(f'{a}→{v}' for a, v in sorted(aliases.items())) or 'none'})")
    if current is not None:
        registry.set_version_tags(name, current, {f"{TAG_PREFIX}rolled_back_at": at, f"{TAG_PREFIX}rolled_back_by": actor,
                                                  f"{TAG_PREFIX}rolled_back_reason": reason})
    registry.set_alias(name, alias, target)  # the alias is never without a holder
    registry.delete_alias(name, prev)
    return RollbackResult(name=name, alias=alias, from_version=current, to_version=target)


@dataclass(frozen=True)
class DrillReport:
    """What a rollback drill did, how long it took and what it verified."""

    name: str
    alias: str
    drill_alias: str
    version: str | None
    seconds: float
    checks: tuple[tuple[str, bool, str], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "alias": self.alias, "drill_alias": self.drill_alias, "version": self.version,
                "seconds": round(self.seconds, 3), "ok": self.ok,
                "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in self.checks]}


def rollback_drill(registry: Registry, name: str, alias: str, *, load: Callable[[Path], str]) -> DrillReport:
    """Rehearse a rollback on ``drill-<alias>``: point it at the rollback target, download that
    version, check its files hash as recorded at promotion and load it with ``load`` (the
    workbench's secure loader, returning a description); then remove the drill alias.
    The real alias is never touched.
    """
    started = time.perf_counter()
    drill = drill_alias(alias)
    checks: list[tuple[str, bool, str]] = []
    target = registry.aliases(name).get(previous_alias(alias))
    if target is None:
        checks.append(("rollback target", False, f"no {previous_alias(alias)} alias on models:/{name}"))
        return DrillReport(name, alias, drill, None, time.perf_counter() - started, tuple(checks))
    checks.append(("rollback target", True, f"{previous_alias(alias)} → version {target}"))
    registry.set_alias(name, drill, target)
    try:
        version = registry.resolve(f"models:/{name}@{drill}")
        checks.append(("drill alias moved", version.version == target, f"{drill} → version {version.version}"))
        with tempfile.TemporaryDirectory(prefix="workbench-drill-") as tmp:
            files = registry.download(version, Path(tmp))
            expected = version.tags.get(f"{TAG_PREFIX}files_sha256")
            actual = files_digest(files)
            if expected:
                checks.append(("hashes unchanged", actual == expected,
                               f"{len(files)} file(s), digest {actual[:12]}… {'=' if actual == expected else '≠'} "
                               f"recorded {expected[:12]}…"))
            else:
                checks.append(("hashes unchanged", False, "no workbench.files_sha256 tag recorded on this version"))
            try:
                checks.append(("previous version loadable", True, load(Path(tmp))))
            except Exception as exc:  # noqa: BLE001 - a failed load is the drill's finding, not a crash
                checks.append(("previous version loadable", False, f"{type(exc).__name__}: {exc}"))
    finally:
        registry.delete_alias(name, drill)
    return DrillReport(name, alias, drill, target, time.perf_counter() - started, tuple(checks))


__all__ = ["DrillReport", "JOURNAL_TAG", "PromotionRequest", "PromotionResult", "RollbackResult", "TAG_PREFIX",
           "drill_alias", "lineage_changes", "previous_alias", "promote", "recover",
           "registry_problems", "rollback", "rollback_drill"]
