"""Whether a span can be the kind of answer its question asks for, and which reader's span a quote
shows when one of them is of another kind."""

from __future__ import annotations

import pytest

from jbqa.answerer.answer_kinds import asked_kind, fits, fitting_span, number_kinds
from jbqa.answerer.qwords import find_question_word
from jbqa.ingest.normalize import normalize_chars


def kind_of(question: str) -> str | None:
    normalized = normalize_chars(question)
    return asked_kind(normalized, find_question_word(normalized))


@pytest.mark.parametrize(("question", "kind"), [
    ("茶叶产业园什么时候建成", "when"),
    ("茶叶產業園哪一年建成的", "when"),
    ("茶叶节一般持续多久", "duration"),
    ("茶叶产业园投资了多少钱", "money"),
    ("全县茶叶企业去年的销售额是多少", "money"),
    ("全县有多少家茶叶企业", "count"),
    ("全县有几个茶叶合作社", "any_count"),
    ("全县茶农有多少人", "people"),
    ("茶园面积多大", "area"),
    ("茶山公路有多长", "length"),
    ("茶叶产量占全省的比例是多少", "share"),
    ("茶叶产量是多少", "quantity"),
])
def test_a_plain_question_asks_for_one_kind_of_answer(question: str, kind: str) -> None:
    assert kind_of(question) == kind


@pytest.mark.parametrize("question", [
    "茶叶产量在全省排第几",  # an ordinal: a place in a ranking, not a quantity
    "哪几家企业种茶",  # which ones: names
    "茶叶产业园在哪里",
    "谁建了茶叶产业园",
])
def test_questions_of_no_plain_kind_check_nothing(question: str) -> None:
    assert kind_of(question) is None
    assert fits(kind_of(question), "茶叶产业园")


def test_each_number_has_the_kind_of_its_unit() -> None:
    assert number_kinds("约3.5亿元") == ["money"]
    assert number_kinds("120余家") == ["count"]
    assert number_kinds("1.2万") == ["magnitude"]
    assert number_kinds("2022年5月") == ["time", "time"]
    assert number_kinds("约35公顷") == ["area"]
    assert number_kinds("三分之一") == ["share"]
    assert number_kinds("四") == [None]  # a numeral that is the whole span
    assert number_kinds("三桥步道") == []  # a numeral inside a word


@pytest.mark.parametrize(("question", "span", "fit"), [
    ("茶叶产业园投资了多少钱", "约3.5亿元", True),
    ("茶叶产业园投资了多少钱", "2022年5月", False),
    ("茶叶产业园投资了多少钱", "茶叶产业园", False),
    ("全县有多少家茶叶企业", "120余家", True),
    ("全县有多少家茶叶企业", "1.2万", True),
    ("全县有多少家茶叶企业", "日均游客达5万人次", False),
    ("全县有多少家茶叶企业", "产值40亿元", False),
    ("茶叶产业园什么时候建成", "2022年", True),
    ("茶叶产业园什么时候建成", "元宵节前后", True),
    ("茶叶产业园什么时候建成", "100亿级", False),
    ("茶园面积多大", "约35公顷", True),
    ("茶园面积多大", "茶叶产业园", False),
    ("全县有几个茶叶合作社", "四", True),
    ("茶叶产量占全省的比例是多少", "三分之一", True),
])
def test_a_span_fits_when_a_number_in_it_is_of_the_kind_asked(question: str, span: str, fit: bool) -> None:
    assert fits(kind_of(question), normalize_chars(span)) is fit


QUOTE = "茶叶产业园于2022年建成，总投资约3.5亿元。"
DATE = (QUOTE.index("2022"), QUOTE.index("建成"))
SUM = (QUOTE.index("约3.5"), QUOTE.index("。"))
PARK = (0, QUOTE.index("于"))


def test_a_quote_shows_the_first_span_of_the_kind_asked() -> None:
    money = kind_of("茶叶产业园投资了多少钱")
    assert fitting_span(money, QUOTE, [DATE, SUM]) == (SUM, True)  # the preferred span gives way
    assert fitting_span(money, QUOTE, [SUM, DATE]) == (SUM, True)
    assert fitting_span(kind_of("茶叶产业园什么时候建成"), QUOTE, [DATE, SUM]) == (DATE, True)
    assert fitting_span(None, QUOTE, [PARK, SUM]) == (PARK, True)  # no kind asked: the preferred span


def test_a_quote_no_span_of_which_fits_does_not_answer() -> None:
    money = kind_of("茶叶产业园投资了多少钱")
    assert fitting_span(money, QUOTE, [DATE, PARK]) == (DATE, False)
    assert fitting_span(money, QUOTE, [None, DATE]) == (DATE, True)  # a reader that marks no span says nothing
    assert fitting_span(money, QUOTE, [None, None]) == (None, True)
