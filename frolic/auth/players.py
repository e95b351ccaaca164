"""Who is calling: a player's JWT (``sub`` is their external id), or the admin token."""

from __future__ import annotations

import hmac
import time
from typing import Any

import jwt

from frolic.config import Settings
from frolic.errors import Unauthorized

LEEWAY_SECONDS = 5


# Tokens already verified, by (algorithm, key, token): (subject, exp). A player sends the
# same token with every play, and checking its signature again costs more than the rest of
# the gateway's CPU work on a play. Keyed by the verifying key too, so a token checked under
# one key is not taken under another.
_verified: dict[tuple[str, str, str], tuple[str, float]] = {}
_VERIFIED_MAX = 100_000


def player_id(settings: Settings, token: str) -> str:
    """The external id of the player a token was issued to; ``Unauthorized`` otherwise.

    An expired token, a wrong signature, a missing ``sub`` or an admin token all fail.
    """
    cache_key = (settings.jwt_algorithm, _verifying_key(settings), token)
    known = _verified.get(cache_key)
    if known is not None:
        subject, expires = known
        if time.time() > expires + LEEWAY_SECONDS:
            raise Unauthorized("the token has expired")
        return subject
    subject, expires = _verify(settings, token)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[cache_key] = (subject, expires)
    return subject


def _verify(settings: Settings, token: str) -> tuple[str, float]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _verifying_key(settings),
            algorithms=[settings.jwt_algorithm],
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("the token is not valid") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise Unauthorized("the token names no player")
    return subject, float(claims["exp"])


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not header:
        raise Unauthorized("missing Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be: Bearer <token>")
    return token.strip()


def is_admin(settings: Settings, token: str) -> bool:
    """Constant-time comparison, so the token cannot be guessed a byte at a time."""
    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def _verifying_key(settings: Settings) -> str:
    if settings.jwt_algorithm == "RS256":
        if not settings.jwt_public_key:
            raise Unauthorized("RS256 tokens need FROLIC_JWT_PUBLIC_KEY")
        return settings.jwt_public_key
    if settings.jwt_secret is None:
        raise Unauthorized("no player token secret is configured")
    return settings.jwt_secret.get_secret_value()
