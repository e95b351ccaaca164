"""Fault injection on the real multi-process stack under load, and the history checker that
verifies every invariant afterwards (``frolic bench chaos``, tests/chaos, docs/reliability.md)."""
