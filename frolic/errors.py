"""Every error Frolic raises on purpose, in one tree.

    FrolicError                 500, the base; ``detail`` is safe to show a client
    ├── BadRequest              400
    │   └── ValidationFailed    422, a body or query that does not parse
    ├── Unauthorized            401, missing or bad credentials
    ├── Forbidden               403, credentials fine, not allowed
    ├── NotFound                404
    ├── Conflict                409
    ├── PayloadTooLarge         413
    ├── RateLimited             429, carries ``retry_after`` seconds
    ├── NotReady                503, a dependency is down; carries ``retry_after`` seconds
    └── StackError              a server of the embedded stack would not start (CLI only)

One handler (``frolic.app``) renders each as ``{"error": "<ClassName>", "detail": ...}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FrolicError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail)
        self.detail: Any = detail if detail is not None else self.__class__.__doc__


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


class Conflict(FrolicError):
    """The request conflicts with the current state."""

    status_code = 409


class PayloadTooLarge(FrolicError):
    """The request body is larger than this endpoint accepts."""

    status_code = 413


class RateLimited(FrolicError):
    """Too many requests."""

    status_code = 429

    def __init__(self, detail: Any = None, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotReady(FrolicError):
    """A dependency is not available."""

    status_code = 503

    def __init__(self, detail: Any = None, *, retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StackError(FrolicError):
    """An embedded server could not be started; ``detail`` names it and the way out."""
