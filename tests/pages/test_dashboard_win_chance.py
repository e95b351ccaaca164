"""``/dashboard`` in Chromium: each running game's win chance now, in the games table and
among the selected game's figures, as ``GET /admin/dashboard`` states it."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.pages.conftest import Browser, LiveServer
from tests.support.factories import create_live_game


async def test_the_dashboard_shows_each_running_games_win_chance_now(
    server: LiveServer, browser: Browser
) -> None:
    s = server.settings
    paced = await create_live_game(s, budgets=(50,))
    fixed = await create_live_game(s, budgets=(5,), strategy="fixed_odds", odds=4)
    assert s.admin_token is not None
    page = await browser.open(f"{server.url}/dashboard#token={s.admin_token.get_secret_value()}")

    row = page.locator(f"tr.game[data-game-id='{fixed.game_id}']")
    await expect(row.locator(".chance")).to_have_text("25%")
    await expect(row.locator(".chance")).to_have_attribute("data-probability", "0.25")
    await row.click()
    await expect(page.locator("[data-figure='win chance now'] b")).to_have_text("25%")

    row = page.locator(f"tr.game[data-game-id='{paced.game_id}']")
    await expect(row.locator(".chance")).to_have_text(re.compile(r"^\d+(\.\d+)?%$"))
    shown = float(await row.locator(".chance").get_attribute("data-probability") or "nan")
    assert 0 < shown <= 1
    await row.click()
    await expect(page.locator("#game-title")).to_contain_text("paced")
    figure = page.locator("[data-figure='win chance now'] b")
    await expect(figure).to_have_text(re.compile(r"^\d+(\.\d+)?%$"))
    # Paced's chance moves with the clock: the row and the figure, read in one go.
    await page.wait_for_function(
        """(id) => document.querySelector(`tr.game[data-game-id='${id}'] .chance`).textContent
               === document.querySelector("[data-figure='win chance now'] b").textContent""",
        arg=paced.game_id,
    )
    await browser.shot(page, "dashboard-win-chance")
