"""Importing coupon codes from CSV: fast, and every bad row named by its line."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from frolic.coupons.service import parse_codes
from frolic.errors import BadRequest
from frolic.resources import Resources
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok


async def stored(res: Resources, wanted: list[str]) -> dict[str, tuple[int, int | None]]:
    """code -> (brand_id, game_id) of the stored codes among ``wanted``."""
    async with res.db.connect() as conn:
        rows = await conn.execute(
            text("SELECT code, brand_id, game_id FROM coupons WHERE code = ANY(:codes)"),
            {"codes": wanted},
        )
        return {code: (brand, game) for code, brand, game in rows}


async def test_import_20k_codes(admin: httpx.AsyncClient, res: Resources) -> None:
    a, b = await new_brand(admin), await new_brand(admin)
    batch = codes(20_000)
    body = csv_of((a if i % 2 else b, c) for i, c in enumerate(batch))
    report = ok(await import_csv(admin, body))
    assert report == {
        "imported": 20_000,
        "duplicates": {"count": 0, "inFile": 0, "existing": 0, "codes": []},
        "rejectedCount": 0,
        "rejected": [],
    }
    found = await stored(res, batch)
    assert len(found) == 20_000
    assert found[batch[0]] == (b, None)
    assert found[batch[1]] == (a, None)


async def test_duplicates_are_reported_not_refused(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand = await new_brand(admin)
    old, new = codes(2), codes(3)
    ok(await import_csv(admin, csv_of((brand, c) for c in old)))
    rows = [(brand, new[0]), (brand, old[1]), (brand, new[1]), (brand, new[0])]
    rows += [(brand, new[2]), (brand, old[0])]
    report = ok(await import_csv(admin, csv_of(rows)))
    assert report["imported"] == 3
    # Lines 3 (stored before), 5 (earlier in the file) and 7 (stored before), in file order.
    assert report["duplicates"] == {
        "count": 3,
        "inFile": 1,
        "existing": 2,
        "codes": [old[1], new[0], old[0]],
    }
    assert report["rejected"] == []
    assert set(await stored(res, new)) == set(new)


async def test_malformed_rows_are_rejected_by_line_and_the_rest_imported(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand = await new_brand(admin)
    good = codes(4)
    body = "\n".join(
        [
            "brand_id,code",  # 1
            f"{brand},{good[0]}",  # 2
            f"{brand},{good[1]},extra",  # 3: three fields
            f"acme,{good[1]}",  # 4: not an integer
            f"{brand},",  # 5: no code
            "",  # 6: blank, skipped
            f"{brand},{'x' * 256}",  # 7: too long
            f"{2**63 - 1},{good[1]}",  # 8: no such brand
            f"{2**63},{good[1]}",  # 9: not a BIGINT
            f"-{brand},{good[1]}",  # 10: negative
            f"{brand}",  # 11: one field
            f' {brand} , "{good[1]}" ',  # 12: fine, blanks stripped
            f"{brand},{good[2]}{'y' * (255 - len(good[2]))}",  # 13: 255 characters is fine
            f'{brand},"{good[3]}\n{brand},SWALLOWED"',  # 14-15: an unclosed quote's code
            f"{brand},{good[2]}",  # 16: fine
        ]
    )
    report = ok(await import_csv(admin, body.encode()))
    assert report["rejected"] == [
        {"line": 3, "reason": "expected 2 fields (brand_id,code), found 3"},
        {"line": 4, "reason": "brand_id 'acme' is not a brand id (a positive integer)"},
        {"line": 5, "reason": "the code is empty"},
        {"line": 7, "reason": "the code is longer than 255 characters"},
        {"line": 8, "reason": f"no brand {2**63 - 1}"},
        {"line": 9, "reason": f"brand_id '{2**63}' is not a brand id (a positive integer)"},
        {"line": 10, "reason": f"brand_id '-{brand}' is not a brand id (a positive integer)"},
        {"line": 11, "reason": "expected 2 fields (brand_id,code), found 1"},
        {
            "line": 14,
            "reason": "the code holds a control character (a line break: an unclosed quote?)",
        },
    ]
    assert report["rejectedCount"] == 9
    assert report["imported"] == 4
    assert set(await stored(res, [good[0], good[1], good[2]])) == {good[0], good[1], good[2]}


async def test_reports_list_the_first_100_and_count_all(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    batch = codes(150)
    ok(await import_csv(admin, csv_of((brand, c) for c in batch)))
    rows = [(brand, c) for c in batch] + [("x", c) for c in batch]
    report = ok(await import_csv(admin, csv_of(rows)))
    assert report["imported"] == 0
    assert report["duplicates"]["count"] == 150
    assert report["duplicates"]["codes"] == batch[:100]
    assert report["rejectedCount"] == 150
    assert [r["line"] for r in report["rejected"]] == list(range(152, 252))


async def test_codes_can_be_reserved_for_a_game(admin: httpx.AsyncClient, res: Resources) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 2})
    batch = codes(2)
    ok(await import_csv(admin, csv_of((brand, c) for c in batch), game["id"]))
    assert await stored(res, batch) == {c: (brand, game["id"]) for c in batch}


async def test_reserving_for_an_unknown_game_is_422(admin: httpx.AsyncClient) -> None:
    response = await import_csv(admin, csv_of([(1, "c")]), 2**63 - 1)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "gameId"]
    assert (await import_csv(admin, csv_of([(1, "c")]), 0)).status_code == 422


async def test_a_bom_crlf_and_a_capitalised_header_are_fine(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    batch = codes(2)
    body = f"\ufeffBrand_ID, Code\r\n{brand},{batch[0]}\r\n{brand},{batch[1]}\r\n".encode()
    assert ok(await import_csv(admin, body))["imported"] == 2


async def test_nothing_to_import_is_fine(admin: httpx.AsyncClient) -> None:
    report = ok(await import_csv(admin, b"brand_id,code\n"))
    assert report["imported"] == 0
    report = ok(await import_csv(admin, b"brand_id,code\nx,y\n"))
    assert report["rejectedCount"] == 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "the file is empty; it must start with the header brand_id,code"),
        (b"\n\n", "the file is empty; it must start with the header brand_id,code"),
        (b"code,brand_id\n1,A\n", "the first line must be the header brand_id,code; it is "),
        (b"1,ABC\n", "the first line must be the header brand_id,code; it is '1,ABC'"),
        (b'{"codes": ["A"]}', "the first line must be the header brand_id,code; it is "),
        (b"brand_id,code\n1,\xff\xfe\n", "the file is not UTF-8 text (bad byte at offset 16)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "the file is not UTF-8 text (bad byte at offset 0)"),
    ],
)
async def test_a_file_that_is_not_a_codes_csv_is_400(
    admin: httpx.AsyncClient, body: bytes, detail: str
) -> None:
    response = await import_csv(admin, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "BadRequest"
    assert response.json()["detail"].startswith(detail)


async def test_the_body_must_be_sent_as_csv(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/admin/coupons/import", json={"codes": ["A"]})
    assert response.status_code == 400
    assert response.json() == {
        "error": "BadRequest",
        "detail": "send the codes as a CSV file (Content-Type: text/csv), not application/json",
    }


def test_parse_codes_keeps_line_numbers_across_quoted_line_breaks() -> None:
    parsed = parse_codes('brand_id,code\n1,A\n"2\n",B\n3,C\n\n4,"D"\n')
    assert parsed.rows == [(2, 1, "A"), (3, 2, "B"), (5, 3, "C"), (7, 4, "D")]
    assert parsed.rejected == []


def test_parse_codes_goes_on_after_an_oversized_field() -> None:
    parsed = parse_codes("brand_id,code\n1," + "x" * 200_000 + "\n1,B\n")
    assert parsed.rows == [(3, 1, "B")]
    assert [line for line, _ in parsed.rejected] == [2]
    with pytest.raises(BadRequest, match="header"):
        parse_codes("brand_id;code\n1;A\n")


async def test_concurrent_imports_of_the_same_codes_store_each_once(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand = await new_brand(admin)
    batch = codes(500)
    body = csv_of((brand, c) for c in batch)
    reports = [ok(r) for r in await asyncio.gather(*(import_csv(admin, body) for _ in range(3)))]
    assert sum(r["imported"] for r in reports) == 500
    assert sum(r["duplicates"]["existing"] for r in reports) == 1000
    assert len(await stored(res, batch)) == 500


async def test_a_file_over_the_size_limit_is_413(
    admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("frolic.coupons.endpoints.MAX_IMPORT_BYTES", 64)
    body = "brand_id,code\n" + "".join(f"1,CODE-{i}\n" for i in range(20))
    response = await admin.post(
        "/admin/coupons/import", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
