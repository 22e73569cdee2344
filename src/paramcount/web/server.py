"""uvicorn's HTTP protocol with ``TCP_NODELAY`` set on every connection.

With ``--workers N`` (N > 1) uvicorn binds the listening socket itself with ``proto`` left at 0, accepted
sockets inherit it, and asyncio then skips ``TCP_NODELAY``: every keep-alive request after the first waits
for the client's delayed ACK, about 40 ms on Linux (Kludex/uvicorn#3149, open at uvicorn 0.54; measured
here: 44 ms per request with 2 workers against 9 ms with 1). ``paramcount serve`` passes this protocol to
uvicorn (``http="paramcount.web.server:NoDelayH11Protocol"``), which sets the option on each accepted TCP
socket before handing it to uvicorn's own h11 protocol. Imported only when the web extra is installed.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["PROTOCOL", "NoDelayH11Protocol"]

PROTOCOL = "paramcount.web.server:NoDelayH11Protocol"
"""The import string uvicorn's ``http`` setting takes."""


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        connection = transport.get_extra_info("socket")
        if connection is not None and connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
