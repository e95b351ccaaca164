"""The demo's campaign: two brands, their codes, and one live paced game, set up through the
public admin API exactly as an operator would (DESIGN.md §7)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEMO_GAME = "Frolic demo · spin the wheel"
BRANDS = (("Aurora Coffee", 2 / 3), ("Lumen Books", 1 / 3))  # name, share of the budget
CODES_PER_COUPON = 10  # codes imported per coupon of budget: plenty to spare
REUSE_MIN_SECONDS = 300  # a demo game with less time left than this is not reused


class AdminError(RuntimeError):
    """The admin API refused a step of the set-up."""


@dataclass(frozen=True)
class Admin:
    """A tiny client of ``/admin``: the demo needs no HTTP library beyond the standard one."""

    base_url: str
    token: str

    def call(self, method: str, path: str, body: Any = None, *, csv: bytes | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if csv is not None:
            data, headers["Content-Type"] = csv, "text/csv"
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as e:
            raise AdminError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None


@dataclass(frozen=True)
class DemoGame:
    id: int
    end: float  # epoch seconds


def find_or_seed(admin: Admin, *, minutes: float, budget: int) -> tuple[DemoGame, bool]:
    """The running demo game if one has a while to go, else a new one; and whether it is new.

    Re-running ``frolic demo`` on the same state dir so picks up where the last run left.
    """
    board = admin.call("GET", "/admin/dashboard")
    for game in board["games"]:
        end = datetime.fromisoformat(game["endTime"]).timestamp()
        left = sum(b["remaining"] for b in game["brands"])
        if (
            game["name"] == DEMO_GAME
            and game["phase"] == "running"
            and end - board["now"] > REUSE_MIN_SECONDS
            and left > 0
        ):
            return DemoGame(game["id"], end), False
    return seed(admin, minutes=minutes, budget=budget), True


def seed(admin: Admin, *, minutes: float, budget: int) -> DemoGame:
    now = datetime.now(UTC)
    start, end = now - timedelta(seconds=5), now + timedelta(minutes=minutes)
    campaign = admin.call("POST", "/admin/campaigns", {
        "name": "Frolic demo", "description": "Seeded by `frolic demo`.",
        "startTime": start.isoformat(), "endTime": (end + timedelta(days=1)).isoformat(),
    })  # fmt: skip
    budgets = [
        {"brandId": admin.call("POST", "/admin/brands", {"name": name})["id"],
         "coupons": max(1, round(budget * share))}
        for name, share in BRANDS
    ]  # fmt: skip
    # The last brand takes what is left, so the budgets add up to ``budget`` exactly.
    budgets[-1]["coupons"] = max(1, budget - sum(b["coupons"] for b in budgets[:-1]))
    rows = ["brand_id,code"]
    for b, (name, _) in zip(budgets, BRANDS, strict=True):
        prefix = name.split()[0].upper()
        rows += (
            f"{b['brandId']},{prefix}-{secrets.token_hex(5).upper()}"
            for _ in range(b["coupons"] * CODES_PER_COUPON)
        )
    game = admin.call("POST", "/admin/games", {
        "name": DEMO_GAME, "campaignId": campaign["id"], "startTime": start.isoformat(),
        "endTime": end.isoformat(), "probabilityType": "paced", "slotSeconds": 5,
        "budgets": budgets,
    })  # fmt: skip
    admin.call("POST", f"/admin/coupons/import?gameId={game['id']}", csv="\n".join(rows).encode())
    admin.call("POST", f"/admin/games/{game['id']}/start")
    return DemoGame(game["id"], end.timestamp())
