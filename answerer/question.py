"""What a question must be before it is answered."""

from __future__ import annotations

MAX_QUESTION_CHARS = 500


class QuestionError(ValueError):
    """An empty or oversized question."""


def validate_question(text: object) -> str:
    """The question without surrounding whitespace; QuestionError when it is not usable."""
    if not isinstance(text, str):
        raise QuestionError("question must be text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800", or bytes the shell could not decode)
        raise QuestionError("question is not valid Unicode text") from None
    stripped = text.strip()
    if not stripped:
        raise QuestionError("question is empty")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is too long ({len(stripped)} characters, limit {MAX_QUESTION_CHARS})")
    return stripped
