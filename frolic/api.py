"""What every admin domain's endpoints share: the transaction an endpoint opens, the
parameters of a list, and the answers every admin route may give. The admin token is
checked where the routes are mounted (``frolic.admin.routes``).

Each endpoint opens one transaction, lets its domain's service work in it, and commits
before it answers: a 2xx means the change is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.errors import BadRequest, Conflict
from frolic.resources import Resources
from frolic.schemas import BIGINT_MAX, Storable
from frolic.web import resources

Res = Annotated[Resources, Depends(resources)]
PathId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
After = Annotated[
    int, Query(ge=0, le=BIGINT_MAX, description="The nextAfter of the previous page.")
]
NameFilter = Annotated[
    Storable | None,
    Query(min_length=1, max_length=255, description="Part of the name, any case."),
]
StatusFilter = Annotated[Storable | None, Query(min_length=1, max_length=50)]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong admin token"},
    403: {"description": "a player's token"},
    422: {"description": "the body or a parameter is not valid"},
}


def responses_of(thing: str) -> dict[int | str, dict[str, Any]]:
    """The answers of a route about one ``thing``: the admin ones and its 404."""
    return {**AUTH_RESPONSES, 404: {"description": f"no such {thing}"}}


@asynccontextmanager
async def transaction(res: Resources) -> AsyncIterator[AsyncSession]:
    """One session and transaction: committed when the block ends, rolled back on error.

    Validation catches bad input before the database does; should the database still refuse
    a change (a row that vanished under us), the client gets a 4xx and not a 500.
    """
    try:
        async with AsyncSession(res.db, expire_on_commit=False) as session, session.begin():
            yield session
    except IntegrityError as e:
        raise Conflict(f"the change conflicts with stored data ({_constraint(e)})") from None
    except DataError:
        raise BadRequest("a value is out of range for the database") from None


def _constraint(e: IntegrityError) -> str:
    name = getattr(getattr(e.orig, "__cause__", None), "constraint_name", None)
    return f"constraint {name}" if name else "integrity"
