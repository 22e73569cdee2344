"""``paramcount serve`` sets TCP_NODELAY itself: uvicorn's --workers path leaves Nagle on (uvicorn#3149)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from paramcount.web.app import create_app
from paramcount.web.server import PROTOCOL
from paramcount.web.settings import Settings


@pytest.mark.parametrize(("http", "expected"), [(PROTOCOL, 1), ("h11", 0)])
def test_connections_get_tcp_nodelay(monkeypatch: pytest.MonkeyPatch, http: str, expected: int) -> None:
    seen: list[int] = []
    original = H11Protocol.connection_made

    def recording(self: H11Protocol, transport: object) -> None:
        connection = transport.get_extra_info("socket")  # type: ignore[attr-defined]
        seen.append(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        original(self, transport)  # type: ignore[arg-type]

    monkeypatch.setattr(H11Protocol, "connection_made", recording)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn's --workers binds it
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app(Settings()), http=http, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/robots.txt"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
    assert seen == [expected]
