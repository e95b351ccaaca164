"""Restart the embedded broker mid-load, twice: it comes back empty.

Its storage is memory, so a restart loses every topic, message, consumer group and
committed offset. The fault sends a spike of plays so that messages are in flight on every
topic, stops the broker (SIGTERM the first time, SIGKILL the second), and starts it again
on its port. Producers hold what they could not deliver until the topic keeper has created
the topics again (with the run's partition count); consumers rejoin groups that start over
from the beginning of the new, empty topics; plays whose event or outcome the broker lost
are published again by the re-driver, and decided the same way (the outcome Redis keeps
for replays outlives the re-drive by days). The history checker must find every play
answered QUEUED with one outcome.

Evidence: each restart and how long the broker was down; of the plays accepted before the
first restart, how many the play topic no longer holds after the run (the re-driver
publishes again only the undecided ones, so the decided ones are gone if the broker lost
its messages: with a broker that kept them the count is 0); the topics' partition counts
after the run.
"""

from __future__ import annotations

import asyncio
from types import MappingProxyType

from frolic import topics
from frolic.playlog import messages
from frolic_chaos.fault import Context, Evidence, Fault, restart_server
from frolic_chaos.topic_log import read_all

RESTARTS = (0.3, 0.65)  # when, as shares of the load's time
BURST = 150  # plays sent at once just before each restart: messages in flight
DOWN_SECONDS = 1.0


class BrokerRestart(Fault):
    name = "broker_restart"
    summary = "restart the memory broker mid-load, twice (loses topics, messages, offsets)"
    # What the broker lost comes back through the re-driver: soon, for a short run.
    overrides = MappingProxyType({"redrive_after_seconds": 4.0})
    _before: set[str]  # the plays accepted before the first restart, of this run
    _gone: int  # of those, how many the play topic no longer held once the broker was back

    async def inject(self, ctx: Context) -> None:
        self._before, self._gone = set(), 0

        def note_the_plays(i: int) -> None:
            if i == 0:
                self._before = set(ctx.load.sent.owner)

        async def count_the_lost(i: int) -> None:
            # Read at once, not at the end: by then the re-driver has published every play
            # still undecided again, and a run whose allocators were held back (sigkill
            # beside it) would show a topic that seems to have lost nothing.
            if i == 0:
                s = ctx.settings
                held = await asyncio.to_thread(read_all, s, s.play_topic)
                events = messages.decoder(messages.PlayEvent)
                self._gone = len(self._before - {events.decode(v).play_id for v in held})

        await restart_server(ctx, "broker", at=RESTARTS, kills=(False, True), burst=BURST,
                             down_seconds=DOWN_SECONDS, before=note_the_plays,
                             back=count_the_lost)  # fmt: skip

    async def after(self, ctx: Context) -> None:
        s = ctx.settings
        held = await asyncio.to_thread(read_all, s, s.play_topic)
        counts = await asyncio.to_thread(topics.partition_counts, topics.admin_client(s), 10)
        ctx.evidence.update({
            "play_events_held": len(held),
            "accepted": len(ctx.load.sent.owner),
            "accepted_before_first_restart": len(self._before),
            "gone_from_play_topic": self._gone,
            "partitions": {t: counts.get(t, 0) for t in (s.play_topic, s.result_topic,
                                                         s.final_topic)},
            "partitions_wanted": s.kafka_partitions,
        })  # fmt: skip

    def missing(self, evidence: Evidence) -> list[str]:
        problems = []
        restarts = evidence.get("restarts", [])
        if len(restarts) < len(RESTARTS):
            problems.append(f"{len(restarts)} restarts, wanted {len(RESTARTS)}")
        if not evidence.get("accepted_before_first_restart"):
            problems.append("no play was accepted before the first restart")
        elif not evidence.get("gone_from_play_topic"):
            problems.append("the play topic, back after the first restart, still held every "
                            "play accepted before it: the broker lost nothing")  # fmt: skip
        return problems


FAULT = BrokerRestart()
