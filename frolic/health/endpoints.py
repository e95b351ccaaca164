from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from frolic.errors import NotReady
from frolic.health import service
from frolic.resources import Resources
from frolic.web import resources

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(res: Annotated[Resources, Depends(resources)]) -> dict[str, object]:
    """The process is up; ``time`` is its wall clock (epoch seconds), to compare across a
    fleet's processes."""
    return {"status": "ok", "time": res.clock()}


@router.get("/readyz", responses={503: {"description": "a dependency is not ready"}})
async def readyz(res: Annotated[Resources, Depends(resources)]) -> dict[str, object]:
    """PostgreSQL, Redis and the broker answer, and the schema is at head."""
    checks = await service.readiness(res)
    if any(verdict != "ok" for verdict in checks.values()):
        raise NotReady(checks)
    return {"status": "ready", "checks": checks}
