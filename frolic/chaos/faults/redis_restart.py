"""Restart Redis in the middle of the load, empty, twice.

Production runs Redis without persistence, so a restart comes back with nothing: the
budgets' stock, the pacing state and anchor, the outcomes (idempotency) and results, the
api's rate counters and Idempotency-Key claims. The fault sends a spike of plays so that
decisions are in flight, stops the run's Redis (SIGTERM the first time, SIGKILL the
second) and starts it again on its port with its data folder wiped. Each game must be
rebuilt from the ledger before its plays are decided again (``frolic.reconcile.recovery``),
and the history checker then finds every invariant intact, Redis' remaining + issued =
total included.

Evidence: each restart and how long Redis was down; per game, the Redis epochs its
recorded decisions were made under, from the ledger's audit (a rebuild takes a new one: one
more epoch per restart shows the game was rebuilt, and decided again after it); the plays
decided under two epochs on the results topic (their first decision, made before a loss
and not recorded by the rebuild, was dropped and the play decided again: at least one
outcome was in flight when Redis went down).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import MappingProxyType
from typing import ClassVar

from sqlalchemy import text

from frolic.chaos.fault import Context, Evidence, Fault, restart_server
from frolic.chaos.topic_log import read_all
from frolic.db.session import create_engine
from frolic.playlog import messages

RESTARTS = (0.3, 0.65)  # when, as shares of the load's time
BURST = 150  # plays sent at once just before each restart: decisions in flight
DOWN_SECONDS = 1.0


class RedisRestart(Fault):
    name = "redis_restart"
    summary = "restart Redis empty (no persistence) mid-load, twice; rebuilt from the ledger"
    # Plays whose pre-loss decision is dropped come back through the re-driver.
    overrides = MappingProxyType({"redrive_after_seconds": 4.0})
    kills: ClassVar[tuple[bool, ...]] = (False, True)  # SIGKILL at each restart, or SIGTERM
    wipe: ClassVar[bool] = True  # start Redis with its data folder wiped

    async def inject(self, ctx: Context) -> None:
        await restart_server(ctx, "redis", at=RESTARTS, kills=self.kills, burst=BURST,
                             down_seconds=DOWN_SECONDS, wipe=self.wipe)  # fmt: skip

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
        for game, seen in evidence.get("epochs", {}).items():
            if seen < 1 + len(restarts):
                problems.append(f"game {game}: decided under {seen} epochs: not rebuilt each time")
        return problems


_decided = messages.decoder(messages.Decided)
_EPOCHS = text(
    "SELECT game_id, count(DISTINCT metadata->>'epoch') FROM play_events "
    "WHERE game_id = ANY(:games) AND status IN ('WIN', 'LOSE') GROUP BY game_id"
)
FAULT = RedisRestart()
