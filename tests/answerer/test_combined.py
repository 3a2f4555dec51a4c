"""The light and neural readers combined: rows built from both readers' scores, the models saved
beside the neural reader and loaded with it, deciding which quote answers, whose span marks it and
whether to refuse; fitted from questions the neural reader did not learn from."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from jbqa.answerer import Answer, Answerer, combined, training
from jbqa.answerer.answer_kinds import asked_kind, fits
from jbqa.answerer.answerer import WIDEN_MARGIN
from jbqa.answerer.combined import (
    ANSWER_FEATURES,
    ANSWER_FILE,
    NO_SPAN,
    RECORD_FILE,
    SPAN_FEATURES,
    SPAN_FILE,
    CombinedModel,
    balanced,
    candidate_rows,
    overlap,
    questions,
    reading_fold,
    span_row,
)
from jbqa.answerer.model import ABSTAIN_FEATURES, fit_abstain
from jbqa.answerer.neural import NeuralReader, ReaderUnavailable, SpanPrediction
from jbqa.answerer.qwords import find_question_word
from jbqa.answerer.training import Outcome
from jbqa.index.store import LoadedIndex
from jbqa.ingest.clean import clean_inline
from jbqa.ingest.normalize import normalize_chars

QUESTION = "江北区金融机构有多少家"
NEURAL = len(ANSWER_FEATURES) - len(ABSTAIN_FEATURES)


def question_kind(question: str) -> str | None:
    normalized = normalize_chars(question)
    return asked_kind(normalized, find_question_word(normalized))


def test_overlap_is_the_f1_of_shared_characters() -> None:
    assert overlap((0, 4), (0, 4)) == 1.0
    assert overlap((0, 4), (2, 6)) == pytest.approx(0.5)
    assert overlap((0, 2), (2, 4)) == 0.0
    assert overlap(None, (0, 1)) == 0.0


def test_each_quote_is_weighed_against_the_best_of_the_question() -> None:
    light = [[3.0, 1.0], [2.0, 0.5], [1.5, 0.1]]  # ranker score and margin lead the light row
    found = [SpanPrediction(2, 6, 5.0, -1.0, given_score=5.0), None, SpanPrediction(0, 3, 9.0, 1.0, given_score=2.5)]
    rows = candidate_rows("问题五个字", light, found, [(2, 6), (0, 1), (1, 3)])
    # position, behind the best ranker score, neural margin, behind the best margin, span and null
    # scores, agreement, the two spans' lengths, the question's length, then the light span as the
    # neural reader scores it: over no answer, and behind its own span
    assert rows[0][-NEURAL:] == [0.0, 0.0, 6.0, 2.0, 5.0, -1.0, 1.0, 4.0, 4.0, 5.0, 6.0, 0.0]
    assert rows[1][-NEURAL:] == [1.0, 1.0, NO_SPAN, 8.0 - NO_SPAN, NO_SPAN, 0.0, 0.0, 0.0, 1.0, 5.0,
                                 NO_SPAN, -2 * NO_SPAN]
    assert rows[2][-NEURAL:] == [2.0, 1.5, 8.0, 0.0, 9.0, 1.0, pytest.approx(0.8), 3.0, 2.0, 5.0, 1.5, 6.5]
    assert [r[:2] for r in rows] == light


def test_the_span_row_describes_both_spans() -> None:
    quote = "区内共有金融机构480家。"
    light_row = [0.0] * len(ABSTAIN_FEATURES)
    light_row[ABSTAIN_FEATURES.index("span_score")] = 1.5
    light_row[ABSTAIN_FEATURES.index("question_word")] = 3.0
    row = span_row(QUESTION, quote, SpanPrediction(8, 12, 4.0, 1.0, given_score=2.5), (4, 8), light_row)
    assert len(row) == len(SPAN_FEATURES)
    named = dict(zip(SPAN_FEATURES, row, strict=True))
    assert named["neural_margin"] == 3.0 and named["light_span_score"] == 1.5 and named["question_word"] == 3.0
    assert named["neural_span_figure"] == 1.0 and named["light_span_figure"] == 0.0  # 480家 against 金融机构
    assert named["spans_agree"] == 0.0 and named["quote_chars"] == len(quote)
    # the light span as the neural reader scores it, and how far the neural span leads it
    assert named["light_span_neural_score"] == 2.5 and named["neural_over_light_span"] == 1.5
    unscored = dict(zip(SPAN_FEATURES, span_row(QUESTION, quote, SpanPrediction(8, 12, 4.0, 1.0), (4, 8), light_row),
                        strict=True))
    assert unscored["light_span_neural_score"] == NO_SPAN and unscored["neural_over_light_span"] == 4.0 - NO_SPAN


def _outcome(dataset: str, question_id: str, position: int = 0) -> Outcome:
    return Outcome(dataset, "fold", "answerable", 0, 1.0, [], True, True, 1.0, question_id=question_id,
                   position=position)


def test_outcomes_are_grouped_by_question_in_ranked_order() -> None:
    made = [_outcome("DRCD_dev.json", q, position) for q, position in (("a", 0), ("a", 1), ("b", 0), ("a", 0))]
    assert [[o.question_id for o in g] for g in questions(made)] == [["a", "a"], ["b"], ["a"]]


def test_each_question_is_read_by_the_reader_of_the_other_fold() -> None:
    article_folds = {"q7": 0, "q8": 1}
    assert reading_fold(_outcome("DRCD_dev.json", "q7"), article_folds) == 1
    assert reading_fold(_outcome("DRCD_dev.json", "q7~"), article_folds) == 1  # its figures changed
    assert reading_fold(_outcome("DRCD_dev.json", "q8"), article_folds) == 0
    assert reading_fold(replace(_outcome("gold", "g1~near"), fold=1), article_folds) == 1  # never learnt from


def test_each_source_of_questions_weighs_as_much_as_the_largest() -> None:
    made = [[replace(_outcome("DRCD_dev.json", f"d{k}"), weight=1.0)] for k in range(6)]
    made.append([replace(_outcome("gold", "g1"), weight=2.0), replace(_outcome("gold", "g1", 1), weight=2.0)])
    totals: dict[str, float] = {}
    for group in balanced(made):
        for o in group:
            totals[o.dataset] = totals.get(o.dataset, 0.0) + o.weight
    assert totals == pytest.approx({"DRCD_dev.json": 6.0, "gold": 6.0})


def _fitted(neural_spans_win: bool, seed: int = 1) -> CombinedModel:
    """Models fitted on random rows: the answer model follows the neural margin, the span chooser
    always prefers one reader."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, len(ANSWER_FEATURES))).astype(np.float32)
    x[:, ANSWER_FEATURES.index("question_word")] = rng.integers(0, 5, 400)
    y = (x[:, ANSWER_FEATURES.index("neural_margin")] > 0).astype(int)
    answer, _ = fit_abstain(x, y, np.ones(400, np.float32), y == 1, np.arange(400) % 2, seed, names=ANSWER_FEATURES)
    spans_x = rng.normal(size=(200, len(SPAN_FEATURES)))
    target = np.full(200, 1.0 if neural_spans_win else -1.0)
    params = {"objective": "regression", "verbose": -1, "min_data_in_leaf": 5, "num_threads": 1}
    spans = lgb.train(params, lgb.Dataset(spans_x, target, feature_name=list(SPAN_FEATURES)), num_boost_round=5)
    return CombinedModel(answer, spans)


def _set_threshold(folder: Path, threshold: float) -> None:
    record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    record["threshold"] = threshold
    (folder / RECORD_FILE).write_text(json.dumps(record), encoding="utf-8")


def test_a_saved_combined_model_loads_with_its_reader_and_decides(
    trained_reader: Path, packed: Path, offline_index: LoadedIndex
) -> None:
    assert NeuralReader(str(trained_reader), base=packed).combined is None
    combined.save(_fitted(neural_spans_win=False), trained_reader, {"questions": 400})
    record = json.loads((trained_reader / RECORD_FILE).read_text(encoding="utf-8"))
    assert record["answer_features"] == list(ANSWER_FEATURES) and record["questions"] == 400
    reader = NeuralReader(str(trained_reader), base=packed)
    assert reader.combined is not None and reader.combined.answer.threshold == record["threshold"]
    for threshold, refused in ((0.0, False), (1.01, True)):  # every answer passes / none does
        _set_threshold(trained_reader, threshold)
        answerer = Answerer(offline_index, reader=NeuralReader(str(trained_reader), base=packed))
        assert answerer.threshold == threshold
        result = answerer.ask(QUESTION)
        assert result.abstained is refused
        assert 0.0 < result.confidence < 1.0  # the combined model's probability, not the light reader's
    light = Answerer(offline_index).ask(QUESTION)
    assert light.answers and result.confidence != light.confidence


def _answer_and_readings(reader: NeuralReader, index: LoadedIndex, question: str = QUESTION
                         ) -> tuple[Answer, dict[str, tuple[int, int] | None]]:
    """The best answer with the combined model, and the neural reader's span of each quote it read."""
    read: dict[str, tuple[int, int] | None] = {}
    read_quotes = reader.read_quotes

    def recording(question: str, quotes: list[tuple[str, str, str]],
                  given: list[tuple[int, int] | None] | None = None) -> list[SpanPrediction | None]:
        assert given is not None and len(given) == len(quotes)  # the light reader's spans, scored by the neural one
        found = read_quotes(question, quotes, given)
        read.update({q: (f.start, f.end) if f else None for (q, _, _), f in zip(quotes, found, strict=True)})
        assert all(f.given_score is not None for f, span in zip(found, given, strict=True) if f and span)
        return found

    reader.read_quotes = recording  # type: ignore[method-assign]
    return Answerer(index, reader=reader).ask(question).answers[0], read


def test_the_span_chooser_decides_whose_span_marks_the_answer(
    trained_reader: Path, packed: Path, offline_index: LoadedIndex
) -> None:
    question = "江北区金融机构的数量是什么"  # no kind of answer to check: the chooser alone decides
    assert question_kind(question) is None
    light_spans = {a.quote: (a.answer_start, a.answer_end) for a in Answerer(offline_index).ask(question, top=20).answers}
    for neural_wins in (False, True):
        combined.save(_fitted(neural_spans_win=neural_wins), trained_reader, {})
        _set_threshold(trained_reader, 0.0)
        best, read = _answer_and_readings(NeuralReader(str(trained_reader), base=packed), offline_index, question)
        assert best.quote in read  # the neural reader read the answer's quote
        if neural_wins:
            assert (best.answer_start, best.answer_end) == read[best.quote]
        elif best.quote in light_spans:
            assert (best.answer_start, best.answer_end) == light_spans[best.quote]


def test_a_span_of_another_kind_than_asked_gives_way_to_the_other_readers(
    trained_reader: Path, packed: Path, offline_index: LoadedIndex, e5_index: LoadedIndex
) -> None:
    """The neural reader's spans preferred but each made one character that is no figure: the answer
    to 多少家 shows the light reader's figure; a quote whose spans are both of another kind has
    probability 0 and comes after the other; no quote shown beside the answer has a span of another
    kind."""
    combined.save(_fitted(neural_spans_win=True), trained_reader, {})
    _set_threshold(trained_reader, 0.0)
    reader = NeuralReader(str(trained_reader), base=packed)
    read_quotes = reader.read_quotes

    def wordy(question: str, quotes: list[tuple[str, str, str]],
              given: list[tuple[int, int] | None] | None = None) -> list[SpanPrediction | None]:
        found = read_quotes(question, quotes, given)
        first_word = [next(i for i, ch in enumerate(quote) if ch in "江北区金融机构") for quote, _, _ in quotes]
        return [replace(f, start=k, end=k + 1) if f else None for f, k in zip(found, first_word, strict=True)]

    reader.read_quotes = wordy  # type: ignore[method-assign]
    answers = Answerer(offline_index, reader=reader).ask(QUESTION, top=combined.DEPTH).answers
    light = {a.quote: (a.answer_start, a.answer_end) for a in Answerer(offline_index).ask(QUESTION, top=20).answers}
    best = answers[0]
    assert best.answer is not None and fits(question_kind(QUESTION), normalize_chars(best.answer))
    assert (best.answer_start, best.answer_end) == light[best.quote]
    assert all(a.score > 0 for a in answers)  # quotes that cannot answer are not shown beside it
    beside = Answerer(e5_index, reader=reader).ask(QUESTION, top=20).answers  # the light reader's runners-up too
    assert len(beside) > combined.DEPTH  # three documents give the figure
    assert all(fits(question_kind(QUESTION), normalize_chars(a.answer)) for a in beside if a.answer)


def test_a_quote_widens_to_the_neighbour_the_neural_readers_best_span_lies_in(
    trained_reader: Path, packed: Path, offline_index: LoadedIndex
) -> None:
    """The neural reader's best span of the window made to run on into the next sentence, or to start
    in the one before, by more than WIDEN_MARGIN: the quote holds both sentences, the span marks the
    reader's span and the citation covers both; by less, nothing changes."""
    question = "江北区金融机构的数量是什么"  # no kind of answer to check
    combined.save(_fitted(neural_spans_win=True), trained_reader, {})
    _set_threshold(trained_reader, 0.0)
    plain = Answerer(offline_index, reader=NeuralReader(str(trained_reader), base=packed)).ask(question).answers[0]

    def widened(step: int, margin: float) -> Answer:
        reader = NeuralReader(str(trained_reader), base=packed)
        read_quotes = reader.read_quotes

        def running_on(question: str, quotes: list[tuple[str, str, str]],
                       given: list[tuple[int, int] | None] | None = None) -> list[SpanPrediction | None]:
            found = read_quotes(question, quotes, given)
            return [replace(f, outside=(f.start, len(quote) + 2, f.score + margin) if step > 0 else
                            (-2, f.end, f.score + margin)) if f else None
                    for f, (quote, _, _) in zip(found, quotes, strict=True)]

        reader.read_quotes = running_on  # type: ignore[method-assign]
        answers = Answerer(offline_index, reader=reader).ask(question, top=20).answers
        for k, a in enumerate(answers):  # no sentence is shown twice, in one quote and the next
            assert not any(a.source == b.source and a.char_start < b.char_end and b.char_start < a.char_end
                           for b in answers[:k])
        return answers[0]

    assert plain.answer_start is not None and plain.answer_end is not None
    assert widened(1, WIDEN_MARGIN - 0.5) == plain and widened(-1, WIDEN_MARGIN - 0.5) == plain
    on = widened(1, WIDEN_MARGIN + 0.5)
    assert on.quote.startswith(plain.quote) and len(on.quote) > len(plain.quote) + 2
    assert on.answer_start == plain.answer_start and on.answer_end is not None and on.answer_end > len(plain.quote) + 1
    assert (on.char_start, on.line_start, on.answer_char_start) == (plain.char_start, plain.line_start,
                                                                     plain.answer_char_start)
    assert on.char_end > plain.char_end and on.line_end >= plain.line_end
    assert on.answer_char_end is not None and plain.char_end < on.answer_char_end <= on.char_end
    before = widened(-1, WIDEN_MARGIN + 0.5)
    assert before.quote.endswith(plain.quote) and len(before.quote) > len(plain.quote) + 2
    shift = len(before.quote) - len(plain.quote)
    assert before.answer_start is not None and before.answer_start <= shift - 2
    assert before.answer_end == shift + plain.answer_end
    assert before.char_start < plain.char_start and before.char_end == plain.char_end
    assert before.answer_char_start is not None and before.char_start <= before.answer_char_start < plain.char_start
    for a in (on, before):
        raw = offline_index.sources[a.source]
        assert clean_inline(raw, a.char_start, a.char_end)[0] == a.quote  # the citation gives back the quote
        assert a.answer == a.quote[a.answer_start : a.answer_end]  # type: ignore[misc]
        assert raw[a.answer_char_start] == a.answer[0] and raw[a.answer_char_end - 1] == a.answer[-1]  # type: ignore[index]


def test_quotes_beyond_the_combined_models_follow_its_own_with_the_light_readers_spans(
    trained_reader: Path, packed: Path, e5_index: LoadedIndex
) -> None:
    light = {a.quote: a for a in Answerer(e5_index).ask(QUESTION, top=20).answers}
    assert len(light) > combined.DEPTH  # three documents give the figure
    combined.save(_fitted(neural_spans_win=True), trained_reader, {})
    _set_threshold(trained_reader, 0.0)
    reader = NeuralReader(str(trained_reader), base=packed)
    best, read = _answer_and_readings(reader, e5_index)
    answers = Answerer(e5_index, reader=reader).ask(QUESTION, top=20).answers
    assert answers[0] == best and best.quote in read and len(read) == combined.DEPTH
    beyond = [a for a in answers if a.quote not in read]
    assert beyond  # the figures of other documents still stand beside the best answer
    for a in beyond:  # weighed and marked by the light reader, as it would alone
        assert a.quote in light and (a.answer_start, a.answer_end) == (light[a.quote].answer_start,
                                                                        light[a.quote].answer_end)
        assert a.score == light[a.quote].score


def test_a_combined_model_for_other_inputs_or_damaged_is_refused_in_one_line(
    trained_reader: Path, packed: Path
) -> None:
    combined.save(_fitted(neural_spans_win=True), trained_reader, {})
    record = json.loads((trained_reader / RECORD_FILE).read_text(encoding="utf-8"))
    record["answer_features"] = record["answer_features"][:-1]
    (trained_reader / RECORD_FILE).write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ReaderUnavailable, match="combined model") as caught:
        NeuralReader(str(trained_reader), base=packed)
    assert "\n" not in str(caught.value)
    combined.save(_fitted(neural_spans_win=True), trained_reader, {})
    (trained_reader / SPAN_FILE).write_text("not a model", encoding="utf-8")
    with pytest.raises(ReaderUnavailable, match="combined model"):
        NeuralReader(str(trained_reader), base=packed)
    (trained_reader / SPAN_FILE).unlink()
    with pytest.raises(ReaderUnavailable, match="combined model"):
        NeuralReader(str(trained_reader), base=packed)


def _asked(k: int, rng: np.random.Generator) -> tuple[list[Outcome], list[SpanPrediction | None]]:
    """A question's two best-ranked outcomes (random scores) and what a neural reader found in them."""
    situation = ("answerable", "left_out", "near_miss")[k % 3]
    group, found = [], []
    for position in range(2):
        row = rng.normal(size=len(ABSTAIN_FEATURES)).tolist()
        row[ABSTAIN_FEATURES.index("question_word")] = float(k % 4)
        right = situation == "answerable" and position == k % 2
        group.append(Outcome("DRCD_dev.json" if k % 5 else "gold", "fold", situation, k // 6 % 2, 1.0, row, right, right,
                             0.5 * right, question=f"问题{k}", quote="区内共有金融机构480家。", light_span=(4, 8),
                             question_id=f"q{k}", position=position, answers=("480家",)))
        start = int(rng.integers(0, 8))
        found.append(SpanPrediction(start, start + 4, float(rng.normal()), float(rng.normal())))
    return group, found


def test_the_span_chooser_learns_where_the_neural_span_wins_and_ignores_ties() -> None:
    quote, figure, words = "区内共有金融机构480家。", (8, 12), (4, 8)
    light_row = [0.0] * len(ABSTAIN_FEATURES)
    rng = np.random.default_rng(5)
    chosen = []
    for k in range(300):
        neural_wins = k % 3 == 0  # the neural reader rates the light span far below its own: it marks the figure
        tie = k % 3 == 2  # both mark the same words: nothing at stake
        light_span = words if neural_wins else figure
        neural_span = figure if neural_wins or tie else words
        given = float(rng.normal(-8.0 if neural_wins else 4.0))
        row = list(light_row)
        outcome = Outcome("DRCD_dev.json", "fold", "answerable", k % 2, 1.0, row, True, True,
                          0.0 if neural_wins else 1.0, question=QUESTION, quote=quote, light_span=light_span,
                          question_id=f"q{k}", answers=("480家",))
        chosen.append((outcome, SpanPrediction(*neural_span, 5.0, 0.0, given_score=given)))
    spans, report = combined.fit_spans(chosen, seed=7)
    assert report["DRCD_dev.json"]["chosen"] == 1.0  # out of fold: the better span every time
    model = CombinedModel(None, spans)  # type: ignore[arg-type]
    assert model.neural_span_wins(span_row(QUESTION, quote, SpanPrediction(*figure, 5.0, 0.0, given_score=-8.0),
                                           words, light_row))
    assert not model.neural_span_wins(span_row(QUESTION, quote, SpanPrediction(*words, 5.0, 0.0, given_score=4.0),
                                               figure, light_row))


def test_the_fits_are_deterministic_and_report_each_file() -> None:
    rng = np.random.default_rng(3)
    grouped, found = zip(*(_asked(k, rng) for k in range(300)), strict=True)
    first, p = combined.fit_answer(grouped, found, seed=7)
    second, _ = combined.fit_answer(grouped, found, seed=7)
    assert first.booster.model_to_string() == second.booster.model_to_string() and len(p) == 600
    chosen = [(g[0], f[0]) for g, f in zip(grouped, found, strict=True)]
    spans, report = combined.fit_spans(chosen, seed=7)
    again, _ = combined.fit_spans(chosen, seed=7)
    assert spans.model_to_string() == again.model_to_string()
    assert set(report) == {"DRCD_dev.json", "gold"}
    assert all(0.0 <= r[key] <= 1.0 for r in report.values() for key in ("light", "neural", "chosen"))


@pytest.mark.slow
def test_fitting_from_training_files_saves_a_model_the_reader_loads(
    data: Path, packed: Path, trained_reader: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    record = combined.train(data, trained_reader, log=lambda line: None, progress=False, packed=packed, cache=cache)
    fitted = {name: (trained_reader / name).read_bytes() for name in (ANSWER_FILE, SPAN_FILE, RECORD_FILE)}
    [kept] = cache.glob("out-of-fold-*")

    def ask_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the training questions were asked again")

    [readings] = cache.glob("readings-*")

    def read_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the quotes were read again")

    monkeypatch.setattr(training, "collect", ask_again)  # a refit reads the scored questions back,
    monkeypatch.setattr(combined, "read_all", read_again)  # and the fold readers' readings
    said: list[str] = []
    assert combined.train(data, trained_reader, log=said.append, progress=False, packed=packed, cache=cache) == record
    assert not any("training into" in line for line in said)  # and the fold readers
    assert any("read back" in line and "readings-" in line for line in said)
    assert len(list(cache.glob("fold-readers-*/fold[01]/neural-reader.json"))) == 2
    assert {name: (trained_reader / name).read_bytes() for name in fitted} == fitted
    stale = json.loads(fitted[RECORD_FILE])  # a combined model fitted on other inputs is refitted, not in the way
    (trained_reader / RECORD_FILE).write_text(json.dumps({**stale, "answer_features": stale["answer_features"][:-1]}))
    with pytest.raises(ReaderUnavailable, match="fitted on other inputs"):
        NeuralReader(str(trained_reader), base=packed)
    assert combined.train(data, trained_reader, log=said.append, progress=False, packed=packed, cache=cache) == record
    assert {name: (trained_reader / name).read_bytes() for name in fitted} == fitted
    readings.write_bytes(readings.read_bytes()[:50])  # damaged: read again
    with pytest.raises(AssertionError, match="read again"):
        combined.train(data, trained_reader, log=lambda line: None, progress=False, packed=packed, cache=cache)
    kept.write_bytes(kept.read_bytes()[:100])  # damaged: asked again
    with pytest.raises(AssertionError, match="asked again"):
        combined.train(data, trained_reader, log=lambda line: None, progress=False, packed=packed, cache=cache)
    assert record["questions"] > 0
    assert set(record["cross_fold"]) <= {"cmrc2018_trial.json", "DRCD_dev.json", "gold"}
    assert record["cross_fold"].keys() == record["cross_fold_light"].keys() - {"threshold"}
    reader = NeuralReader(str(trained_reader), base=packed)
    assert reader.combined is not None and 0.0 <= reader.combined.answer.threshold <= 1.0
    for name in (ANSWER_FILE, SPAN_FILE, RECORD_FILE):
        assert (trained_reader / name).is_file() and not (trained_reader / (name + ".tmp")).exists()
