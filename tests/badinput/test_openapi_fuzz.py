"""Every operation of ``/openapi.json``, fuzzed by schemathesis against the served app.

The app runs under uvicorn (so ``POST /play`` goes through its plain-ASGI ingress, not
only the documented route) on the session's real stack, with a live game, brands, codes,
a player and a play seeded, so that ids in paths hit stored rows part of the time. Each
case carries the right token for its operation, except a few that carry none, a bad one
or the other role's. Every answer must be no 5xx, a documented status, the documented
content type and a body that matches the documented schema.

``FUZZ_EXAMPLES`` sets the examples per operation (default 12, a CI-sized run);
the draws are derandomized so a run repeats exactly.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok
from tests.support.factories import with_own_topics
from tests.support.serving import serving

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
Case = schemathesis.Case[Any]
PLAYER = f"fuzz-{uuid.uuid4().hex[:8]}"
# The operations, from the app's own document; the served one is checked to match below.
OPERATIONS = [
    (method.upper(), path)
    for path, operations in create_app(Settings()).openapi()["paths"].items()
    for method in operations
]


@st.composite
def coupon_files(draw: st.DrawFn) -> bytes:
    """CSV-ish bodies: a header or not, rows of any shape, odd bytes now and then."""
    brand = st.one_of(st.integers(-3, 2**70).map(str), st.text(max_size=5))
    code = st.text(max_size=30)
    rows = draw(st.lists(st.lists(st.one_of(brand, code), max_size=4), max_size=6))
    header = draw(st.sampled_from(["brand_id,code\n", "", "code,brand_id\n"]))
    text = header + "".join(",".join(row) + draw(st.sampled_from(["\n", "\r\n"])) for row in rows)
    return text.encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"", b"\xff\xfe"]))


schemathesis.openapi.media_type("text/csv", coupon_files())


@dataclass
class Seed:
    """Stored rows the fuzzer's ids are swapped for, and the tokens it calls with."""

    admin_token: str
    player_token: str
    live_game: int
    brand: int
    ids: dict[str, Sequence[int | str]] = field(default_factory=dict)  # path parameter -> ids


@pytest.fixture(scope="module")
def fuzz_settings(settings: Settings) -> Settings:
    # Rate limits out of the way (429 is documented, but a fuzzer held at 429 tests
    # nothing else); the demo on, so that /demo/session runs its real code.
    return with_own_topics(
        settings, "fuzz", demo=True, rate_user_per_second=10_000.0, rate_user_burst=10_000
    )


@pytest.fixture(scope="module")
def base_url(fuzz_settings: Settings) -> Iterator[str]:
    app = create_app(fuzz_settings, roles=("api",))
    with serving(app, name="fuzz-api") as address:
        yield f"http://{address}"


@pytest.fixture(scope="module")
async def seed(base_url: str, fuzz_settings: Settings) -> Seed:
    assert fuzz_settings.admin_token is not None
    admin_token = fuzz_settings.admin_token.get_secret_value()
    player_token = mint_player_token(fuzz_settings, PLAYER)
    admin_headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=admin_headers) as admin:
        brands = [await new_brand(admin), await new_brand(admin)]
        live = await new_game(admin, {brands[0]: 3, brands[1]: 2})
        for brand in brands:
            ok(await import_csv(admin, csv_of((brand, c) for c in codes(5)), live["id"]))
        ok(await admin.post(f"/admin/games/{live['id']}/start"))
        draft = await new_game(admin, {brands[0]: 1})
        play = ok(
            await admin.post(
                "/play", json={"gameId": live["id"]},
                headers={"Authorization": f"Bearer {player_token}"},
            ),
            202,
        )  # fmt: skip
        user = await _user_id(admin, PLAYER)
    return Seed(
        admin_token, player_token, live["id"], brands[0],
        ids={
            "game_id": [live["id"], draft["id"]],
            "campaign_id": [live["campaignId"], draft["campaignId"]],
            "brand_id": brands,
            "user_id": [user],
            "play_id": [play["playId"]],
        },
    )  # fmt: skip


async def _user_id(admin: httpx.AsyncClient, external_id: str) -> int:
    """The player's id once the play writer has stored them."""
    for _ in range(100):
        page = ok(await admin.get("/admin/users", params={"externalId": external_id}))
        if page["items"]:
            user: int = page["items"][0]["id"]
            return user
        await asyncio.sleep(0.05)
    raise AssertionError(f"player {external_id} was never stored")


@pytest.fixture(scope="module")
def api_schema(base_url: str, seed: Seed) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def _fingerprint(case: Case) -> int:
    """A number drawn from the case itself, so the choices below repeat with the case."""
    drawn = repr((case.path_parameters, case.query, case.headers, case.body))
    return zlib.crc32(drawn.encode("utf-8", "surrogatepass"))


def _with_stored_ids(case: Case, seed: Seed, pick: int) -> None:
    """Swap the generated ids for stored ones, and aim a play at the live game."""
    for name in case.path_parameters or {}:
        if name in seed.ids:
            stored = seed.ids[name]
            case.path_parameters[name] = stored[pick % len(stored)]
    if case.path == "/play" and isinstance(case.body, dict) and "gameId" in case.body:
        case.body["gameId"] = seed.live_game
    if case.path == "/admin/coupons/import":
        case.body = csv_of([(seed.brand, f"FUZZ-{pick}-{uuid.uuid4().hex[:6]}")])


def _authorize(case: Case, seed: Seed, variant: int) -> None:
    """The operation's own token mostly; now and then none, a bad one or the other role's."""
    headers = case.headers
    headers.pop("Authorization", None)  # any case: the dict's keys ignore it
    admin = case.path.startswith("/admin")
    own, other = (
        (seed.admin_token, seed.player_token) if admin else (seed.player_token, seed.admin_token)
    )
    if variant == 1:
        headers["Authorization"] = "Bearer not-a-token"
    elif variant == 2:
        headers["Authorization"] = f"Bearer {other}"
    elif variant != 0:
        headers["Authorization"] = f"Bearer {own}"


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_answers_as_documented(
    method: str, path: str, api_schema: schemathesis.BaseSchema, base_url: str, seed: Seed
) -> None:
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: Case) -> None:
        fingerprint = _fingerprint(case)
        if fingerprint % 2:
            _with_stored_ids(case, seed, fingerprint >> 8)
        _authorize(case, seed, (fingerprint >> 4) % 10)
        case.call_and_validate(base_url=base_url, checks=CHECKS)

    answers_as_documented()


def test_the_served_schema_is_the_one_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
    served = {(op.method.upper(), op.path) for op in operations}
    assert served == set(OPERATIONS)
