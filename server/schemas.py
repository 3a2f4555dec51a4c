"""Request and response models of the HTTP API (the wire format; the answerer's dataclasses stay internal)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from jbqa.answerer import MAX_QUESTION_CHARS
from jbqa.answerer.answerer import DEFAULT_TOP, MAX_TOP
from jbqa.answerer.question import validate_question


def _valid_question(text: str) -> str:
    validate_question(text)  # the answerer's own rule: not blank, at most MAX_QUESTION_CHARS once stripped
    return text


Question = Annotated[
    str,
    AfterValidator(_valid_question),
    Field(
        description=f"The question, 1 to {MAX_QUESTION_CHARS} characters once surrounding spaces are removed.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS},
        examples=["江北区金融机构有多少家"],
    ),
]


class AskRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    question: Question
    top: int = Field(default=DEFAULT_TOP, ge=1, le=MAX_TOP, description="How many quotes to return at most.")


class AnswerOut(BaseModel):
    """One quoted sentence; offsets in two coordinate systems: inside `quote`, and in the raw source file."""

    quote: str = Field(description="The sentence that answers, as cleaned text.")
    answer: str | None = Field(description="The answer span inside the quote, if one was found.")
    answer_start: int | None = Field(description="Start of `answer` in `quote` (characters, 0-based).")
    answer_end: int | None = Field(description="End of `answer` in `quote` (exclusive).")
    source: str = Field(description="File name of the source document.")
    line_start: int = Field(description="First line of the quote in the raw file (1-based).")
    line_end: int = Field(description="Last line of the quote in the raw file (inclusive).")
    char_start: int = Field(description="Start of the quote in the raw file (characters, 0-based).")
    char_end: int = Field(description="End of the quote in the raw file (exclusive).")
    answer_char_start: int | None = Field(description="Start of `answer` in the raw file.")
    answer_char_end: int | None = Field(description="End of `answer` in the raw file (exclusive).")
    title: str | None = Field(default=None, description="Title of the source document.")
    date: str | None = Field(default=None, description="Date of the source document: YYYY-MM-DD, YYYY-MM or YYYY.")
    score: float
    passage_id: str


class AskResponse(BaseModel):
    """The same JSON as `jbqa ask --json`."""

    question: str
    abstained: bool = Field(description="True when the documents hold nothing that answers; `answers` is then empty.")
    embedder: str
    answers: list[AnswerOut]
    conflicting: bool = Field(description="True when the answers give different figures from different sources.")
    confidence: float
    hint: str | None = Field(default=None, description="Why the question was refused unanswered (no Chinese word "
                             "to look for), to show in place of an answer; null otherwise.")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    reader: str = Field(
        description="The reader that marks the answers: the neural extractive-QA model's name or path, "
        "else the trained light reader's version."
    )
    embedder: str = Field(description="The embedder the index was built with, and the package that ships it.")
    passage_count: int
    built_at: str = Field(description="When the index was built (UTC, ISO 8601).")
    files: list[str] = Field(description="The indexed files, each served by /api/sources/{file}.")


class DocumentOut(BaseModel):
    """An indexed file and what to cite it by."""

    file: str
    title: str | None
    date: str | None = Field(description="Publication or as-of date: YYYY-MM-DD, YYYY-MM or YYYY.")
    publisher: str | None
    url: str | None


class SourceResponse(BaseModel):
    """Lines `line_start`..`line_end` of a file: `text` is exactly raw[char_start:char_end]."""

    file: str
    line_start: int
    line_end: int
    total_lines: int
    char_start: int
    char_end: int
    text: str


class ErrorResponse(BaseModel):
    detail: str
