"""The ingest benchmark's baseline: a bare FastAPI + pydantic ``POST /play`` that does no
work and answers the same JSON as Frolic's, on uvicorn configured as ``frolic serve``
configures it. ``python -m frolic_bench.hello --port P`` serves it."""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Literal

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class PlayRequest(BaseModel):
    gameId: int


class PlayAccepted(BaseModel):
    playId: str
    status: Literal["QUEUED"] = "QUEUED"
    revealAt: float


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/play", status_code=202)
    async def play(body: PlayRequest) -> PlayAccepted:
        return PlayAccepted(playId=str(uuid.uuid4()), revealAt=time.time() + 10)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    # The options frolic.serve gives uvicorn, so the two servers differ only in the app.
    config = uvicorn.Config(
        create_app(), host="127.0.0.1", port=port, log_level="warning", log_config=None,
        timeout_graceful_shutdown=15, access_log=False, ws_max_size=65_536,
    )  # fmt: skip
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
