"""Sentence and passage splitting: every recorded offset rebuilds its text from the raw corpus."""

from __future__ import annotations

import json

import pytest

from jbqa.config import BUNDLED_CORPUS
from jbqa.ingest import IngestReport, Passage, Sentence, ingest_corpus
from jbqa.ingest.clean import CLOSERS, TERMINALS, clean_document, clean_inline, clean_text
from jbqa.ingest.split import (
    DEFAULT_PASSAGE_CHARS,
    MAX_SENTENCE_CHARS,
    LineIndex,
    sentence_bounds,
    split_passages,
)


@pytest.fixture(scope="module")
def corpus() -> IngestReport:
    report = ingest_corpus(BUNDLED_CORPUS)
    assert report.skipped == {}
    assert len(report.sources) == 5
    return report


def line_of(raw: str, offset: int) -> int:
    return raw.count("\n", 0, offset) + 1


def all_sentences(report: IngestReport):  # type: ignore[no-untyped-def]
    for passage in report.passages:
        raw = report.sources[passage.source].text
        for sentence in passage.sentences:
            yield passage, sentence, raw


def test_every_sentence_is_rebuilt_from_its_raw_span(corpus: IngestReport) -> None:
    checked = 0
    for passage, sentence, raw in all_sentences(corpus):
        assert clean_text(raw[sentence.char_start : sentence.char_end]) == passage.sentence_text(sentence)
        checked += 1
    assert checked > 200


def test_passage_text_is_its_sentences_end_to_end(corpus: IngestReport) -> None:
    for passage in corpus.passages:
        assert passage.sentences
        assert passage.text == "".join(passage.sentence_text(s) for s in passage.sentences)
        assert passage.sentences[0].start == 0
        assert passage.sentences[-1].end == len(passage.text)
        for before, after in zip(passage.sentences, passage.sentences[1:]):
            assert before.end == after.start
            assert before.char_end <= after.char_start
        assert passage.char_start == passage.sentences[0].char_start
        assert passage.char_end == passage.sentences[-1].char_end
        assert passage.line_start == passage.sentences[0].line_start
        assert passage.line_end == passage.sentences[-1].line_end


def test_a_passage_rebuilt_from_its_raw_span_holds_its_text(corpus: IngestReport) -> None:
    for passage in corpus.passages:
        raw = corpus.sources[passage.source].text
        rebuilt = "".join(clean_text(raw[s.char_start : s.char_end]) for s in passage.sentences)
        assert rebuilt == passage.text


def test_line_numbers_are_those_of_the_first_and_last_character(corpus: IngestReport) -> None:
    for _, sentence, raw in all_sentences(corpus):
        assert sentence.line_start == line_of(raw, sentence.char_start)
        assert sentence.line_end == line_of(raw, sentence.char_end - 1)
        assert 1 <= sentence.line_start <= sentence.line_end <= raw.count("\n") + 1
        lines = raw.split("\n")[sentence.line_start - 1 : sentence.line_end]
        span = raw[sentence.char_start : sentence.char_end]
        assert span in "\n".join(lines)


def test_sentences_end_at_a_terminal_unless_their_block_ends(corpus: IngestReport) -> None:
    block_ends = {
        name: {b.raw_end for b in clean_document(source.text)} for name, source in corpus.sources.items()
    }
    for passage, sentence, _ in all_sentences(corpus):
        text = passage.sentence_text(sentence)
        body = text.rstrip(CLOSERS)
        if body[-1] not in TERMINALS:
            assert sentence.char_end in block_ends[passage.source], text
        # Nothing after the first terminal but more terminals and closing quotes.
        first = next((i for i, ch in enumerate(text) if ch in TERMINALS), None)
        if first is not None:
            assert all(ch in TERMINALS or ch in CLOSERS for ch in text[first:]), text


def test_most_sentences_end_at_a_terminal(corpus: IngestReport) -> None:
    texts = [p.sentence_text(s) for p, s, _ in all_sentences(corpus)]
    ended = [t for t in texts if t.rstrip(CLOSERS)[-1] in TERMINALS]
    assert len(ended) >= 0.85 * len(texts)


def test_nothing_of_the_clean_text_is_lost(corpus: IngestReport) -> None:
    for name, source in corpus.sources.items():
        blocks = "".join(b.text for b in clean_document(source.text))
        passages = "".join(p.text for p in corpus.passages if p.source == name)
        assert passages == blocks


def test_passages_stay_near_the_size_limit(corpus: IngestReport) -> None:
    for passage in corpus.passages:
        assert len(passage.text) <= DEFAULT_PASSAGE_CHARS or len(passage.sentences) == 1


def test_passage_ids_are_unique_and_name_their_source(corpus: IngestReport) -> None:
    ids = [p.id for p in corpus.passages]
    assert len(ids) == len(set(ids))
    for passage in corpus.passages:
        source, _, number = passage.id.rpartition("#")
        assert source == passage.source
        assert number.isdigit()


def test_a_smaller_limit_gives_more_passages_with_the_same_text(corpus: IngestReport) -> None:
    source = corpus.sources["002_73f7aa93d5783d0e.txt"]
    blocks = clean_document(source.text)
    wide = split_passages(source.name, source.text, blocks)
    narrow = split_passages(source.name, source.text, blocks, max_chars=60)
    assert len(narrow) > len(wide)
    assert "".join(p.text for p in narrow) == "".join(p.text for p in wide)


# --- sentence bounds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("甲。乙！丙？丁；戊……己", ["甲。", "乙！", "丙？", "丁；", "戊……", "己"]),
        (
            "“上海有陆家嘴，重庆有江北嘴。”从一句在重庆广为流传的话中，足见江北区的金融核心地位。",
            ["“上海有陆家嘴，重庆有江北嘴。”", "从一句在重庆广为流传的话中，足见江北区的金融核心地位。"],
        ),
        (
            "以“再造一个观音桥”的力度加快推进。”江北区商务委相关负责人表示。",
            ["以“再造一个观音桥”的力度加快推进。”", "江北区商务委相关负责人表示。"],
        ),
        ("Is it?Yes!No;ok", ["Is it?", "Yes!", "No;", "ok"]),
        ("国际消费中心城市目标", ["国际消费中心城市目标"]),
        ("", []),
    ],
)
def test_sentence_bounds(text: str, expected: list[str]) -> None:
    pieces = [text[s:e] for s, e in sentence_bounds(text)]
    assert pieces == expected
    assert "".join(pieces) == text


def test_line_index_numbers_lines_from_one() -> None:
    raw = "第一行\n第二行\n\n第四行"
    lines = LineIndex(raw)
    assert lines.line(0) == 1
    assert lines.line(raw.index("\n")) == 1  # a line break belongs to the line it ends
    assert lines.line(raw.index("第二")) == 2
    assert lines.line(raw.index("第四")) == 4
    for offset in range(len(raw)):
        assert lines.line(offset) == line_of(raw, offset)


# --- text without full stops ------------------------------------------------------------------


def records(count: int) -> str:
    """Lines that each hold one figure and no full stop (a table flattened to text)."""
    return "\n".join(f"江北区第{i}项经济指标为{7 * i}亿元，同比增长{i % 9 + 1}个百分点" for i in range(1, count + 1)) + "\n"


def split_raw(raw: str) -> list[Passage]:
    passages = split_passages("a.txt", raw, clean_document(raw))
    for passage in passages:
        assert len(passage.text) <= max(DEFAULT_PASSAGE_CHARS, MAX_SENTENCE_CHARS)
        for sentence in passage.sentences:
            assert sentence.end - sentence.start <= MAX_SENTENCE_CHARS
            # The quote an answer shows: the raw span cleaned in its file (a part of a line is
            # undoubled only as its whole line is).
            assert clean_inline(raw, sentence.char_start, sentence.char_end)[0] == passage.sentence_text(sentence)
    # Nothing lost but a space between Latin words where one is cut at.
    assert "".join(p.text for p in passages).replace(" ", "") == "".join(b.text for b in clean_document(raw)).replace(" ", "")
    return passages


def test_lines_without_full_stops_are_sentences_of_their_own() -> None:
    raw = records(1000)
    passages = split_raw(raw)
    sentences = [p.sentence_text(s) for p in passages for s in p.sentences]
    assert sentences == raw.splitlines()
    assert len(passages) > 100


def test_a_long_line_without_full_stops_is_cut_at_its_commas_then_by_length() -> None:
    clauses = [f"第{i}项指标为{7 * i}亿元" for i in range(1, 400)]
    raw = "，".join(clauses) + "\n"
    sentences = [p.sentence_text(s) for p in split_raw(raw) for s in p.sentences]
    assert all(s.endswith("，") or s == sentences[-1] for s in sentences)  # cut after a comma, nowhere else
    assert len(sentences) < len(clauses) / 5  # clauses that fit together stay together

    raw = "江北区指标为1234567890亿元" * 20_000  # one line of 360,000 characters with no mark at all
    sentences = [p.sentence_text(s) for p in split_raw(raw) for s in p.sentences]
    assert len(sentences) >= len(raw) / MAX_SENTENCE_CHARS
    assert all(not (a[-1].isdigit() and b[0].isdigit()) for a, b in zip(sentences, sentences[1:]))  # no figure cut


def test_a_latin_run_without_marks_is_cut_between_words_not_inside_them() -> None:
    raw = " ".join(["alpha", "beta", "gamma"] * 200) + "\n"
    sentences = [p.sentence_text(s) for p in split_raw(raw) for s in p.sentences]
    assert len(sentences) > 1
    assert {w for s in sentences for w in s.split()} == {"alpha", "beta", "gamma"}


# --- the Passage record --------------------------------------------------------------------------


def test_passage_round_trips_through_a_dict_and_json(corpus: IngestReport) -> None:
    for passage in corpus.passages:
        data = passage.to_dict()
        assert isinstance(data["sentences"], list)
        again = Passage.from_dict(json.loads(json.dumps(data, ensure_ascii=False)))
        assert again == passage
        assert all(isinstance(s, Sentence) for s in again.sentences)


def test_passage_dict_carries_the_source_and_both_spans() -> None:
    sentence = Sentence(0, 3, 10, 14, 2, 3)
    passage = Passage("a.txt#0", "a.txt", "江北区", 10, 14, 2, 3, (sentence,))
    data = passage.to_dict()
    assert data == {
        "id": "a.txt#0",
        "source": "a.txt",
        "text": "江北区",
        "char_start": 10,
        "char_end": 14,
        "line_start": 2,
        "line_end": 3,
        "sentences": [[0, 3, 10, 14, 2, 3]],
    }
    assert Passage.from_dict(data) == passage
    assert passage.sentence_text(sentence) == "江北区"
