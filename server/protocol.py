"""uvicorn's HTTP/1.1 protocol with a read deadline: a request whose line, headers and body have not
all arrived within REQUEST_READ_SECONDS of its first byte (or of the connection, for a connection
that sends nothing) is closed. uvicorn itself times out only idle kept-alive connections, so a
client that sends half a request would hold its connection, and a place under the connection
limit, for ever.

A response that the client does not take is given up too: when the connection's write buffer has
stayed full for SEND_SECONDS (a reader that never reads), the connection is aborted.

A request that gives both Content-Length and Transfer-Encoding gets a JSON 400 and its connection
is closed (RFC 9112 §6.3): the two lengths could hide a second request in the body.

Beyond the connection limit (uvicorn's `limit_concurrency`) the request gets the same JSON 503 as
the app's own request queue, with Retry-After and the security headers, instead of uvicorn's
plain-text one; the connection is then closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from jbqa.server.middleware import SecurityHeaders, busy_response

REQUEST_READ_SECONDS = 5.0
SEND_SECONDS = 5.0
TWO_LENGTHS_DETAIL = "a request may not give both Content-Length and Transfer-Encoding"
_REQUEST_READ = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)  # the client's side of a cycle is over


class DeadlineH11Protocol(H11Protocol):
    read_seconds = REQUEST_READ_SECONDS
    send_seconds = SEND_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._send_deadline: asyncio.TimerHandle | None = None
        # The limit is checked here, by the same rule as uvicorn's, so that the refusal is ours.
        self.connection_limit, self.limit_concurrency = self.limit_concurrency, None
        self.app = self._limited(self.app)

    def _limited(self, app: ASGIApp) -> ASGIApp:
        busy = SecurityHeaders(busy_response(close=True))
        two_lengths = SecurityHeaders(JSONResponse(
            {"detail": TWO_LENGTHS_DETAIL}, status_code=400, headers={"Connection": "close"}
        ))

        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            limit = self.connection_limit
            headers = Headers(scope=scope)
            if "content-length" in headers and "transfer-encoding" in headers:
                await two_lengths(scope, receive, send)
            # This request's own task is among the tasks already (uvicorn counts before adding it).
            elif limit is not None and (len(self.connections) >= limit or len(self.tasks) > limit):
                await busy(scope, receive, send)
            else:
                await app(scope, receive, send)

        return limited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:  # a new request on a kept-alive connection
            self._arm()
        super().data_received(data)
        if self.conn.their_state in _REQUEST_READ:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._drained()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_deadline is None:
            self._send_deadline = self.loop.call_later(self.send_seconds, self._not_drained)

    def resume_writing(self) -> None:
        self._drained()
        super().resume_writing()

    def _drained(self) -> None:
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None

    def _not_drained(self) -> None:
        self._send_deadline = None
        if not self.transport.is_closing():
            self.transport.abort()  # close() would wait for the buffer to drain

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state not in _REQUEST_READ and not self.transport.is_closing():
            self.transport.close()
