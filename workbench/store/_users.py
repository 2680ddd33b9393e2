"""Users, passwords and permission checks of :class:`workbench.store.Store`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from workbench.auth import ROLES, User, hash_password, permission_problem, validate_roles, verify_password
from workbench.errors import PermissionDenied, StoreError
from workbench.text import MAX_LABEL, check_text

if TYPE_CHECKING:
    from workbench.store._store import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_UNKNOWN_USER = "authentication failed for {name!r}: unknown user or wrong password"

#: Consecutive failed sign-ins allowed without delay; then each attempt waits 2**k seconds.
FREE_FAILURES = 3
#: Consecutive failed sign-ins after which the name is locked for LOCKOUT_SECONDS.
LOCKOUT_FAILURES = 10
LOCKOUT_SECONDS = 15 * 60


def _throttle_wait(state: dict[str, Any] | None, now: datetime) -> float | None:
    """Seconds the next attempt must still wait (None: it may go ahead)."""
    if not state:
        return None
    if state["locked_until"]:
        left = (datetime.fromisoformat(state["locked_until"]) - now).total_seconds()
        return left if left > 0 else None
    if state["failures"] < FREE_FAILURES:
        return None
    delay = 2.0 ** (state["failures"] - FREE_FAILURES)
    left = (datetime.fromisoformat(state["last_failure"]) + timedelta(seconds=delay) - now).total_seconds()
    return left if left > 0 else None


def _user(row: dict[str, Any]) -> User:
    return User(
        name=row["name"],
        display_name=row["display_name"],
        roles=tuple(json.loads(row["roles"])),
        active=bool(row["active"]),
        has_password=row["password_hash"] is not None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class UsersMixin:
    """User registry methods; mixed into ``Store``."""

    def get_user(self: Store, name: str) -> User | None:
        """The user called ``name``, or None."""
        row = self._fetchone("SELECT * FROM users WHERE name = ?", (name,))
        return None if row is None else _user(row)

    def require_user(self: Store, name: str) -> User:
        """The user called ``name``; StoreError naming the known users when absent."""
        user = self.get_user(name)
        if user is None:
            known = ", ".join(u.name for u in self.list_users()) or "none yet"
            raise StoreError(
                f"user {name!r} does not exist (known: {known}); add it with `workbench users add`"
            )
        return user

    def list_users(self: Store, *, include_disabled: bool = True) -> list[User]:
        """All users by name (active ones only when ``include_disabled`` is False)."""
        sql = "SELECT * FROM users" + ("" if include_disabled else " WHERE active = 1")
        return [_user(r) for r in self._fetchall(sql + " ORDER BY name")]

    def add_user(
        self: Store,
        name: str,
        roles: Iterable[str] | str,
        *,
        password: str | None = None,
        display_name: str | None = None,
        actor: str | User,
    ) -> User:
        """Create a user holding ``roles``; audited as ``user_added`` (never the password).

        Raises
        ------
        StoreError
            Bad name, unknown role, short password, or the name is taken.
        PermissionDenied
            ``actor`` is a ``User`` who is not an admin.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise StoreError(
                f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting "
                "with a letter or digit"
            )
        if display_name is not None:
            display_name = check_text(display_name, what="display_name", limit=MAX_LABEL, multiline=False)
        role_tuple = validate_roles(roles)
        hashed = hash_password(password) if password is not None else None
        self._authorize_actor(actor, "manage_users", subject=f"user:{name}")
        now = self.now()
        with self.transaction():
            if self._fetchone("SELECT 1 AS x FROM users WHERE name = ?", (name,)):
                raise StoreError(f"user {name!r} already exists; pick another name or disable it first")
            self._insert("users", {"name": name, "display_name": display_name or name,
                                   "roles": json.dumps(list(role_tuple)), "password_hash": hashed, "active": 1,
                                   "created_at": now, "updated_at": now})
            self.audit(actor, "user_added", f"user:{name}",
                       {"roles": list(role_tuple), "has_password": hashed is not None},
                       bound=(("users", (name,)),))
        return self.require_user(name)

    def _update_user(self: Store, name: str, actor: str | User, action: str,
                     sets: dict[str, Any], payload: dict[str, Any]) -> User:
        self._authorize_actor(actor, "manage_users", subject=f"user:{name}")
        self.require_user(name)
        columns = ", ".join(f"{k} = ?" for k in sets)
        with self.transaction():
            self._execute(f"UPDATE users SET {columns}, updated_at = ? WHERE name = ?",
                          (*sets.values(), self.now(), name))
            self.audit(actor, action, f"user:{name}", payload, bound=(("users", (name,)),))
        return self.require_user(name)

    def disable_user(self: Store, name: str, *, actor: str | User) -> User:
        """Disable ``name``: from now on every permission check refuses them."""
        return self._update_user(name, actor, "user_disabled", {"active": 0}, {})

    def enable_user(self: Store, name: str, *, actor: str | User) -> User:
        """Re-enable a disabled user."""
        return self._update_user(name, actor, "user_enabled", {"active": 1}, {})

    def set_password(self: Store, name: str, password: str, *, actor: str | User) -> User:
        """Replace ``name``'s password (scrypt hash with a new salt)."""
        return self._update_user(name, actor, "password_set",
                                 {"password_hash": hash_password(password)}, {})

    def set_roles(self: Store, name: str, roles: Iterable[str] | str, *, actor: str | User) -> User:
        """Replace ``name``'s roles."""
        role_tuple = validate_roles(roles)
        return self._update_user(name, actor, "roles_set", {"roles": json.dumps(list(role_tuple))},
                                 {"roles": list(role_tuple)})

    def authenticate(self: Store, name: str, password: str) -> User:
        """The user when ``password`` matches and the user is active.

        A failure raises :class:`PermissionDenied` with the same message whether the name
        or the password was wrong, and is audited as ``login_failed`` (without the password).
        Unknown names and users without a password run the same scrypt derivation as a real
        check (:func:`workbench.auth.dummy_hash`), so the time does not reveal who exists.

        Throttling is per name tried (known or not): after :data:`FREE_FAILURES` consecutive
        failures each further attempt must wait ``2**k`` seconds (``login_throttled``), and
        after :data:`LOCKOUT_FAILURES` the name is locked for :data:`LOCKOUT_SECONDS`
        (``login_locked``), unless an admin runs ``workbench users unlock``. A success
        clears the count.
        """
        key = str(name)[:128]
        now = self._clock().astimezone(UTC)
        state = self._fetchone("SELECT * FROM login_throttle WHERE name = ?", (key,))
        wait = _throttle_wait(state, now)
        if wait is not None:
            locked = bool(state and state["locked_until"])
            self.audit(key or "?", "login_locked_out" if locked else "login_throttled", f"user:{key}",
                       {"failures": state["failures"] if state else 0, "retry_after_s": round(wait, 1)})
            if locked:
                raise PermissionDenied(
                    f"sign-in for {key!r} is locked after {state['failures']} failed attempts; try again in "  # type: ignore[index]
                    f"{wait / 60:.0f} min or ask an admin to run `workbench users unlock {key}`")
            raise PermissionDenied(f"too many failed sign-ins for {key!r}: wait {wait:.0f} s before trying again")
        row = self._fetchone("SELECT * FROM users WHERE name = ?", (name,))
        ok = verify_password(password, row["password_hash"] if row else None)  # same KDF either way
        reason = None
        if row is None:
            reason = "unknown user"
        elif not ok:
            reason = "wrong password" if row["password_hash"] else "no password set"
        elif not row["active"]:
            reason = "user disabled"
        if reason is not None:
            failures = self._record_login_failure(key, reason, now, state)
            if reason == "user disabled":
                raise PermissionDenied(f"user {name!r} is disabled; ask an admin to enable it")
            if failures >= LOCKOUT_FAILURES:
                raise PermissionDenied(f"{_UNKNOWN_USER.format(name=name)}; sign-in is now locked for "
                                       f"{LOCKOUT_SECONDS // 60} min after {failures} failed attempts")
            raise PermissionDenied(_UNKNOWN_USER.format(name=name))
        with self.transaction():
            self._execute("DELETE FROM login_throttle WHERE name = ?", (key,))
            self.audit(name, "login", f"user:{name}", {})
        assert row is not None  # reason is None only for an existing, active user
        return _user(row)

    def _record_login_failure(self: Store, key: str, reason: str, now: datetime,
                              state: dict[str, Any] | None) -> int:
        failures = (state["failures"] if state else 0) + 1
        locked_until = (now + timedelta(seconds=LOCKOUT_SECONDS)).isoformat() if failures >= LOCKOUT_FAILURES else None
        with self.transaction():
            self._upsert("login_throttle", {"name": key, "failures": failures, "last_failure": now.isoformat(),
                                            "locked_until": locked_until}, pk=("name",))
            self.audit(key or "?", "login_failed", f"user:{key}", {"reason": reason, "failures": failures})
            if locked_until:
                self.audit(key or "?", "login_locked", f"user:{key}",
                           {"failures": failures, "locked_until": locked_until})
        return failures

    def unlock_user(self: Store, name: str, *, actor: str | User) -> None:
        """Clear the failed sign-in count and lock of ``name`` (an admin's job; audited)."""
        self._authorize_actor(actor, "manage_users", subject=f"user:{name}")
        with self.transaction():
            self._execute("DELETE FROM login_throttle WHERE name = ?", (str(name)[:128],))
            self.audit(actor, "user_unlocked", f"user:{name}", {})

    # ------------------------------------------------------------------ demo store
    @property
    def is_demo(self: Store) -> bool:
        """True for a store created as a demo store (``workbench users demo`` on a new store)."""
        row = self._fetchone("SELECT value FROM store_meta WHERE key = 'demo'")
        return bool(row and row["value"] == "true")

    def mark_demo(self: Store, *, actor: str) -> None:
        """Mark a *new* store as a demo store (public demo passwords are allowed only there).

        Raises
        ------
        StoreError
            The store already has users: a store in use never becomes a demo.
        """
        if self.is_demo:
            return
        with self.transaction():
            used = self._fetchone("SELECT count(*) AS n FROM users")
            if used and used["n"]:
                raise StoreError(
                    f"{self.path}: not a demo store: it already holds users, so it will never "
                    "get the public demo users; use a new --db for the demo (`make run` uses data/workbench.db)")
            self._insert("store_meta", {"key": "demo", "value": "true", "set_at": self.now()})
            self.audit(actor, "store_marked_demo", "store", {})

    def authorize(self: Store, user: User, action: str, *, role: str | None = None,
                  subject: str | None = None) -> None:
        """Raise :class:`PermissionDenied` unless ``user`` may do ``action``.

        The user's current record is read from the store (a stale ``User`` object cannot
        keep a disabled user's rights). A refusal is audited as ``permission_denied`` in
        its own committed transaction, even when the caller's transaction rolls back.
        """
        current = self.get_user(user.name) if isinstance(user, User) else None
        problem: str | None
        if current is None:
            problem = f"user {getattr(user, 'name', user)!r} is not a registered user"
        else:
            problem = permission_problem(current, action, role=role, subject=subject)
        if problem is None:
            return
        entry = (getattr(user, "name", str(user)) or "?", "permission_denied",
                 subject or f"user:{getattr(user, 'name', user)}",
                 {"attempted": action, "role": role, "reason": problem})
        self._pending_denials.append(entry)
        if not self._depth:
            self._flush_denials()
        raise PermissionDenied(problem)

    def deny(self: Store, user: User | str, action: str, subject: str, reason: str) -> NoReturn:
        """Audit a refusal decided outside :func:`workbench.auth.permission_problem` and raise it.

        Used for segregation-of-duties rules (the reason starts with the rule's name) and for
        refused credentials; the ``permission_denied`` entry commits even when the caller's
        transaction rolls back.
        """
        name = getattr(user, "name", user)
        self._pending_denials.append((str(name) or "?", "permission_denied", subject,
                                      {"attempted": action, "reason": reason}))
        if not self._depth:
            self._flush_denials()
        raise PermissionDenied(reason)

    def _authorize_actor(self: Store, actor: str | User, action: str, *, role: str | None = None,
                         subject: str | None = None) -> None:
        # Plain-string actors are trusted local operators (CLI, batch jobs); a named user
        # must still be active when one exists under that name.
        if isinstance(actor, User):
            self.authorize(actor, action, role=role, subject=subject)
            return
        known = self.get_user(actor) if isinstance(actor, str) else None
        if known is not None and not known.active:
            self.authorize(known, action, role=role, subject=subject)

    def has_active_user_for(self: Store, role: str) -> bool:
        """True when at least one active user holds ``role``."""
        if role not in ROLES:
            raise StoreError(f"role: unknown role {role!r}; known roles: {', '.join(ROLES)}")
        return bool(self.users_by_role().get(role))

    def users_by_role(self: Store) -> dict[str, list[str]]:
        """Active user names per role, every role present (possibly with an empty list)."""
        out: dict[str, list[str]] = {role: [] for role in ROLES}
        for user in self.list_users(include_disabled=False):
            for role in user.roles:
                out[role].append(user.name)
        return out


__all__ = ["UsersMixin"]
