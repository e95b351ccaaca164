"""No secret reaches a log line or an error body: a real ``frolic serve`` (every role) at
DEBUG, JSON lines, a database URL with a password, driven through admin calls, plays, a
socket with ``?token=``, bad and expired tokens, failing calls and a broken handshake.

The embedded PostgreSQL trusts local connections (``initdb --auth=trust``), so the
password in the URL is never checked by the server: it is still in the URL the process
holds, which is what must not be logged.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import orjson
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from frolic.config import Settings
from frolic.monitoring.logs import JsonFormatter, RedactSecrets
from frolic.stack.process import free_port
from frolic_bench.importer import codes_file
from tests.support.factories import with_own_topics

DB_PASSWORD = "pw-" + uuid.uuid4().hex
JWT_SECRET = "jwt-" + uuid.uuid4().hex + uuid.uuid4().hex
ADMIN_TOKEN = "adm-" + uuid.uuid4().hex


def _env(settings: Settings, state: Path) -> dict[str, str]:
    assert settings.database_url
    assert settings.redis_url
    assert settings.kafka_bootstrap
    url = make_url(settings.database_url).set(password=DB_PASSWORD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FROLIC_")}
    return env | {
        "FROLIC_STATE_DIR": str(state),
        "FROLIC_DATABASE_URL": url.render_as_string(hide_password=False),
        "FROLIC_REDIS_URL": settings.redis_url, "FROLIC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "FROLIC_PLAY_TOPIC": settings.play_topic, "FROLIC_RESULT_TOPIC": settings.result_topic,
        "FROLIC_FINAL_TOPIC": settings.final_topic, "FROLIC_REVEAL_SECONDS": "1",
        "FROLIC_JWT_SECRET": JWT_SECRET, "FROLIC_ADMIN_TOKEN": ADMIN_TOKEN,
        "FROLIC_LOG_LEVEL": "DEBUG", "FROLIC_LOG_FORMAT": "json",
    }  # fmt: skip


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)


def _token(sub: str, *, exp_in: int) -> str:
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + exp_in, "scope": "player"}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _broken_handshake(port: int, token: str) -> None:
    """An upgrade with no Sec-WebSocket-Key: the server refuses it, the query in hand."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(
            f"GET /ws?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        raw.recv(4096)


async def _result(ws: ClientConnection) -> dict[str, object]:
    """The next result frame; a "pending" one comes first if the play is late."""
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame["type"] == "result":
            return dict(frame)


async def _drive(base: str, port: int, secrets: list[str]) -> list[str]:
    """The flow; returns every error body it saw, and adds the secrets it made."""
    bodies: list[str] = []
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    now = datetime.now(UTC)
    window = {"startTime": (now - timedelta(minutes=1)).isoformat(),
              "endTime": (now + timedelta(hours=1)).isoformat()}  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
            answer = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
            if not answer.is_success:  # the owner's own view rightly holds their code
                bodies.append(answer.text)
            return answer

        brand = await call("POST", "/admin/brands", json={"name": f"s-{tag}"}, headers=admin)
        brand_id = brand.json()["id"]
        campaign = await call("POST", "/admin/campaigns", json={"name": f"s-{tag}", **window},
                              headers=admin)  # fmt: skip
        await call("POST", "/admin/coupons/import", content=codes_file(brand_id, tag, 0, 5),
                   headers={**admin, "Content-Type": "text/csv"})  # fmt: skip
        game = await call("POST", "/admin/games", headers=admin, json={
            "name": f"s-{tag}", "campaignId": campaign.json()["id"], **window,
            "probabilityType": "fixed_odds", "odds": 1,
            "budgets": [{"brandId": brand_id, "coupons": 5}]})  # fmt: skip
        game_id = game.json()["id"]
        assert (await call("POST", f"/admin/games/{game_id}/start", headers=admin)).is_success

        player = _token("secret-player", exp_in=600)
        secrets.append(player)
        async with connect(f"ws://127.0.0.1:{port}/ws?token={player}") as ws:
            played = await call("POST", "/play", json={"gameId": game_id},
                                headers={"Authorization": f"Bearer {player}"})  # fmt: skip
            assert played.status_code == 202, played.text
            reveal = await _result(ws)
            assert reveal["couponCode"], reveal  # a win: odds of 1
            # The code is the winner's to see, not the operator's log's.
            secrets.append(str(reveal["couponCode"]))
        await call("GET", f"/plays/{played.json()['playId']}",
                   headers={"Authorization": f"Bearer {player}"})  # fmt: skip

        expired = _token("expired-player", exp_in=-60)
        forged = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "wrong-" + JWT_SECRET,
                            algorithm="HS256")  # fmt: skip
        near_admin = ADMIN_TOKEN[:-1] + ("x" if ADMIN_TOKEN[-1] != "x" else "y")
        secrets += [expired, forged]
        for bad in (expired, forged, near_admin, "garbage"):
            headers = {"Authorization": f"Bearer {bad}"}
            await call("POST", "/play", json={"gameId": game_id}, headers=headers)
            await call("GET", "/admin/games", headers=headers)
            await call("GET", f"/plays/{uuid.uuid4()}", headers=headers)
            async with connect(f"ws://127.0.0.1:{port}/ws?token={bad}") as ws:
                await ws.wait_closed()
        # Failing admin calls: a conflict, a bad body, a missing thing, a bad CSV.
        await call("POST", f"/admin/games/{game_id}/start", headers=admin)
        await call("POST", "/admin/games", headers=admin, json={"name": 1})
        await call("GET", "/admin/games/999999999", headers=admin)
        await call("POST", "/admin/coupons/import", content=b"\x00not,a\ncsv,,,\n",
                   headers={**admin, "Content-Type": "text/csv"})  # fmt: skip
        await call("POST", "/play", content=b"{not json", headers={"Authorization": player})
        await asyncio.to_thread(_broken_handshake, port, player)
    return bodies


def test_no_secret_reaches_a_log_line_or_an_error_body(settings: Settings, tmp_path: Path) -> None:
    mine = with_own_topics(settings, "secrets")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    secrets = [JWT_SECRET, ADMIN_TOKEN, DB_PASSWORD]
    with log.open("wb") as out:
        # stdout and stderr both go to the file: whatever the process writes is checked.
        proc = subprocess.Popen(
            [sys.executable, "-m", "frolic.cli", "serve", "--port", str(port)],
            env=_env(mine, tmp_path), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_ready(proc, base, log)
            bodies = asyncio.run(_drive(base, port, secrets))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert text.count("\n") > 50, text  # DEBUG really was on: plenty was logged
    assert "[redacted]" in text  # the socket's ?token= was logged, blanked out
    for secret in secrets:
        assert secret not in text, f"a secret in the log: ...{secret[-8:]}"
        for body in bodies:
            assert secret not in body, body


def test_a_traceback_and_a_frame_are_redacted_too() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter("api"))
    log = logging.getLogger("tests.security.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError("upstream refused Authorization: Bearer abc.def.ghi")
        except ValueError:
            log.error("call failed", exc_info=True)
        log.error("> TEXT %s [%d bytes]", repr('{"couponCode":"CODE-123"}'), 26)
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "abc.def" not in text
    assert "CODE-123" not in text
    assert "Bearer [redacted]" in text
    assert "> TEXT [redacted] [26 bytes]" in text
