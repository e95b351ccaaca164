"""The play rows' statements, on the real PostgreSQL: what the recorder and the reveal read
back, and the recorder's cover for a row ingestion never wrote."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.db.models import PlayRow
from frolic.playlog.messages import Decided
from frolic.plays import repository as play_rows
from frolic.plays.row import new_play_id
from tests.reveal.test_history import seed

REVEAL = 10.0


async def test_the_recorder_and_the_reveal_read_one_final_of_a_row(db: AsyncEngine) -> None:
    s = await seed(db)
    now = time.time()
    won = await s.play(db, now - 60, status="WIN", decided=True, code="C-" + s.user,
                       meta={"revealAt": now - 50, "brand": s.brand, "p": 0.25})  # fmt: skip
    odd = await s.play(db, now - 40, status="VOID", decided=True, meta={"p": 0.5})
    queued = await s.play(db, now - 30)
    ids = [uuid.UUID(p) for p in (won, odd, queued)]
    async with db.connect() as conn:
        recorded = {f.play_id: f for f in await play_rows.finals(conn, ids, REVEAL)}
        shown = await play_rows.finals(conn, ids, REVEAL, outcomes_only=True)
        recent = await play_rows.recent(conn, s.user, datetime.fromtimestamp(now - 600, UTC), 10)
    # A processed play is final to the recorder whatever its status; a player is shown only
    # an outcome. An undecided play is neither.
    assert set(recorded) == {won, odd}
    assert recorded[odd].outcome == "LOSE"
    assert shown == [recorded[won]]
    final = recorded[won]
    assert (final.reveal_at, final.brand, final.coupon_code, final.probability) == (
        now - 50, s.brand, "C-" + s.user, 0.25,
    )  # fmt: skip
    assert [play_rows.final(r, REVEAL) for r in recent if str(r.play_id) == won] == [final]


async def test_a_row_ingestion_never_wrote_is_written_queued_and_others_are_left(
    db: AsyncEngine,
) -> None:
    s = await seed(db)
    now = time.time()
    kept = await s.play(db, now - 5, status="LOSE", decided=True, meta={"revealAt": now + 1})
    lost = str(uuid.uuid4())
    batch = [
        Decided(p, s.game, s.user_id, s.user, now - 5, now + 5, None, now, epoch=1)
        for p in (kept, lost)
    ]
    async with db.begin() as conn:
        await play_rows.insert_missing(conn, batch)
    async with db.connect() as conn:
        rows = {
            str(r.play_id): r
            for r in await conn.execute(
                select(PlayRow.play_id, PlayRow.status, PlayRow.metadata_.label("meta")).where(
                    PlayRow.play_id.in_([uuid.UUID(kept), uuid.UUID(lost)])
                )
            )
        }
    assert (rows[kept].status, rows[kept].meta) == ("LOSE", {"revealAt": now + 1})
    assert (rows[lost].status, rows[lost].meta) == ("QUEUED", {"revealAt": now + 5})


async def test_a_batch_numbers_each_new_play_once_in_order_and_a_repeat_keeps_its_number(
    db: AsyncEngine, settings: Settings
) -> None:
    """The group insert numbers the plays it writes per (game, player), 1, 2, 3... in the
    order they came; a play twice in one batch (a retry beside its first attempt) and a
    play written before keep one number (docs/fairness.md)."""
    seeded = await seed(db)
    now = datetime.now(UTC)

    def new_play(client_seed: str = "") -> play_rows.NewPlay:
        return play_rows.NewPlay(uuid.uuid4(), seeded.user, seeded.game, now, "{}",
                                 client_seed=client_seed)  # fmt: skip

    a, b, c = new_play("x"), new_play(), new_play()
    assert settings.database_url
    driver = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        first = await play_rows.insert_queued(driver, [a, b, a], timeout=5)
        assert sorted((r["number"], r["new"]) for r in first) == [(1, True), (1, True), (2, True)]
        assert {r["play_id"]: r["number"] for r in first} == {a.play_id: 1, b.play_id: 2}
        again = await play_rows.insert_queued(driver, [c, a], timeout=5)
        assert {r["play_id"]: (r["new"], r["number"], r["client_seed"]) for r in again} == {
            c.play_id: (True, 3, None),
            a.play_id: (False, 1, "x"),
        }
    finally:
        await driver.close()


async def test_a_players_key_keeps_one_play_across_days(
    db: AsyncEngine, settings: Settings
) -> None:
    """The Idempotency-Key's uniqueness lives in ``play_keys``, not in a day's partition: a
    retry whose claim Redis lost (a new play id, a new time, days later) writes nothing,
    and the key still finds its first play; a retry with its claim (the same id and time)
    writes nothing either."""
    seeded = await seed(db)
    first_time = datetime.now(UTC) - timedelta(days=1)

    def keyed_play(at: datetime) -> play_rows.NewPlay:
        return play_rows.NewPlay(uuid.uuid4(), seeded.user, seeded.game, at, "{}", key="k-1")

    first = keyed_play(first_time)
    lost_claim = keyed_play(first_time + timedelta(days=2))
    other_key = play_rows.NewPlay(uuid.uuid4(), seeded.user, seeded.game, first_time, "{}",
                                  key="k-2")  # fmt: skip
    assert settings.database_url
    driver = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        [written] = await play_rows.insert_queued(driver, [first], timeout=5)
        assert written["new"]
        again = await play_rows.insert_queued(driver, [lost_claim, first, other_key], timeout=5)
        assert {r["play_id"]: r["new"] for r in again} == {
            lost_claim.play_id: False, first.play_id: False, other_key.play_id: True,
        }  # fmt: skip
    finally:
        await driver.close()
    async with db.connect() as conn:
        found = await play_rows.keyed(conn, seeded.user, "k-1")
        rows = (await conn.execute(
            select(PlayRow.play_id).where(PlayRow.user_id == seeded.user_id)
        )).scalars().all()  # fmt: skip
    assert found is not None
    assert (found.play_id, found.play_number) == (first.play_id, 1)
    assert sorted(rows) == sorted([first.play_id, other_key.play_id])


async def test_the_recorder_finds_a_play_by_its_id_and_its_time_within_a_millisecond(
    db: AsyncEngine,
) -> None:
    """A message's time went through a float: the lock matches it within a millisecond, in
    its day's partition, and reads back the row's own time for the update."""
    s = await seed(db)
    now = time.time()
    play = uuid.UUID(await s.play(db, now - 5))
    stored = datetime.fromtimestamp(now - 5, UTC)
    async with db.begin() as conn:
        near = await play_rows.lock(conn, [(play, stored + timedelta(microseconds=400))])
        far = await play_rows.lock(conn, [(play, stored + timedelta(milliseconds=5))])
    assert [(r.play_id, r.request_time) for r in near] == [(play, stored)]
    assert far == []


async def test_a_players_play_is_found_by_its_id_minted_or_not(db: AsyncEngine) -> None:
    """``GET /plays/{id}``'s look-up: first in the day the id names, then everywhere, so a
    play whose id was not minted from its time (from before, or from elsewhere) is found."""
    s = await seed(db)
    now = time.time()
    minted = await s.play(db, now - 5)  # a UUIDv4, as seeded
    for play_id, at in ((uuid.UUID(new_play_id(now - 3)), now - 3),  # as ingestion mints
                        (uuid.UUID(new_play_id(now - 86400 * 3)), now - 2)):  # fmt: skip
        async with db.begin() as conn:
            await conn.execute(text(
                "INSERT INTO play_events (play_id, user_id, game_id, status, request_time) "
                "VALUES (:p, :u, :g, 'QUEUED', :t)"),
                {"p": play_id, "u": s.user_id, "g": s.game, "t": datetime.fromtimestamp(at, UTC)},
            )  # fmt: skip
        async with db.connect() as reader:
            found = await play_rows.of_player(reader, play_id, s.user)
        assert found is not None
        assert found.request_time == datetime.fromtimestamp(at, UTC)
    async with db.connect() as conn:
        assert await play_rows.of_player(conn, uuid.UUID(minted), s.user) is not None
        assert await play_rows.of_player(conn, uuid.UUID(minted), "someone else") is None
