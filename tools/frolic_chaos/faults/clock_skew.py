"""Clock skew between processes: role processes whose wall clock is seconds off.

Each skewed process starts with ``FROLIC_CLOCK_OFFSET_SECONDS`` set to its skew: the clock
the process builds once and passes to what decides by the time (``frolic.clock``) runs that
far ahead or behind; monotonic clocks are untouched, as on a skewed host. The api keeps the
true time; one allocator runs ahead and one behind, one recorder ahead and one behind, the
ws process behind.

What reads the wall clock, and so what skew moves:
- api: a play's request time ``t`` (its pacing slot, its Redis buckets) and ``revealAt``;
  whether a game is open; GET /plays hiding an outcome before revealAt; token expiry; the
  per-player rate limit (GCRA with the api's clock).
- allocator: "now" of the pacing plan (which slot it fills, the slot guard) and
  ``decided_at``; never the budget, which is a counter in Redis.
- recorder: ``processed_time`` and ``latency_ms`` in the ledger.
- ws: when a reveal timer fires (``revealAt`` minus its clock): a ws clock behind reveals
  late, one ahead would reveal *early*.
- re-driver: PostgreSQL's ``now()`` against the api's request time.
Not moved: a log line's timestamp, and the admin's lifecycle (the api keeps true time).
None of it may break an invariant: budgets, idempotency and codes depend on no clock.

Evidence: each process's clock as its ``/healthz`` shows it, and the allocators'
``decided_at`` against the api's request time on the results topic.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence

import httpx

from frolic.playlog import messages
from frolic_chaos.fault import Context, Evidence, Fault
from frolic_chaos.topic_log import read_all

SKEW = 4.0  # seconds
# Index in the runner's layout (api, allocator, allocator, recorder, recorder, ws) -> skew.
SKEWS = {1: +SKEW, 2: -SKEW, 3: +SKEW, 4: -SKEW, 5: -SKEW}
_decided = messages.decoder(messages.Decided)


class ClockSkew(Fault):
    name = "clock_skew"
    summary = f"allocators, recorders and ws with wall clocks {SKEW:g} s ahead or behind"

    def environment(self, index: int, roles: Sequence[str]) -> dict[str, str]:
        skew = SKEWS.get(index)
        if skew is None:
            return {}
        return {"FROLIC_CLOCK_OFFSET_SECONDS": str(skew)}

    async def inject(self, ctx: Context) -> None:
        shown: dict[str, float] = {}
        async with httpx.AsyncClient() as client:
            for member in ctx.cluster.members:
                seen = []
                for _ in range(3):  # a slow answer reads late: the median of three
                    asked = time.time()
                    shown_time = (await client.get(f"{member.url}/healthz")).json()["time"]
                    seen.append(shown_time - (asked + time.time()) / 2)
                shown[f"{member.index}-{member.name}"] = round(statistics.median(seen), 2)
        ctx.evidence["clock_offsets_s"] = shown
        ctx.evidence["configured_s"] = {
            f"{m.index}-{m.name}": SKEWS.get(m.index, 0.0) for m in ctx.cluster.members
        }

    async def after(self, ctx: Context) -> None:
        raw = await asyncio.to_thread(read_all, ctx.settings, ctx.settings.result_topic)
        gaps = [d.decided_at - d.t for d in map(_decided.decode, raw)] or [0.0]
        ctx.evidence["decided_before_requested"] = sum(g < 0 for g in gaps)
        ctx.evidence["decided_at_minus_t_s"] = [round(min(gaps), 2), round(max(gaps), 2)]
        ctx.evidence["results_read"] = len(raw)

    def missing(self, evidence: Evidence) -> list[str]:
        shown = evidence.get("clock_offsets_s", {})
        wanted = evidence.get("configured_s", {})
        # Against the api's (true) clock read the same way.
        true = next((v for k, v in shown.items() if k.endswith("-api")), 0.0)
        off = [f"{k}: {shown.get(k, 99) - true:.2f} s, wanted {v:g}" for k, v in wanted.items()
               if abs(shown.get(k, 99) - true - v) > 0.5]  # fmt: skip
        if not evidence.get("decided_before_requested"):
            off.append("no allocator decided a play before its (api) request time")
        return off


FAULT = ClockSkew()
