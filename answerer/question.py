"""What a question must be before it is answered."""

from __future__ import annotations

import re

from jbqa.answerer.qwords import QUESTION_WORDS

MAX_QUESTION_CHARS = 500
NOT_A_QUESTION_HINT = "资料是中文的，请用中文完整地提问（说清要问的人、事、地方或数字）。"
_ANY_QUESTION_WORD = re.compile("|".join(pattern for _, pattern in QUESTION_WORDS))
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_OR_FIGURE = re.compile(r"[A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]{2,}")


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


def has_content_word(question: str) -> bool:
    """Whether the question holds a Chinese word to look for: two Chinese characters outside its
    question words, or Chinese and a Latin word or figure (什么是GDP). A lone 区, 谁 or `a` is none."""
    rest = _ANY_QUESTION_WORD.sub(" ", question)
    if len(_CJK.findall(rest)) >= 2:
        return True
    return bool(_CJK.search(question)) and bool(_LATIN_OR_FIGURE.search(rest))
