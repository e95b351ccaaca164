"""SIGKILL an allocator and a recorder in the middle of a batch, several times.

Landing inside a batch: every consumer-group member publishes at ``/metrics`` how many
messages it holds uncommitted (``frolic_consumer_uncommitted``: its batch in progress). The
fault sends spikes of plays so the role works batch after batch, polls the gauges and
SIGKILLs the first process that shows a batch in hand. Each round kills one allocator and
one recorder that way (the other of each pair keeps working); the supervisor restarts them;
the next round waits until they are back. The re-driver is held off for the run
(``redrive_after_seconds``), so every play the killed processes held must come back through
the broker's redelivery of uncommitted offsets alone.

Evidence per kill: the batch size the victim reported holding a few milliseconds before
the signal. Across the run: plays decided twice and finals
published twice (a redelivered batch whose outcome had already gone out).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import httpx

from frolic.playlog import messages
from frolic_chaos.fault import Context, Evidence, Fault
from frolic_chaos.supervisor import Member
from frolic_chaos.topic_log import read_all

BUSY_WAIT = 20.0  # seconds to wait for a batch in hand (a rebalance may be settling)
BURST = 100  # plays sent at once, each victim, each second until its kill


GAUGE = re.compile(rb'^frolic_consumer_uncommitted\{group="[^"]+"\} (\S+)$', re.M)


async def held(client: httpx.AsyncClient, member: Member) -> int:
    """Messages ``member`` holds uncommitted now, as its ``/metrics`` says (0 unknown)."""
    try:
        answer = await client.get(f"{member.url}/metrics", timeout=1)
    except httpx.HTTPError:
        return 0
    return int(sum(float(v) for v in GAUGE.findall(answer.content)))


async def kill_mid_batch(
    client: httpx.AsyncClient, members: list[Member], burst: Callable[[int], None]
) -> dict[str, Any]:
    """SIGKILL whichever of ``members`` (one role's processes) first reports a batch in
    hand, with a spike of plays a second to keep them busy; after ``BUSY_WAIT`` s, the
    first of them anyway. (A group member may hold no partition for a while after a
    rebalance, so waiting on one chosen process could wait for nothing.)"""
    spike = time.monotonic()
    burst(BURST)
    deadline = time.monotonic() + BUSY_WAIT
    victim, holding = members[0], 0
    while time.monotonic() < deadline and not holding:
        for member in members:
            if holding := await held(client, member):
                victim = member
                break
        await asyncio.sleep(0.002)
        if time.monotonic() > spike + 1:  # that spike is through: another
            spike = time.monotonic()
            burst(BURST)
    pid = victim.pid
    victim.kill()
    return {"role": victim.roles[0], "process": victim.index, "pid": pid, "at": time.time(),
            "held": holding}  # fmt: skip


class SigKill(Fault):
    name = "sigkill"
    summary = "SIGKILL an allocator and a recorder mid-batch, repeatedly; restarted"
    overrides = MappingProxyType({"redrive_after_seconds": 3600.0})

    async def inject(self, ctx: Context) -> None:
        rounds = max(2, int(ctx.load.seconds // 6))
        kills: list[dict[str, Any]] = []
        ctx.evidence["kills"] = kills
        await ctx.load.until(0.15)
        for r in range(rounds):
            # Every process back first: until the last round's victims have rejoined, the
            # group is rebalancing and nobody holds a partition, let alone a batch.
            await asyncio.wait_for(ctx.cluster.all_ready(), 60)
            async with httpx.AsyncClient() as client:
                killing = (kill_mid_batch(client, ctx.cluster.of(role), ctx.load.burst)
                           for role in ("allocator", "recorder"))  # fmt: skip
                done = await asyncio.gather(*killing)
            kills += done
            killed = ", ".join(f"{k['role']} {k['process']} holding {k['held']}" for k in done)
            ctx.progress(f"sigkill: round {r + 1}: killed {killed}")
            # Let the group notice and the survivors take the partitions over under load.
            await asyncio.sleep(2.0)

    async def after(self, ctx: Context) -> None:
        decided = await asyncio.to_thread(read_all, ctx.settings, ctx.settings.result_topic)
        finals = await asyncio.to_thread(read_all, ctx.settings, ctx.settings.final_topic)
        times_decided = Counter(_decided.decode(raw).play_id for raw in decided)
        times_final = Counter(_final.decode(raw).play_id for raw in finals)
        ctx.evidence.update({
            "decided_twice": sum(n > 1 for n in times_decided.values()),
            "finalized_twice": sum(n > 1 for n in times_final.values()),
            "restarts": sum(m.restarts for m in ctx.cluster.members),
        })  # fmt: skip

    def missing(self, evidence: Evidence) -> list[str]:
        kills = evidence.get("kills", [])
        problems = []
        for role in ("allocator", "recorder"):
            mine = [k for k in kills if k["role"] == role]
            if len(mine) < 2:
                problems.append(f"{role}: {len(mine)} kills, wanted several")
            elif not all(k["held"] for k in mine):
                problems.append(f"{role}: a kill landed with no batch in hand")
        if evidence.get("restarts", 0) < len(kills):
            problems.append(f"{evidence.get('restarts')} restarts for {len(kills)} kills")
        return problems


_decided = messages.decoder(messages.Decided)
_final = messages.decoder(messages.Final)
FAULT = SigKill()
