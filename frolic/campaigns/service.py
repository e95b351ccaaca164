"""Campaigns: create, list, read, change and delete them.

Each function works inside the caller's session and only flushes; the endpoint that opened
the transaction commits it (CONVENTIONS.md), after which its answer is sent.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.campaigns.schemas import CampaignCreate, CampaignRead, CampaignUpdate
from frolic.db.models import Campaign, Game
from frolic.db.rows import count, found, page_of
from frolic.errors import Conflict
from frolic.schemas import Page, apply_window

DRAFT = "draft"


def campaign_read(campaign: Campaign) -> CampaignRead:
    return CampaignRead(
        id=campaign.id,
        name=campaign.name,
        description=campaign.description,
        start_time=campaign.start_time,
        end_time=campaign.end_time,
        status=campaign.status,
    )


async def create_campaign(session: AsyncSession, body: CampaignCreate) -> CampaignRead:
    campaign = Campaign(
        name=body.name,
        description=body.description,
        start_time=body.start_time,
        end_time=body.end_time,
        status=DRAFT,
    )
    session.add(campaign)
    await session.flush()
    return campaign_read(campaign)


async def list_campaigns(
    session: AsyncSession, *, limit: int, after: int, status: str | None, name: str | None
) -> Page[CampaignRead]:
    query = select(Campaign)
    if status is not None:
        query = query.where(Campaign.status == status)
    if name is not None:
        query = query.where(Campaign.name.icontains(name, autoescape=True))
    rows, next_after = await page_of(session, query, Campaign.id, limit=limit, after=after)
    return Page[CampaignRead](items=[campaign_read(c) for c in rows], next_after=next_after)


async def get_campaign(session: AsyncSession, campaign_id: int) -> CampaignRead:
    return campaign_read(await found(session, Campaign, campaign_id))


async def update_campaign(
    session: AsyncSession, campaign_id: int, body: CampaignUpdate
) -> CampaignRead:
    """A campaign's dates are its marketing period; its games keep their own windows."""
    campaign = await found(session, Campaign, campaign_id, lock=True)
    apply_window(campaign, body.changes())
    await session.flush()
    return campaign_read(campaign)


async def delete_campaign(session: AsyncSession, campaign_id: int) -> None:
    campaign = await found(session, Campaign, campaign_id, lock=True)
    games = await count(session, select(Game.id).where(Game.campaign_id == campaign_id))
    if games:
        raise Conflict(
            f"campaign {campaign_id} has {games} game(s); delete them or move them to "
            "another campaign (PATCH /admin/games/{id} with campaignId) first"
        )
    await session.delete(campaign)
    await session.flush()
