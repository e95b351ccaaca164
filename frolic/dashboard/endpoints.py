"""The operator dashboard: ``GET /admin/dashboard`` (admin token) and the ``/dashboard`` page
that polls it.

The page is one self-contained file (no CDN: it must work on a machine with no internet).
It holds no secret: it asks for the admin token, or takes it from the URL fragment
(``/dashboard#token=...``, which browsers never send to a server), and keeps it in the
tab's sessionStorage.
"""

from __future__ import annotations

from functools import cache
from importlib import resources as package_files
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from frolic.admin.auth import require_admin
from frolic.dashboard import service
from frolic.dashboard.schemas import Dashboard
from frolic.resources import Resources
from frolic.web import resources

router = APIRouter(tags=["dashboard"])

# A page that only reads and draws: no frames around it, no scripts from elsewhere.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def page(package: str, name: str) -> str:
    return package_files.files(package).joinpath("static", name).read_text(encoding="utf-8")


def state(request: Request) -> service.DashboardState:
    app_state = request.app.state
    if not hasattr(app_state, "dashboard"):
        app_state.dashboard = service.DashboardState()
    kept: service.DashboardState = app_state.dashboard
    return kept


@router.get(
    "/admin/dashboard",
    dependencies=[Depends(require_admin)],
    responses={401: {"description": "missing or wrong admin token"},
               403: {"description": "a player's token"},
               503: {"description": "Redis did not answer"}},
)  # fmt: skip
async def dashboard(
    res: Annotated[Resources, Depends(resources)],
    kept: Annotated[service.DashboardState, Depends(state)],
) -> Dashboard:
    """Games and their state, awarded against the pace line, winners per minute, stock
    per brand in the ledger and in Redis, consumer lag, and the alerts they raise."""
    return await service.dashboard(res, kept)


@router.get("/dashboard", include_in_schema=False)
async def dashboard_page() -> HTMLResponse:
    return HTMLResponse(page("frolic.dashboard", "dashboard.html"), headers=PAGE_HEADERS)
