"""Coupon codes: importing them from CSV, what a code's state is, redeeming it once, and
exporting the codes a game or a brand has issued.

A code goes unissued -> issued (the recorder locks it to a winning play,
``repository.issue``) -> used (redeemed here). Each step is one conditional UPDATE, so two
racing requests cannot both take it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from frolic.brands import repository as brands
from frolic.coupons import repository
from frolic.coupons.schemas import (
    CONTROL,
    CouponImport,
    CouponState,
    Duplicates,
    Rejection,
)
from frolic.db.models import Coupon, Game, User
from frolic.errors import BadRequest, Conflict, NotFound
from frolic.schemas import BIGINT_MAX, invalid

EXPORT_COLUMNS = [
    "code", "brand_id", "game_id", "user_external_id", "play_id", "issued_at", "is_used",
    "used_at",
]  # fmt: skip
EXPORT_BATCH = 5000  # rows fetched from the server-side cursor at a time
REPORT_LIMIT = 100  # duplicates and rejections listed in an import's answer
CODE_MAX = 255  # coupons.code is VARCHAR(255)


def _described(*columns: Any) -> Select[Any]:
    """``columns`` of codes, with who won each code (the play is the code's own
    ``play_id``, kept after the play's day is dropped by retention)."""
    return select(*columns).select_from(Coupon).outerjoin(User, User.id == Coupon.issued_to)


_STATE = _described(
    Coupon.code, Coupon.brand_id, Coupon.game_id, Coupon.issued_at, Coupon.is_used,
    Coupon.used_at, Coupon.play_id, User.external_id,
)  # fmt: skip


def _state(row: Any) -> CouponState:
    used = bool(row.is_used)
    return CouponState(
        code=row.code,
        brand_id=row.brand_id,
        game_id=row.game_id,
        status="used" if used else "issued" if row.issued_at is not None else "unissued",
        issued_at=row.issued_at,
        play_id=str(row.play_id) if row.play_id is not None else None,
        user_external_id=row.external_id,
        is_used=used,
        used_at=row.used_at,
    )


async def validate(session: AsyncSession, code: str) -> CouponState:
    row = (await session.execute(_STATE.where(Coupon.code == code))).one_or_none()
    if row is None:
        raise NotFound(f"no coupon code {code!r}")
    return _state(row)


_REDEEM = (
    update(Coupon)
    .where(Coupon.issued_at.is_not(None), Coupon.is_used.is_not(True))
    .values(is_used=True, used_at=func.now(), updated_at=func.now())
    .returning(Coupon.id)
)


async def redeem(session: AsyncSession, code: str) -> CouponState:
    """Mark an issued code used. Only one of any number of concurrent redeems of a code
    gets a row back from the UPDATE; the others find it used (409)."""
    redeemed = await session.scalar(_REDEEM.where(Coupon.code == code))
    state = await validate(session, code)
    if redeemed is not None:
        return state
    if state.status == "used":
        assert state.used_at is not None
        raise Conflict(f"coupon code {code!r} was already used at {state.used_at.isoformat()}")
    # Unissued when the UPDATE looked. Should it have been issued since, say so all the
    # same: the client asks again, and a second look is cheaper than a subtle answer.
    raise Conflict(f"coupon code {code!r} has not been won by anyone; it cannot be redeemed")


def export_query(*, game_id: int | None = None, brand_id: int | None = None) -> Select[Any]:
    """The issued codes of a game or of a brand, by issue order."""
    query = _described(
        Coupon.code, Coupon.brand_id, Coupon.game_id, User.external_id, Coupon.play_id,
        Coupon.issued_at, Coupon.is_used, Coupon.used_at,
    ).where(Coupon.issued_at.is_not(None))  # fmt: skip
    if game_id is not None:
        query = query.where(Coupon.game_id == game_id)
    if brand_id is not None:
        query = query.where(Coupon.brand_id == brand_id)
    return query.order_by(Coupon.issued_at, Coupon.id)


async def export_csv(db: AsyncEngine, query: Select[Any]) -> AsyncIterator[bytes]:
    """The rows of ``query`` as CSV with a header, read through a server-side cursor a
    batch at a time, so that a million codes never sit in memory together."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    async with db.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for rows in result.partitions():
            # csv writes None as an empty field: no winner, no play, not used.
            writer.writerows(
                (code, brand, game, user, play, _iso(issued), "true" if used else "false",
                 _iso(used_at))
                for code, brand, game, user, play, issued, used, used_at in rows
            )  # fmt: skip
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue().encode()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# Importing

_BRAND_ID = re.compile(r"[0-9]{1,19}")
HEADER = ["brand_id", "code"]


@dataclass
class ParsedCodes:
    """The rows of a codes file that are well formed, and why the others are not."""

    rows: list[tuple[int, int, str]] = field(default_factory=list)  # (line, brand_id, code)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def decode_csv(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadRequest(f"the file is not UTF-8 text (bad byte at offset {e.start})") from None


def parse_codes(text: str) -> ParsedCodes:
    """Rows of ``brand_id,code`` after the header; a bad row is rejected with its line
    number (1-based, the header's line is 1) and does not stop the rest.

    Blank lines are skipped; cells are stripped of surrounding blanks. A file that has no
    ``brand_id,code`` header is refused whole (``BadRequest``): it is not a codes file.
    """
    parsed = ParsedCodes()
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header_seen = False
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            if not header_seen:
                raise BadRequest(f"line {line} is not CSV: {e}") from None
            parsed.rejected.append((line, f"not CSV: {e}"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if not header_seen:
            if [cell.strip().lower() for cell in row] != HEADER:
                raise BadRequest(
                    f"the first line must be the header brand_id,code; it is {_excerpt(row)}"
                )
            header_seen = True
            continue
        reason = _row_fault(row)
        if reason is None:
            parsed.rows.append((line, int(row[0].strip()), row[1].strip()))
        else:
            parsed.rejected.append((line, reason))
    if not header_seen:
        raise BadRequest("the file is empty; it must start with the header brand_id,code")
    return parsed


def _row_fault(row: list[str]) -> str | None:
    if len(row) != 2:
        return f"expected 2 fields (brand_id,code), found {len(row)}"
    brand, code = row[0].strip(), row[1].strip()
    if not _BRAND_ID.fullmatch(brand) or not 0 < int(brand) <= BIGINT_MAX:
        return f"brand_id {_excerpt([brand])} is not a brand id (a positive integer)"
    if not code:
        return "the code is empty"
    if len(code) > CODE_MAX:
        return f"the code is longer than {CODE_MAX} characters"
    if CONTROL.search(code):
        return "the code holds a control character (a line break: an unclosed quote?)"
    return None


def _excerpt(cells: list[str]) -> str:
    shown = ",".join(cells)
    return repr(shown if len(shown) <= 40 else shown[:40] + "...")


async def import_coupons(session: AsyncSession, body: bytes, game_id: int | None) -> CouponImport:
    """Store the codes of a ``brand_id,code`` file; with ``game_id``, reserve them for it.

    Codes go to a temporary table by COPY and from there to ``coupons`` in one INSERT. A
    code already stored, or seen earlier in the file, is a duplicate: counted and listed,
    not an error. The INSERT takes codes in one fixed order (sorted), so that concurrent
    imports of overlapping files wait on each other instead of deadlocking.

    Parsing a million rows takes a couple of seconds of CPU: it runs in a thread, so that
    the plays this process serves meanwhile are not held up behind it.
    """
    if game_id is not None and await session.get(Game, game_id) is None:
        raise invalid(["query", "gameId"], f"no game {game_id}")
    parsed = await asyncio.to_thread(lambda: parse_codes(decode_csv(body)))
    known = await brands.known(session, {brand for _, brand, _ in parsed.rows})
    sorted_out = await asyncio.to_thread(_sort_out, parsed, known)
    imported, existing = await repository.insert(
        session, sorted_out.unique, game_id, listed=REPORT_LIMIT
    )
    in_file = sorted_out.in_file
    listed = sorted([*in_file[:REPORT_LIMIT], *existing])[:REPORT_LIMIT]
    rejected = sorted_out.rejected
    return CouponImport(
        imported=imported,
        duplicates=Duplicates(
            count=len(in_file) + len(sorted_out.unique) - imported,
            in_file=len(in_file),
            existing=len(sorted_out.unique) - imported,
            codes=[code for _, code in listed],
        ),
        rejected_count=len(rejected),
        rejected=[Rejection(line=line, reason=why) for line, why in rejected[:REPORT_LIMIT]],
    )


@dataclass
class _SortedOut:
    unique: list[tuple[int, int, str]]  # (line, brand_id, code), each code once
    in_file: list[tuple[int, str]]  # (line, code) of codes seen earlier in the file
    rejected: list[tuple[int, str]]  # (line, reason), by line


def _sort_out(parsed: ParsedCodes, known: set[int]) -> _SortedOut:
    out = _SortedOut([], [], list(parsed.rejected))
    seen: set[str] = set()
    for line, brand, code in parsed.rows:
        if brand not in known:
            out.rejected.append((line, f"no brand {brand}"))
        elif code in seen:
            out.in_file.append((line, code))
        else:
            seen.add(code)
            out.unique.append((line, brand, code))
    out.rejected.sort()
    return out
