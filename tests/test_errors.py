"""One error tree, one renderer: every error the API answers with is a FrolicError, and
every answer (the app's handlers, the framework's own 404/405/422, the raw play ingress)
has the same body and, for 429 and 503 alike, a Retry-After."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from frolic import errors
from frolic.errors import FrolicError, NotReady, RateLimited, render
from frolic.web import install_error_handlers

CASES = [
    (errors.BadRequest("b"), 400),
    (errors.ValidationFailed("v"), 422),
    (errors.Unauthorized("u"), 401),
    (errors.Forbidden("f"), 403),
    (errors.NotFound("n"), 404),
    (errors.MethodNotAllowed("m"), 405),
    (errors.Conflict("c"), 409),
    (errors.PayloadTooLarge("p"), 413),
    (errors.UnsupportedMediaType("t"), 415),
    (errors.InternalError(), 500),
    (errors.HTTPError(418, "h"), 418),
]


@pytest.mark.parametrize(("exc", "status"), CASES)
def test_each_error_renders_its_status_name_and_detail(exc: FrolicError, status: int) -> None:
    assert render(exc) == (status, {"error": type(exc).__name__, "detail": exc.detail}, {})


@pytest.mark.parametrize(
    "exc", [RateLimited("slow", retry_after=2.4), NotReady("down", retry_after=2.4)]
)
def test_429_and_503_both_say_when_to_come_back(exc: FrolicError) -> None:
    status, body, headers = render(exc)
    assert (status, headers) == (exc.status_code, {"Retry-After": "2"})
    assert body == {"error": type(exc).__name__, "detail": exc.detail}


def test_a_retry_after_under_a_second_is_rounded_up_to_one() -> None:
    assert render(NotReady(retry_after=0.01))[2] == {"Retry-After": "1"}


def test_an_error_without_detail_says_what_it_is() -> None:
    assert render(errors.NotFound())[1] == {"error": "NotFound", "detail": "No such thing."}


@pytest.fixture
def client() -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/down")
    async def down() -> None:
        raise NotReady("the database is away", retry_after=3)

    @app.get("/slow")
    async def slow() -> None:
        raise RateLimited("too many", retry_after=5)

    @app.get("/teapot")
    async def teapot() -> None:
        raise StarletteHTTPException(418, "short and stout", headers={"X-Pot": "tea"})

    @app.get("/boom")
    async def boom() -> None:
        raise ZeroDivisionError

    @app.post("/typed")
    async def typed(n: int) -> None:
        return None

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_the_app_answers_503_with_retry_after_as_it_does_429(
    client: httpx.AsyncClient,
) -> None:
    down = await client.get("/down")
    assert (down.status_code, down.headers["Retry-After"]) == (503, "3")
    assert down.json() == {"error": "NotReady", "detail": "the database is away"}
    slow = await client.get("/slow")
    assert (slow.status_code, slow.headers["Retry-After"]) == (429, "5")


async def test_the_frameworks_own_errors_come_out_of_the_tree(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert (missing.status_code, missing.json()["error"]) == (404, "NotFound")
    wrong = await client.delete("/down")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "MethodNotAllowed")
    assert wrong.headers["Allow"] == "GET"
    invalid = await client.post("/typed?n=x")
    assert (invalid.status_code, invalid.json()["error"]) == (422, "ValidationFailed")
    assert invalid.json()["detail"][0]["loc"] == ["query", "n"]


async def test_an_unexpected_error_is_a_500_that_shows_nothing(client: httpx.AsyncClient) -> None:
    boom = await client.get("/boom")
    assert boom.status_code == 500
    assert boom.json() == {
        "error": "InternalError",
        "detail": "unexpected error; it has been logged",
    }


async def test_a_framework_status_outside_the_tree_is_rendered_alike(
    client: httpx.AsyncClient,
) -> None:
    teapot = await client.get("/teapot")
    assert teapot.status_code == 418
    assert teapot.json() == {"error": "HTTPError", "detail": "short and stout"}
    assert teapot.headers["X-Pot"] == "tea"
