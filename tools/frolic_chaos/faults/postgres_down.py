"""Take PostgreSQL down mid-load (30 s; half the load's time in a run under 20 s, as in CI),
then start it again on the same data folder and port.

Meanwhile ``POST /play`` cannot record a play: it must answer 503 with Retry-After at once
(never 500, never hang), and the load's clients retry with the same Idempotency-Key, which
must still make one play each. Recorders retry their batch with backoff, uncommitted; a
reveal due meanwhile says ``pending`` (its outcome is not recorded), and the result follows
once it is. Once PostgreSQL is back everything decided is recorded, codes issued, and the
history checker finds every invariant intact.

A probe player watches from inside the outage: it sends plays just before PostgreSQL stops
(some are decided but not yet recorded), holds a socket for their reveals, and during the
outage sends a play and reads ``/readyz``. Evidence: how long PostgreSQL was down; the
probe's answers during the outage (status, Retry-After, seconds); what ``/readyz`` said;
the pending notices and results its socket got; whether its refused key made one play.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import orjson
import websockets

from frolic.auth.tokens import mint_player_token
from frolic_chaos.fault import Context, Evidence, Fault

FULL_DOWN_SECONDS = 30.0
SHORT_RUN_SECONDS = 20.0  # a load shorter than this takes PostgreSQL down for half of it
PROBE_PLAYS = 20


def down_seconds(load_seconds: float) -> float:
    return FULL_DOWN_SECONDS if load_seconds >= SHORT_RUN_SECONDS else load_seconds / 2


class PostgresDown(Fault):
    name = "postgres_down"
    summary = "stop PostgreSQL mid-load for 30 s (5 s in CI); recorders retry, reveals pending"

    async def inject(self, ctx: Context) -> None:
        api = ctx.cluster.of("api")[0].url
        ws_url = ctx.cluster.of("ws")[0].url.replace("http://", "ws://") + "/ws"
        user = f"probe-{uuid.uuid4().hex[:8]}"
        auth = {"Authorization": f"Bearer {mint_player_token(ctx.settings, user)}"}
        game = ctx.games[-1]
        e = ctx.evidence
        down = down_seconds(ctx.load.seconds)
        await ctx.load.until(0.2)
        async with (
            httpx.AsyncClient(base_url=api, timeout=30) as client,
            websockets.connect(ws_url, additional_headers=auth) as socket,
        ):
            heard: Counter[str] = Counter()
            listening = asyncio.create_task(_listen(socket, heard))

            async def play(key: str) -> httpx.Response:
                headers = {**auth, "Idempotency-Key": key}
                return await client.post("/play", json={"gameId": game}, headers=headers)

            ctx.load.burst(100)
            before = await asyncio.gather(*(play(f"before-{i}") for i in range(PROBE_PLAYS)))
            started = time.monotonic()
            await asyncio.to_thread(ctx.stack.stop_server, "postgres")
            ctx.progress(f"postgres_down: PostgreSQL stopped for {down:g} s")
            # The probe's plays just spent its player's burst: wait until three more are
            # allowed, so that the outage, not the rate limit, answers the next ones.
            await asyncio.sleep(3 / ctx.settings.rate_user_per_second)
            answers = []
            for _ in range(3):
                asked = time.monotonic()
                answer = await play("during")
                answers.append({
                    "status": answer.status_code, "s": round(time.monotonic() - asked, 3),
                    "retry_after": answer.headers.get("retry-after"),
                })  # fmt: skip
                await asyncio.sleep(0.5)
            ready = await client.get("/readyz")
            checks = ready.json().get("detail", {})
            e["answers_during"] = answers
            e["readyz_during"] = {"status": ready.status_code, "postgres": checks.get("postgres")}
            await asyncio.sleep(max(0.0, down - (time.monotonic() - started)))
            await asyncio.to_thread(ctx.stack.start_server, "postgres")
            e["down_s"] = round(time.monotonic() - started, 2)
            ctx.progress(f"postgres_down: PostgreSQL back after {e['down_s']:.1f} s")
            retried = [await play("during") for _ in range(2)]
            e["refused_key_retried"] = [r.status_code for r in retried]
            e["refused_key_plays"] = len({r.json()["playId"] for r in retried if r.is_success})
            # The probe's plays are revealed (pending first, for those not recorded in time).
            accepted = sum(b.status_code == 202 for b in before) + (e["refused_key_plays"] > 0)
            deadline = time.monotonic() + 60
            while heard["result"] < accepted and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            e["probe"] = {"accepted": accepted, **heard}

    def missing(self, evidence: Evidence) -> list[str]:
        problems = []
        answers = evidence.get("answers_during", [])
        if not answers or any(a["status"] != 503 or not a["retry_after"] for a in answers):
            problems.append(f"POST /play during the outage: {answers}, wanted 503 + Retry-After")
        if evidence.get("readyz_during", {}).get("status") != 503:
            problems.append(f"/readyz during the outage: {evidence.get('readyz_during')}")
        if evidence.get("refused_key_plays") != 1:
            problems.append("the key refused during the outage did not make exactly one play")
        probe = evidence.get("probe", {})
        if probe.get("result", 0) < probe.get("accepted", 1):
            problems.append(f"the probe's socket was not revealed every play: {probe}")
        return problems


async def _listen(socket: Any, heard: Counter[str]) -> None:
    async for frame in socket:
        heard[str(orjson.loads(frame).get("type"))] += 1


FAULT = PostgresDown()
