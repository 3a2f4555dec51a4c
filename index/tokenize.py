"""The one tokeniser for BM25, term statistics and answer scoring: jieba search-mode words."""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

import jieba

from jbqa.ingest.normalize import normalize_chars

jieba.setLogLevel(logging.WARNING)

TOKENIZER_NAME = "jieba.cut_for_search(normalize_chars(text)) without stopwords/punctuation, plus CJK character bigrams"

# Function words and question words: they say what is asked, not what to look for.
STOPWORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 等 也 都 就 还 又 把 被 让 对 为 以 从 向 于 由 将 会 能 可 可以 要 有 没有 这 那
    这个 那个 这些 那些 之 其 其中 并 而 但 个 些 一 上 下 中 里 吗 呢 吧 啊 呀 么 哪 哪里 哪儿 哪个 哪些
    哪家 哪年 哪一年 哪天 什么 怎么 怎样 怎么样 如何 为何 为什么 多少 几 多 谁 何 何时 何地 何处 时候 啥
    请问 请 告诉 我 我们 你 你们 它 他们 大概 大约 一共 总共 共 目前 现在 请问 问 知道 叫 叫做 名字 名称
    情况 方面 具体 主要 哪些方面 啥样 到底 究竟 是否 有没有 是不是 比例 占比 比重 多长 多高 多大 多远 多久
    数量 数字 数据 指 指的是 意思 含义 分别 哪位 哪所 一下 关于 有关 跟 同 给 和 向
    这是 那是 这里 那里 这样 那样 就是 还是 都是 也是 什么样 怎样的 什么样的 哪样 哪种 哪类 多少钱 几个 几家 几项 期间 时期 当时
    """.split()
)
_WORD = re.compile(r"[\w\u4e00-\u9fff]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


class Analysed(NamedTuple):
    """A text's normalised characters and its jieba tokens: everything its BM25 terms and its
    offline-embedder features are made from, so that a build segments each passage once."""

    normalized: str  # normalize_chars(text)
    tokens: list[str]  # tokenize(text)


def tokens_of_normalized(normalized: str) -> list[str]:
    """jieba search-mode tokens of already normalised text, without stopwords or punctuation."""
    return [
        tok for tok in jieba.cut_for_search(normalized) if tok.strip() and _WORD.search(tok) and tok not in STOPWORDS
    ]


def analyse(text: str) -> Analysed:
    normalized = normalize_chars(text)
    return Analysed(normalized, tokens_of_normalized(normalized))


def tokenize(text: str) -> list[str]:
    """Normalised jieba search-mode tokens without stopwords or punctuation."""
    return tokens_of_normalized(normalize_chars(text))


def index_terms_from_tokens(normalized: str, tokens: list[str]) -> list[str]:
    """`index_terms` of the text whose normalize_chars is `normalized` and whose tokenize is `tokens`."""
    bigrams = [run[i : i + 2] for run in _CJK_RUN.findall(normalized) for i in range(len(run) - 1)]
    return tokens + [b for b in bigrams if b not in STOPWORDS]


def index_terms(text: str) -> list[str]:
    """BM25 terms: jieba words plus CJK character bigrams, so that a word jieba segmented
    differently in the corpus (镇街 inside 12个镇街) is still found."""
    return index_terms_from_tokens(*analyse(text))


def initialize() -> None:
    """Load jieba's dictionary now rather than on the first question."""
    jieba.initialize()
