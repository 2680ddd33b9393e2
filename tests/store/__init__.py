"""Tests of the review store, identities/roles and the audit trail (issue 4)."""
