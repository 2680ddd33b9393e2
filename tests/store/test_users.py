"""Identities, password hashing, authentication and the permission rules."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.auth import ROLES, User, permission_problem, verify_password
from workbench.errors import PermissionDenied, StoreError
from workbench.store import Store

PASSWORD = "Tr0ub4dor&3-horse"


@pytest.fixture
def review(store: Store) -> str:
    return store.upsert_review("credit 2.3", manifest_path="/r/review.yaml", evidence_digest="e1", actor="cli:t")


def test_password_is_never_stored_in_clear_and_uses_salted_scrypt(store: Store, tmp_path: Path) -> None:
    store.add_user("ann", ["legal"], password=PASSWORD, actor="cli:t")
    store.add_user("ben", ["legal"], password=PASSWORD, actor="cli:t")
    with pytest.raises(PermissionDenied):
        store.authenticate("ann", PASSWORD + "x")
    if store.dialect == "sqlite":
        store._conn.execute("PRAGMA wal_checkpoint(FULL)")
    for name in ("w.db", "w.db-wal"):
        file = tmp_path / name
        if file.exists():
            assert PASSWORD.encode() not in file.read_bytes()
    rows = dict(store._backend.rows("SELECT name, password_hash FROM users"))
    assert rows["ann"] != rows["ben"]  # per-user salt
    scheme, n, r, p, salt, key = rows["ann"].split("$")
    # Oracle: hashlib.scrypt with the stored parameters re-derives the stored key.
    expected = hashlib.scrypt(PASSWORD.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    assert scheme == "scrypt" and expected.hex() == key and int(n) >= 2**14
    assert all(PASSWORD not in str(e.payload) for e in store.audit_entries())


def test_authenticate_success_and_audited_failures(store: Store) -> None:
    store.add_user("ann", ["legal"], password=PASSWORD, actor="cli:t")
    assert store.authenticate("ann", PASSWORD).name == "ann"
    for name, password in (("ann", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(PermissionDenied, match="unknown user or wrong password"):
            store.authenticate(name, password)
    store.disable_user("ann", actor="cli:t")
    with pytest.raises(PermissionDenied, match="disabled"):
        store.authenticate("ann", PASSWORD)
    failures = store.audit_entries(action="login_failed")
    assert [e.payload["reason"] for e in failures] == ["wrong password", "unknown user", "user disabled"]
    assert store.verify_audit().ok


def test_user_without_security_cannot_sign_off_as_security_and_attempt_is_audited(
    store: Store, review: str
) -> None:
    bob = store.add_user("bob", ["data_scientist", "reviewer"], password=PASSWORD, actor="cli:t")
    with pytest.raises(PermissionDenied, match="does not hold role 'security'"):
        store.sign_off(review, bob, "security", verdict="approve", comment="lgtm", evidence_digest="e1",
                       policy_digest="p1")
    assert store.list_signoffs(review) == []
    denied = store.audit_entries(action="permission_denied")
    assert len(denied) == 1
    entry = denied[0]
    assert (entry.actor, entry.subject) == ("bob", review)
    assert entry.payload["attempted"] == "sign_off" and entry.payload["role"] == "security"
    # The same user may sign as a role they hold.
    signed = store.sign_off(review, bob, "data_scientist", verdict="approve", comment="", evidence_digest="e1",
                            policy_digest="p1")
    assert [s.signoff_id for s in store.list_signoffs(review)] == [signed.signoff_id]


def test_disabled_user_can_do_nothing_even_with_a_stale_user_object(store: Store, review: str) -> None:
    sec = store.add_user("sec", ["security"], password=PASSWORD, actor="cli:t")
    store.disable_user("sec", actor="cli:t")
    assert sec.active  # the object the app still holds says active; the store knows better
    with pytest.raises(PermissionDenied, match="disabled"):
        store.sign_off(review, sec, "security", verdict="approve", comment="", evidence_digest="e1",
                       policy_digest="p1")
    with pytest.raises(PermissionDenied, match="disabled"):
        store.save_draft(review, "q", "1", sec, {"a": 1}, expected_version=None)
    with pytest.raises(PermissionDenied, match="disabled"):
        store.save_draft(review, "q", "1", "sec", {"a": 1}, expected_version=None)
    assert len(store.audit_entries(action="permission_denied")) == 3
    assert not store.has_active_user_for("security")
    store.enable_user("sec", actor="cli:t")
    assert store.has_active_user_for("security")


def test_only_admin_manages_users(store: Store) -> None:
    admin = store.add_user("root", ["admin"], actor="cli:t")
    ops = store.add_user("ops", ["operations"], actor="cli:t")
    with pytest.raises(PermissionDenied, match="not an admin"):
        store.add_user("eve", ["security"], actor=ops)
    with pytest.raises(PermissionDenied):
        store.set_roles("ops", ["admin"], actor=ops)
    assert store.get_user("eve") is None and store.require_user("ops").roles == ("operations",)
    store.add_user("eve", ["security", "legal"], actor=admin)
    assert store.set_roles("eve", ["legal"], actor=admin).roles == ("legal",)
    entry = store.audit_entries(action="roles_set")[-1]
    bound = entry.payload.pop("bound")  # the users row as written, bound to this entry
    assert (entry.actor, entry.subject, entry.payload) == ("root", "user:eve", {"roles": ["legal"]})
    assert [table for table, _, _ in bound] == ["users"]


def test_reviewers_save_only_their_own_responses(store: Store, review: str) -> None:
    grace = store.add_user("grace", ["reviewer"], actor="cli:t")
    store.add_user("hank", ["reviewer"], actor="cli:t")
    saved = store.save_draft(review, "q", "1", grace, {"a": 1}, expected_version=None)
    assert saved.reviewer == "grace"
    with pytest.raises(PermissionDenied, match="on behalf of 'hank'"):
        store.revise_response(review, "q", "hank", reason="x", actor=grace)


def test_validation_messages_name_the_field(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown role.*'auditor'.*known roles"):
        store.add_user("x", ["auditor"], actor="cli:t")
    with pytest.raises(StoreError, match="user name"):
        store.add_user("bad name!", ["legal"], actor="cli:t")
    with pytest.raises(StoreError, match="at least 8 characters"):
        store.add_user("y", ["legal"], password="short", actor="cli:t")
    store.add_user("z", ["legal"], actor="cli:t")
    with pytest.raises(StoreError, match="already exists"):
        store.add_user("z", ["legal"], actor="cli:t")
    with pytest.raises(StoreError, match="does not exist.*known: z"):
        store.require_user("nobody")
    with pytest.raises(StoreError, match="unknown role"):
        store.has_active_user_for("boss")


def test_users_by_role_lists_active_users_for_every_role(store: Store) -> None:
    store.add_user("a1", ["security", "legal"], actor="cli:t")
    store.add_user("a2", ["security"], actor="cli:t")
    store.add_user("a3", ["legal"], actor="cli:t")
    store.disable_user("a3", actor="cli:t")
    by_role = store.users_by_role()
    assert set(by_role) == set(ROLES)
    assert by_role["security"] == ["a1", "a2"] and by_role["legal"] == ["a1"] and by_role["admin"] == []


def test_set_password_replaces_the_hash(store: Store) -> None:
    store.add_user("ann", ["legal"], actor="cli:t")
    with pytest.raises(PermissionDenied):
        store.authenticate("ann", PASSWORD)  # no password yet
    store.set_password("ann", PASSWORD, actor="cli:t")
    assert store.authenticate("ann", PASSWORD).has_password
    stored = store._backend.rows("SELECT password_hash FROM users")[0][0]
    assert verify_password(PASSWORD, stored) and not verify_password("other-password", stored)


_roles = st.lists(st.sampled_from(ROLES), max_size=4).map(lambda r: tuple(sorted(set(r))))


@settings(max_examples=200, deadline=None)
@given(roles=_roles, active=st.booleans(), role=st.sampled_from(ROLES),
       action=st.sampled_from(["sign_off", "reject", "waive"]))
def test_role_actions_allowed_exactly_for_active_holders(roles, active, role, action) -> None:
    user = User("u", "u", roles, active, True, "", "")
    allowed = permission_problem(user, action, role=role) is None
    assert allowed == (active and role in roles)


@settings(max_examples=100, deadline=None)
@given(roles=_roles, active=st.booleans(), subject=st.sampled_from(["u", "v"]))
def test_own_responses_and_user_management_rules(roles, active, subject) -> None:
    user = User("u", "u", roles, active, True, "", "")
    assert (permission_problem(user, "save_response", subject=subject) is None) == (active and subject == "u")
    assert (permission_problem(user, "manage_users") is None) == (active and "admin" in roles)


def test_raw_file_holds_roles_as_json(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        store.add_user("ann", ["security", "legal", "legal"], actor="cli:t")
    roles = sqlite3.connect(path).execute("SELECT roles FROM users").fetchone()[0]
    assert roles == '["legal", "security"]'


def test_a_signed_out_session_is_refused_by_every_instance_and_audited(store: Store, store_location) -> None:
    token_id = "ab" * 16
    assert not store.session_revoked(token_id)
    store.revoke_session(token_id, expires_at=4_000_000_000, actor="ann")
    store.revoke_session(token_id, expires_at=4_000_000_000, actor="ann")  # signing out twice is harmless
    store.revoke_session("cd" * 16, expires_at=1, actor="ann")  # long expired: purged by the next sign-out
    store.revoke_session("ef" * 16, expires_at=4_000_000_000, actor="ann")
    with Store.open(store_location) as other:  # another app instance on the same store
        assert other.session_revoked(token_id) and not other.session_revoked("cd" * 16)
    assert [e.action for e in store.audit_entries()].count("session_revoked") == 4
    with pytest.raises(StoreError, match="32 hex"):
        store.revoke_session("not-an-id", expires_at=1, actor="ann")


def test_the_session_secret_is_made_once_and_shared_by_every_instance(store: Store, store_location) -> None:
    secret = store.session_secret()
    assert len(secret) == 32 and store.session_secret() == secret
    with Store.open(store_location) as other:  # another app instance on the same store
        assert other.session_secret() == secret
    assert [e.action for e in store.audit_entries()].count("session_secret_created") == 1


def test_a_sign_in_grant_is_spent_once_across_instances(store: Store, store_location) -> None:
    grant, session = "12" * 16, "34" * 16
    assert store.spend_session_grant(grant, expires_at=4_000_000_000, user="ann", session_id=session)
    with Store.open(store_location) as other:  # a replay on another app instance
        assert not other.spend_session_grant(grant, expires_at=4_000_000_000, user="ann", session_id=session)
    assert not store.spend_session_grant(grant, expires_at=4_000_000_000, user="ann", session_id=session)
    assert not store.session_revoked(session)  # spending the grant starts the session, it does not end it
    started = [e for e in store.audit_entries() if e.action == "session_started"]
    assert len(started) == 1 and started[0].payload == {"token_id": session}
    with pytest.raises(StoreError, match="32 hex"):
        store.spend_session_grant("x", expires_at=1, user="ann", session_id=session)
