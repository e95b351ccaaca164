"""Player tokens: JWTs whose ``sub`` is the player's external id (DESIGN.md §7)."""

from __future__ import annotations

import time

import jwt

from frolic.config import Settings
from frolic.errors import BadRequest

PLAYER_SCOPE = "player"


def mint_player_token(settings: Settings, user: str, *, ttl_seconds: int = 3600) -> str:
    """A signed HS256 token for local use; production players get theirs from an IdP."""
    if settings.jwt_algorithm != "HS256" or settings.jwt_secret is None:
        raise BadRequest(
            "Frolic mints only HS256 tokens for local use; with RS256 your identity provider "
            "holds the private key and mints them"
        )
    if not user:
        raise BadRequest("a token needs a user id")
    now = int(time.time())
    claims = {"sub": user, "iat": now, "exp": now + ttl_seconds, "scope": PLAYER_SCOPE}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
