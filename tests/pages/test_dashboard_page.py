"""``/dashboard`` in Chromium: sign in with the admin token, see the game and its state, the
chart's awarded series, and the stock per brand as PostgreSQL has it."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from playwright.async_api import expect
from sqlalchemy import text

from frolic.auth.tokens import mint_player_token
from frolic.db.session import create_engine
from tests.pages.conftest import Browser, LiveServer
from tests.support.factories import create_live_game, wait_decided

PLAYERS = 12


async def test_the_dashboard_shows_a_game_as_the_ledger_has_it(
    server: LiveServer, browser: Browser
) -> None:
    s = server.settings
    game = await create_live_game(s, budgets=(4, 3), strategy="fixed_odds", odds=2, spare_codes=5)
    async with httpx.AsyncClient(base_url=server.url) as client:
        answers = await asyncio.gather(*(
            client.post("/play", json={"gameId": game.game_id}, headers={
                "Authorization": f"Bearer {mint_player_token(s, f'dash-{uuid.uuid4().hex[:8]}')}"
            })
            for _ in range(PLAYERS)
        ))  # fmt: skip
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    await wait_decided(s, [a.json()["playId"] for a in answers])
    assert s.database_url
    db = create_engine(s.database_url)
    try:
        async with db.connect() as conn:
            stock = {
                r.brand_id: (r.remaining_coupons, r.total_coupons)
                for r in await conn.execute(text(
                    "SELECT brand_id, remaining_coupons, total_coupons FROM game_brand_budgets "
                    "WHERE game_id = :g"), {"g": game.game_id})
            }  # fmt: skip
    finally:
        await db.dispose()
    awarded = sum(total - left for left, total in stock.values())
    assert awarded > 0  # one in two wins: twelve plays without one would be a broken engine

    page = await browser.open(f"{server.url}/dashboard")
    await expect(page.locator("#login")).to_be_visible()
    await page.locator("#token").fill("not-the-token")
    await page.get_by_role("button", name="Open the dashboard").click()
    await expect(page.locator("#login-error")).to_have_text("That token was refused.")

    assert s.admin_token is not None
    await page.locator("#token").fill(s.admin_token.get_secret_value())
    await page.get_by_role("button", name="Open the dashboard").click()
    row = page.locator(f"tr.game[data-game-id='{game.game_id}']")
    await row.click()
    await expect(row).to_have_class("game selected")
    await expect(row.locator(".badge")).to_have_text("running")
    await expect(row).to_contain_text(f"{awarded} / {sum(game.brands.values())}")

    series = page.locator("#awarded-series")
    await expect(series).to_have_attribute("data-last", str(awarded))
    assert len((await series.get_attribute("points") or "").split()) >= 2
    await expect(page.locator("#target-line")).to_have_count(1)
    for brand, (left, total) in stock.items():
        cells = page.locator(f"#stock tr[data-brand-id='{brand}']")
        await expect(cells.locator(".remaining")).to_have_text(f"{left} / {total}")
        await expect(cells.locator(".redis")).to_have_text(str(left))
    wins = page.locator("#minutes rect[data-wins]")
    assert sum([int(await w.get_attribute("data-wins") or 0) for w in await wins.all()]) == awarded
    await browser.shot(page, "dashboard")

    # The token lives in the tab, not in the URL: a reload stays signed in.
    await page.reload()
    await expect(page.locator(f"tr.game[data-game-id='{game.game_id}']")).to_be_visible()
    assert "token" not in page.url


async def test_a_token_in_the_fragment_signs_in_and_leaves_the_address_bar(
    server: LiveServer, browser: Browser
) -> None:
    assert server.settings.admin_token is not None
    token = server.settings.admin_token.get_secret_value()
    page = await browser.open(f"{server.url}/dashboard#token={token}", width=420, height=900)
    await expect(page.locator("#board")).to_be_visible()
    await expect(page.locator("#alerts .alert").first).to_be_visible()
    assert page.url == f"{server.url}/dashboard"
    await browser.shot(page, "dashboard-narrow")
