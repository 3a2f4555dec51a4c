"""Training the neural reader, in a small configuration over a tiny packed e5 model written here:
the same files twice, only what training changed saved, loaded back over its base and read with."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tiny_e5 import SMALL_READER, fact_context, write_packed

from jbqa.answerer import Answerer, neural_training
from jbqa.answerer.neural import NeuralReader, ReaderUnavailable, window_of
from jbqa.answerer.neural_training import (
    ANSWER_CHARS,
    NeuralConfig,
    best_spans,
    changed_question,
    examples_of,
    grow,
)
from jbqa.answerer.reader_files import ROW_SCALE, TRAINED_RECORD, TRAINED_WEIGHTS
from jbqa.index.store import LoadedIndex


def test_examples_are_the_answer_window_and_windows_without_it() -> None:
    context = fact_context(1, "公园", "面积", "158公顷")
    examples = examples_of([context], NeuralConfig(negatives_per_question=1.0, similar_negatives_per_question=0,
                                                   window_chars=40))
    positive, negative = examples
    assert positive.window[positive.answer_start:positive.answer_end] == "158公顷"
    assert "公园的面积为158公顷。" in positive.window and len(positive.window) <= 40
    assert negative.answer_start == -1 and "158公顷" not in negative.window


def test_a_similar_negative_is_the_window_of_the_article_most_like_the_question() -> None:
    from jbqa.eval.squad import SquadAnswer, SquadContext, SquadQuestion

    asked = fact_context(1, "公园", "面积", "158公顷")
    near = "公园的面积比去年更大。"  # the question's topic and measure, not its answer
    unlike = "这是第2篇文章。游客很多。"
    elsewhere = "公园的面积为158公顷，游客很多。"  # the answer itself, in another paragraph
    same_article = [
        asked,
        SquadContext("c2", asked.title, unlike + near + "天气晴朗。", ()),
        SquadContext("c3", asked.title, elsewhere, ()),
        SquadContext("c4", "另一篇", near, (SquadQuestion("q4", "天气怎么样？", (SquadAnswer("晴朗", -1),)),)),
    ]
    config = NeuralConfig(negatives_per_question=0, similar_negatives_per_question=1.0, window_chars=12)
    positive, negative = examples_of(same_article, config)
    assert positive.answer_start >= 0 and negative.answer_start == -1
    assert negative.window == near and negative.question == positive.question


def test_a_changed_question_asks_for_a_noun_of_the_article_the_window_does_not_hold() -> None:
    window = "长江大桥全长1600米，于1957年建成通车，是长江上第一座公路铁路两用桥。"
    others = ["长江大桥的设计者是谁？", "长江大桥有几个桥墩？"]
    # 全长, the noun the window holds next to the question word, gives way to one the window lacks
    assert changed_question("长江大桥全长多少米？", window, others, random.Random(0)) in (
        "长江大桥设计者多少米？", "长江大桥桥墩多少米？")
    # a place name only for a place name: the other questions have none but the one asked about
    assert changed_question("长江大桥哪一年建成？", window, others, random.Random(0)) is None


def test_changed_questions_are_negatives_of_the_answer_window() -> None:
    from jbqa.eval.squad import SquadAnswer, SquadContext, SquadQuestion

    text = "长江大桥全长1600米，于1957年建成通车。"
    asked = [("q1", "长江大桥全长多少米？", "1600米"), ("q2", "长江大桥的设计者是谁？", "")]
    context = SquadContext("c1", "大桥", text, tuple(
        SquadQuestion(i, q, (SquadAnswer(a, text.find(a)),) if a else ()) for i, q, a in asked))
    plain = NeuralConfig(negatives_per_question=0, similar_negatives_per_question=0)
    assert [e.question for e in examples_of([context], plain)] == ["长江大桥全长多少米？"]
    positive, changed = examples_of([context], replace(plain, changed_negatives_per_question=1.0))
    assert changed.window == positive.window and changed.answer_start == -1
    assert changed.question == "长江大桥设计者多少米？"


def test_the_window_read_at_answer_time_is_the_one_trained_on() -> None:
    sentences = ["这是第1篇文章。", "公园位于江边。", "公园的面积为158公顷。", "游客很多。"]
    spans, at = [], 0
    for s in sentences:
        spans.append((at, at + len(s)))
        at += len(s)
    text = "".join(sentences)
    a, b = grow(spans, 2, 2, 30)
    window, start = window_of(sentences[2], sentences[1], sentences[3], 30)
    assert window == text[a:b] and window[start:start + len(sentences[2])] == sentences[2]
    assert window_of(sentences[2], sentences[1], sentences[3], 0) == (sentences[2], 0)


def test_training_twice_gives_the_same_files_and_they_load_over_their_base(
    data: Path, packed: Path, tmp_path: Path
) -> None:
    first = neural_training.train(data, tmp_path / "a", SMALL_READER, log=lambda line: None, packed=packed)
    neural_training.train(data, tmp_path / "b", SMALL_READER, log=lambda line: None, packed=packed)
    for name in (TRAINED_WEIGHTS, TRAINED_RECORD):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first["base_sha256"] and first["examples"] > 0 and set(first["checked"]) <= {"cmrc2018_trial.json",
                                                                                          "DRCD_dev.json"}
    from safetensors import safe_open

    with safe_open(str(tmp_path / "a" / TRAINED_WEIGHTS), "pt") as saved:
        names = set(saved.keys())
        dtypes = {n: saved.get_tensor(n).dtype for n in names}
    assert names and all(n.startswith(("bert.encoder.layer.1.", "qa_outputs.")) for n in names)
    import torch

    matrices = [n for n in names if n.endswith(".weight") and n + ROW_SCALE in names]
    assert matrices and all(dtypes[n] == torch.int8 and dtypes[n + ROW_SCALE] == torch.float16 for n in matrices)
    assert {dtypes[n] for n in names if n not in matrices} == {torch.float16}

    assert first["max_answer_chars"] in ANSWER_CHARS
    assert set(first["span_f1_by_max_answer_chars"]) == {str(c) for c in ANSWER_CHARS}
    reader = NeuralReader(str(tmp_path / "a"), base=packed)
    assert reader.window_chars == SMALL_READER.window_chars
    assert reader.max_answer_chars == first["max_answer_chars"]
    quote = "公园的面积为158公顷。"
    found = reader.read_quote("公园的面积是多少？", quote, "公园位于江边。", "游客很多。")
    assert found is not None and 0 <= found.start < found.end <= len(quote) and found.null_score is not None


def test_checking_a_saved_reader_again_gives_what_training_wrote(trained_reader: Path, data: Path,
                                                                   packed: Path) -> None:
    written = (trained_reader / TRAINED_RECORD).read_bytes()
    checks = neural_training.recheck(trained_reader, data, log=lambda line: None, packed=packed)
    assert (trained_reader / TRAINED_RECORD).read_bytes() == written
    assert checks["max_answer_chars"] == json.loads(written)["max_answer_chars"]


def test_spans_are_capped_in_characters_not_tokens() -> None:
    offsets = np.array([[0, 0], [0, 4], [4, 8], [8, 12], [12, 16]])  # [CLS], then four 4-character tokens
    context = np.array([False, True, True, True, True])
    start = np.array([0.0, 5.0, 0.0, 0.0, 0.0])
    end = np.array([0.0, 0.0, 0.0, 1.0, 6.0])
    assert best_spans(start, end, offsets, context, max_answer_chars=16) == (1, 4, 11.0)
    assert best_spans(start, end, offsets, context, max_answer_chars=12) == (1, 3, 6.0)
    assert best_spans(start, end, offsets, context, max_answer_chars=3) == (-1, -1, float("-inf"))


def test_unreadable_weights_are_refused_in_one_line(trained_reader: Path, packed: Path) -> None:
    (trained_reader / TRAINED_WEIGHTS).write_bytes(b"\x00" * 64)
    with pytest.raises(ReaderUnavailable, match="jbqa train --reader neural") as caught:
        NeuralReader(str(trained_reader), base=packed)
    assert "\n" not in str(caught.value)


def test_a_reader_trained_over_another_base_is_refused_in_one_line(trained_reader: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-q4.bin"
    write_packed(other, layers=2, ffn=96)
    with pytest.raises(ReaderUnavailable, match="trained over the base file") as caught:
        NeuralReader(str(trained_reader), base=other)
    assert "\n" not in str(caught.value)


def test_a_quote_the_neural_reader_says_does_not_answer_is_refused(
    trained_reader: Path, packed: Path, offline_index: LoadedIndex
) -> None:
    question = "江北区金融机构有多少家"
    record_path = trained_reader / TRAINED_RECORD
    record = json.loads(record_path.read_text(encoding="utf-8"))
    for margin, refused in ((-1e9, False), (1e9, True)):  # every span beats no answer / none does
        record["no_answer_margin"] = margin
        record_path.write_text(json.dumps(record), encoding="utf-8")
        result = Answerer(offline_index, reader=NeuralReader(str(trained_reader), base=packed)).ask(question)
        assert result.abstained is refused
        assert result.abstained or Answerer(offline_index).ask(question).answers[0].quote == result.answers[0].quote
