"""Registered policies: the rules a review is judged by come from the store, not the submitter.

A ``data_governance`` user registers a policy for a model (and optionally a risk tier); each
registration of the same (model, tier) gets the next ``version``. The registration is a bound
row (its content hash is in the audit entry, MACed with the server key) and its content is the
policy's canonical JSON, so the gate can compare a manifest's policy with it by digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.auth import User
from workbench.canonical import canonical_json
from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store._store import Store


@dataclass(frozen=True)
class PolicyRegistration:
    """One registered version of a model's policy."""

    registration_id: int
    model: str
    tier: str | None
    version: int
    policy_id: str
    policy_version: str
    policy_digest: str
    content: dict[str, Any]
    created_at: str
    created_by: str


def _registration(row: dict[str, Any]) -> PolicyRegistration:
    return PolicyRegistration(**{**row, "content": json.loads(row["content"])})


class PoliciesMixin:
    """Policy registration methods; mixed into ``Store``."""

    def register_policy(self: Store, model: str, *, policy_id: str, policy_version: str, policy_digest: str,
                        content: dict[str, Any], user: User, tier: str | None = None) -> PolicyRegistration:
        """Register ``content`` as the policy of ``model`` (a ``data_governance`` user; audited, bound).

        Raises
        ------
        PermissionDenied
            ``user`` does not hold ``data_governance`` (the attempt is audited).
        """
        if not isinstance(user, User):
            raise StoreError("register_policy: pass the signed-in data_governance User")
        if not isinstance(model, str) or not model.strip():
            raise StoreError("--model: name the model the policy governs (the manifest's candidate name)")
        self.authorize(user, "register_policy", role="data_governance", subject=f"policy:{model}")
        with self.transaction():
            row = self._fetchone("SELECT max(version) AS v FROM policy_registrations WHERE model = ? "
                                 "AND tier IS NOT DISTINCT FROM ?", (model, tier))
            version = int((row or {}).get("v") or 0) + 1
            registration_id = self._insert("policy_registrations", {"model": model, "tier": tier,
                                                                    "version": version, "policy_id": policy_id,
                                                                    "policy_version": str(policy_version),
                                                                    "policy_digest": policy_digest,
                                                                    "content": canonical_json(content),
                                                                    "created_at": self.now(),
                                                                    "created_by": user.name})
            self.audit(user, "policy_registered", f"policy:{model}",
                       {"registration_id": registration_id, "model": model, "tier": tier, "version": version,
                        "policy_id": policy_id, "policy_version": str(policy_version),
                        "policy_digest": policy_digest},
                       bound=(("policy_registrations", (registration_id,)),))
            self.checkpoint("policy")
        return self.list_policies(model)[-1] if tier is None else self.registered_policy(model, tier=tier)  # type: ignore[return-value]

    def registered_policy(self: Store, model: str, *, tier: str | None = None) -> PolicyRegistration | None:
        """The newest registration for ``model`` and ``tier`` (falling back to the tier-less one)."""
        for t in ((tier, None) if tier is not None else (None,)):
            row = self._fetchone("SELECT * FROM policy_registrations WHERE model = ? AND tier IS NOT DISTINCT FROM ? "
                                 "ORDER BY version DESC LIMIT 1", (model, t))
            if row is not None:
                return _registration(row)
        return None

    def list_policies(self: Store, model: str | None = None) -> list[PolicyRegistration]:
        """Every registration (of ``model``), oldest first."""
        sql, params = "SELECT * FROM policy_registrations", ()  # type: tuple[str, tuple[str, ...]]
        if model is not None:
            sql, params = sql + " WHERE model = ?", (model,)
        return [_registration(r) for r in self._fetchall(sql + " ORDER BY registration_id", params)]


__all__ = ["PoliciesMixin", "PolicyRegistration"]
