"""Questions offered with a refusal: about the figures of near sentences, checked by answering them."""

from __future__ import annotations

from jbqa.answerer.suggest import MAX_SUGGESTIONS, MAX_TRIED, questions_from, suggest
from jbqa.index.words import cut_words

SENTENCE = "截至去年，全县共集聚茶叶企业超120家，茶园面积约300公顷，2022年建成产业园。"


def test_each_figure_becomes_a_question_about_what_it_counts() -> None:
    # A count is asked with its unit, an area with 是多少; the year 2022 is not a figure.
    assert questions_from(cut_words(SENTENCE)) == [("茶叶企业有多少家", "120家"), ("茶园面积是多少", "300公顷")]


def test_only_questions_answered_from_their_sentence_are_offered() -> None:
    words = cut_words(SENTENCE)
    asked: list[str] = []

    def answers_with(question: str) -> str | None:
        asked.append(question)
        return SENTENCE if "茶叶企业" in question else "另一句：约300公顷。"

    assert suggest([words], answers_with) == ["茶叶企业有多少家"]
    assert suggest([words], lambda q: None) == []
    many = [cut_words(f"第{i}类茶叶企业{i}0家。") for i in range(1, 10)]
    tried: list[str] = []
    chosen = suggest(many, lambda q: tried.append(q) or None)
    assert chosen == [] and len(tried) <= MAX_TRIED  # bounded work
    assert len(suggest(many, lambda q: "".join(w.text for w in many))) <= MAX_SUGGESTIONS
