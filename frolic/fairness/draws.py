"""Each play's draws, derived from the game's secret seed by a published rule.

A play's message binds it to what the operator cannot choose after the fact: the game, the
player (by a per-game pseudonym), the player's per-game play number and the client seed
the player sent. Its two draws are read from ``HMAC-SHA256(seed, message)``:

    u        = (first 8 bytes, big-endian) >> 11, divided by 2^53    the win draw
    brand_u  = (next 8 bytes, big-endian) >> 11, divided by 2^53     the brand draw

so each is one of the 2^53 evenly spaced doubles in [0, 1), as Python's ``random()`` is.
A play wins if ``u < p`` and the store's caps allow it; the brand is drawn among the
brands with stock, weighted by their stock (``engine.step.pick_brand``). The exact
formats, with a worked example, are in docs/fairness.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
from typing import NamedTuple

ALGORITHM = "frolic-fair-v1"
"""Names every format below; a change to any of them is a new version."""
SEED_BYTES = 32
CLIENT_SEED = re.compile(r"[A-Za-z0-9._~-]{0,64}")
"""What a player may send as ``clientSeed``: no separator of the message can appear in it."""
_SCALE = 2.0**-53
_BLOCK = 64  # SHA-256's block: HMAC pads a key up to it
_TWO_WORDS = struct.Struct(">QQ").unpack_from  # the first 16 bytes as two big-endian words


class Seed:
    """A game's secret seed, held so that it cannot leak by accident: its repr and str show
    only the start of its commitment, so no log line, traceback or error body can carry
    it. ``value`` is read only to draw."""

    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        if len(value) != SEED_BYTES:
            raise ValueError(f"a seed is {SEED_BYTES} bytes, not {len(value)}")
        self.value = value

    def __repr__(self) -> str:
        return f"Seed(commitment {commitment(self.value)[:12]}...)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Seed) and hmac.compare_digest(self.value, other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def new_seed() -> bytes:
    """256 bits from the operating system's CSPRNG."""
    return secrets.token_bytes(SEED_BYTES)


def commitment(seed: bytes) -> str:
    """What is published before the first play: ``SHA-256(seed)``, in hex."""
    return hashlib.sha256(seed).hexdigest()


def player_ref(seed: bytes, game_id: int, user: str) -> str:
    """A player's pseudonym in one game: 128 bits of ``HMAC-SHA256(seed,
    "frolic-fair-v1|player|<game>|<user>")`` in hex. Nobody can link it to the player while
    the seed is secret; after the reveal, the player (who knows their id) can recompute it."""
    text = f"{ALGORITHM}|player|{game_id}|{user}".encode()
    return hmac.new(seed, text, hashlib.sha256).hexdigest()[:32]


def message(game_id: int, player: str, number: int, client_seed: str) -> bytes:
    """The play's message: ``frolic-fair-v1|play|<game>|<player ref>|<number>|<client seed>``."""
    if not CLIENT_SEED.fullmatch(client_seed):
        raise ValueError(f"a client seed is at most 64 of A-Z a-z 0-9 . _ ~ -, not {client_seed!r}")
    if number < 1:
        raise ValueError(f"play numbers start at 1, not {number}")
    return f"{ALGORITHM}|play|{game_id}|{player}|{number}|{client_seed}".encode()


def unit(eight: bytes) -> float:
    """Eight bytes, big-endian, as one of the 2^53 evenly spaced doubles in [0, 1)."""
    return (int.from_bytes(eight, "big") >> 11) * _SCALE


class Draws(NamedTuple):
    """A NamedTuple: an allocator builds one per play, and a frozen dataclass pays
    ``object.__setattr__`` for every field."""

    u: float  # wins if u < p
    brand_u: float  # picks the brand among those with stock

    @classmethod
    def of(cls, seed: bytes, play_message: bytes) -> Draws:
        digest = hmac.new(seed, play_message, hashlib.sha256).digest()
        return cls(unit(digest[:8]), unit(digest[8:16]))


def draws(seed: bytes, game_id: int, player: str, number: int, client_seed: str = "") -> Draws:
    """The play's two draws (see the module's docstring)."""
    return Draws.of(seed, message(game_id, player, number, client_seed))


class Drawer:
    """One game's draws on the hot path, the same as ``player_ref`` and ``draws``: the
    seed's HMAC is prepared once, as its two SHA-256 states after the padded key (RFC 2104;
    each draw copies them, which costs half of ``hmac``'s copy), and each player's pseudonym
    is remembered, since a player plays many times (up to ``remember`` of them, then
    afresh). The client seed is not checked here: ingestion refused any outside
    ``CLIENT_SEED``."""

    def __init__(self, seed: bytes, game_id: int, *, remember: int = 200_000) -> None:
        if len(seed) > _BLOCK:  # HMAC would hash a longer key first; no seed is that long
            raise ValueError(f"a seed of at most {_BLOCK} bytes, not {len(seed)}")
        key = seed.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        self._player = f"{ALGORITHM}|player|{game_id}|".encode()
        self._play = f"{ALGORITHM}|play|{game_id}|"
        self._refs: dict[str, str] = {}
        self._remember = remember

    def _digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def player_ref(self, user: str) -> str:
        ref = self._refs.get(user)
        if ref is None:
            if len(self._refs) >= self._remember:
                self._refs.clear()
            ref = self._refs[user] = self._digest(self._player + user.encode()).hex()[:32]
        return ref

    def draws(self, player: str, number: int, client_seed: str = "") -> Draws:
        digest = self._digest(f"{self._play}{player}|{number}|{client_seed}".encode())
        u, brand_u = _TWO_WORDS(digest)
        return Draws((u >> 11) * _SCALE, (brand_u >> 11) * _SCALE)  # ``unit`` of each


def moments_seed(seed: bytes, game_id: int) -> int:
    """``winning_moments``'s seed, committed with the game's: the first 8 bytes of
    ``HMAC-SHA256(seed, "frolic-fair-v1|moments|<game>")``, big-endian, shifted right by 1
    (a positive BIGINT). The instants are drawn from it by Python's ``random.Random``
    (``engine.strategies.winning_moments``), so they too are fixed before the first play
    and anyone can draw them again after the reveal."""
    text = f"{ALGORITHM}|moments|{game_id}".encode()
    return int.from_bytes(hmac.new(seed, text, hashlib.sha256).digest()[:8], "big") >> 1
