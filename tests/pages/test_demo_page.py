"""``/demo`` in Chromium: press Play, the wheel spins, the result arrives over the
WebSocket; a win shows the code the ledger locked to this player."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect
from sqlalchemy import text

from frolic.db.session import create_engine
from tests.demo.games import pause
from tests.pages.conftest import Browser, LiveServer
from tests.support.factories import create_live_game

_ISSUED = text(
    "SELECT c.code FROM coupons c JOIN users u ON u.id = c.issued_to "
    "WHERE u.external_id = :player AND c.game_id = :game"
)


async def player_of(page: Page) -> str:
    session = await page.evaluate("JSON.parse(sessionStorage.getItem('frolic.demoSession'))")
    player: str = session["player"]
    return player


async def issued_codes(server: LiveServer, player: str, game: int) -> list[str]:
    assert server.settings.database_url
    db = create_engine(server.settings.database_url)
    try:
        async with db.connect() as conn:
            return list((await conn.scalars(_ISSUED, {"player": player, "game": game})).all())
    finally:
        await db.dispose()


async def test_a_win_shows_the_code_locked_to_the_player(
    server: LiveServer, browser: Browser
) -> None:
    # One in one wins while stock lasts: the outcome is known, the path is the real one.
    game = await create_live_game(server.settings, budgets=(3, 2), strategy="fixed_odds", odds=1)
    page = await browser.open(f"{server.url}/demo#game={game.game_id}", width=480, height=860)
    play = page.get_by_role("button", name="Play")
    await expect(play).to_be_enabled()
    await play.click()
    await expect(page.locator("#result")).to_have_text("Spinning…")
    await browser.shot(page, "demo-spinning")
    result = page.locator("#result[data-outcome]")
    await expect(result).to_have_attribute("data-outcome", "win")
    await expect(result).to_have_attribute("data-via", "socket")
    code = (await page.locator("#coupon-code").inner_text()).strip()
    await browser.shot(page, "demo-win")

    assert code in game.codes
    assert await issued_codes(server, await player_of(page), game.game_id) == [code]
    await expect(page.locator("#history li")).to_have_count(1)
    await expect(page.locator("#history li").first).to_contain_text(code)


async def test_a_loss_is_shown_and_a_quick_second_play_is_rate_limited(
    server: LiveServer, browser: Browser
) -> None:
    game = await create_live_game(server.settings, budgets=(0,))  # no stock: every play loses
    page = await browser.open(f"{server.url}/demo#game={game.game_id}", width=480, height=860)
    play = page.get_by_role("button", name="Play")
    await play.click()
    await expect(page.locator("#result")).to_have_attribute("data-outcome", "lose")
    await expect(page.locator("#result")).to_contain_text("Not this time")
    assert await issued_codes(server, await player_of(page), game.game_id) == []
    await browser.shot(page, "demo-lose")

    await play.click()  # the test settings allow one play at once, then one per 20 s
    await expect(page.locator("#result")).to_have_attribute("data-outcome", "error")
    await expect(page.locator("#result")).to_contain_text(re.compile(r"Try again in \d+ s"))
    await expect(play).to_be_disabled()


async def test_a_game_that_stops_is_shown_as_not_open(server: LiveServer, browser: Browser) -> None:
    game = await create_live_game(server.settings, budgets=(1,))
    page = await browser.open(f"{server.url}/demo#game={game.game_id}", width=480, height=860)
    await expect(page.get_by_role("button", name="Play")).to_be_enabled()
    await pause(server.settings, game.game_id)
    # No play of this game has reached the gateway yet, so it reads the game afresh.
    await page.get_by_role("button", name="Play").click()
    result = page.locator("#result")
    await expect(result).to_have_attribute("data-outcome", "error")
    await expect(result).to_contain_text(f"game {game.game_id} is not open for play (paused)")
    await expect(page.get_by_role("button", name="Play")).to_be_enabled()


async def test_without_an_open_game_the_page_says_so(server: LiveServer, browser: Browser) -> None:
    page = await browser.open(f"{server.url}/demo#game=999999999", width=480, height=860)
    await expect(page.locator("#result")).to_contain_text("The demo is not available")
    await expect(page.get_by_role("button", name="Play")).to_be_disabled()
