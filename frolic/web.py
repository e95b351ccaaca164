"""What every HTTP endpoint shares: its dependencies, the one error renderer and the
OpenAPI description of what it renders, and the limit on request bodies."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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
