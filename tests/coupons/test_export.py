"""Exporting issued codes as CSV, by game and by brand, streamed a batch at a time."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from frolic.coupons import service
from frolic.resources import Resources
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok
from tests.coupons.conftest import issue

HEADER = [
    "code", "brand_id", "game_id", "user_external_id", "play_id", "issued_at", "is_used",
    "used_at",
]  # fmt: skip


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == HEADER
    return [dict(zip(HEADER, line, strict=True)) for line in lines[1:]]


async def test_a_games_issued_codes(admin: httpx.AsyncClient, res: Resources) -> None:
    a, b = await new_brand(admin), await new_brand(admin)
    game = (await new_game(admin, {a: 2, b: 1}))["id"]
    other_game = (await new_game(admin, {a: 1}))["id"]
    mine, unissued, elsewhere = codes(3), codes(2), codes(1)
    ok(await import_csv(admin, csv_of([(a, mine[0]), (b, mine[1]), (a, mine[2])])))
    ok(await import_csv(admin, csv_of((a, c) for c in unissued + elsewhere)))
    plays = [await issue(res, code, game, f"p{i}") for i, code in enumerate(mine)]
    await issue(res, elsewhere[0], other_game, "p9")
    used = ok(await admin.post("/admin/coupons/redeem", json={"code": mine[1]}))

    response = await admin.get(f"/admin/games/{game}/coupons.csv")
    assert f"game-{game}-coupons.csv" in response.headers["content-disposition"]
    rows = rows_of(response)
    assert [r["code"] for r in rows] == mine  # in the order they were issued
    assert [r["play_id"] for r in rows] == plays
    assert [r["user_external_id"] for r in rows] == ["p0", "p1", "p2"]
    assert [r["brand_id"] for r in rows] == [str(a), str(b), str(a)]
    assert {r["game_id"] for r in rows} == {str(game)}
    assert [r["is_used"] for r in rows] == ["false", "true", "false"]
    assert [r["used_at"] for r in rows] == ["", used["usedAt"].replace("Z", "+00:00"), ""]
    assert all(r["issued_at"] for r in rows)


async def test_a_brands_issued_codes_across_games(admin: httpx.AsyncClient, res: Resources) -> None:
    brand = await new_brand(admin)
    one, two = (await new_game(admin, {brand: 1}))["id"], (await new_game(admin, {brand: 1}))["id"]
    batch = codes(3)
    ok(await import_csv(admin, csv_of((brand, c) for c in batch)))
    await issue(res, batch[0], two, "u1")
    await issue(res, batch[1], one, "u2")
    rows = rows_of(await admin.get(f"/admin/brands/{brand}/coupons.csv"))
    assert [(r["code"], r["game_id"]) for r in rows] == [(batch[0], str(two)), (batch[1], str(one))]


async def test_nothing_issued_is_a_header(admin: httpx.AsyncClient) -> None:
    game = (await new_game(admin, {await new_brand(admin): 1}))["id"]
    assert rows_of(await admin.get(f"/admin/games/{game}/coupons.csv")) == []


async def test_unknown_game_or_brand_is_404(admin: httpx.AsyncClient) -> None:
    far = 2**63 - 1
    for kind in ("games", "brands"):
        response = await admin.get(f"/admin/{kind}/{far}/coupons.csv")
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"
    assert (await admin.get("/admin/games/0/coupons.csv")).status_code == 422


async def test_rows_stream_a_batch_at_a_time(
    admin: httpx.AsyncClient, res: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export reads the server-side cursor in batches and sends each as it comes."""
    brand = await new_brand(admin)
    game = (await new_game(admin, {brand: 5}))["id"]
    batch = codes(5)
    ok(await import_csv(admin, csv_of((brand, c) for c in batch)))
    for i, code in enumerate(batch):
        await issue(res, code, game, f"s{i}")
    monkeypatch.setattr(service, "EXPORT_BATCH", 2)
    chunks = [c async for c in service.export_csv(res.db, service.export_query(game_id=game))]
    assert len(chunks) == 3  # 2 + 2 + 1 rows, the header with the first
    lines = b"".join(chunks).decode().splitlines()
    assert [line.split(",")[0] for line in lines] == ["code", *batch]
