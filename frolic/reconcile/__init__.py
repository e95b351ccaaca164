"""Reconciliation: Redis, the arbiter of decisions, against PostgreSQL, the ledger."""
