"""Restart Redis in the middle of the load, empty, twice.

Production runs Redis without persistence, so a restart comes back with nothing: the
budgets' stock, the pacing state and anchor, the outcomes (idempotency) and results, the
api's rate counters and Idempotency-Key claims. The fault sends a spike of plays so that
decisions are in flight, stops the run's Redis (SIGTERM the first time, SIGKILL the
second) and starts it again on its port with its data folder wiped. Each game must be
rebuilt from the ledger before its plays are decided again (``frolic.reconcile.recovery``),
and the history checker then finds every invariant intact, Redis' remaining + issued =
total included.

Evidence: each restart and how long Redis was down; each game's Redis epoch on its row
before the first restart and after each (a rebuild takes a new one: a new epoch after each
restart shows the game was rebuilt); the epochs its recorded decisions were made under,
from the ledger's audit (decided again after a rebuild); the plays decided under two
epochs on the results topic (their first decision, made before a loss and not recorded by
the rebuild, was dropped and the play decided again: at least one outcome was in flight
when Redis went down).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from types import MappingProxyType
from typing import ClassVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from frolic.db.session import create_engine
from frolic.playlog import messages
from frolic_chaos.fault import Context, Evidence, Fault, restart_server
from frolic_chaos.runner import watch_ledger
from frolic_chaos.topic_log import read_all

RESTARTS = (0.3, 0.65)  # when, as shares of the load's time
BURST = 150  # plays sent at once just before each restart: decisions in flight
DOWN_SECONDS = 1.0


class RedisRestart(Fault):
    name = "redis_restart"
    summary = "restart Redis empty (no persistence) mid-load, twice; rebuilt from the ledger"
    # Plays whose pre-loss decision is dropped come back through the re-driver.
    overrides = MappingProxyType({"redrive_after_seconds": 4.0})
    restarts_redis = True
    kills: ClassVar[tuple[bool, ...]] = (False, True)  # SIGKILL at each restart, or SIGTERM
    wipe: ClassVar[bool] = True  # start Redis with its data folder wiped

    async def inject(self, ctx: Context) -> None:
        seen = [await game_epochs(ctx)]
        ctx.evidence["epoch_after_each_restart"] = seen

        async def rebuilt(i: int) -> None:
            seen.append(await game_epochs(ctx, other_than=seen[-1]))

        await restart_server(ctx, "redis", at=RESTARTS, kills=self.kills, burst=BURST,
                             down_seconds=DOWN_SECONDS, wipe=self.wipe, back=rebuilt)  # fmt: skip

    async def after(self, ctx: Context) -> None:
        # The ledger, not the results topic: a broker restart in the same run empties that.
        assert ctx.settings.database_url
        db = create_engine(ctx.settings.database_url)
        try:
            async with db.connect() as conn:
                rows = (await conn.execute(_EPOCHS, {"games": list(ctx.games)})).all()
        finally:
            await db.dispose()
        epochs: dict[int, int] = {game: n for game, n in rows}
        decided = await asyncio.to_thread(read_all, ctx.settings, ctx.settings.result_topic)
        per_play: dict[str, set[int]] = defaultdict(set)
        for raw in decided:
            d = _decided.decode(raw)
            per_play[d.play_id].add(d.epoch)
        ctx.evidence.update({
            "epochs": {str(g): epochs.get(g, 0) for g in ctx.games},
            "decided_under_two_epochs": sum(len(e) > 1 for e in per_play.values()),
        })  # fmt: skip

    def missing(self, evidence: Evidence) -> list[str]:
        restarts = evidence.get("restarts", [])
        problems = []
        if len(restarts) < len(RESTARTS):
            problems.append(f"{len(restarts)} restarts, wanted {len(RESTARTS)}")
        seen = evidence.get("epoch_after_each_restart", [])
        for i, (earlier, later) in enumerate(itertools.pairwise(seen)):
            problems += [f"game {g}: not rebuilt after restart {i + 1}"
                         for g, epoch in later.items() if epoch == earlier.get(g)]  # fmt: skip
        return problems


async def game_epochs(ctx: Context, *, other_than: dict[str, int] | None = None) -> dict[str, int]:
    """Each game's Redis epoch in the ledger (a rebuild takes a new one); with
    ``other_than``, once every game's has changed from it, or as it is after ``REBUILT_SECONDS``
    (PostgreSQL may be down meanwhile: a rebuild waits for it, and so does this)."""

    async def read(conn: AsyncConnection) -> dict[str, int]:
        rows = (await conn.execute(_GAME_EPOCHS, {"games": list(ctx.games)})).all()
        return {str(game): epoch for game, epoch in rows}

    def changed(epochs: dict[str, int]) -> bool:
        return other_than is None or all(epochs.get(g) != e for g, e in other_than.items())

    return await watch_ledger(ctx.settings, read, changed, REBUILT_SECONDS, dict(other_than or {}))


_decided = messages.decoder(messages.Decided)
REBUILT_SECONDS = 90.0
_GAME_EPOCHS = text("SELECT id, redis_epoch FROM games WHERE id = ANY(:games)")
_EPOCHS = text(
    "SELECT game_id, count(DISTINCT metadata->>'epoch') FROM play_events "
    "WHERE game_id = ANY(:games) AND status IN ('WIN', 'LOSE') GROUP BY game_id"
)
FAULT = RedisRestart()
