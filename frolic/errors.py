"""Every error the API answers with, in one tree, and the one function that renders it.

    FrolicError                     500, the base; ``detail`` is safe to show a client
    ├── InternalError               500, anything unexpected (logged, never detailed)
    ├── BadRequest                  400
    │   └── ValidationFailed        422, a body or query that does not parse
    ├── Unauthorized                401, missing or bad credentials
    ├── Forbidden                   403, credentials fine, not allowed
    ├── NotFound                    404, no such thing, or no such route
    ├── MethodNotAllowed            405
    ├── Conflict                    409
    ├── PayloadTooLarge             413
    ├── UnsupportedMediaType        415
    ├── RateLimited                 429, carries ``retry_after`` seconds
    ├── NotReady                    503, a dependency is down; carries ``retry_after`` seconds
    ├── HTTPError                   any other status the web framework refuses a request with
    └── StackError                  a server of the embedded stack would not start (CLI only)

``render(exc)`` gives the status, the body ``{"error": "<ClassName>", "detail": ...}`` and the
headers (``Retry-After`` wherever the error carries ``retry_after``: 429 and 503 alike). The
FastAPI app (``frolic.web``) and the raw play ingress (``frolic.play.ingress``) both answer
with it; the framework's own errors (a route that does not exist, a body that does not
parse) are turned into these first.

Not in the tree, on purpose: signals between the engine's parts that never reach a client
(``GameLost``: a game Redis lost, which the allocator rebuilds before deciding; the recorder's
``_Overdrawn``, which rolls its transaction back), and the demo client's ``AdminError``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FrolicError(Exception):
    status_code: ClassVar[int] = 500
    retry_after: float | None = None
    """Seconds a client should wait before trying again, where that is known."""

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail)
        self.detail: Any = detail if detail is not None else self.__class__.__doc__


def render(exc: FrolicError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``exc`` as an HTTP answer: status, body and headers."""
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return exc.status_code, {"error": type(exc).__name__, "detail": exc.detail}, headers


class InternalError(FrolicError):
    """unexpected error; it has been logged"""


class BadRequest(FrolicError):
    """The request is malformed."""

    status_code = 400


class ValidationFailed(BadRequest):
    """The request does not match the schema."""

    status_code = 422


class Unauthorized(FrolicError):
    """Missing or invalid credentials."""

    status_code = 401


class Forbidden(FrolicError):
    """Not allowed."""

    status_code = 403


class NotFound(FrolicError):
    """No such thing."""

    status_code = 404


class MethodNotAllowed(FrolicError):
    """This path does not take this method."""

    status_code = 405


class Conflict(FrolicError):
    """The request conflicts with the current state."""

    status_code = 409


class PayloadTooLarge(FrolicError):
    """The request body is larger than this endpoint accepts."""

    status_code = 413


class UnsupportedMediaType(FrolicError):
    """The body is not of a type this endpoint takes."""

    status_code = 415


class RateLimited(FrolicError):
    """Too many requests."""

    status_code = 429
    retry_after: float

    def __init__(self, detail: Any = None, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotReady(FrolicError):
    """A dependency is not available."""

    status_code = 503
    retry_after: float

    def __init__(self, detail: Any = None, *, retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class HTTPError(FrolicError):
    """The web framework refused the request with a status the tree has no class for."""

    def __init__(self, status_code: int, detail: Any = None) -> None:
        super().__init__(detail)
        self.status_code = status_code  # type: ignore[misc]


class StackError(FrolicError):
    """An embedded server could not be started; ``detail`` names it and the way out."""
