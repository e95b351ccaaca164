"""Every ``/admin`` route, as the one router the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from frolic.admin import endpoints, lifecycle_endpoints, users_endpoints
from frolic.coupons import endpoints as coupon_endpoints

router = APIRouter()
for part in (
    endpoints.router,
    lifecycle_endpoints.router,
    users_endpoints.router,
    coupon_endpoints.router,
):
    router.include_router(part)
