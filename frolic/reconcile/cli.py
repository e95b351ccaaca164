"""``frolic reconcile``: compare Redis with the ledger; ``--rebuild`` restores a game."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.engine.redis_store import store_for
from frolic.reconcile.service import Balance, balances, rebuild
from frolic.redis_client import connect
from frolic.stack import Stack


def reconcile(
    game: Annotated[int | None, typer.Option(help="Only this game.")] = None,
    rebuild_game: Annotated[
        bool, typer.Option("--rebuild", help="Restore --game in Redis from the ledger first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Check Redis remaining + issued = total per game and brand; exit 1 on any drift."""
    if rebuild_game and game is None:
        raise typer.BadParameter("--rebuild needs --game")
    settings = Settings()
    with Stack(settings, only=frozenset({"postgres", "redis"})) as endpoints:
        found, restored = asyncio.run(_run(endpoints.apply(settings), game, rebuild_game))
    if as_json:
        print(json.dumps({"restored": restored, "balances": [_row(b) for b in found]}))
    else:
        if restored is not None:
            typer.echo(f"restored game {game}: {restored} decided plays")
        for b in found:
            typer.echo(
                f"game {b.game_id} brand {b.brand_id}: total {b.total}, issued {b.issued}, "
                f"Redis remaining {b.redis_remaining}, drift {b.drift}, "
                f"{'ok' if b.ok else 'MISMATCH'}"
            )
    if not all(b.ok for b in found):
        raise typer.Exit(1)


async def _run(
    settings: Settings, game: int | None, rebuild_game: bool
) -> tuple[list[Balance], int | None]:
    assert settings.database_url
    assert settings.redis_url
    db = create_engine(settings.database_url)
    client = connect(settings.redis_url)
    store = store_for(settings, client)
    try:
        restored = await rebuild(db, store, game) if rebuild_game and game else None
        return await balances(db, store, game), restored
    finally:
        await client.aclose()
        await db.dispose()


def _row(b: Balance) -> dict[str, object]:
    return {
        "gameId": b.game_id, "brandId": b.brand_id, "total": b.total, "issued": b.issued,
        "ledgerRemaining": b.ledger_remaining, "redisRemaining": b.redis_remaining,
        "drift": b.drift, "ok": b.ok,
    }  # fmt: skip
