"""Listing, reading, changing and deleting campaigns, brands and games."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from frolic.resources import Resources
from tests.admin.conftest import (
    codes,
    csv_of,
    import_csv,
    new_brand,
    new_campaign,
    new_game,
    ok,
    unique,
)


async def all_pages(admin: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = ok(await admin.get(path, params={**params, "after": after}))
        items += page["items"]
        if page["nextAfter"] is None:
            return items
        after = page["nextAfter"]


_FORCED: list[int] = []


async def set_status(res: Resources, game_id: int, status: str) -> None:
    """Lifecycle is another module's job; these tests only need a game in a given state.
    A game made live or paused here has no budget in Redis, a state no API call leaves
    behind: it is ended after the test, so that later tests on the session's database
    (the OpenAPI fuzzer's resume and top-up) do not meet it."""
    _FORCED.append(game_id)
    async with res.db.begin() as conn:
        await conn.execute(
            text("UPDATE games SET status = :s WHERE id = :g"), {"s": status, "g": game_id}
        )


@pytest.fixture(autouse=True)
async def _end_forced_games(res: Resources) -> AsyncIterator[None]:
    yield
    if _FORCED:
        async with res.db.begin() as conn:
            await conn.execute(text("UPDATE games SET status = 'ended' WHERE id = ANY(:g)"),
                               {"g": list(_FORCED)})  # fmt: skip
        _FORCED.clear()


def conflict(response: httpx.Response) -> str:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"] == "Conflict"
    detail: str = body["detail"]
    return detail


# Pages and filters


async def test_pages_walk_every_item_once(admin: httpx.AsyncClient) -> None:
    tag = unique("paged")
    made = [
        ok(await admin.post("/admin/brands", json={"name": f"{tag} {i}"}), 201)["id"]
        for i in range(7)
    ]
    first = ok(await admin.get("/admin/brands", params={"name": tag, "limit": 3}))
    assert [b["id"] for b in first["items"]] == made[:3]
    assert first["nextAfter"] == made[2]
    found = await all_pages(admin, "/admin/brands", name=tag, limit=3)
    assert [b["id"] for b in found] == made
    last = ok(await admin.get("/admin/brands", params={"name": tag, "after": made[-1]}))
    assert last == {"items": [], "nextAfter": None}


async def test_a_name_filter_is_a_substring_not_a_pattern(admin: httpx.AsyncClient) -> None:
    tag = unique("pat")
    plain = ok(await admin.post("/admin/brands", json={"name": f"{tag} 100 off"}), 201)
    ok(await admin.post("/admin/brands", json={"name": f"{tag} 100% off"}), 201)
    found = await all_pages(admin, "/admin/brands", name=f"{tag} 100% OFF")
    assert [b["name"] for b in found] == [f"{tag} 100% off"]
    found = await all_pages(admin, "/admin/brands", name=f"{tag} 1_0")
    assert found == []
    assert plain["name"] in [b["name"] for b in await all_pages(admin, "/admin/brands", name=tag)]


async def test_games_by_campaign_and_status(admin: httpx.AsyncClient, res: Resources) -> None:
    brand = await new_brand(admin)
    first = await new_game(admin, {brand: 3})
    campaign = first["campaignId"]
    body = {**{k: first[k] for k in ("startTime", "endTime")}, "campaignId": campaign}
    body |= {"name": unique("g"), "budgets": [{"brandId": brand, "coupons": 2}]}
    second = ok(await admin.post("/admin/games", json=body), 201)
    await set_status(res, second["id"], "live")
    second = ok(await admin.get(f"/admin/games/{second['id']}"))

    games = await all_pages(admin, "/admin/games", campaignId=campaign)
    assert games == [first, second]  # each as GET /admin/games/{id} shows it
    live = await all_pages(admin, "/admin/games", campaignId=campaign, status="live")
    assert [g["id"] for g in live] == [second["id"]]


async def test_a_listed_game_counts_its_codes_as_its_page_does(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 4})
    other = await new_game(admin, {brand: 4})
    ok(await import_csv(admin, csv_of((brand, c) for c in codes(3))))
    ok(await import_csv(admin, csv_of((brand, c) for c in codes(2)), game["id"]))
    listed = await all_pages(admin, "/admin/games", campaignId=game["campaignId"])
    assert listed[0]["budgets"][0]["availableCodes"] == 3 + 2
    listed = await all_pages(admin, "/admin/games", campaignId=other["campaignId"])
    assert listed[0]["budgets"][0]["availableCodes"] == 3


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"after": -1}, {"after": 2**63}, {"campaignId": 0}],
)
async def test_bad_page_parameters_are_422(
    admin: httpx.AsyncClient, params: dict[str, int]
) -> None:
    response = await admin.get("/admin/games", params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "ValidationFailed"


async def test_a_nul_in_a_filter_is_4xx(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/brands", params={"name": "a\x00b"})
    assert response.status_code in (400, 422), response.text


# Campaigns


async def test_get_patch_and_delete_a_campaign(admin: httpx.AsyncClient) -> None:
    campaign = await new_campaign(admin)
    found = ok(await admin.get(f"/admin/campaigns/{campaign}"))
    changed = ok(
        await admin.patch(
            f"/admin/campaigns/{campaign}",
            json={"description": "Spin!", "endTime": "2100-01-01T00:00:00Z"},
        )
    )
    assert changed == found | {"description": "Spin!", "endTime": "2100-01-01T00:00:00Z"}
    cleared = ok(await admin.patch(f"/admin/campaigns/{campaign}", json={"description": None}))
    assert cleared["description"] is None
    assert ok(await admin.get(f"/admin/campaigns/{campaign}")) == cleared
    response = await admin.delete(f"/admin/campaigns/{campaign}")
    assert response.status_code == 204
    assert (await admin.get(f"/admin/campaigns/{campaign}")).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"name": None},
        {"startTime": None},
        {"endTime": "2000-01-01T00:00:00Z"},  # before the stored start
        {"status": "live"},
        {"name": ""},
    ],
)
async def test_a_bad_campaign_change_is_422(
    admin: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    campaign = await new_campaign(admin)
    before = ok(await admin.get(f"/admin/campaigns/{campaign}"))
    response = await admin.patch(f"/admin/campaigns/{campaign}", json=change)
    assert response.status_code == 422, response.text
    assert ok(await admin.get(f"/admin/campaigns/{campaign}")) == before


async def test_a_campaign_with_games_stays(admin: httpx.AsyncClient) -> None:
    game = await new_game(admin, {await new_brand(admin): 1})
    detail = conflict(await admin.delete(f"/admin/campaigns/{game['campaignId']}"))
    assert "has 1 game" in detail
    ok(await admin.get(f"/admin/campaigns/{game['campaignId']}"))


async def test_unknown_campaigns_brands_and_games_are_404(admin: httpx.AsyncClient) -> None:
    far = 2**63 - 1
    for kind in ("campaigns", "brands", "games"):
        for response in (
            await admin.get(f"/admin/{kind}/{far}"),
            await admin.patch(f"/admin/{kind}/{far}", json={"name": "x"}),
            await admin.delete(f"/admin/{kind}/{far}"),
        ):
            assert response.status_code == 404, (kind, response.text)
            assert response.json()["error"] == "NotFound"


# Brands


async def test_patch_and_delete_a_brand(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    changed = ok(
        await admin.patch(f"/admin/brands/{brand}", json={"logoUrl": "https://x.example/l.png"})
    )
    assert changed["logoUrl"] == "https://x.example/l.png"
    renamed = ok(await admin.patch(f"/admin/brands/{brand}", json={"name": " Acme "}))
    assert renamed == {"id": brand, "name": "Acme", "logoUrl": "https://x.example/l.png"}
    assert (await admin.patch(f"/admin/brands/{brand}", json={"logo": "x"})).status_code == 422
    assert (await admin.delete(f"/admin/brands/{brand}")).status_code == 204
    assert (await admin.get(f"/admin/brands/{brand}")).status_code == 404


async def test_a_brand_with_codes_or_budgets_stays(admin: httpx.AsyncClient) -> None:
    with_codes = await new_brand(admin)
    ok(await import_csv(admin, csv_of((with_codes, c) for c in codes(1))))
    assert "has coupon codes" in conflict(await admin.delete(f"/admin/brands/{with_codes}"))
    budgeted = await new_brand(admin)
    game = await new_game(admin, {budgeted: 1})
    detail = conflict(await admin.delete(f"/admin/brands/{budgeted}"))
    assert f"game {game['id']}" in detail
    ok(await admin.get(f"/admin/brands/{budgeted}"))


# Games


async def test_a_draft_game_changes_anything_and_budgets_are_replaced(
    admin: httpx.AsyncClient,
) -> None:
    a, b = await new_brand(admin), await new_brand(admin)
    game = await new_game(admin, {a: 5})
    campaign = await new_campaign(admin)
    change = {
        "name": "Renamed",
        "campaignId": campaign,
        "startTime": "2099-01-01T00:00:00Z",
        "endTime": "2099-01-02T00:00:00Z",
        "probabilityType": "fixed_odds",
        "odds": 9,
        "slotSeconds": 2,
        "momentsVoid": True,
        "maxPlaysPerDay": 4,
        "cooldownSeconds": 60,
        "budgets": [{"brandId": b, "coupons": 7}, {"brandId": a, "coupons": 1}],
    }
    changed = ok(await admin.patch(f"/admin/games/{game['id']}", json=change))
    assert changed == game | {k: v for k, v in change.items() if k != "budgets"} | {
        "totalBudget": 8,
        "budgets": sorted(
            [
                {"brandId": a, "coupons": 1, "remaining": 1, "availableCodes": 0},
                {"brandId": b, "coupons": 7, "remaining": 7, "availableCodes": 0},
            ],
            key=lambda x: x["brandId"],
        ),
    }
    assert ok(await admin.get(f"/admin/games/{game['id']}")) == changed
    lifted = ok(await admin.patch(f"/admin/games/{game['id']}", json={"maxPlaysPerDay": None}))
    assert lifted["maxPlaysPerDay"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budgets": []}, "budgets"),
        ({"budgets": [{"brandId": 2**63 - 1, "coupons": 1}]}, "brandId"),
        ({"campaignId": 2**63 - 1}, "campaignId"),
        ({"endTime": "2000-01-01T00:00:00Z"}, None),
        ({"probabilityType": "lottery"}, "probabilityType"),
        ({"odds": None}, None),
        ({"status": "live"}, "status"),
    ],
)
async def test_a_bad_game_change_is_422_and_changes_nothing(
    admin: httpx.AsyncClient, change: dict[str, Any], field: str | None
) -> None:
    game = await new_game(admin, {await new_brand(admin): 5})
    response = await admin.patch(f"/admin/games/{game['id']}", json=change)
    assert response.status_code == 422, response.text
    if field is not None:
        assert any(field in e["loc"] for e in response.json()["detail"]), response.text
    assert ok(await admin.get(f"/admin/games/{game['id']}")) == game


@pytest.mark.parametrize("status", ["live", "paused", "ended"])
async def test_a_started_game_keeps_its_window_strategy_and_budgets(
    admin: httpx.AsyncClient, res: Resources, status: str
) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 5})
    await set_status(res, game["id"], status)
    game = ok(await admin.get(f"/admin/games/{game['id']}"))
    for change in (
        {"endTime": "2099-01-01T00:00:00Z"},
        {"probabilityType": "slot"},
        {"odds": 3},
        {"budgets": [{"brandId": brand, "coupons": 50}]},
        {"name": "fine", "slotSeconds": 1},  # one frozen field refuses the whole change
    ):
        detail = conflict(await admin.patch(f"/admin/games/{game['id']}", json=change))
        assert f"is {status}" in detail
        assert "only while it is a draft" in detail
    budgets = {"budgets": [{"brandId": brand, "coupons": 9}]}
    assert "top-up" in conflict(await admin.patch(f"/admin/games/{game['id']}", json=budgets))
    assert ok(await admin.get(f"/admin/games/{game['id']}")) == game
    # What a running game may change: its name, campaign and player limits.
    free = {"name": "Live rename", "maxPlaysPerDay": 3, "cooldownSeconds": 10}
    assert ok(await admin.patch(f"/admin/games/{game['id']}", json=free)) == game | free


async def test_delete_a_draft_game(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 5})
    assert (await admin.delete(f"/admin/games/{game['id']}")).status_code == 204
    assert (await admin.get(f"/admin/games/{game['id']}")).status_code == 404
    # Its budget went with it: the brand is free to go.
    assert (await admin.delete(f"/admin/brands/{brand}")).status_code == 204


async def test_a_started_or_played_game_is_not_deleted(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    game = await new_game(admin, {await new_brand(admin): 5})
    await set_status(res, game["id"], "live")
    assert "only a draft" in conflict(await admin.delete(f"/admin/games/{game['id']}"))
    played = await new_game(admin, {await new_brand(admin): 5})
    async with res.db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO play_events (play_id, user_id, game_id, status, request_time) "
                "VALUES (gen_random_uuid(), 1, :g, 'QUEUED', now())"
            ),
            {"g": played["id"]},
        )
    assert "has plays" in conflict(await admin.delete(f"/admin/games/{played['id']}"))
    ok(await admin.get(f"/admin/games/{played['id']}"))


async def test_reserved_codes_are_released_only_when_asked(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 5})
    reserved = codes(2)
    ok(await import_csv(admin, csv_of((brand, c) for c in reserved), game["id"]))
    detail = conflict(await admin.delete(f"/admin/games/{game['id']}"))
    assert "2 coupon code(s) reserved" in detail
    assert "releaseCodes=true" in detail
    response = await admin.delete(f"/admin/games/{game['id']}", params={"releaseCodes": True})
    assert response.status_code == 204
    async with res.db.connect() as conn:
        owners = await conn.execute(
            text("SELECT game_id FROM coupons WHERE code = ANY(:c)"), {"c": reserved}
        )
        assert [g for (g,) in owners] == [None, None]  # back in the brand's shared codes
