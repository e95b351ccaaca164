"""Provable fairness (docs/fairness.md): a game's seed committed before its first play, each
draw derived from it by a published rule, a hash-chained log of every decision, and the
verifier that anyone can run on the log and the revealed seed."""
