"""Whether a span can be the kind of answer its question asks for: a time for 什么时候, a sum of money
for 投资了多少钱, a count of 家 for 多少家.

A quote that shares a question's topic but not its fact (a near miss) often gives a span of another
kind: a date for 花了多少钱, a sum in 亿元 for 有多少家, a name for 有多大. Only questions whose kind
is plain are checked (one question word, no ordinal); a span fits when any number in it has a unit of
that kind, or none (a bare number). Only linguistic knowledge: question words, units and measure words.
"""

from __future__ import annotations

import re

from jbqa.answerer.figures import APPROX, MAGNITUDE, NUMBER
from jbqa.answerer.qwords import QUESTION_WORDS, QuestionWord
from jbqa.ingest.normalize import normalize_chars

# The kind of a number's unit, most specific first within each pattern (平方米 before 米).
UNIT_KINDS: dict[str, str] = {
    "money": r"美元|欧元|英镑|日元|日圆|港元|港币|台币|元|圆|块钱|块|美金",
    "area": r"平方公里|平方千米|平方米|平方英里|公顷|亩|平米",
    "length": r"公里|千米|(?<!平方)米|英里|英尺|厘米|毫米|海里|丈|尺",
    "share": r"个百分点|百分点|%|‰|成|倍",
    "age": r"周岁|岁",
    "time": r"个月|个小时|小时|分钟|秒|年|月|日|号|天|周|星期|世纪|季度|代",
    "people": r"万人次|人次|万人|人|名|位|口",
    "weight": r"吨|千克|公斤|克|斤",
    "count": r"家|所|座|个|项|条|只|辆|台|套|栋|幢|层|种|类|批|处|件|艘|架|届|部|本|户|场|次|期|间|张|棵|株|头|"
             r"匹|首|篇|款|枚|颗|支|盘|局|轮|回|门|国|省|市|县",
}
# None: a number with no unit; "magnitude": 亿 or 万 with no unit after it.
BARE = (None, "magnitude")
FITTING: dict[str, tuple[str | None, ...]] = {  # the kind asked -> the kinds of number that may answer it
    "when": ("time", "age", None),
    "duration": ("time", "age", None),
    "money": ("money", "share", *BARE),
    "area": ("area", *BARE),
    "length": ("length", *BARE),
    "share": ("share", None),
    "people": ("people", "count", *BARE),
    "count": ("count", *BARE),
    "any_count": ("count", "people", *BARE),
    "quantity": (*UNIT_KINDS, *BARE),
}
_MEASURE_WORDS = {**dict.fromkeys("家所座项条只辆台套栋幢层种类批处件艘架届部本场张棵株首篇款枚颗", "count"),
                  **dict.fromkeys("人名位", "people")}
_CUES = (  # the kind a 多少/几 question asks, from its words; most specific first
    ("duration", r"多少时间|多长时间|多久|多少年|多少天|多少个月|多少个?小时|多少分钟|多少秒|几年|几天|几个月|几个?小时|几分钟"),
    ("share", r"多少倍|几倍|比例|占比|比重|百分之|百分比|增速|增幅|增长率|几成|占全"),
    ("area", r"面积|占地|多少平方|几平方|多少亩"),
    ("length", r"多长|长度|多高|高度|多远|距离|全长|海拔|多深|深度|多宽|宽度"),
)
_CUE_PATTERNS = tuple((kind, re.compile(pattern)) for kind, pattern in _CUES)
_MEASURED = re.compile(r"(?:多少|几)(个?)(.)")
_PEOPLE = re.compile(r"人口|人数|多少人|几个人|员工|职工")
_MONEY = re.compile(r"多少钱|钱|投资|资金|收入|营收|税收|总额|余额|增加值|交易额|销售额|营业额|生产总值|gdp|预算|价格|"
                    r"票价|门票|成本|费用|造价|资产|产值|金额|市值|工资|薪|资本|耗资|花费|花了|融资|贷款|利润|奖金")
_OTHER_ASKING = tuple(re.compile(pattern) for name, pattern in QUESTION_WORDS
                      if name not in ("when", "howmany", "howlong", "what")) + (re.compile("什么"),)
_ORDINAL = re.compile(r"第(?:几|多少)")
_NUMBER = re.compile(f"[一两]?半|{NUMBER}")
_AFTER_NUMBER = re.compile(f"{APPROX}(?P<magnitude>{MAGNITUDE}){APPROX}(?:"
                           + "|".join(f"(?P<{kind}>{units})" for kind, units in UNIT_KINDS.items()) + ")?")
_FRACTION = re.compile(r"分之[一二三四五六七八九十\d]|\d+\s*/\s*\d+")
# Words of time without a number: 今年, 南宋, 元宵节, 战后, 年初.
_TIME_CHARS = re.compile(r"[年月日天时午间代朝纪世季春夏秋冬晚早夜初末旬前后今昨岁节商周秦汉晋隋唐宋元明清]")


def asked_kind(normalized: str, qword: QuestionWord) -> str | None:
    """The kind of answer a normalised question asks for (a key of FITTING), or None when it asks no
    time or quantity, or its kind is not plain: an ordinal (第几), or another question word beside it
    (哪几门语言, 何时辞职的人)."""
    if qword.category not in ("when", "howmany", "howlong") or _ORDINAL.search(normalized):
        return None
    rest = normalized[: qword.start] + "\x00" + normalized[qword.end :]
    if any(pattern.search(rest) for pattern in _OTHER_ASKING):
        return None
    if qword.category == "when":
        return "when"
    for kind, cue in _CUE_PATTERNS:
        if cue.search(normalized):
            return kind
    measured = _MEASURED.search(normalized, qword.start)
    if measured and measured.group(2) in _MEASURE_WORDS:
        return _MEASURE_WORDS[measured.group(2)]
    if measured and measured.group(1):
        return "any_count"
    if _PEOPLE.search(normalized):
        return "people"
    if _MONEY.search(normalized):
        return "money"
    return "quantity"


def number_kinds(span: str) -> list[str | None]:
    """The kind of each number in a normalised span: its unit's (UNIT_KINDS), 'magnitude' (a bare 亿),
    None (no unit). A lone Chinese numeral without a unit in a longer span is a word's part (两江, 三桥),
    not a number."""
    kinds: list[str | None] = []
    position = 0
    while number := _NUMBER.search(span, position):
        after = _AFTER_NUMBER.match(span, number.end())
        assert after is not None  # every part of the pattern is optional
        position = after.end()
        kind = next((k for k in UNIT_KINDS if after.group(k)), None) or ("magnitude" if after.group("magnitude") else None)
        if kind is None and len(number.group()) == 1 and not number.group().isdigit() and len(span) > 2:
            continue
        kinds.append(kind)
    if _FRACTION.search(span):
        kinds.append("share")
    return kinds


def fits(kind: str | None, span: str) -> bool:
    """Whether a normalised span can answer a question of `kind` (any span fits None)."""
    if kind is None:
        return True
    if kind == "when" and _TIME_CHARS.search(span):
        return True
    return any(k in FITTING[kind] for k in number_kinds(span))


def fitting_span(kind: str | None, quote: str, spans: list[tuple[int, int] | None]
                 ) -> tuple[tuple[int, int] | None, bool]:
    """The span a quote shows, of the readers' spans of it (the preferred first; None where a reader
    marked none): the first that can answer a question of `kind`. Also whether the quote answers:
    False when every reader marked a span and none fits (a date for 多少钱), so that it shows the
    preferred span but is not an answer."""
    marked = [s for s in spans if s is not None]
    fitting = [s for s in marked if fits(kind, normalize_chars(quote[s[0] : s[1]]))]
    shown = fitting[0] if fitting else marked[0] if marked else None
    return shown, bool(fitting) or len(marked) < len(spans)
