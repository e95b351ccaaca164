"""``/dashboard`` in Chromium: the selected game's fairness commitment, the SHA-256 of its
seed as ``GET /admin/dashboard`` states it (hashed in the database), its decision log's
length and head, and a link to the public fairness document."""

from __future__ import annotations

import hashlib

from playwright.async_api import expect
from sqlalchemy import text

from frolic.db.session import create_engine
from tests.pages.conftest import Browser, LiveServer
from tests.support.factories import create_live_game


async def test_the_dashboard_shows_the_games_commitment(
    server: LiveServer, browser: Browser
) -> None:
    s = server.settings
    game = await create_live_game(s, budgets=(20,))
    seed = bytes(range(32, 64))
    assert s.database_url
    db = create_engine(s.database_url)
    head = hashlib.sha256(b"the last entry").hexdigest()
    async with db.begin() as conn:  # as the start would commit it (tests/games/test_fairness)
        await conn.execute(text("UPDATE games SET fairness_seed = :s WHERE id = :g"),
                           {"s": seed, "g": game.game_id})  # fmt: skip
        # and as the chainer would move its log's head (tests/fairness/test_end_to_end)
        await conn.execute(text(
            "INSERT INTO decision_log_heads (game_id, length, hash, epoch, seq) "
            "VALUES (:g, 1234, :h, 1, 1234)"), {"g": game.game_id, "h": head})  # fmt: skip
    await db.dispose()
    assert s.admin_token is not None
    page = await browser.open(f"{server.url}/dashboard#token={s.admin_token.get_secret_value()}")
    await page.locator(f"tr.game[data-game-id='{game.game_id}']").click()
    commitment = hashlib.sha256(seed).hexdigest()
    shown = page.locator("#commitment .commitment-hash")
    await expect(shown).to_have_text(commitment[:16] + "…")
    await expect(shown).to_have_attribute("title", commitment)
    link = page.locator("#commitment a")
    await expect(link).to_have_attribute("href", f"/games/{game.game_id}/fairness")
    await expect(page.locator("#commitment")).not_to_contain_text(seed.hex()[:16])
    await expect(page.locator("#commitment")).to_contain_text("decision log: 1,234 entries")
    await expect(page.locator("#commitment .chain-head")).to_have_attribute("title", head)
    await browser.shot(page, "dashboard-commitment")
