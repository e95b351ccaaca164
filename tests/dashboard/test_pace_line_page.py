"""``/dashboard`` in Chromium: the chart's dashed pace line bends at the anchor the game's
row keeps, as the pacing does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect
from sqlalchemy import text

from frolic.app import create_app
from frolic.config import Settings
from frolic.db.session import create_engine
from tests.pages.conftest import Browser
from tests.support.factories import create_live_game, with_own_topics
from tests.support.serving import serving


@pytest.fixture(scope="module")
def page_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "pace-page")


@pytest.fixture(scope="module")
def url(page_settings: Settings) -> Iterator[str]:
    with serving(create_app(page_settings, roles=("api",)), name="pace-page") as address:
        yield f"http://{address}"


async def test_the_chart_draws_the_pace_line_through_the_anchor(
    page_settings: Settings, url: str, browser: Browser
) -> None:
    """Half an hour in, live (or resumed) only 2 minutes ago with nothing awarded: flat
    from the start to then, then rising to the budget at the end; 2.5 of 40 due now."""
    s = page_settings
    game = await create_live_game(s, budgets=(40,))
    now = datetime.now(UTC)
    assert s.database_url
    db = create_engine(s.database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(text(
                "UPDATE games SET start_time = :s, end_time = :e, pacing_line_t = :t, "
                "pacing_line_from = 0 WHERE id = :g"),
                {"s": now - timedelta(minutes=30), "e": now + timedelta(minutes=30),
                 "t": (now - timedelta(minutes=2)).timestamp(), "g": game.game_id},
            )  # fmt: skip
    finally:
        await db.dispose()

    assert s.admin_token is not None
    page = await browser.open(f"{url}/dashboard#token={s.admin_token.get_secret_value()}")
    await page.locator(f"tr.game[data-game-id='{game.game_id}']").click()
    await expect(page.locator("[data-figure='pace line'] b")).to_have_text("3")
    points = await page.locator("#target-line").get_attribute("points") or ""
    (x0, y0), (x1, y1), (x2, y2) = [tuple(map(float, p.split(","))) for p in points.split()]
    assert x0 < x1 < x2
    assert y1 == y0  # nothing was due until the anchor
    assert y2 < y1  # then the budget, spread over the time left (SVG's y runs down)
