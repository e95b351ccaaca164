"""uvicorn's HTTP protocol, without the cycle it leaves behind at each WebSocket upgrade.

uvicorn's httptools protocol and its parser refer to each other (the parser calls the
protocol's bound methods), and uvicorn breaks that at ``connection_lost``. A connection
upgraded to a WebSocket hands its transport over to a WebSocket protocol, so the HTTP
protocol never hears ``connection_lost``: it, its parser and the transport it holds stay
cyclic garbage (~25 objects a socket) until a full collection finds them, long after the
socket is gone. Dropping the parser once the upgrade is done lets reference counting free
them with the socket.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HttpProtocol(HttpToolsProtocol):
    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        self.parser = None  # type: ignore[assignment]  # as uvicorn's connection_lost does
