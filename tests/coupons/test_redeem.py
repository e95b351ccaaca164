"""Validating and redeeming a coupon code: once, and only a code someone won."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from frolic.resources import Resources
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok
from tests.coupons.conftest import issue


async def won_code(admin: httpx.AsyncClient, res: Resources) -> tuple[str, int, int, str]:
    """(code, brand, game, play id) of a code a player has won."""
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 1})
    [code] = codes(1)
    ok(await import_csv(admin, csv_of([(brand, code)])))
    play = await issue(res, code, game["id"], "winner-1")
    return code, brand, game["id"], play


async def test_validate_tells_what_a_code_is(admin: httpx.AsyncClient, res: Resources) -> None:
    code, brand, game, play = await won_code(admin, res)
    state = ok(await admin.get("/admin/coupons/validate", params={"code": code}))
    assert state == {
        "code": code,
        "brandId": brand,
        "gameId": game,
        "status": "issued",
        "issuedAt": state["issuedAt"],
        "playId": play,
        "userExternalId": "winner-1",
        "isUsed": False,
        "usedAt": None,
    }
    assert state["issuedAt"] is not None
    # Validating changes nothing.
    assert ok(await admin.get("/admin/coupons/validate", params={"code": code})) == state


async def test_an_unissued_code_validates_but_cannot_be_redeemed(
    admin: httpx.AsyncClient,
) -> None:
    brand = await new_brand(admin)
    [code] = codes(1)
    ok(await import_csv(admin, csv_of([(brand, code)])))
    state = ok(await admin.get("/admin/coupons/validate", params={"code": code}))
    assert state["status"] == "unissued"
    assert state["gameId"] is None
    assert state["playId"] is None
    response = await admin.post("/admin/coupons/redeem", json={"code": code})
    assert response.status_code == 409
    assert "has not been won" in response.json()["detail"]
    assert ok(await admin.get("/admin/coupons/validate", params={"code": code})) == state


async def test_redeem_once(admin: httpx.AsyncClient, res: Resources) -> None:
    code, *_ = await won_code(admin, res)
    used = ok(await admin.post("/admin/coupons/redeem", json={"code": f"  {code} "}))
    assert used["status"] == "used"
    assert used["isUsed"] is True
    used_at = datetime.fromisoformat(used["usedAt"])
    assert used_at >= datetime.fromisoformat(used["issuedAt"])
    assert ok(await admin.get("/admin/coupons/validate", params={"code": code})) == used

    again = await admin.post("/admin/coupons/redeem", json={"code": code})
    assert again.status_code == 409
    assert again.json() == {
        "error": "Conflict",
        "detail": f"coupon code {code!r} was already used at {used_at.isoformat()}",
    }


async def test_many_redeems_of_one_code_at_once_one_wins(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    code, *_ = await won_code(admin, res)
    answers = await asyncio.gather(
        *(admin.post("/admin/coupons/redeem", json={"code": code}) for _ in range(16))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 15, [a.text for a in answers if a.status_code != 409]
    winner = next(a for a in answers if a.status_code == 200).json()
    state = ok(await admin.get("/admin/coupons/validate", params={"code": code}))
    assert state["usedAt"] == winner["usedAt"]


async def test_an_unknown_code_is_404(admin: httpx.AsyncClient) -> None:
    [code] = codes(1)
    for response in (
        await admin.get("/admin/coupons/validate", params={"code": code}),
        await admin.post("/admin/coupons/redeem", json={"code": code}),
    ):
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": f"no coupon code {code!r}"}


async def test_a_code_with_slashes_and_quotes(admin: httpx.AsyncClient, res: Resources) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 1})
    code = f'{codes(1)[0]}/a?b#c"d'
    body = b"brand_id,code\n" + f'{brand},"{code.replace(chr(34), chr(34) * 2)}"\n'.encode()
    assert ok(await import_csv(admin, body))["imported"] == 1
    await issue(res, code, game["id"], "winner-2")
    assert ok(await admin.get("/admin/coupons/validate", params={"code": code}))["code"] == code
    assert ok(await admin.post("/admin/coupons/redeem", json={"code": code}))["isUsed"] is True


@pytest.mark.parametrize("code", ["", "   ", "a\x00b", "line\nbreak", "x" * 256])
async def test_a_code_that_cannot_exist_is_422(admin: httpx.AsyncClient, code: str) -> None:
    for response in (
        await admin.get("/admin/coupons/validate", params={"code": code}),
        await admin.post("/admin/coupons/redeem", json={"code": code}),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "ValidationFailed"


async def test_redeem_takes_only_a_code(admin: httpx.AsyncClient) -> None:
    for body in ({}, {"code": 5}, {"code": "x", "usedAt": "2026-01-01T00:00:00Z"}):
        response = await admin.post("/admin/coupons/redeem", json=body)
        assert response.status_code == 422, response.text
