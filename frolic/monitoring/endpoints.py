"""``GET /metrics``: this process's metrics in Prometheus's text format.

Every process serves its own: the process counters and histograms of the roles it runs,
plus, in an api process, the figures read from the servers (``scrape.ServerFigures``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from frolic.monitoring.scrape import ServerFigures

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (and, in an api process, of the servers)."""
    body = generate_latest(REGISTRY)
    figures: ServerFigures | None = getattr(request.app.state, "server_figures", None)
    if figures is not None:
        await figures.refresh()
        body += generate_latest(figures.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
