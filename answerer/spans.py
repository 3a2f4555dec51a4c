"""Find the answer span inside a sentence, by the type of answer the question asks for."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import jieba.posseg as pseg

from jbqa.answerer.question import AnswerType, Question
from jbqa.ingest.normalize import normalize_chars

_CN_NUM = "零一二三四五六七八九十百千万两"
_QUANTITY = re.compile(
    r"(?:近|超过?|约|逾|达到?|共|累计|第)?"
    r"(?:\d+(?:[.,]\d+)*(?:\s*[万亿千百]+)?|[" + _CN_NUM + r"]+(?=[个家项所名座条户倍大类年天届期批])|\d+/\d+|[" + _CN_NUM + r"]+分之[" + _CN_NUM + r"]+)"
    r"(?:余|多)?"
    r"(?:[%％]|(?:个月|个小时|届|平方公里|公里|公顷|万亿元|亿元|万元|元|万人次|人次|万人|万户|万个|万条|个|家|项|所|名|座|条|户|人|倍|米|年|天|小时|分钟|级|期|类|大|种|场|场次|批|款|亿|万))?"
)
_DATE = re.compile(
    r"(?:\d{4}年(?:\d{1,2}月(?:\d{1,2}日)?|底|初|上半年|下半年|[一二三四]季度)?"
    r"|(?:今年|去年|前年|明年|同年)?(?:\d{1,2}|[一二三四五六七八九十]{1,2})月(?:\d{1,2}日|底|初|中旬|上旬|下旬)?"
    r"|(?:今年|去年|前年|同年)(?:底|初|上半年|下半年|[一二三四]季度|以来)?"
    r"|[一二三四]季度|\d{4}年)"
)
_CLOCK = re.compile(r"\d{1,2}[:：]\d{2}|\d{1,2}[点时](?:\d{1,2}分|半)?")
_ORG = re.compile(
    r"[\u4e00-\u9fffA-Za-z0-9·（）()]{2,24}?"
    r"(?:有限公司|公司|集团|银行|研究院|学院|中心|大学|医院|基金|协会|委员会|局|部|馆|园|港|平台|总部|交易所)"
)
_PLACE_CUE = re.compile(
    r"(?:在|于|位于|落户|落地|来到|走进)([\u4e00-\u9fffA-Za-z0-9·“”]{2,20}?)"
    r"(?=正式|揭牌|开业|开馆|开建|开工|启动|成立|举行|落地|落户|开门|建设|签署|签订|投用|亮相|的|，|。|,|；|$)"
)
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{1,30})[”\"」』]")
_LIST = re.compile(r"(?:[^，。；、,：:（）()]{1,20}、)+[^，。；、,：:（）()]{1,20}")

# A measure word and the units a matching figure may carry.
_UNIT_FAMILY: dict[str, tuple[str, ...]] = {
    "人": ("人", "人次"),
    "名": ("名", "人"),
    "位": ("位", "人", "名"),
    "元": ("元", "亿", "万"),
    "天": ("天", "日"),
    "次": ("次",),
}
_MONEY_WORDS = ("额", "收入", "总值", "投资", "金额", "税收", "增加值", "规模", "产值", "余额", "钱", "营收")
_SHARE_WORDS = ("比例", "占比", "增长", "增速", "百分", "幅度", "占全市")


def find_all(text: str, term: str) -> list[int]:
    """Start offsets of every occurrence of `term` in `text` (overlapping ones included)."""
    found, start = [], text.find(term)
    while start != -1:
        found.append(start)
        start = text.find(term, start + 1)
    return found


def _positions(question: Question, norm_sentence: str) -> list[int]:
    """End offsets of the question's content words (two characters or more) in the sentence."""
    return [
        start + len(term.text)
        for term in question.terms
        if len(term.text) >= 2
        for start in find_all(norm_sentence, term.text)
    ]


def _nearest(candidates: Iterable[tuple[int, int, float]], spots: list[int]) -> tuple[int, int] | None:
    """Pick the (start, end) with the best bonus, then the closest to the question's words."""
    best, best_key = None, None
    for start, end, bonus in candidates:
        distance = min((min(abs(start - s), abs(end - s)) for s in spots), default=0)
        key = (-bonus, distance, start)
        if best_key is None or key < best_key:
            best, best_key = (start, end), key
    return best


# What a figure must look like when the question says what it measures.
_EXPECTED_UNITS = (
    (re.compile(r"钱|金额|额|收入|总值|投资|税收|增加值|产值|营收|余额|花了|花费|成本|价格"), re.compile(r"元|亿|万(?!人|户|个)")),
    (re.compile(r"比例|占比|百分|比重"), re.compile(r"[%％]|分之|/|成")),
    (re.compile(r"面积|多大|占地"), re.compile(r"平方|公顷|亩|亿级|规模")),
    (re.compile(r"多高|高度"), re.compile(r"米")),
    (re.compile(r"多长|长度|多远|距离"), re.compile(r"公里|米|天|小时|年")),
)


def expected_unit(question: Question) -> re.Pattern[str] | None:
    """What the figure must contain: the measure word the question names (几个月 -> 月), else the
    unit its topic implies (花了多少钱 -> 元, 占比 -> %)."""
    hint = question.unit_hint
    if hint:
        return re.compile("|".join(re.escape(u) for u in _UNIT_FAMILY.get(hint, (hint,))))
    for cue, unit in _EXPECTED_UNITS:
        if cue.search(question.normalized):
            return unit
    return None


def _quantity_bonus(question: Question, found: str, expected: re.Pattern[str] | None) -> float:
    bonus = 0.0
    if not re.search(r"\d|[" + _CN_NUM + r"]", found):
        return -9.0
    if expected and not expected.search(found):
        return -9.0  # a figure, but not of what is asked (a share where an amount is asked)
    q = question.normalized
    hint = question.unit_hint
    if any(w in q for w in _MONEY_WORDS) and re.search(r"元|亿", found):
        bonus += 1.0
    if any(w in q for w in _SHARE_WORDS) and re.search(r"[%％]|分之|/", found):
        bonus += 1.0
    if re.fullmatch(r"\d{4}年?", found) and "年" not in (hint or ""):
        bonus -= 2.0  # a year is rarely the quantity asked for
    if found in q:
        bonus -= 3.0  # the question already says it
    return bonus


def _regex_candidates(pattern: re.Pattern[str], text: str) -> Iterable[tuple[int, int]]:
    for m in pattern.finditer(text):
        if m.group(0).strip():
            yield m.start(), m.end()


@lru_cache(maxsize=4096)  # one ask looks at the same sentence for ranking, confidence and quoting
def find_span(question: Question, sentence: str) -> tuple[int, int] | None:
    """(start, end) of the answer inside `sentence`, or None when nothing of the asked type is there."""
    norm = normalize_chars(sentence)
    spots = _positions(question, norm)
    kind = question.answer_type
    if kind is AnswerType.QUANTITY:
        expected = expected_unit(question)
        cands = [
            (s, e, _quantity_bonus(question, sentence[s:e], expected))
            for s, e in _regex_candidates(_QUANTITY, sentence)
        ]
        return _nearest((c for c in cands if c[2] > -9.0), spots)
    if kind is AnswerType.DATE:
        cands = [(s, e, float(bool(re.search(r"\d", sentence[s:e])))) for s, e in _regex_candidates(_DATE, sentence)]
        if re.search(r"几点|几时|什么时间[开关营]|营业时间|开放时间", question.normalized):
            cands = [c for c in cands if _CLOCK.search(sentence[c[0] : c[1]])]
            cands += [(m.start(), m.end(), 1.0) for m in _CLOCK.finditer(sentence)]
        if re.search(r"哪一?年|几几年|什么年份", question.normalized):
            cands = [c for c in cands if re.search(r"\d{4}年|[今去前明同]年", sentence[c[0] : c[1]])]
        return _nearest(cands, spots)
    if kind is AnswerType.PLACE:
        cands = [(m.start(1), m.end(1), 1.0) for m in _PLACE_CUE.finditer(sentence)]
        cands += _tagged(sentence, ("ns",))
        return _nearest((c for c in cands if norm[c[0] : c[1]] not in question.normalized), spots)
    if kind is AnswerType.ENTITY:
        cands = [(s, e, 1.0) for s, e in _regex_candidates(_ORG, sentence)]
        cands += _tagged(sentence, ("nr", "nt", "nz"))
        return _nearest((c for c in cands if norm[c[0] : c[1]] not in question.normalized), spots)
    if kind is AnswerType.LIST:
        cands = [(s, e, float(sentence[s:e].count("、"))) for s, e in _regex_candidates(_LIST, sentence)]
        return _nearest(cands, spots)
    if kind is AnswerType.NAME:
        cands = [
            (m.start(1), m.end(1), 1.0)
            for m in _QUOTED.finditer(sentence)
            if normalize_chars(m.group(1)) not in question.normalized
        ]
        return _nearest(cands, spots)
    return None


def _tagged(sentence: str, flags: tuple[str, ...]) -> list[tuple[int, int, float]]:
    found, pos = [], 0
    for word, flag in pseg.cut(sentence):
        if flag in flags and len(word) >= 2:
            found.append((pos, pos + len(word), 0.5))
        pos += len(word)
    return found
