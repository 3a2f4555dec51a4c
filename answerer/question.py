"""What a question asks for (its answer type) and which of its words must be found."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import jieba
import jieba.posseg as pseg

from jbqa.answerer.terms import TermStats
from jbqa.index.tokenize import STOPWORDS
from jbqa.ingest.normalize import normalize_chars

MAX_QUESTION_CHARS = 500


class QuestionError(ValueError):
    """An empty or oversized question."""


class AnswerType(str, Enum):
    DATE = "date"
    QUANTITY = "quantity"
    PLACE = "place"
    ENTITY = "entity"  # a person, company or organisation
    LIST = "list"
    NAME = "name"  # what something is called
    OTHER = "other"


_TYPE_PATTERNS = [
    (AnswerType.DATE, r"何时|几点|几时|什么时[候间]|啥时候|哪一?年|哪一?天|哪个月|几月|几号|哪日|什么日子|时间是|日期"),
    (AnswerType.LIST, r"哪几"),
    (AnswerType.QUANTITY, r"多少|几[个家项所人万亿次倍条座名户年大]?|多大|多高|多长|多远|多重|多快|比例|占比|百分之|增[长速]了?多|幅度"),
    (AnswerType.PLACE, r"哪里|哪儿|在哪|何处|何地|什么地方|哪个地方|什么位置|位于|地点|地址"),
    (AnswerType.ENTITY, r"谁|哪家|哪位|哪个[公企机银单部集]|什么[公企机银单部集][司业构行位门团]|哪所|哪一家|哪个人|哪些人"),
    (AnswerType.LIST, r"哪些|有什么|有啥|包括|包含|分别|都有"),
    (AnswerType.NAME, r"什么|叫啥|啥|名[称字]|哪个|哪一?[个项座]"),
]

# Words the public uses for what the documents say otherwise (abbreviations of statistics terms).
SYNONYMS = {
    "gdp": ("地区生产总值", "生产总值"),
    "生产总值": ("gdp",),
    "每天": ("日均",),
    "一天": ("日均",),
    "每日": ("日均",),
    "平均": ("日均", "人均"),
    "社零": ("社会消费品零售总额",),
    "零售额": ("零售总额",),
    "规上": ("规模以上",),
    "电商": ("电子商务",),
    "营收": ("营业收入",),
    "收入": ("营业收入", "营收"),
    "最高": ("第一高",),
    "最高楼": ("第一高楼",),
    "面积": ("平方公里", "公顷"),
    "多大": ("平方公里", "公顷"),
    "人流": ("人流量",),
    "客流": ("人流量", "人流"),
    "奢侈品": ("奢侈品牌", "奢侈品"),
    "存款": ("存贷款",),
    "贷款": ("存贷款",),
    "上市企业": ("上市公司", "上市"),
    "开张": ("开业",),
    "照片": ("摄", "图为", "图片"),
    "图片": ("摄", "图为"),
    "拍": ("摄",),
    "拍摄": ("摄",),
    "摄影": ("摄",),
    "拿到": ("获得", "摘得", "获评", "荣获", "首夺"),
    "获得": ("摘得", "获评", "荣获", "首夺"),
    "开门": ("开业", "开馆", "开门迎客"),
    "成立": ("揭牌", "成立"),
    "建成": ("落成",),
    "总投资": ("投资",),
    "投资": ("总投资",),
}


@dataclass(frozen=True)
class Term:
    text: str  # normalised
    weight: float


@dataclass(frozen=True)
class Question:
    text: str
    normalized: str
    answer_type: AnswerType
    terms: tuple[Term, ...]
    unit_hint: str | None
    unknown_topics: tuple[str, ...] = ()  # nouns the question is about that the corpus never uses


def validate_question(text: object) -> str:
    if not isinstance(text, str):
        raise QuestionError("question must be text")
    stripped = text.strip()
    if not stripped:
        raise QuestionError("question is empty")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is too long ({len(stripped)} characters, limit {MAX_QUESTION_CHARS})")
    return stripped


def answer_type(normalized: str) -> AnswerType:
    for kind, pattern in _TYPE_PATTERNS:
        if re.search(pattern, normalized):
            return kind
    return AnswerType.OTHER


_UNIT_HINT = re.compile(r"(?<!哪)(?:多少|几)(个月|个小时|[家个项所名座条户人位次倍元米年天月届期批类种款场辆])")


def unit_hint(normalized: str) -> str | None:
    """The measure word after 多少/几 (多少家 -> 家, 几个镇街 -> 个, 几个月 -> 月), if any."""
    match = _UNIT_HINT.search(normalized)
    if not match:
        return None
    unit = match.group(1)
    return unit[1:] if unit in ("个月", "个小时") else unit


_LATIN_DIGIT_RUN = re.compile(r"[a-z]+|\d+")


def _split_latin_digits(token: str) -> list[str]:
    """gdp2023 -> gdp, 2023 (jieba keeps a run of ASCII letters and digits as one token)."""
    if token.isascii() and token.isalnum():
        return _LATIN_DIGIT_RUN.findall(token)
    return [token]


_WORDISH = re.compile(r"[\w\u4e00-\u9fff]")


_ASPECT = re.compile(r"(?<=.)[了过着]$")
# Counted amounts (两座, 三大, 5项) say how many, not what about; a bare numeral (十三五, 四百) is a name.
_COUNTED = re.compile(r"^(?:[一二两三四五六七八九十百千万几多]+|\d+)[个座家项所名位条种类大批次]$|^[几多]$")


def content_terms(normalized: str, stats: TermStats) -> tuple[Term, ...]:
    """Content words of the question (jieba precise mode), weighted by corpus idf.

    Aspect particles are dropped (签了 -> 签). Single characters weigh half, and nothing when the
    corpus never uses them: they are measure words, particles or fragments. A longer word the corpus
    never uses keeps its full (highest) weight: it is what makes a question unanswerable.
    """
    seen: dict[str, float] = {}
    for tok in _words(normalized, stats):
        if tok in seen:
            continue
        if len(tok) == 1:
            weight = 0.0 if stats.unseen(tok) else 0.5 * stats.idf(tok)
        else:
            weight = stats.idf(tok)
        if weight > 0:
            seen[tok] = weight
    return tuple(Term(t, w) for t, w in seen.items())


def _words(normalized: str, stats: TermStats) -> list[str]:
    """jieba words without stopwords. An unseen piece that is a segmentation slip falls back to its
    characters: no dictionary word (打夜 cut from 打夜经济牌), or a word that takes a character from a
    longer name the corpus uses (城建 in 中环万象城建在哪里)."""
    words: list[str] = []
    position = 0
    for raw in jieba.lcut(normalized):
        start, position = position, position + len(raw)
        for tok in _split_latin_digits(raw):
            tok = _ASPECT.sub("", tok.strip())
            if not tok or tok in STOPWORDS or not _WORDISH.search(tok) or _COUNTED.match(tok):
                continue
            slip = len(tok) > 1 and stats.unseen(tok) and tok not in SYNONYMS and (
                not _is_dictionary_word(tok) or _straddles_known_name(normalized, start, start + len(raw), stats)
            )
            if slip:
                words.extend(ch for ch in tok if ch not in STOPWORDS and _WORDISH.search(ch))
            else:
                words.append(tok)
    return words


def _straddles_known_name(text: str, start: int, end: int, stats: TermStats) -> bool:
    """Some 3-5 character run of `text` that the corpus uses crosses one edge of text[start:end]."""
    for size in (3, 4, 5):
        for a in range(max(0, start - size + 1), min(end, len(text) - size + 1)):
            b = a + size
            crosses_left = a < start < b < end
            crosses_right = start < a < end < b
            if (crosses_left or crosses_right) and stats.df(text[a:b]) > 0:
                return True
    return False


def _is_dictionary_word(tok: str) -> bool:
    jieba.dt.check_initialized()
    return bool(jieba.dt.FREQ.get(tok)) or tok.isascii()


_WH = re.compile(r"(?:什么|哪个|哪些|哪家|哪一|哪|何种|啥)$")


def unknown_topics(normalized: str, stats: TermStats) -> tuple[str, ...]:
    """Nouns of the question that the corpus never writes (门票 in 公园门票多少钱).

    Nouns in the phrase after a question word only name the kind of answer (什么示范城市称号).
    """
    found, in_answer_phrase, position = [], False, 0
    for word, flag in pseg.cut(normalized):
        start, position = position, position + len(word)
        if _WH.search(word):
            in_answer_phrase = True
            continue
        if flag[:1] in ("u", "p", "d", "x", "c", "y", "e"):
            in_answer_phrase = False
        is_topic = (
            flag.startswith("n") and len(word) > 1 and word not in STOPWORDS and word not in SYNONYMS
            and _is_dictionary_word(word)
        )
        if (
            is_topic and not in_answer_phrase and stats.unseen(word) and not _known_parts(word, stats)
            and not _straddles_known_name(normalized, start, position, stats)
        ):
            found.append(word)
    return tuple(found)


def _known_parts(word: str, stats: TermStats) -> bool:
    """Most of the word is made of words the corpus uses (进出口额 = 进出口 + 额)."""
    covered: set[int] = set()
    for part in jieba.cut_for_search(word):
        if len(part) > 1 and part != word and not stats.unseen(part):
            start = word.find(part)
            covered.update(range(start, start + len(part)))
    return len(covered) >= 0.6 * len(word)


def analyse(text: str, stats: TermStats) -> Question:
    normalized = normalize_chars(validate_question(text))
    return Question(
        text,
        normalized,
        answer_type(normalized),
        content_terms(normalized, stats),
        unit_hint(normalized),
        unknown_topics(normalized, stats),
    )


def term_credit(term: str, haystack: str) -> float:
    """1 for the term or a synonym in the text; partial credit for most of a long term's bigrams."""
    if term in haystack or any(s in haystack for s in SYNONYMS.get(term, ())):
        return 1.0
    if len(term) >= 3:
        bigrams = [term[i : i + 2] for i in range(len(term) - 1)]
        found = sum(1 for b in bigrams if b in haystack) / len(bigrams)
        return 0.6 * found if found >= 0.5 else 0.0
    return 0.0
