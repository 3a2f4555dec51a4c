"""Which answers give different values of one figure: the same measure, unit and subject.

A figure is an answer span that holds a number and the unit after it (490余家: 490, 家). Two
figures answer the same question about the same thing when their units are the same (家 and 家,
not 家 and 公顷; 万家 is 家 too) and the words that name what is counted right before them end
alike (各类金融机构 and 金融机构), once the verbs and measure nouns between are set aside
(金融机构数量达 is 金融机构). Only linguistic knowledge: units, measure words and verbs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jbqa.ingest.normalize import normalize_chars

NUMBER = r"[\d０-９][\d０-９.,，．]*|[零〇一二两三四五六七八九十百千万亿几]+"
APPROX = r"(?:余|多|来|左右|以上|以下|上下)?"
# Magnitudes that scale the unit after them (万家 counts 家), then the unit itself.
MAGNITUDE = r"(?:万亿|千亿|百亿|十亿|亿|千万|百万|十万|万|千|百)?"
_UNIT = (
    r"(?:平方公里|平方千米|平方米|立方米|公顷|公里|千米|亩|米|"
    r"亿元|万元|元|美元|"
    r"个百分点|百分点|%|％|‰|倍|"
    r"万人次|人次|万人|人|名|位|户|"
    r"家|所|座|个|项|条|只|辆|台|套|栋|幢|层|种|类|批|处|件|艘|架|"
    r"吨|千克|公斤|千瓦|兆瓦|度|"
    r"年|个月|天|小时|分钟)"
)
FIGURE = re.compile(rf"(?P<number>{NUMBER}){APPROX}(?P<magnitude>{MAGNITUDE}){APPROX}(?P<unit>{_UNIT})")
# Between the thing counted and its figure: verbs, qualifiers and measure nouns that say nothing of what.
_FILLER = re.compile(
    r"(?:共有|共计|总计|合计|累计|达到|超过|将近|接近|约为|大约|拥有|集聚|聚集|聚焦|实现|增至|增加|突破|"
    r"数量|总数|总量|数目|规模|面积|占地|人数|总额|总值|共|达|有|为|是|超|近|约|逾|计|仅|在|已|的|等)$"
)
_CLAUSE_BREAK = re.compile(r"[，,、；;：:。！？!?（）()“”\"'‘’\s]")
SUBJECT_CHARS = 4  # the end of the words before a figure that names what it counts
MIN_SHARED = 2  # characters two subjects must share at their ends


@dataclass(frozen=True)
class Figure:
    value: str  # the answer as written, normalised (超480家 and 近480家 differ)
    unit: str  # the unit without its magnitude (家)
    subject: str  # the words that name what is counted, just before the figure (金融机构)


def figure_in(quote: str, start: int, end: int) -> Figure | None:
    """The figure of the answer quote[start:end], with the subject the quote gives it; None without one."""
    span = normalize_chars(quote[start:end])
    found = FIGURE.search(span)
    if found is None or (found.group("unit") == "年" and re.fullmatch(r"\d{4}", found.group("number"))):
        return None  # none, or a year (2022年): a date, not a figure
    before = normalize_chars(quote[: start + found.start()])
    clause = _CLAUSE_BREAK.split(before)[-1]
    subject = clause
    while True:  # set aside the verbs and measure nouns between the subject and its figure
        trimmed = _FILLER.sub("", subject)
        if trimmed == subject:
            break
        subject = trimmed
    if not subject:  # the figure opens its clause: what follows names the thing (490余家金融机构)
        after = normalize_chars(quote[start + found.end() :])
        subject = _CLAUSE_BREAK.split(after)[0][:SUBJECT_CHARS]
    return Figure(span, found.group("unit"), subject[-SUBJECT_CHARS:])


def same_subject(a: str, b: str) -> bool:
    """Subjects that end alike (各类金融机构, 金融机构) or that hold one another."""
    if not a or not b:
        return False
    if a in b or b in a:
        return min(len(a), len(b)) >= MIN_SHARED
    shared = 0
    while shared < min(len(a), len(b)) and a[-1 - shared] == b[-1 - shared]:
        shared += 1
    return shared >= MIN_SHARED


def conflicting_figures(figures: list[tuple[str, Figure | None]]) -> list[int]:
    """Indices of the (source, figure) pairs that give the first figure's measure (the best answer's
    that has one) different values from different sources; [] when they agree or none has a figure."""
    first = next((f for _, f in figures if f is not None), None)
    if first is None:
        return []
    group = [
        (i, source, f.value) for i, (source, f) in enumerate(figures)
        if f is not None and f.unit == first.unit and same_subject(f.subject, first.subject)
    ]
    values = {value for _, _, value in group}
    sources = {source for _, source, _ in group}
    return [i for i, _, _ in group] if len(values) > 1 and len(sources) > 1 else []
