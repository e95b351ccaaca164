"""The page tests' Chromium, for the dashboard's own page checks."""

from tests.pages.conftest import browser, chromium  # noqa: F401
