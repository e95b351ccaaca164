"""Every ``/admin`` route, as the one router the app includes: each admin domain's
endpoints, behind the admin token (invariant 5)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from frolic.admin.auth import require_admin
from frolic.brands import endpoints as brands
from frolic.campaigns import endpoints as campaigns
from frolic.coupons import endpoints as coupons
from frolic.games import endpoints as games
from frolic.users import endpoints as users

router = APIRouter()
for part in (campaigns.router, brands.router, games.router, coupons.router, users.router):
    router.include_router(part, dependencies=[Depends(require_admin)])
