"""The tokeniser: jieba search-mode words and CJK bigrams, the same whether a text is segmented
for a query or analysed once for a build."""

from __future__ import annotations

import pytest

from jbqa.config import BUNDLED_CORPUS
from jbqa.index.tokenize import analyse, index_terms, index_terms_from_tokens, tokenize
from jbqa.ingest import ingest_corpus
from jbqa.ingest.normalize import normalize_chars

QUESTION = "江北區金融機構有多少家？"
QUESTION_TOKENS = ["江北", "北区", "江北区", "金融", "机构", "金融机构", "家"]
QUESTION_BIGRAMS = ["江北", "北区", "区金", "金融", "融机", "机构", "构有", "有多", "少家"]  # 多少 is a stopword
MIXED = "截至今年7月，ＬＥＤ屏共480块"
MIXED_TOKENS = ["截至", "今年", "7", "月", "led", "屏共", "480", "块"]
MIXED_BIGRAMS = ["截至", "至今", "今年", "屏共"]


def test_tokens_are_normalised_jieba_words_without_stopwords_or_punctuation() -> None:
    assert tokenize(QUESTION) == QUESTION_TOKENS
    assert tokenize(MIXED) == MIXED_TOKENS


def test_index_terms_are_the_tokens_then_the_cjk_bigrams_without_stopwords() -> None:
    assert index_terms(QUESTION) == QUESTION_TOKENS + QUESTION_BIGRAMS
    assert index_terms(MIXED) == MIXED_TOKENS + MIXED_BIGRAMS


@pytest.mark.parametrize("text", [QUESTION, MIXED, "", "……", "LED", "ß straße", "İstanbul"])
def test_an_analysis_gives_what_the_query_functions_give(text: str) -> None:
    analysed = analyse(text)
    assert analysed.normalized == normalize_chars(text)
    assert analysed.tokens == tokenize(text)
    assert index_terms_from_tokens(*analysed) == index_terms(text)


def test_the_bundled_corpus_gets_the_same_terms_from_its_analyses() -> None:
    for passage in ingest_corpus(BUNDLED_CORPUS).passages:
        analysed = analyse(passage.text)
        assert analysed.tokens == tokenize(passage.text)
        assert index_terms_from_tokens(*analysed) == index_terms(passage.text)
