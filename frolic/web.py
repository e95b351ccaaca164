"""What every HTTP endpoint shares: its dependencies, the one error renderer and the
OpenAPI description of what it renders, the limit on request bodies; and for the admin
domains' endpoints, the transaction each opens, the parameters of a list and the answers
every admin route may give. The admin token is checked where the routes are mounted
(``frolic.admin.routes``).

An admin endpoint opens one transaction, lets its domain's service work in it, and commits
before it answers: a 2xx means the change is stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frolic.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    FrolicError,
    HTTPError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    render,
)
from frolic.resources import Resources
from frolic.schemas import BIGINT_MAX, Storable

log = logging.getLogger(__name__)

_BY_STATUS: dict[int, type[FrolicError]] = {
    cls.status_code: cls
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict,
                PayloadTooLarge, UnsupportedMediaType, NotReady)
}  # fmt: skip


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def error_response(exc: FrolicError) -> JSONResponse:
    """``exc`` answered as ``frolic.errors.render`` says."""
    status, body, headers = render(exc)
    return JSONResponse(body, status_code=status, headers=headers)


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str = Field(description="The error's name: NotFound, Conflict, ValidationFailed...")
    detail: Any = Field(
        description="What went wrong; for ValidationFailed a list of {loc, msg, type}."
    )


def install_error_handlers(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(FrolicError)
    async def frolic_error(request: Request, exc: FrolicError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return error_response(ValidationFailed(detail))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error_response(refused(exc))
        response.headers.update(exc.headers or {})  # e.g. a 405's Allow
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(InternalError())


def refused(exc: StarletteHTTPException) -> FrolicError:
    """The framework's own refusal (unknown route, method, unparsable body, ``BodyLimit``'s
    413) as the tree's error of the same status, or ``HTTPError`` under its own status."""
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's answer to a JSON body that is not UTF-8; not JSON, like any other.
        detail = [{"loc": ["body"], "msg": "the body is not UTF-8", "type": "json_invalid"}]
        return ValidationFailed(detail)
    known = _BY_STATUS.get(exc.status_code)
    return known(exc.detail) if known is not None else HTTPError(exc.status_code, exc.detail)


def _document_errors(app: FastAPI) -> None:
    """Give every error answer in ``/openapi.json`` the body the handlers above render.

    Routes list the statuses they answer with and what each means for them; this adds the
    one any route with a body can give (413, ``BodyLimit``) and replaces FastAPI's own 422
    shape, which is not what a client receives.
    """
    generate = app.openapi
    ref = {"$ref": "#/components/schemas/ErrorBody"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema()
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                responses = operation["responses"]
                if "requestBody" in operation:
                    responses.setdefault("413", {"description": "the body is too large"})
                for status, response in responses.items():
                    if status.startswith(("4", "5")):
                        response["content"] = {"application/json": {"schema": ref}}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, before more of it is read.

    A declared Content-Length over the limit is refused at once; a body sent in chunks is
    counted as the app reads it. Paths in ``exempt`` read and limit their own body.
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        too_big = f"the body is larger than {self.limit} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await error_response(PayloadTooLarge(too_big))(scope, receive, send)
                return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > self.limit:
                # An HTTPException, so that FastAPI's body parsing lets it through to the
                # handler above rather than calling the body unparsable (400).
                raise StarletteHTTPException(413, too_big)
            return message

        await self.app(scope, counted, send)


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
