"""``GET /games/{id}/fairness``: a game commits to a fresh secret seed as it leaves draft,
shows only its hash until the game ends, and then the seed; the seed is in no answer and no
log line before that."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from frolic.app import create_app
from frolic.config import Settings
from frolic.fairness import draws, log_rows
from frolic.fairness.terms import Terms
from frolic.resources import Resources
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The api as served (the public fairness route, the admin's, the dashboard)."""
    app = create_app(settings, roles=("api",))
    async with app.router.lifespan_context(app):
        yield app


async def seed_of(res: Resources, game_id: int) -> bytes | None:
    async with res.db.connect() as conn:
        seed = (await conn.execute(text("SELECT fairness_seed FROM games WHERE id = :g"),
                                   {"g": game_id})).scalar_one()  # fmt: skip
    return None if seed is None else bytes(seed)


async def coded_game(admin: httpx.AsyncClient, coupons: int = 4) -> tuple[int, int]:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: coupons})
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(coupons))))
    return game["id"], brand


async def test_a_draft_has_no_commitment(admin: httpx.AsyncClient) -> None:
    game, _ = await coded_game(admin)
    answer = await admin.get(f"/games/{game}/fairness")
    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFound"
    assert (await admin.get("/games/999999999/fairness")).status_code == 404


async def test_the_commitment_is_made_leaving_draft_and_kept_going_live(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    game, brand = await coded_game(admin)
    ok(await admin.post(f"/admin/games/{game}/schedule"))
    public = httpx.AsyncClient(transport=admin._transport, base_url=str(admin.base_url))
    scheduled = ok(await public.get(f"/games/{game}/fairness"))  # no token: public
    seed = await seed_of(res, game)
    assert seed is not None
    assert len(seed) == 32
    assert scheduled["commitment"] == hashlib.sha256(seed).hexdigest()
    assert (scheduled["revealed"], scheduled["seed"]) == (False, None)
    assert scheduled["algorithm"] == "frolic-fair-v1"
    terms = Terms.parse(scheduled["terms"])
    assert (terms.game_id, terms.budgets, terms.strategy) == (game, {brand: 4}, "paced")
    assert terms.digest() == scheduled["termsDigest"]
    # winning_moments' instants come from the committed seed too (docs/fairness.md).
    async with res.db.connect() as conn:
        moments = (await conn.execute(text("SELECT moments_seed FROM games WHERE id = :g"),
                                      {"g": game})).scalar_one()  # fmt: skip
    assert moments == draws.moments_seed(seed, game)
    ok(await admin.post(f"/admin/games/{game}/start"))
    assert ok(await public.get(f"/games/{game}/fairness")) == scheduled  # kept
    await public.aclose()


async def test_back_to_draft_and_out_again_commits_anew(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    game, _ = await coded_game(admin)
    ok(await admin.post(f"/admin/games/{game}/schedule"))
    first = await seed_of(res, game)
    ok(await admin.post(f"/admin/games/{game}/unschedule"))
    ok(await admin.post(f"/admin/games/{game}/schedule"))
    assert await seed_of(res, game) not in (None, first)


async def test_the_seed_shows_once_the_game_has_ended(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    game, _ = await coded_game(admin)
    ok(await admin.post(f"/admin/games/{game}/start"))
    ok(await admin.post(f"/admin/games/{game}/end"))
    ended = ok(await admin.get(f"/games/{game}/fairness"))
    assert ended["revealed"] is True
    seed = bytes.fromhex(ended["seed"])
    assert seed == await seed_of(res, game)
    assert hashlib.sha256(seed).hexdigest() == ended["commitment"]


async def test_a_game_past_its_end_shows_its_seed_before_its_row_says_ended(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    game, _ = await coded_game(admin)
    ok(await admin.post(f"/admin/games/{game}/start"))
    async with res.db.begin() as conn:  # its end passed; the scheduler has not marked it
        await conn.execute(text("UPDATE games SET end_time = now() - interval '1 second' "
                                "WHERE id = :g"), {"g": game})  # fmt: skip
    shown = ok(await admin.get(f"/games/{game}/fairness"))
    assert shown["seed"] == (await seed_of(res, game) or b"").hex()


async def test_the_seed_is_in_no_answer_and_no_log_before_the_end(
    admin: httpx.AsyncClient, res: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    """As the security tests treat secrets: every answer an operator or a player can get
    about the game, and every log line, while it runs."""
    caplog.set_level(logging.DEBUG)
    game, _ = await coded_game(admin)
    ok(await admin.post(f"/admin/games/{game}/schedule"))
    ok(await admin.post(f"/admin/games/{game}/start"))
    ok(await admin.post(f"/admin/games/{game}/pause"))
    ok(await admin.post(f"/admin/games/{game}/resume"))
    seed = await seed_of(res, game)
    assert seed is not None
    answers = [
        await admin.get(f"/games/{game}/fairness"),
        await admin.get(f"/admin/games/{game}"),
        await admin.get("/admin/games", params={"limit": 500}),
        await admin.post(f"/admin/games/{game}/start"),
        await admin.post(f"/admin/games/{game}/schedule"),  # a refusal's body
        await admin.get("/admin/dashboard"),
    ]
    forms = (seed.hex(), seed.hex().upper(), seed.decode("latin-1"), str(list(seed)))
    for answer in answers:
        assert not any(form in answer.text for form in forms), answer.request.url
    assert not any(form in caplog.text for form in forms)


async def test_a_complete_chain_is_published_with_its_final_head(
    admin: httpx.AsyncClient, res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chainer may move the head while the document is read (a chaos run saw a head of
    151 entries called complete over a log of 310): the head shown beside ``complete`` is
    the one it judged."""
    game, _ = await coded_game(admin)
    ok(await admin.post(f"/admin/games/{game}/start"))
    ok(await admin.post(f"/admin/games/{game}/end"))
    async with res.db.begin() as conn:
        await conn.execute(text("INSERT INTO decision_log_heads (game_id, length, hash, epoch, "
                                "seq) VALUES (:g, 151, 'old', 0, 0)"), {"g": game})  # fmt: skip
    judged = log_rows.complete

    async def chained_meanwhile(conn: AsyncConnection, game_id: int) -> bool:
        async with res.db.begin() as other:  # the chainer, committing its last run
            moved = "UPDATE decision_log_heads SET length = 310, hash = 'new' WHERE game_id = :g"
            await other.execute(text(moved), {"g": game_id})
        return await judged(conn, game_id)

    monkeypatch.setattr(log_rows, "complete", chained_meanwhile)
    shown = ok(await admin.get(f"/games/{game}/fairness"))
    assert shown["chain"] == {"length": 310, "head": "new", "complete": True}
