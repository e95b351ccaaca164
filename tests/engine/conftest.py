"""Budget stores under test: the in-memory reference and the real Redis ones."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from frolic.engine.redis_store import LuaStore, OptimisticStore
from frolic.engine.rules import GameRules
from frolic.engine.store import BudgetStore, MemoryStore
from frolic.redis_client import connect
from frolic.stack import Endpoints

_game_ids = itertools.count(1000)


def new_rules(**overrides: object) -> GameRules:
    """A fresh game id each call, so tests sharing one Redis never meet."""
    fields: dict[str, object] = {
        "game_id": next(_game_ids), "start": 0.0, "end": 100.0, "budget": 10,
        "brands": (7, 8), "slot_seconds": 1.0,
    }  # fmt: skip
    fields.update(overrides)
    return GameRules(**fields)  # type: ignore[arg-type]


STORES = ["memory", "lua", "optimistic", "lua-cluster"]


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, endpoints: Endpoints) -> AsyncIterator[BudgetStore]:
    kind = request.param
    if kind == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_cluster_url") if kind == "lua-cluster" else None
    client = connect(url or endpoints.redis_url)
    try:
        yield OptimisticStore(client) if kind == "optimistic" else LuaStore(client)
    finally:
        await client.aclose()
