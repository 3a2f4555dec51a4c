"""Request and response models of the HTTP API (the wire format; the answerer's dataclasses stay internal)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from jbqa.answerer import MAX_QUESTION_CHARS
from jbqa.answerer.answerer import DEFAULT_TOP, MAX_TOP
from jbqa.answerer.followup import MAX_HISTORY
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
    history: list[Question] = Field(
        default_factory=list, max_length=MAX_HISTORY,
        description=f"The previous questions of the conversation (at most {MAX_HISTORY}, each as `question` is "
        "checked; best their `answered_question`), most recent last. A follow-up such as 那它的面积呢 or 面积呢 is "
        "completed from the latest one's subject before it is answered.",
        examples=[["观音桥在哪里"]],
    )


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
    date_kind: Literal["published", "as_of"] | None = Field(
        default=None, description="`published`: the day it came out; `as_of`: the latest time its text speaks of, "
        "inferred from the text; null: not stated."
    )
    publisher: str | None = Field(default=None, description="Who published the source document.")
    url: str | None = Field(default=None, description="Where the source document is published (http or https).")
    paragraph: int = Field(default=1, description="Paragraph of the cleaned document that holds the quote "
                           "(1-based, as /api/documents/{file} numbers them).")
    score: float
    passage_id: str


class AskResponse(BaseModel):
    """The same JSON as `jbqa ask --json`."""

    question: str
    abstained: bool = Field(description="True when the documents hold nothing that answers; `answers` is then empty.")
    embedder: str
    answers: list[AnswerOut]
    conflicting: bool = Field(
        description="True when answers from different sources give one figure different values: the same "
        "measure and unit (家, 公顷, 亿元 …) of the same subject, the best answer's figure; listed in `conflict`."
    )
    conflict: list[int] = Field(
        default_factory=list,
        description="Positions in `answers` of the values of that figure, most probable first; [] when none differ.",
    )
    confidence: float = Field(
        description="Probability that the first answer is right (the reader's, calibrated on the training "
        "data: of answers given 0.8 or more about 9 in 10 were right, 0.5-0.8 5 to 8 in 10, below 0.5 half at "
        "most). jbqa answers from the threshold chosen in training up; below it, it refuses."
    )
    answered_question: str = Field(
        description="The question as answered: `question` completed from `history` when it leans on it "
        "(那它的面积呢 -> 观音桥的面积是多少), else `question` itself."
    )
    suggestions: list[str] = Field(
        default_factory=list,
        description="With a refusal: up to 3 questions about the figures of the sentences nearest to this one "
        "(sharing one of its distinctive words) that jbqa answers from those sentences; [] when nothing is close.",
    )
    confidence_band: Literal["high", "medium", "low"] = Field(
        description="`confidence` in words: high (>= 0.8), medium (0.5-0.8) or low (< 0.5); the page asks the "
        "reader to check the quote for medium and low."
    )
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
    date_kind: Literal["published", "as_of"] | None = Field(
        default=None, description="`published`, `as_of` (inferred from the text) or null (not stated)."
    )
    publisher: str | None
    url: str | None


class ParagraphOut(BaseModel):
    kind: Literal["text", "heading", "caption"]
    text: str
    char_start: int = Field(description="Start of the paragraph in the raw file (characters, 0-based).")
    char_end: int = Field(description="End of its last character in the raw file (exclusive).")
    mark_start: int | None = Field(description="Start, in `text`, of the characters of the asked range; null: none.")
    mark_end: int | None = Field(description="End (exclusive) of those characters in `text`.")


class DocumentText(DocumentOut):
    """An indexed document as cleaned text, paragraph by paragraph (the answers' 第 N 段 count these)."""

    paragraphs: list[ParagraphOut]


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
