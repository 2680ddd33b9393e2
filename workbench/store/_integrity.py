"""State bound to the audit chain: row hashes, entry MACs and signed checkpoints.

The chain alone (``_audit``) proves that audit entries were not edited; it says nothing about
the rows a decision reads. Three additions make the record the control:

- **Row binding.** Every write to a bound table (:data:`BOUND_TABLES`) puts
  ``[table, key, row_hash]`` into the ``bound`` list of the audit entry written in the same
  ``BEGIN IMMEDIATE`` transaction. ``row_hash`` is the sha256 of the canonical JSON of the
  row's non-NULL columns (so a later migration adding a nullable column does not unbind old
  rows). The newest binding of a row is what the row must hash to.
- **Entry MACs.** ``audit_macs`` holds ``HMAC-SHA256(server key, entry hash)`` per entry
  (:mod:`workbench.serverkey`). Whoever holds the file but not the key can recompute the
  chain, not the MACs, so a forged entry (and the row it binds) is detected.
- **Checkpoints.** ``checkpoints`` holds the chain head ``(seq, hash)`` signed with the
  server's Ed25519 key at every decision and at least once a day. Truncating the tail or
  re-hashing it after a checkpoint no longer matches the signed head. Checkpoints deleted
  together with the tail are caught by the one each packet carries.

:func:`verify_integrity` checks all of it and names table and row of every problem.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench.canonical import canonical_json, sha256_text
from workbench.store._audit import ROWS_SQL, verify_chain

if TYPE_CHECKING:
    from workbench.store._backend import Backend

#: Tables whose rows a decision reads, and the columns that identify a row.
BOUND_TABLES: dict[str, tuple[str, ...]] = {
    "reviews": ("review_id",),
    "evidence_runs": ("run_id",),
    "responses": ("response_id",),
    "signoffs": ("signoff_id",),
    "waivers": ("waiver_id",),
    "decisions": ("decision_id",),
    "documents": ("review_id", "kind"),
    "policy_registrations": ("registration_id",),
    "objections": ("objection_id",),
    # roles decide who may sign: an `UPDATE users SET roles` outside the workbench is an edit
    "users": ("name",),
}
CHECKPOINT_EVERY_S = 24 * 3600

ProblemKind = Literal["chain", "mac", "checkpoint", "inserted", "edited", "deleted", "legacy", "no-key"]


@dataclass(frozen=True)
class IntegrityProblem:
    """One failed check; ``table``/``row`` name the state row when there is one."""

    kind: ProblemKind
    message: str
    table: str | None = None
    row: str | None = None
    seq: int | None = None


@dataclass(frozen=True)
class IntegrityReport:
    """What :func:`verify_integrity` found. ``ok`` is True only without any problem."""

    entries: int
    rows: int
    checkpoints: int
    keyed: bool
    key_checked: bool
    head_hash: str | None
    problems: tuple[IntegrityProblem, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        if self.ok:
            text = (f"audit chain intact: {self.entries} entries, {self.rows} bound rows, "
                    f"{self.checkpoints} signed checkpoints")
            return "; ".join([text, *self.notes])
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        return self.problems[0].message + more


def row_key(table: str, row: dict[str, Any]) -> str:
    return "/".join(str(row[c]) for c in BOUND_TABLES[table])


# SQLite hands back str, int, float and None only (PostgreSQL too: the schema declares the same
# column types, TEXT / BIGINT / DOUBLE PRECISION), for which this encoder writes exactly what
# workbench.canonical.canonical_json writes (sorted keys, compact, UTF-8), about 20x faster.
_ROW_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(row: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the row's non-NULL columns.

    Examples
    --------
    >>> row = {"signoff_id": 1, "verdict": "approve", "revoked_at": None}
    >>> row_hash(row) == sha256_text(canonical_json({"signoff_id": 1, "verdict": "approve"}))
    True
    """
    return hashlib.sha256(_ROW_JSON.encode({k: v for k, v in row.items() if v is not None}).encode()).hexdigest()


def binding(backend: Backend, table: str, key: tuple[Any, ...]) -> list[str]:
    """``[table, key, row_hash]`` of the row as it is now (inside the writing transaction)."""
    columns = BOUND_TABLES[table]
    where = " AND ".join(f"{c} = ?" for c in columns)
    rows = backend.query(f"SELECT * FROM {table} WHERE {where}", list(key))
    if len(rows) != 1:
        raise RuntimeError(f"binding {table} {key}: expected one row, found {len(rows)}")
    return [table, row_key(table, rows[0]), row_hash(rows[0])]


def add_mac(backend: Backend, seq: int, entry_hash: str, key: Any) -> None:
    backend.insert("audit_macs", {"seq": seq, "mac": key.mac(entry_hash)})


def checkpoint_message(seq: int, head_hash: str, created_at: str, reason: str) -> bytes:
    return canonical_json({"seq": seq, "head_hash": head_hash, "created_at": created_at,
                           "reason": reason}).encode()


def write_checkpoint(backend: Backend, key: Any, *, now: str, reason: str) -> dict[str, Any] | None:
    """Sign the current head; None for an empty log. The caller holds the write transaction."""
    rows = backend.rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    if not rows:
        return None
    seq, head_hash = int(rows[0][0]), str(rows[0][1])
    signature = key.sign(checkpoint_message(seq, head_hash, now, reason))
    checkpoint_id = backend.insert("checkpoints", {"seq": seq, "head_hash": head_hash, "created_at": now,
                                                   "reason": reason, "key_id": key.key_id, "signature": signature})
    return {"checkpoint_id": int(checkpoint_id or 0), "seq": seq, "head_hash": head_hash, "created_at": now,
            "reason": reason, "key_id": key.key_id, "public_key": key.public_b64, "signature": signature}


def last_checkpoint_at(backend: Backend) -> str | None:
    rows = backend.rows("SELECT created_at FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1")
    return None if not rows else str(rows[0][0])


def verify_integrity(backend: Backend, key: Any | None) -> IntegrityReport:
    """Check the chain, every entry's MAC, every checkpoint and every bound row.

    Call it inside one read snapshot (``backend.transaction(immediate=False)``): a writer
    committing between the log and a table would otherwise look like an unrecorded row.
    """
    problems: list[IntegrityProblem] = []
    notes: list[str] = []
    log = backend.rows(ROWS_SQL)
    chain = verify_chain(backend, log)
    if not chain.ok:
        problems.append(IntegrityProblem("chain", chain.message, seq=chain.first_bad_seq))
    entries = [(r[0], r[7], r[3], r[5]) for r in log]
    del log
    macs = dict(backend.rows("SELECT seq, mac FROM audit_macs"))
    checkpoints = backend.query("SELECT * FROM checkpoints ORDER BY checkpoint_id")
    legacy_until = _legacy_until(backend)
    keyed = bool(macs) or bool(checkpoints)
    if key is not None:
        problems += _check_macs(entries, macs, key, legacy_until)
        problems += _check_checkpoints(checkpoints, key, entries)
    elif keyed:
        problems.append(IntegrityProblem(
            "no-key", "this store's entries carry MACs and signed checkpoints, which only the server key can "
            "check: point --keys / WORKBENCH_KEYS at the folder holding it"))
    else:
        notes.append("no server key: entry MACs not checked (anyone with the file could recompute the chain; "
                     "run `workbench keys init`)")
    bindings = _bindings(entries)
    rows = 0
    for table in BOUND_TABLES:
        for row in backend.query(f"SELECT * FROM {table}"):
            rows += 1
            rkey = row_key(table, row)
            bound = bindings.pop((table, rkey), None)
            if bound is None:
                if legacy_until:
                    problems.append(IntegrityProblem(
                        "legacy", f"{table} row {rkey} predates row binding (schema 3) and is not bound: an admin "
                        "binds the store's earlier rows once with `workbench audit bind`", table, rkey))
                else:
                    problems.append(IntegrityProblem(
                        "inserted", f"{table} row {rkey} was inserted outside the workbench: no audit entry "
                        "records it", table, rkey))
            elif bound[0] != row_hash(row):
                problems.append(IntegrityProblem(
                    "edited", f"{table} row {rkey} was edited outside the workbench: it no longer matches "
                    f"audit entry seq {bound[1]}", table, rkey, bound[1]))
    for (table, rkey), (_, seq) in sorted(bindings.items()):
        problems.append(IntegrityProblem(
            "deleted", f"{table} row {rkey} was deleted: audit entry seq {seq} recorded it", table, rkey, seq))
    return IntegrityReport(len(entries), rows, len(checkpoints), keyed, key is not None,
                           chain.head_hash, tuple(problems), tuple(notes))


def _legacy_until(backend: Backend) -> int:
    """The last seq written before schema 3 while no `audit_bound` entry exists yet, else 0."""
    rows = backend.rows("SELECT value FROM integrity_meta WHERE name = 'legacy_until_seq'")
    until = int(rows[0][0]) if rows else 0
    if until and backend.rows("SELECT 1 FROM audit_log WHERE action = 'audit_bound' LIMIT 1"):
        return 0
    return until


def _check_macs(entries: list[tuple], macs: dict[int, str], key: Any, legacy_until: int) -> list[IntegrityProblem]:
    # An entry without a MAC before the store's first MACed entry was written before the store
    # had a key (legacy: an admin binds it); any other entry without a valid MAC is forged.
    first_mac = min(macs) if macs else None
    legacy: list[int] = []
    forged: list[int] = []
    for seq, digest, _, _ in entries:
        if key.mac_ok(digest, macs.get(seq)):
            continue
        unkeyed_era = seq not in macs and (seq <= legacy_until or first_mac is None or seq < first_mac)
        (legacy if unkeyed_era else forged).append(seq)
    out = []
    if forged:
        listed = ", ".join(map(str, forged[:5])) + (" …" if len(forged) > 5 else "")
        out.append(IntegrityProblem(
            "mac", f"audit entries without a valid MAC (seq {listed}): written without the server key, "
            "i.e. forged or rewritten outside the workbench", seq=forged[0]))
    if legacy:
        out.append(IntegrityProblem(
            "legacy", f"{len(legacy)} audit entries (seq {legacy[0]}-{legacy[-1]}) were written before the store "
            "had a server key: an admin binds them once with `workbench audit bind`", seq=legacy[0]))
    return out


def _check_checkpoints(checkpoints: list[dict[str, Any]], key: Any,
                       entries: list[tuple]) -> list[IntegrityProblem]:
    out = []
    by_seq = {seq: digest for seq, digest, _, _ in entries}
    last = entries[-1][0] if entries else 0
    for cp in checkpoints:
        cid, seq = cp["checkpoint_id"], int(cp["seq"])
        message = checkpoint_message(seq, cp["head_hash"], cp["created_at"], cp["reason"])
        if not key.verify(message, cp["signature"]):
            out.append(IntegrityProblem(
                "checkpoint", f"checkpoint {cid} (seq {seq}) is not signed by the server key: forged or edited",
                "checkpoints", str(cid), seq))
        elif seq not in by_seq:
            out.append(IntegrityProblem(
                "checkpoint", f"audit log truncated: checkpoint {cid} signed the head at seq {seq} but the log "
                f"ends at seq {last}", "checkpoints", str(cid), seq))
        elif by_seq[seq] != cp["head_hash"]:
            out.append(IntegrityProblem(
                "checkpoint", f"audit log re-hashed after checkpoint {cid}: seq {seq} no longer has the hash "
                "signed then", "checkpoints", str(cid), seq))
    return out


_DECODER = json.JSONDecoder()


def _bindings(entries: list[tuple]) -> dict[tuple[str, str], tuple[str, int]]:
    out: dict[tuple[str, str], tuple[str, int]] = {}
    for seq, _, _, payload in entries:
        # Payloads are canonical JSON (sorted keys, compact): decode only the `bound` array.
        at = payload.find('"bound":[')
        if at < 0:
            continue
        try:
            if payload.find('"bound":[', at + 1) < 0:
                bound, _ = _DECODER.raw_decode(payload, at + 8)
            else:  # a nested "bound" key too: read the top-level one properly
                bound = json.loads(payload).get("bound")
        except (ValueError, AttributeError):
            continue
        for item in bound if isinstance(bound, list) else ():
            if isinstance(item, list) and len(item) == 3:
                out[(str(item[0]), str(item[1]))] = (str(item[2]), int(seq))
    return out


__all__ = ["BOUND_TABLES", "CHECKPOINT_EVERY_S", "IntegrityProblem", "IntegrityReport", "add_mac", "binding",
           "checkpoint_message", "last_checkpoint_at", "row_hash", "row_key", "verify_integrity",
           "write_checkpoint"]
