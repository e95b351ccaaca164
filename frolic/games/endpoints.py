"""``/admin/games``: games with their budgets, their lifecycle and budget top-ups
(DESIGN.md §7).

The states and the steps between them are ``frolic.games.lifecycle``'s docstring; each
endpoint's description repeats its part, since the OpenAPI page is what clients read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from frolic.engine.redis_store import store_for
from frolic.errors import Conflict, NotFound
from frolic.fairness import log_rows
from frolic.fairness.terms import published
from frolic.games import lifecycle, repository, service, top_up
from frolic.games.schemas import Fairness, GameCreate, GameRead, GameUpdate, TopUpCreate
from frolic.resources import Resources
from frolic.schemas import BIGINT_MAX, Page
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

GAME_RESPONSES = responses_of("game")


@router.post("/games", status_code=201, responses=AUTH_RESPONSES)
async def create_game(body: GameCreate, res: Res) -> GameRead:
    """A draft game with one budget per brand; its total budget is their sum."""
    async with transaction(res) as session:
        return await service.create_game(session, body)


@router.get("/games", responses=AUTH_RESPONSES)
async def list_games(
    res: Res,
    status: StatusFilter = None,
    campaign_id: Annotated[int | None, Query(alias="campaignId", ge=1, le=BIGINT_MAX)] = None,
    name: NameFilter = None,
    limit: Limit = 50,
    after: After = 0,
) -> Page[GameRead]:
    """Games by id, a page at a time, each as ``GET /admin/games/{id}`` shows it."""
    async with transaction(res) as session:
        return await service.list_games(
            session, limit=limit, after=after, status=status, campaign_id=campaign_id, name=name
        )


@router.get("/games/{game_id}", responses=GAME_RESPONSES)
async def get_game(game_id: PathId, res: Res) -> GameRead:
    """The game, its budgets, and per brand the unissued codes it may draw."""
    async with transaction(res) as session:
        return await service.get_game(session, game_id)


@router.patch(
    "/games/{game_id}",
    responses={
        **GAME_RESPONSES,
        409: {"description": "a field that only a draft game may change"},
    },
)
async def update_game(game_id: PathId, body: GameUpdate, res: Res) -> GameRead:
    """Change the fields sent. A draft takes any of them, ``budgets`` replacing all its
    budgets; a game that has started takes only its name, campaign and player limits."""
    async with transaction(res) as session:
        return await service.update_game(session, game_id, body)


@router.delete(
    "/games/{game_id}",
    status_code=204,
    responses={
        **GAME_RESPONSES,
        409: {"description": "not a draft, has plays, or has codes reserved for it"},
    },
)
async def delete_game(
    game_id: PathId,
    res: Res,
    release_codes: Annotated[
        bool,
        Query(
            alias="releaseCodes",
            description="Return the codes reserved for the game to their brands' shared codes.",
        ),
    ] = False,
) -> Response:
    """Delete a draft game that nobody has played, with its budgets."""
    async with transaction(res) as session:
        await service.delete_game(session, game_id, release_codes=release_codes)
    return Response(status_code=204)


# Lifecycle and top-ups


@router.post(
    "/games/{game_id}/start",
    responses={
        **GAME_RESPONSES,
        409: {"description": "a brand has too few codes, or the game has ended"},
        503: {"description": "Redis did not take the budget"},
    },
)
async def start_game(game_id: PathId, res: Res) -> GameRead:
    """Make a draft or scheduled game live now and load its budget into Redis; a live game
    stays as it is. Refused (409) when the game's end has passed, or when a brand has fewer
    unissued codes than the game's remaining budget needs: its own reserved codes plus
    the shared codes not promised to other scheduled, live or paused games."""
    store = store_for(res.settings, res.redis)
    async with transaction(res) as session:
        return await lifecycle.start_game(session, res.db, store, game_id,
                                          reveal_seconds=res.settings.reveal_seconds)  # fmt: skip


@router.post(
    "/games/{game_id}/schedule",
    responses={
        **GAME_RESPONSES,
        409: {"description": "not a draft, a brand has too few codes, or the game has ended"},
        503: {"description": "Redis did not take the budget"},
    },
)
async def schedule_game(game_id: PathId, res: Res) -> GameRead:
    """Make a draft game scheduled: it goes live by itself at its startTime (within a
    second or so; at once if that has passed). The checks are start's, and from now on
    its codes are promised to it; its budget goes to Redis now and again, afresh, when it
    goes live. A scheduled game stays as it is.

    The states: draft -> scheduled (schedule; back with unschedule) -> live (at
    startTime, or start, which also takes a draft straight to live) <-> paused (pause,
    resume) -> ended (end, from any state but ended, or by itself once endTime passes).
    """
    store = store_for(res.settings, res.redis)
    async with transaction(res) as session:
        reveal = res.settings.reveal_seconds
        return await lifecycle.schedule_game(session, res.db, store, game_id,
                                             reveal_seconds=reveal)  # fmt: skip


LIFECYCLE_RESPONSES = {
    **GAME_RESPONSES,
    409: {"description": "the game is not in a state this applies to"},
}


@router.post("/games/{game_id}/unschedule", responses=LIFECYCLE_RESPONSES)
async def unschedule_game(game_id: PathId, res: Res) -> GameRead:
    """Make a scheduled game a draft again: it will not go live by itself, and its codes
    are no longer promised to it. A draft stays as it is."""
    async with transaction(res) as session:
        return await lifecycle.change_status(session, game_id, "unschedule")


@router.post("/games/{game_id}/pause", responses=LIFECYCLE_RESPONSES)
async def pause_game(game_id: PathId, res: Res) -> GameRead:
    """Stop taking plays (queued ones are still decided); a paused game stays paused."""
    async with transaction(res) as session:
        return await lifecycle.change_status(session, game_id, "pause")


@router.post(
    "/games/{game_id}/resume",
    responses={
        **LIFECYCLE_RESPONSES,
        409: {"description": "the game is not paused or live, or its end has passed"},
        503: {"description": "Redis did not take the pacing line's new anchor"},
    },
)
async def resume_game(game_id: PathId, res: Res) -> GameRead:
    """Take plays again, with the budget the game had; a live game stays as it is. The
    pacing spreads the coupons left over the time left: the pause's share is not paid out
    at once."""
    store = store_for(res.settings, res.redis)
    async with transaction(res) as session:
        return await lifecycle.resume_game(session, res.db, store, game_id)


@router.post("/games/{game_id}/end", responses=LIFECYCLE_RESPONSES)
async def end_game(game_id: PathId, res: Res) -> GameRead:
    """End a draft, scheduled, live or paused game for good; plays already queued are
    still decided. A game also ends by itself once its endTime has passed."""
    async with transaction(res) as session:
        return await lifecycle.change_status(session, game_id, "end")


OperationKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="The top-up's operation id: a retry with the same key adds nothing "
        "twice. Without one, the server makes one and sends it back in this header.",
    ),
]


@router.post(
    "/games/{game_id}/budgets/{brand_id}/top-up",
    responses={
        **GAME_RESPONSES,
        404: {"description": "no such game or brand"},
        409: {
            "description": "the game has ended, the brand has too few codes, or the key "
            "was used for a different top-up"
        },
        503: {"description": "Redis did not take the top-up"},
    },
)
async def top_up_budget(
    game_id: PathId,
    brand_id: PathId,
    body: TopUpCreate,
    res: Res,
    response: Response,
    idempotency_key: OperationKey = None,
) -> GameRead:
    """Add coupons to a brand's budget of a draft, scheduled, live or paused game; a brand
    the game did not have gets a budget. The brand's total and remaining and the game's
    totalBudget grow; where the budget is in Redis (scheduled, live, paused) its stock
    grows in the same step, and the pacing spreads the coupons added over the time left.
    A game past draft needs unissued codes for the new remaining budget (409 otherwise);
    a draft's start checks them."""
    operation = idempotency_key or str(uuid.uuid4())
    response.headers["Idempotency-Key"] = operation
    store = store_for(res.settings, res.redis)
    async with transaction(res) as session:
        return await top_up.top_up(
            session, res.db, store, game_id, brand_id, body.coupons, operation
        )


# Public, unauthenticated: mounted by the app, not behind the admin token.
public_router = APIRouter(tags=["fairness"])


@public_router.get(
    "/games/{game_id}/fairness",
    responses={404: {"description": "no such game, or a draft (no commitment yet)"}},
)
async def fairness(game_id: PathId, res: Res) -> Fairness:
    """The game's fairness commitment, from the moment it leaves draft: the SHA-256 of its
    secret seed, the algorithm, the terms and their digest. Once the game has ended (its
    row says so, or its end time has passed, after which no play is accepted), the seed
    itself, so that anyone can run ``frolic verify`` (docs/fairness.md). Before then,
    nothing here or anywhere shows the seed."""
    async with res.db.connect() as conn:
        found = await repository.commitment(conn, game_id)
        if found is None:
            raise NotFound(f"game {game_id} has no fairness commitment (no such game, or a draft)")
        revealed = _revealed(found, res.clock())
        complete = revealed and await log_rows.complete(conn, game_id)
        # Read after ``complete``, each in its own snapshot: a head read first could be one
        # the chainer moved on from before ``complete`` looked, and be published as final.
        head = await log_rows.head(conn, game_id)
    document = published(game_id, found.seed, found.terms, revealed=revealed)
    if head is not None:
        document["chain"] = {"length": head.length, "head": head.hash, "complete": complete}
    return Fairness.model_validate(document)


def _revealed(found: repository.Commitment, now: float) -> bool:
    """Whether the game is over: its row says so, or its end time has passed (after which
    no play is accepted)."""
    return found.status == lifecycle.ENDED or now >= found.end


@public_router.get(
    "/games/{game_id}/audit.jsonl",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}},
              "description": "one decision log entry a line, in order"},
        404: {"description": "no such game, or a draft (no commitment, so no log)"},
        409: {"description": "the game has not ended: its log is published when it does"},
    },
)  # fmt: skip
async def audit_log(game_id: PathId, res: Res) -> StreamingResponse:
    """The game's decision log, once it has ended: one entry a line, each chained to the one
    before it (docs/fairness.md), for ``frolic verify`` with the revealed seed. Not before
    the end: entries show outcomes before their reveal, and the pacing state a player could
    time plays by. The fairness document's ``chain`` says whether it is complete yet."""
    async with res.db.connect() as conn:
        found = await repository.commitment(conn, game_id)
    if found is None:
        raise NotFound(f"game {game_id} has no fairness commitment (no such game, or a draft)")
    if not _revealed(found, res.clock()):
        raise Conflict(f"game {game_id} has not ended; its decision log is published when it "
                       "does")  # fmt: skip
    return StreamingResponse(
        _log_lines(res, game_id), media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="game-{game_id}-audit.jsonl"'},
    )  # fmt: skip


async def _log_lines(res: Resources, game_id: int) -> AsyncIterator[bytes]:
    async with res.db.connect() as conn:
        async for line in log_rows.lines(conn, game_id):
            yield line.encode() + b"\n"
