"""JSON API routes. Plain `def` endpoints: FastAPI runs them in a threadpool, off the event loop.

/api/ask runs the answerer in a worker thread under a deadline (`Settings.ask_timeout_seconds`);
`AnswerSlots` bounds how many run at once.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError

from jbqa.answerer import Answerer, QuestionError
from jbqa.index.store import LoadedIndex
from jbqa.server.config import Settings
from jbqa.server.schemas import (
    AskRequest,
    AskResponse,
    DocumentOut,
    DocumentText,
    ErrorResponse,
    HealthResponse,
    ParagraphOut,
    SourceResponse,
)
from jbqa.server.slots import AnswerSlots
from jbqa.server.sources import LineRangeError, SourceLines


def get_index(request: Request) -> LoadedIndex:
    return request.app.state.index


def get_answerer(request: Request) -> Answerer:
    return request.app.state.answerer


def get_sources(request: Request) -> dict[str, SourceLines]:
    return request.app.state.sources


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


IndexDep = Annotated[LoadedIndex, Depends(get_index)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
SourcesDep = Annotated[dict[str, SourceLines], Depends(get_sources)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


def _invalid(loc: tuple[str, ...], message: str, value: object) -> RequestValidationError:
    """A 422 in the same shape as FastAPI's own validation errors."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message, "input": value}])


router = APIRouter(prefix="/api")


@router.post("/ask", tags=["ask"], responses=_errors(400, 413, 503))
async def ask(body: AskRequest, answerer: AnswererDep, settings: SettingsDep, request: Request) -> AskResponse:
    """Answer a question with quotes from the documents, or abstain (503 if it takes too long)."""
    timeout = settings.ask_timeout_seconds
    asked = partial(answerer.ask, body.question, top=body.top)
    if body.history:  # a follow-up: completed from the conversation's previous questions
        asked = partial(asked, history=body.history)
    try:
        # On as many threads as there are cores; on timeout the answer finishes in its place, unused.
        slots: AnswerSlots = request.app.state.answer_slots
        result = await slots.run(asked, timeout)
    except TimeoutError as exc:
        raise HTTPException(
            503, f"answering took longer than {timeout:g} s; please try again later", headers={"Retry-After": "1"}
        ) from exc
    except QuestionError as exc:  # the schema checks the same rule; kept so no path can end in a 500
        raise _invalid(("body", "question"), str(exc), body.question) from exc
    return AskResponse.model_validate(result.to_dict())


@router.get("/health", tags=["health"])
@router.head("/health", include_in_schema=False)  # load balancers check with HEAD
def health(index: IndexDep, request: Request) -> HealthResponse:
    """Service status, the index and the reader in use."""
    manifest = index.manifest
    return HealthResponse(
        status="ok",
        reader=request.app.state.reader,
        embedder=index.embedder_label,
        passage_count=manifest["passage_count"],
        built_at=manifest["built_at"],
        files=sorted(index.sources),
    )


@router.get("/sources", tags=["sources"])
def documents(index: IndexDep) -> list[DocumentOut]:
    """Every indexed file with its title, date, publisher and URL."""
    return [DocumentOut(**meta.to_dict()) for meta in index.documents.values()]


@router.get("/documents/{file}", tags=["sources"], responses=_errors(404))
def document(
    file: str,
    index: IndexDep,
    answerer: AnswererDep,
    start: Annotated[int | None, Query(ge=0, le=2**31, description="Raw offset where the range to mark begins.")] = None,
    end: Annotated[int | None, Query(ge=0, le=2**31, description="Raw offset where it ends (exclusive).")] = None,
) -> DocumentText:
    """An indexed document as cleaned paragraphs, with what to cite it by; the characters whose raw
    offsets lie in start..end (an answer's char_start, char_end) are located in each paragraph."""
    meta = index.documents.get(file)  # only the indexed names: nothing is looked up on disk
    if meta is None:
        raise HTTPException(404, "not an indexed file")
    if start is not None and end is not None and end < start:
        raise _invalid(("query", "end"), f"end ({end}) must not be before start ({start})", end)
    paragraphs = []
    for block in answerer.paragraphs.blocks(file):
        inside = [] if start is None or end is None else [
            k for k, p in enumerate(block.offsets) if start <= p < end
        ]
        paragraphs.append(ParagraphOut(
            kind=block.kind, text=block.text, char_start=block.offsets[0], char_end=block.offsets[-1] + 1,  # type: ignore[arg-type]
            mark_start=inside[0] if inside else None, mark_end=inside[-1] + 1 if inside else None,
        ))
    return DocumentText(**meta.to_dict(), paragraphs=paragraphs)


@router.get("/sources/{file}", tags=["sources"], responses=_errors(404))
def source(
    file: str,
    sources: SourcesDep,
    start: Annotated[int | None, Query(ge=1, description="First line (1-based); default 1.")] = None,
    end: Annotated[int | None, Query(ge=1, description="Last line (inclusive); default and at most the last.")] = None,
) -> SourceResponse:
    """The raw text of an indexed file, whole or a line range, to show a quote in its context."""
    lines = sources.get(file)  # only the indexed names: nothing is looked up on disk
    if lines is None:
        raise HTTPException(404, "not an indexed file")
    try:
        part = lines.lines(start, end)
    except LineRangeError as exc:
        raise _invalid(("query", exc.field), str(exc), start if exc.field == "start" else end) from exc
    return SourceResponse(
        file=file,
        line_start=part.line_start,
        line_end=part.line_end,
        total_lines=lines.total_lines,
        char_start=part.char_start,
        char_end=part.char_end,
        text=part.text,
    )
