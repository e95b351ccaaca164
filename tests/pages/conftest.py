"""Frolic's pages in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
against the real app served by uvicorn on a free port, on the session's embedded stack.

Without chromium the page tests skip, except under CI (``CI`` set), where they fail:
``make test`` installs it there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import BrowserContext, ConsoleMessage, Page, async_playwright, expect

from frolic.app import create_app
from frolic.config import Settings
from tests.support.factories import with_own_topics
from tests.support.serving import serving

# A result takes the reel (1 s here) plus the pipeline, on a shared and busy machine: wait
# for what a page must show up to this long, never for a fixed time.
expect.set_options(timeout=30_000)

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; `make test` installs it on CI")
        pytest.skip(message)
    return path


@dataclass
class LiveServer:
    settings: Settings
    app: FastAPI
    url: str


@pytest.fixture(scope="package")
def page_settings(settings: Settings) -> Settings:
    # A short reel keeps the tests quick; a one-play burst makes a second quick play a 429.
    return with_own_topics(
        settings, "pages", demo=True, reveal_seconds=1.0,
        rate_user_burst=1, rate_user_per_second=0.05,
    )  # fmt: skip


@pytest.fixture(scope="package")
def server(page_settings: Settings) -> Iterator[LiveServer]:
    app = create_app(page_settings)
    with serving(app, name="pages-server") as address:
        yield LiveServer(page_settings, app, f"http://{address}")


@dataclass
class Browser:
    context: BrowserContext
    shots: Path
    errors: list[str] = field(default_factory=list)

    async def open(self, url: str, *, width: int = 1280, height: int = 860) -> Page:
        page = await self.context.new_page()
        await page.set_viewport_size({"width": width, "height": height})
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", self._console)
        await page.goto(url)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        # The browser reports every 4xx answer too; the pages show those themselves.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    async def shot(self, page: Page, name: str) -> Path:
        """A screenshot in the test's tmp dir, and in ``$PAGES_SCREENSHOTS`` if set (to keep
        them, say as CI artifacts: pytest prunes old tmp dirs)."""
        path = self.shots / f"{name}.png"
        await page.screenshot(path=path, full_page=True)
        if keep := os.environ.get("PAGES_SCREENSHOTS"):
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path


@pytest.fixture
async def browser(chromium: str, tmp_path: Path) -> AsyncIterator[Browser]:
    """A fresh Chromium profile per test; the test fails on any script error in a page."""
    async with async_playwright() as driver:
        context = await driver.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        context.set_default_timeout(30_000)
        shots = tmp_path / "screenshots"
        shots.mkdir()
        opened = Browser(context, shots)
        try:
            yield opened
        finally:
            await context.close()
    assert not opened.errors, opened.errors
