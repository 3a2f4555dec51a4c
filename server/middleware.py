"""Plain ASGI middleware: a request body size limit, a limit on requests at once, the Host names
answered, security headers."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The chat page may load only its own scripts, styles and images, and talk only to this server.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class BodySizeLimit:
    """Answer 413 (JSON) to a request body over `max_bytes`.

    The body is read in full before the app runs, so a declared or streamed (chunked) body is
    refused the same way and the app never sees a partial one.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body too large (limit {self.max_bytes} bytes)"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


# The API docs pages (Swagger UI, ReDoc) start with an inline script and run ReDoc's worker from a
# blob; they too load nothing from elsewhere (ReDoc's footer logo from its CDN is blocked).
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' 'unsafe-inline' blob:",
        "worker-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


BUSY_DETAIL = "the server is busy; please try again in a moment"
BUSY_RETRY_AFTER = "2"


def busy_response(close: bool = False) -> JSONResponse:
    """The JSON 503 for a server that has no place for the request now (with `close`, it also ends
    the connection)."""
    headers = {"Retry-After": BUSY_RETRY_AFTER, **({"Connection": "close"} if close else {})}
    return JSONResponse({"detail": BUSY_DETAIL}, status_code=503, headers=headers)


class RequestLimit:
    """At most `limit` requests in the app at once; the next ones wait up to `wait_seconds` for a
    place, then get a JSON 503 with Retry-After (inside SecurityHeaders, so it has its headers).
    The paths `exempt` and those under `exempt_under` take no place: files and health checks cost
    little, and clients slow to read them must not keep questions out."""

    def __init__(self, app: ASGIApp, limit: int, wait_seconds: float, exempt: tuple[str, ...] = (),
                 exempt_under: tuple[str, ...] = ()) -> None:
        self.app = app
        self.wait_seconds = wait_seconds
        self._places = asyncio.Semaphore(limit)
        self.exempt = frozenset(exempt)
        self.exempt_under = exempt_under

    def _is_exempt(self, path: str) -> bool:
        return path in self.exempt or path.startswith(self.exempt_under)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            await asyncio.wait_for(self._places.acquire(), self.wait_seconds)
        except TimeoutError:
            await busy_response()(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._places.release()


def host_name(host: str) -> str:
    """The name in a Host header, without its port: `[::1]:8000` -> `::1`, `Example.org:80` -> `example.org`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(name: str) -> bool:
    """localhost, a name under .localhost, or a loopback address (127.0.0.0/8, ::1)."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


HOST_DETAIL = "this server does not answer to that Host name; see JBQA_ALLOWED_HOSTS"


class HostAllowList:
    """Answer 400 (JSON) to a request whose Host is neither a loopback name nor one of `hosts`
    ("*": any), so that a page on another site cannot read the API through a name of its own that
    resolves to this machine (DNS rebinding). A request without Host (HTTP/1.0) passes."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.hosts = frozenset(host_name(h) for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "*" not in self.hosts:
            host = Headers(scope=scope).get("host")
            if host is not None and not (is_loopback(name := host_name(host)) or name in self.hosts):
                await JSONResponse({"detail": HOST_DETAIL}, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Add a strict Content-Security-Policy (the docs policy on the `docs` pages) and related headers."""

    def __init__(self, app: ASGIApp, docs: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs = docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_CONTENT_SECURITY_POLICY if scope["path"] in self.docs else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-cache"  # revalidate page assets after an upgrade
            await send(message)

        await self.app(scope, receive, send_with_headers)
