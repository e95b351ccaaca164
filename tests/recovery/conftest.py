"""A stack of the recovery tests' own: they flush and restart its Redis, which would pull
the ground from under every other test on the session's stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from frolic.config import Settings
from frolic.db import migrate
from frolic.stack import Stack


@dataclass(frozen=True)
class OwnStack:
    stack: Stack
    settings: Settings


@pytest.fixture(scope="package")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    state: Path = tmp_path_factory.mktemp("recovery-stack")
    base = Settings(state_dir=state)
    stack = Stack(base)
    with stack as endpoints:
        migrate.upgrade(endpoints.database_url)
        yield OwnStack(stack, endpoints.apply(base).with_local_secrets())
