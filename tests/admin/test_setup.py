"""Campaigns, brands and games with per-brand budgets."""

from __future__ import annotations

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
    window,
)


def assert_invalid(response: httpx.Response, field: str | None = None) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "ValidationFailed"
    detail: list[dict[str, Any]] = body["detail"]
    assert all({"loc", "msg", "type"} <= set(e) for e in detail)
    if field is not None:
        assert any(field in e["loc"] for e in detail), detail
    return detail


# Campaigns


async def test_create_a_campaign(admin: httpx.AsyncClient) -> None:
    body = {
        "name": "Spring",
        "description": "Spin to win",
        "startTime": "2026-03-01T00:00:00Z",
        "endTime": "2026-03-31T00:00:00+02:00",
    }
    campaign = ok(await admin.post("/admin/campaigns", json=body), 201)
    assert campaign == {
        "id": campaign["id"],
        "name": "Spring",
        "description": "Spin to win",
        "startTime": "2026-03-01T00:00:00Z",
        "endTime": "2026-03-30T22:00:00Z",
        "status": "draft",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endTime": "2026-03-01T00:00:00Z"}, None),  # ends when it starts
        ({"endTime": "2026-02-01T00:00:00Z"}, None),  # ends before it starts
        ({"startTime": "2026-03-01T00:00:00"}, "startTime"),  # no time zone
        ({"startTime": "yesterday"}, "startTime"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "nul\x00"}, "name"),
        ({"name": None}, "name"),
        ({"status": "live"}, "status"),  # not a field of a new campaign
    ],
)
async def test_a_bad_campaign_is_422(
    admin: httpx.AsyncClient, change: dict[str, Any], field: str | None
) -> None:
    body = {"name": "Spring", "startTime": "2026-03-01T00:00:00Z"}
    body |= {"endTime": "2026-03-31T00:00:00Z"} | change
    assert_invalid(await admin.post("/admin/campaigns", json=body), field)


async def test_a_lone_surrogate_is_422(admin: httpx.AsyncClient) -> None:
    """JSON may escape one; PostgreSQL (UTF-8) cannot store it."""
    body = b'{"name": "\\ud800", "startTime": "2026-03-01T00:00:00Z", '
    body += b'"endTime": "2026-03-31T00:00:00Z"}'
    response = await admin.post(
        "/admin/campaigns", content=body, headers={"Content-Type": "application/json"}
    )
    assert_invalid(response, "name")


async def test_a_body_that_is_not_json_is_422(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/admin/campaigns", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_invalid(response)


# Brands


async def test_create_a_brand(admin: httpx.AsyncClient) -> None:
    body = {"name": "Acme", "logoUrl": "https://example.com/acme.png"}
    brand = ok(await admin.post("/admin/brands", json=body), 201)
    assert brand == {"id": brand["id"], **body}
    plain = ok(await admin.post("/admin/brands", json={"name": " Plain "}), 201)
    assert plain == {"id": plain["id"], "name": "Plain", "logoUrl": None}


async def test_a_bad_brand_is_422(admin: httpx.AsyncClient) -> None:
    assert_invalid(await admin.post("/admin/brands", json={}), "name")
    assert_invalid(await admin.post("/admin/brands", json={"name": "A", "logo": "x"}), "logo")


# Games


async def test_create_a_game_with_budgets(admin: httpx.AsyncClient) -> None:
    a, b = await new_brand(admin), await new_brand(admin)
    campaign = await new_campaign(admin)
    body = {
        "name": "Wheel",
        "campaignId": campaign,
        "startTime": "2026-03-01T10:00:00Z",
        "endTime": "2026-03-01T12:00:00Z",
        "probabilityType": "winning_moments",
        "budgets": [{"brandId": a, "coupons": 300}, {"brandId": b, "coupons": 0}],
    }
    game = ok(await admin.post("/admin/games", json=body), 201)
    assert game == {
        "id": game["id"],
        "campaignId": campaign,
        "name": "Wheel",
        "startTime": "2026-03-01T10:00:00Z",
        "endTime": "2026-03-01T12:00:00Z",
        "probabilityType": "winning_moments",
        "status": "draft",
        "totalBudget": 300,
        "slotSeconds": 5,
        "odds": 100,
        "momentsVoid": False,
        "maxPlaysPerDay": None,
        "cooldownSeconds": 0,
        "budgets": sorted(
            [
                {"brandId": a, "coupons": 300, "remaining": 300, "availableCodes": 0},
                {"brandId": b, "coupons": 0, "remaining": 0, "availableCodes": 0},
            ],
            key=lambda x: x["brandId"],
        ),
    }
    assert ok(await admin.get(f"/admin/games/{game['id']}")) == game


async def test_a_game_takes_its_engine_settings_and_player_limits(
    admin: httpx.AsyncClient,
) -> None:
    brand = await new_brand(admin)
    settings = {
        "slotSeconds": 1,
        "odds": 7,
        "momentsVoid": True,
        "maxPlaysPerDay": 3,
        "cooldownSeconds": 30,
    }
    game = await new_game(admin, {brand: 5}, probabilityType="fixed_odds", **settings)
    assert {k: game[k] for k in settings} == settings
    assert game["probabilityType"] == "fixed_odds"


async def test_a_game_needs_a_known_campaign_and_known_brands(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    campaign = await new_campaign(admin)
    body = {"name": "g", "campaignId": 2**63 - 1, **window(), "budgets": []}
    body["budgets"] = [{"brandId": brand, "coupons": 1}]
    detail = assert_invalid(await admin.post("/admin/games", json=body), "campaignId")
    assert detail[0]["msg"] == f"no campaign {2**63 - 1}"
    body |= {"campaignId": campaign}
    body["budgets"] = [{"brandId": brand, "coupons": 1}, {"brandId": 2**63 - 1, "coupons": 1}]
    detail = assert_invalid(await admin.post("/admin/games", json=body), "brandId")
    assert detail[0]["loc"] == ["body", "budgets", 1, "brandId"]
    assert detail[0]["msg"] == f"no brand {2**63 - 1}"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budgets": []}, "budgets"),
        ({"budgets": [{"brandId": 1, "coupons": -1}]}, "coupons"),
        ({"budgets": [{"brandId": 1, "coupons": 1.5}]}, "coupons"),
        ({"budgets": [{"brandId": 1, "coupons": 2**31}]}, "coupons"),
        ({"budgets": [{"brandId": 2**63, "coupons": 1}]}, "brandId"),
        ({"budgets": [{"brandId": 1}]}, "coupons"),
        ({"campaignId": 2**63}, "campaignId"),
        ({"campaignId": 0}, "campaignId"),
        ({"probabilityType": "lottery"}, "probabilityType"),
        ({"slotSeconds": 0}, "slotSeconds"),
        ({"slotSeconds": 6}, "slotSeconds"),
        ({"odds": 0}, "odds"),
        ({"maxPlaysPerDay": 0}, "maxPlaysPerDay"),
        ({"cooldownSeconds": -1}, "cooldownSeconds"),
        ({"endTime": "2020-01-01T00:00:00Z"}, None),
        ({"startTime": "0001-01-01T00:00:00+05:00"}, "startTime"),
        ({"name": ""}, "name"),
    ],
)
async def test_a_bad_game_is_422(
    admin: httpx.AsyncClient, change: dict[str, Any], field: str | None
) -> None:
    body = {"name": "g", "campaignId": 1, **window(), "budgets": [{"brandId": 1, "coupons": 1}]}
    assert_invalid(await admin.post("/admin/games", json=body | change), field)


async def test_one_budget_per_brand(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    budgets = [{"brandId": brand, "coupons": 1}, {"brandId": brand, "coupons": 2}]
    body = {"name": "g", "campaignId": 1, **window(), "budgets": budgets}
    detail = assert_invalid(await admin.post("/admin/games", json=body))
    assert f"repeated brandId: [{brand}]" in detail[0]["msg"]


async def test_the_budgets_must_fit_the_total(admin: httpx.AsyncClient) -> None:
    budgets = [{"brandId": b, "coupons": 2**31 - 1} for b in (1, 2)]
    body = {"name": "g", "campaignId": 1, **window(), "budgets": budgets}
    assert (
        "add up to more than"
        in assert_invalid(await admin.post("/admin/games", json=body))[0]["msg"]
    )


async def test_get_an_unknown_game(admin: httpx.AsyncClient) -> None:
    response = await admin.get(f"/admin/games/{2**63 - 1}")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": f"no game {2**63 - 1}"}
    assert_invalid(await admin.get("/admin/games/abc"))
    assert_invalid(await admin.get(f"/admin/games/{2**63}"))
    assert_invalid(await admin.get("/admin/games/0"))


async def test_available_codes_are_the_unissued_shared_and_reserved_ones(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand, other_brand = await new_brand(admin), await new_brand(admin)
    game = await new_game(admin, {brand: 10})
    other_game = await new_game(admin, {brand: 10})
    shared, reserved, elsewhere, foreign = codes(5), codes(3), codes(4), codes(6)
    ok(await import_csv(admin, csv_of((brand, c) for c in shared)))
    ok(await import_csv(admin, csv_of((brand, c) for c in reserved), game["id"]))
    ok(await import_csv(admin, csv_of((brand, c) for c in elsewhere), other_game["id"]))
    ok(await import_csv(admin, csv_of((other_brand, c) for c in foreign)))
    async with res.db.begin() as conn:
        await conn.execute(
            text("UPDATE coupons SET issued_at = now() WHERE code = ANY(:codes)"),
            {"codes": [shared[0], reserved[0]]},
        )
    view = ok(await admin.get(f"/admin/games/{game['id']}"))
    assert view["budgets"] == [
        {"brandId": brand, "coupons": 10, "remaining": 10, "availableCodes": 4 + 2}
    ]
    view = ok(await admin.get(f"/admin/games/{other_game['id']}"))
    assert view["budgets"][0]["availableCodes"] == 4 + 4


async def test_names_are_free_text(admin: httpx.AsyncClient) -> None:
    name = unique("Café «ünïcödé» 🎡")
    assert ok(await admin.post("/admin/brands", json={"name": name}), 201)["name"] == name
