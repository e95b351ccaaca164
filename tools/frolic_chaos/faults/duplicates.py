"""Duplicate deliveries: the same messages and requests again, at every layer.

Twice during the load the fault reads what the play and results topics hold so far and
publishes a share of those messages again, byte for byte, with their keys, as a broker or
producer retry would deliver them twice; and it sends a share of the answered requests
again with the same Idempotency-Key, as a client retrying would.

Evidence: how many of each were delivered again, and that they were really handled again
(a re-published play event is decided again: its outcome appears twice on the results
topic; a re-published result is recorded again: its final appears twice), while the history
checker finds one outcome per play everywhere and one playId per key.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

from confluent_kafka import Producer

from frolic.playlog import messages
from frolic.topics import client_config
from frolic_chaos.fault import Context, Evidence, Fault
from frolic_chaos.topic_log import read_all

SHARE = 0.3  # of the messages so far, and of the answered requests
_play = messages.decoder(messages.PlayEvent)
_decided = messages.decoder(messages.Decided)
_final = messages.decoder(messages.Final)


def publish_again(ctx: Context, topic: str, values: list[bytes], key_of: Any) -> list[str]:
    """Publish ``values`` to ``topic`` again, each keyed as the original; their play ids."""
    producer = Producer(client_config(ctx.settings))
    ids = []
    for value in values:
        message = key_of(value)
        producer.produce(topic, value, key=message.user.encode())
        ids.append(message.play_id)
    producer.flush(30)
    return ids


class Duplicates(Fault):
    name = "duplicates"
    summary = "play events and results delivered twice, raw; requests replayed with the same key"

    async def inject(self, ctx: Context) -> None:
        pick = random.Random(11)
        plays: set[str] = set()
        results: set[str] = set()
        replayed = 0
        for share in (0.3, 0.6):
            await ctx.load.until(share)
            s = ctx.settings
            events = await asyncio.to_thread(read_all, s, s.play_topic)
            decided = await asyncio.to_thread(read_all, s, s.result_topic)
            again = pick.sample(events, int(len(events) * SHARE))
            plays.update(await asyncio.to_thread(publish_again, ctx, s.play_topic, again,
                                                 _play.decode))  # fmt: skip
            again = pick.sample(decided, int(len(decided) * SHARE))
            results.update(await asyncio.to_thread(publish_again, ctx, s.result_topic, again,
                                                   _decided.decode))  # fmt: skip
            replayed += ctx.load.again(int(len(ctx.load.sent.answers) * SHARE))
            ctx.progress(f"duplicates: {len(plays)} play events, {len(results)} results, "
                         f"{replayed} requests delivered again so far")  # fmt: skip
        ctx.evidence.update({
            "plays_again": sorted(plays), "results_again": sorted(results),
            "requests_again": replayed,
        })  # fmt: skip

    async def after(self, ctx: Context) -> None:
        s = ctx.settings
        decided_raw = await asyncio.to_thread(read_all, s, s.result_topic)
        finals_raw = await asyncio.to_thread(read_all, s, s.final_topic)
        decided = Counter(_decided.decode(v).play_id for v in decided_raw)
        finals = Counter(_final.decode(v).play_id for v in finals_raw)
        plays = ctx.evidence.pop("plays_again", [])
        results = ctx.evidence.pop("results_again", [])
        ctx.evidence.update({
            "play_events_again": len(plays),
            # A re-published play event decided again: its outcome is on the results topic
            # twice (or three times: a re-published result of it as well).
            "decided_again": sum(decided[p] >= 2 for p in plays),
            "results_again": len(results),
            "recorded_again": sum(finals[p] >= 2 for p in results),
        })  # fmt: skip

    def missing(self, evidence: Evidence) -> list[str]:
        problems = []
        for sent, handled in (("play_events_again", "decided_again"),
                              ("results_again", "recorded_again")):  # fmt: skip
            if not evidence.get(sent):
                problems.append(f"no {sent.replace('_', ' ')}")
            elif evidence.get(handled, 0) < 0.9 * evidence[sent]:
                problems.append(f"{handled}: {evidence.get(handled)} of {evidence[sent]}")
        if not evidence.get("requests_again"):
            problems.append("no request replayed")
        return problems


FAULT = Duplicates()
