"""``/admin/campaigns`` (DESIGN.md §7)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from frolic.campaigns import service
from frolic.campaigns.schemas import CampaignCreate, CampaignRead, CampaignUpdate
from frolic.schemas import Page
from frolic.web import (
    AUTH_RESPONSES,
    After,
    Limit,
    NameFilter,
    PathId,
    Res,
    StatusFilter,
    responses_of,
    transaction,
)

router = APIRouter(prefix="/admin", tags=["admin"])

CAMPAIGN_RESPONSES = responses_of("campaign")


@router.post("/campaigns", status_code=201, responses=AUTH_RESPONSES)
async def create_campaign(body: CampaignCreate, res: Res) -> CampaignRead:
    """A campaign, in status ``draft``."""
    async with transaction(res) as session:
        return await service.create_campaign(session, body)


@router.get("/campaigns", responses=AUTH_RESPONSES)
async def list_campaigns(
    res: Res, status: StatusFilter = None, name: NameFilter = None, limit: Limit = 50,
    after: After = 0,
) -> Page[CampaignRead]:  # fmt: skip
    """Campaigns by id, a page at a time."""
    async with transaction(res) as session:
        return await service.list_campaigns(
            session, limit=limit, after=after, status=status, name=name
        )


@router.get("/campaigns/{campaign_id}", responses=CAMPAIGN_RESPONSES)
async def get_campaign(campaign_id: PathId, res: Res) -> CampaignRead:
    async with transaction(res) as session:
        return await service.get_campaign(session, campaign_id)


@router.patch("/campaigns/{campaign_id}", responses=CAMPAIGN_RESPONSES)
async def update_campaign(campaign_id: PathId, body: CampaignUpdate, res: Res) -> CampaignRead:
    """Change the fields sent; ``description: null`` clears it."""
    async with transaction(res) as session:
        return await service.update_campaign(session, campaign_id, body)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=204,
    responses={**CAMPAIGN_RESPONSES, 409: {"description": "the campaign has games"}},
)
async def delete_campaign(campaign_id: PathId, res: Res) -> Response:
    async with transaction(res) as session:
        await service.delete_campaign(session, campaign_id)
    return Response(status_code=204)
