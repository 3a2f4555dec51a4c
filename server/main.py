"""The web app: JSON API under /api, the chat page at /, its assets under /static."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastapi_offline
import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from jbqa import __version__
from jbqa.answerer import Answerer
from jbqa.index.store import LoadedIndex
from jbqa.server import api
from jbqa.server.config import Settings
from jbqa.server.middleware import BodySizeLimit, HostAllowList, RequestLimit, SecurityHeaders
from jbqa.server.protocol import DeadlineH11Protocol
from jbqa.server.slots import AnswerSlots
from jbqa.server.sources import SourceLines

if TYPE_CHECKING:
    from jbqa.answerer.neural import NeuralReader

STATIC = Path(__file__).with_name("static")
KEEP_ALIVE_SECONDS = 5  # an idle kept-alive connection is closed after this long
# Connections are cheap while they wait (a request that never completes is closed after
# REQUEST_READ_SECONDS); requests in the app are few, and the next ones queue briefly.
LIMIT_CONNECTIONS = 2048  # beyond it uvicorn answers 503 at once (plain text): a last resort
LIMIT_REQUESTS = 64
QUEUE_SECONDS = 5.0
# Files and the health check take no place among those requests.
UNLIMITED_PATHS = ("/", "/docs", "/redoc", "/api/health")
UNLIMITED_FOLDERS = ("/static/", "/docs-assets/")
# Answering is CPU-bound: more threads than cores at it only take turns, slower for all.
ANSWER_THREADS = max(1, os.cpu_count() or 1)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(app.state.answerer.warm_up)  # before the first visitor
    yield


MAX_REPORTED_ERRORS = 10


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with what is wrong and where: the submitted values are not echoed back (they may be huge,
    not UTF-8, or NaN, which JSON cannot carry), and at most MAX_REPORTED_ERRORS errors are listed."""
    errors = exc.errors()
    detail: list[dict[str, Any]] = [
        {"type": e.get("type"), "loc": [p if isinstance(p, int | str) else str(p) for p in e.get("loc", ())],
         "msg": str(e.get("msg"))}
        for e in errors[:MAX_REPORTED_ERRORS]
    ]
    if len(errors) > MAX_REPORTED_ERRORS:
        detail.append({"type": "more", "loc": [], "msg": f"{len(errors) - MAX_REPORTED_ERRORS} more errors"})
    return JSONResponse({"detail": detail}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's own HTTP errors, but a body it could not parse as JSON at all (bytes that are not
    UTF-8, nesting too deep for the parser) gets the same 422 as any other malformed JSON, not a 400."""
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError | RecursionError | ValueError):
        why = {UnicodeDecodeError: "body is not UTF-8", RecursionError: "JSON nested too deeply"}
        msg = why.get(type(exc.__cause__), "JSON decode error")
        return JSONResponse({"detail": [{"type": "json_invalid", "loc": ["body"], "msg": msg}]}, status_code=422)
    return await http_exception_handler(request, exc)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # The server still logs the exception; the client gets no stack trace.
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def create_app(index: LoadedIndex, settings: Settings | None = None, reader: NeuralReader | None = None) -> FastAPI:
    """The app over an index loaded once by the caller; it is shared by all requests. `reader`: the
    neural reader that marks the answer spans (None: the trained light reader)."""
    settings = settings or Settings()
    app = FastAPI(
        title="江北区资料问答 API",
        description="Answers questions about Chongqing's Jiangbei District with quotes from its documents.",
        version=__version__,
        docs_url=None,  # served below, with their assets from this package: no CDN, works offline
        redoc_url=None,
        lifespan=_lifespan,
        redirect_slashes=False,  # one URL per resource: /api/sources/ is not /api/sources
    )
    app.state.index = index
    app.state.settings = settings
    app.state.answerer = Answerer(index, reader=reader, suggest=True)  # refusals offer near questions
    app.state.answer_slots = AnswerSlots(ANSWER_THREADS)
    app.state.reader = reader.name if reader else app.state.answerer.model.version
    app.state.sources = {name: SourceLines(text) for name, text in index.sources.items()}
    app.include_router(api.router)
    app.mount("/static", ExactStaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/doc/{file}", include_in_schema=False)
    def document_page(file: str) -> FileResponse:
        """The full-document view; doc.js fetches /api/documents/{file} (a 404 there for unknown names)."""
        return FileResponse(STATIC / "doc.html")

    _serve_api_docs(app)

    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLimit, limit=LIMIT_REQUESTS, wait_seconds=QUEUE_SECONDS, exempt=UNLIMITED_PATHS,
                       exempt_under=UNLIMITED_FOLDERS)
    app.add_middleware(HostAllowList, hosts=settings.hosts)
    # Added last, so outermost: its headers reach every response, 413s included.
    app.add_middleware(SecurityHeaders, docs=("/docs", "/redoc"))
    return app


DOCS_ASSETS = Path(fastapi_offline.__file__).with_name("static")  # Swagger UI and ReDoc (MIT)


class ExactStaticFiles(StaticFiles):
    """Static files at one URL each: `app.js/` is not `app.js` (404)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["path"].endswith("/"):
            raise StarletteHTTPException(404)
        return await super().get_response(path, scope)


def _serve_api_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc (ReDoc), with every asset served by this app."""
    app.mount("/docs-assets", ExactStaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} · docs",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js", swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} · ReDoc",
            redoc_js_url="/docs-assets/redoc.standalone.js", redoc_favicon_url="/docs-assets/favicon.png",
            with_google_fonts=False,
        )


class PortBusy(RuntimeError):
    """The address to serve on is taken."""


def check_port_free(host: str, port: int) -> None:
    """Raise PortBusy, saying how to choose another port, when `host:port` cannot be bound."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortBusy(
                    f"port {port} on {host} is already in use; choose another with --port or JBQA_PORT "
                    f"(for ./scripts/run), e.g. --port {port + 1}"
                ) from exc
            raise PortBusy(f"cannot serve on {host}:{port}: {exc.strerror}") from exc


def run(
    index: LoadedIndex, host: str = "127.0.0.1", port: int = 8000, reader: NeuralReader | None = None,
    settings: Settings | None = None,
) -> None:
    """Serve the app with uvicorn until interrupted (`settings`: default, those of the environment)."""
    check_port_free(host, port)
    settings = settings or Settings()
    if host not in ("0.0.0.0", "::", ""):  # the address served on is a name the server answers to
        settings = settings.model_copy(update={"allowed_hosts": f"{settings.allowed_hosts},{host}"})
    _raise_open_file_limit(LIMIT_CONNECTIONS + 256)
    uvicorn.run(
        create_app(index, settings, reader=reader),
        host=host,
        port=port,
        http=DeadlineH11Protocol,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=LIMIT_CONNECTIONS,
    )


def _raise_open_file_limit(wanted: int) -> None:
    """Each connection is an open file: raise the soft limit towards `wanted` (within the hard one)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
