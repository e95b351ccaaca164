"""Who may use ``/admin``: the bearer of ``FROLIC_ADMIN_TOKEN`` (invariant 5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from frolic.auth.players import bearer, is_admin, player_id
from frolic.errors import Forbidden, Unauthorized
from frolic.resources import Resources
from frolic.web import resources

# Declares the scheme in the OpenAPI document; the header itself is read by ``bearer``.
_scheme = HTTPBearer(auto_error=False, description="The admin token, FROLIC_ADMIN_TOKEN.")


async def require_admin(
    request: Request,
    res: Annotated[Resources, Depends(resources)],
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_scheme)],
) -> None:
    """Passes the admin token; a missing or wrong token is 401, a player's token 403.

    Nothing here logs: the token must never reach a log line.
    """
    token = bearer(request.headers.get("Authorization"))
    if is_admin(res.settings, token):
        return
    try:
        player_id(res.settings, token)
    except Unauthorized:
        raise Unauthorized("the token is not the admin token") from None
    raise Forbidden("a player token cannot use the admin API")
