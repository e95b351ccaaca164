"""Coupon files with malformed rows. The documented behaviour (``POST /admin/coupons/import``):
a bad row is rejected by its line number with the reason, a repeated or stored code is
counted as a duplicate, the rest are stored; a file that is not a ``brand_id,code`` CSV
at all is a 400 naming the problem, and then nothing of it is stored."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from frolic.config import Settings
from frolic.resources import Resources
from tests.admin.conftest import admin_app, client_of, codes, import_csv, new_brand, ok


@pytest.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = admin_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def admin(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    assert settings.admin_token is not None
    async with client_of(app, settings.admin_token.get_secret_value()) as client:
        yield client


@pytest.fixture(scope="module")
async def brand(admin: httpx.AsyncClient) -> int:
    return await new_brand(admin)


async def stored(app: FastAPI, wanted: list[str]) -> dict[str, int]:
    """code -> brand_id, of the codes among ``wanted`` that are stored."""
    res: Resources = app.state.resources
    async with res.db.connect() as conn:
        query = text("SELECT code, brand_id FROM coupons WHERE code = ANY(:c)")
        return {code: b for code, b in await conn.execute(query, {"c": wanted})}


def rejected(report: dict[str, Any]) -> dict[int, str]:
    return {r["line"]: r["reason"] for r in report["rejected"]}


async def test_each_malformed_row_is_named_by_line_and_the_good_ones_stored(
    admin: httpx.AsyncClient, app: FastAPI, brand: int
) -> None:
    good = codes(3)
    lines = [
        "brand_id,code",  # 1
        f"{brand},{good[0]}",  # 2
        f"{brand}",  # 3: one field
        f"{brand},X,Y",  # 4: three fields
        f"{brand}.0,X",  # 5: not an integer
        f"-{brand},X",  # 6: negative
        "\uff11,X",  # 7: a full-width digit is not one
        f"{9 * 10**18},X",  # 8: no such brand
        f"{brand},",  # 9: empty code
        f'{brand},"   "',  # 10: blank code
        f"{brand},{'x' * 256}",  # 11: too long
        f'{brand},"A\x00B"',  # 12: a NUL
        f'{brand},"{good[1]},with comma"',  # 13: quoted, with a comma: fine
        f" {brand} , {good[2]} ",  # 14: blanks around cells: fine
        f"{brand},{good[0]}",  # 15: repeated in the file
    ]
    report = ok(await import_csv(admin, ("\r\n".join(lines) + "\r\n").encode()))
    reasons = rejected(report)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    for line, words in [(3, "2 fields"), (4, "found 3"), (5, "brand_id"), (7, "brand_id"),
                        (8, "no brand"), (9, "empty"), (10, "empty"), (11, "longer"),
                        (12, "control")]:  # fmt: skip
        assert words in reasons[line], (line, reasons[line])
    assert report["imported"] == 3
    assert report["duplicates"]["inFile"] == 1
    wanted = [good[0], f"{good[1]},with comma", good[2]]
    assert await stored(app, wanted) == dict.fromkeys(wanted, brand)


async def test_codes_already_stored_are_counted_not_stored_twice(
    admin: httpx.AsyncClient, brand: int
) -> None:
    old = codes(2)
    ok(await import_csv(admin, _file([(brand, c) for c in old])))
    again = ok(await import_csv(admin, _file([(brand, old[0]), (brand, old[1])])))
    assert again["imported"] == 0
    assert again["duplicates"]["existing"] == 2


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"1,CODE\n", "header"),
        (b"code,brand_id\n1,CODE\n", "header"),
        (b"brand_id,code,extra\n1,CODE,x\n", "header"),
        (b'"brand_id,code\n', "header"),
    ],
    ids=["empty", "blank", "no-header", "swapped-header", "extra-column", "open-quote"],
)
async def test_a_file_that_is_not_a_codes_csv_is_400(
    admin: httpx.AsyncClient, body: bytes, words: str
) -> None:
    response = await import_csv(admin, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "BadRequest"
    assert words in response.json()["detail"]


@pytest.mark.parametrize(
    "tail", [b"\xff\xfe", b"\xc3", "é".encode("latin-1"), b"\xed\xa0\x80"],
    ids=["bom16", "cut", "latin1", "surrogate"],
)  # fmt: skip
async def test_bytes_that_are_not_utf8_refuse_the_whole_file(
    admin: httpx.AsyncClient, app: FastAPI, brand: int, tail: bytes
) -> None:
    good = codes(3)
    body = _file([(brand, c) for c in good]) + f"{brand},BAD-".encode() + tail + b"\n"
    response = await import_csv(admin, body)
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.json()["detail"]
    assert await stored(app, good) == {}  # nothing of the file before the bad bytes


async def test_a_bom_crlf_and_a_header_only_file_are_fine(
    admin: httpx.AsyncClient, app: FastAPI, brand: int
) -> None:
    code = codes(1)[0]
    body = "\ufeffBrand_ID,Code\r\n" + f"{brand},{code}\r\n"
    assert ok(await import_csv(admin, body.encode()))["imported"] == 1
    assert ok(await import_csv(admin, b"brand_id,code\n"))["imported"] == 0


def _file(rows: Iterable[Sequence[object]], *, newline: str = "\n", bom: bool = False) -> bytes:
    """A codes file as ``csv`` writes it: fields quoted where they need it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(["brand_id", "code"])
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


# A row the parser must take (a brand that exists, a code it may store) or one it must
# reject; codes come from a small pool so that repeats happen.
_CODE_CHARS = st.sampled_from('ABZaz09-_.,"é€ ')
_BAD_ROWS = st.sampled_from([
    ("{brand}",), ("{brand}", "X", "Y"), ("x{brand}", "X"), ("", "X"), ("0", "X"),
    ("99999999999999999999", "X"), ("{brand}", ""), ("{brand}", "x" * 256),
    ("{brand}", "A\nB"), ("{brand}", "A\tB"),
])  # fmt: skip


@st.composite
def coupon_files(draw: st.DrawFn) -> tuple[list[tuple[str, ...]], list[bool]]:
    pool = [
        draw(st.text(_CODE_CHARS, min_size=1, max_size=12).map(str.strip).filter(bool))
        for _ in range(4)
    ]
    rows: list[tuple[str, ...]] = []
    good: list[bool] = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            rows.append(("{brand}", draw(st.sampled_from(pool))))
            good.append(True)
        else:
            rows.append(draw(_BAD_ROWS))
            good.append(False)
    return rows, good


@given(
    file=coupon_files(),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
@settings(
    max_examples=25, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
async def test_any_mix_of_rows_is_accounted_for_line_by_line(
    admin: httpx.AsyncClient,
    app: FastAPI,
    brand: int,
    file: tuple[list[tuple[str, ...]], list[bool]],
    newline: str,
    bom: bool,
) -> None:
    rows, good = file
    tag = uuid.uuid4().hex[:8]  # codes of this example only
    cells = [
        tuple(c.replace("{brand}", str(brand)) + (f"-{tag}" if i == 1 and c else "")
              for i, c in enumerate(row))
        for row in rows
    ]  # fmt: skip
    report = ok(await import_csv(admin, _file(cells, newline=newline, bom=bom)))
    starts, line = [], 2  # a quoted line break makes a row span two lines
    for row in cells:
        starts.append(line)
        line += 1 + sum(c.count("\n") for c in row)
    bad_lines = {start for start, fine in zip(starts, good, strict=True) if not fine}
    assert set(rejected(report)) == bad_lines
    assert report["rejectedCount"] == len(bad_lines)
    unique = {row[1] for row, fine in zip(cells, good, strict=True) if fine}
    assert report["imported"] == len(unique)
    assert report["duplicates"]["inFile"] == sum(good) - len(unique)
    assert report["imported"] + report["duplicates"]["count"] + len(bad_lines) == len(rows)
    assert await stored(app, sorted(unique)) == dict.fromkeys(unique, brand)
