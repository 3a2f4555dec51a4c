"""Answer stage: pick the sentence that answers, mark the answer span, or abstain."""

from jbqa.answerer.answerer import Answer, Answerer, AskResult
from jbqa.answerer.question import MAX_QUESTION_CHARS, QuestionError

__all__ = ["MAX_QUESTION_CHARS", "Answer", "Answerer", "AskResult", "QuestionError"]
