"""The one periodic loop: a step runs every period until stopped, and a failure, expected
or not, never ends it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine

import pytest

from frolic import periodic

log = logging.getLogger("tests.periodic")


def server_away(exc: Exception) -> str | None:
    return "the server unavailable" if isinstance(exc, ConnectionError) else None


async def test_a_step_runs_each_period_and_failures_do_not_end_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    runs: list[int] = []

    async def step() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ConnectionError("server away")
        if len(runs) == 2:
            raise ValueError("a bug")
        if len(runs) == 4:
            stop.set()

    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(
            periodic.every(0.01, step, stop, name="sweep", log=log, away=server_away),
            5,
        )
    assert runs == [0, 1, 2, 3]
    away, bug = (r for r in caplog.records if r.name == log.name)
    assert (away.levelno, away.exc_info) == (logging.WARNING, None)
    assert away.getMessage() == "sweep: the server unavailable (server away); trying again"
    assert bug.levelno == logging.ERROR
    assert bug.exc_info is not None


async def test_stop_ends_the_wait_at_once() -> None:
    stop = asyncio.Event()

    async def step() -> None:
        stop.set()

    await asyncio.wait_for(periodic.every(3600, step, stop, name="hourly", log=log), 1)


async def test_a_failing_step_backs_off_up_to_its_limit_and_a_success_resets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = asyncio.Event()
    outcomes = iter([False, False, False, False, True, False, True])
    waits: list[float] = []

    async def step() -> None:
        if not next(outcomes, True):
            raise ConnectionError("server away")

    async def waited(awaitable: Coroutine[object, object, object], timeout: float) -> None:
        awaitable.close()  # the stop event's wait, never awaited: no time passes
        waits.append(timeout)
        if len(waits) == 7:
            stop.set()
        raise TimeoutError

    monkeypatch.setattr(asyncio, "wait_for", waited)
    await periodic.every(1.0, step, stop, name="poll", log=log, away=server_away, back_off_to=5)
    assert waits == [2.0, 4.0, 5.0, 5.0, 1.0, 2.0, 1.0]
