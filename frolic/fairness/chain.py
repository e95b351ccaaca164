"""The decision log: one entry per decision, in the order of the store's atomic steps, each
carrying the hash of the one before it. Editing, removing, inserting or reordering an entry
changes every hash after it, and the head (published as the game runs) with them.

An entry is a JSON object. Its hash is ``SHA-256(prev + "\\n" + body)`` in hex, where
``prev`` is the previous entry's hash (the first entry's is the game's genesis, which binds
the chain to the seed's commitment) and ``body`` is the entry without ``hash``, as canonical
JSON: keys sorted, no spaces, UTF-8, numbers as Python's ``json`` writes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from frolic.fairness.draws import ALGORITHM


def canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()  # fmt: skip


def genesis(game_id: int, commitment: str) -> str:
    """The ``prev`` of a game's first entry:
    ``SHA-256("frolic-fair-v1|genesis|<game>|<commitment>")`` in hex."""
    return hashlib.sha256(f"{ALGORITHM}|genesis|{game_id}|{commitment}".encode()).hexdigest()


def entry_hash(prev: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev.encode() + b"\n" + canonical(body)).hexdigest()


def code_hash(game_id: int, code: str) -> str:
    """What an entry shows of a coupon code: ``SHA-256("<game>|<code>")`` in hex. Enough to
    show that no code was issued twice, and to let its winner match it; not the code."""
    return hashlib.sha256(f"{game_id}|{code}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """Where a chain stands: its last hash and how many entries it has."""

    hash: str
    length: int


def extend(head: Head, bodies: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each body as an entry chained after ``head``: with ``n`` (its 1-based position),
    ``prev`` and ``hash``. The caller keeps the last as the new head."""
    prev, n = head.hash, head.length
    for body in bodies:
        n += 1
        entry = {**body, "n": n, "prev": prev}
        prev = entry_hash(prev, entry)
        yield {**entry, "hash": prev}
