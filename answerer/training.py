"""Train the light reader from SQuAD-format reading-comprehension data and the project's gold questions.

Questions are asked of real indexes, as at answer time, so that retrieval features are what the
reader will see. SQuAD contexts are split into two folds by article; each fold's index answers its
own questions and serves as a corpus that lacks the other fold's documents, so every question also
gives a negative for the abstain model; a third index holds every context less the sentences that
answer its questions, so that each question also gives a near miss (its topic present, its fact not). The abstain model is fitted on out-of-fold ranker and span
scores (each fold scored by models trained on the other), so that its inputs look like unseen data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jbqa.answerer.candidates import Candidate, CorpusView, gather
from jbqa.answerer.features import QuestionTerms, question_terms, sentence_features
from jbqa.answerer.model import AbstainModel, ReaderModel, abstain_row, fit_abstain, fit_ranker
from jbqa.answerer.span_features import cut_words, span_candidates, span_matrix
from jbqa.answerer.terms import TermStats
from jbqa.config import BUNDLED_CORPUS
from jbqa.eval.open_squad import write_corpus
from jbqa.eval.run import load_gold
from jbqa.eval.squad import SquadContext, load_squad, split_contexts
from jbqa.index.store import LoadedIndex, build_index
from jbqa.ingest.normalize import normalize_chars
from jbqa.ingest.split import sentence_bounds
from jbqa.progress import progress as progress_bar

SEED = 20261124
TRAINING_FILES = {  # file name -> (share of articles held out for reporting, licence, source)
    "cmrc2018_trial.json": (40, "CC BY-SA 4.0", "https://github.com/ymcui/cmrc2018 squad-style-data/cmrc2018_trial.json"),
    "DRCD_dev.json": (20, "CC BY-SA 3.0", "https://github.com/DRCKnowledgeTeam/DRCD DRCD_dev.json"),
}
GOLD_WEIGHT = 6.0  # the project's own questions are few but in the product's domain
MAX_SPAN_SENTENCES = 2


@dataclass(frozen=True)
class TrainingQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # normalised
    sources: frozenset[str]
    weight: float = 1.0


@dataclass
class Instance:
    """One question asked of one index: its candidates and whether the index holds its answer."""

    question: TrainingQuestion
    fold: int
    answerable: bool
    q: QuestionTerms
    candidates: list[Candidate]
    labels: np.ndarray  # 1 where the candidate sentence holds a gold answer in a gold source
    features: np.ndarray


@dataclass
class SpanGroup:
    question: TrainingQuestion
    fold: int
    features: np.ndarray
    relevance: np.ndarray  # 0..3 by character F1 with the best gold answer


@dataclass
class TrainingData:
    instances: list[Instance] = field(default_factory=list)
    spans: list[SpanGroup] = field(default_factory=list)


def char_f1(prediction: str, answer: str) -> float:
    """Character-overlap F1 (a training label: how much of the answer a span holds)."""
    common = sum(min(prediction.count(ch), answer.count(ch)) for ch in set(prediction))
    if not common:
        return 0.0
    precision, recall = common / len(prediction), common / len(answer)
    return 2 * precision * recall / (precision + recall)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def without_answers(context: SquadContext) -> SquadContext:
    """The context less every sentence that holds one of its answers: its topic stays, its facts go
    (questions asked of it are near misses, the hardest kind to refuse)."""
    spans = [(a.start, a.start + len(a.text)) for q in context.questions for a in q.answers if a.start >= 0]
    kept = [
        context.context[start:end]
        for start, end in sentence_bounds(context.context)
        if not any(start < b and a < end for a, b in spans)
    ]
    return SquadContext(context.id, context.title, "".join(kept), ())


_FIGURE = re.compile(r"\d+")


def other_figures(question: TrainingQuestion) -> TrainingQuestion | None:
    """The question with each of its figures changed (1990 -> 1993), which its document does not
    answer; None for a question with no figure."""
    if not _FIGURE.search(question.question):
        return None
    changed = _FIGURE.sub(lambda m: str(int(m.group(0)) + 3), question.question)
    return dataclasses.replace(question, id=question.id + "~", question=changed, answers=(), sources=frozenset())


def _questions(contexts: list[SquadContext], names: list[str]) -> list[TrainingQuestion]:
    """The answerable questions of `contexts`, whose documents are `names` (in the same order)."""
    return [
        TrainingQuestion(q.id, q.question, tuple(dict.fromkeys(normalize_chars(a.text) for a in q.answers)),
                         frozenset({name}))
        for c, name in zip(contexts, names, strict=True)
        for q in c.questions
        if q.answers
    ]


def label_candidates(question: TrainingQuestion, candidates: list[Candidate]) -> np.ndarray:
    return np.array(
        [c.source in question.sources and any(a in c.context.text for a in question.answers) for c in candidates],
        dtype=np.int32,
    )


def ask_all(
    index: LoadedIndex, questions: Iterable[tuple[TrainingQuestion, bool]], fold: int, desc: str, progress: bool
) -> Iterator[Instance]:
    view = CorpusView(index)
    stats = TermStats(view.normalized, index.bm25.postings)
    items = list(questions)
    for question, answerable in progress_bar(items, desc, "q", progress):
        q = question_terms(question.question, stats)
        if not q.terms:
            continue
        candidates = gather(view, q)
        if not candidates:
            continue
        labels = label_candidates(question, candidates) if answerable else np.zeros(len(candidates), np.int32)
        features = np.array([sentence_features(q, c.context) for c in candidates], dtype=np.float32)
        own_fold = _fold_of(question.id) if fold < 0 else fold  # gold questions: a fold by id
        yield Instance(question, own_fold, answerable, q, candidates, labels, features)


def span_group(instance: Instance) -> SpanGroup | None:
    """Span candidates of the (at most two best-retrieved) sentences that hold the answer."""
    positives = [c for c, y in zip(instance.candidates, instance.labels, strict=True) if y][:MAX_SPAN_SENTENCES]
    rows, relevance = [], []
    for c in positives:
        words = cut_words(c.context.text)
        spans = span_candidates(words)
        if not spans:
            continue
        rows.append(span_matrix(instance.q, words, spans))
        for span in spans:
            f1 = max(char_f1(c.context.text[span.start : span.end], a) for a in instance.question.answers)
            relevance.append(3 if f1 >= 0.999 else int(f1 * 3))
    if not rows or max(relevance) == 0:
        return None
    return SpanGroup(instance.question, instance.fold, np.concatenate(rows), np.array(relevance, np.int32))


def _fold_of(key: str) -> int:
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2


def collect(data_dir: Path, work: Path, progress: bool = True) -> tuple[TrainingData, dict[str, Any]]:
    """Ask every training question of the fold indexes (and the gold questions of the bundled corpus)."""
    data = TrainingData()
    summary: dict[str, Any] = {"files": {}}
    contexts_by_fold: list[list[SquadContext]] = [[], []]
    for name, (held_percent, licence, source) in TRAINING_FILES.items():
        path = data_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"training file missing: {path} (get it from {source})")
        train, held = split_contexts(load_squad(path), held_percent)
        summary["files"][name] = {
            "sha256": sha256(path), "licence": licence, "source": source,
            "train_contexts": len(train), "train_questions": sum(len(c.questions) for c in train),
            "held_out_contexts": len(held), "held_out_questions": sum(len(c.questions) for c in held),
        }
        for c in train:
            contexts_by_fold[_fold_of(c.title or c.id)].append(c)
    fold_questions = []
    indexes = []
    for fold, contexts in enumerate(contexts_by_fold):
        folder = work / f"fold{fold}"
        names = write_corpus(contexts, folder / "corpus")
        fold_questions.append(_questions(contexts, names))
        indexes.append(build_index(folder / "corpus", folder / "index", "offline", progress=progress))
    for fold in (0, 1):
        own = [(q, True) for q in fold_questions[fold]]
        other = [(q, False) for q in fold_questions[1 - fold]]
        data.instances.extend(ask_all(indexes[fold], own + other, fold, f"fold {fold}", progress))
    # Near misses: every context stays, less the sentences that answer its questions.
    stripped = [without_answers(c) for fold in (0, 1) for c in contexts_by_fold[fold]]
    names = write_corpus([c for c in stripped if c.context.strip()], work / "stripped" / "corpus")
    stripped_index = build_index(work / "stripped" / "corpus", work / "stripped" / "index", "offline", progress=progress)
    for fold in (0, 1):
        near = [(dataclasses.replace(q, sources=frozenset()), False) for q in fold_questions[fold]]
        data.instances.extend(ask_all(stripped_index, near, fold, f"near misses {fold}", progress))
    # Near misses of another kind: the same question about another year or figure.
    for fold in (0, 1):
        changed = [(q, False) for q in map(other_figures, fold_questions[fold]) if q is not None]
        data.instances.extend(ask_all(indexes[fold], changed, fold, f"other figures {fold}", progress))
    summary["near_miss_contexts"] = len(names)
    gold_index = build_index(BUNDLED_CORPUS, work / "bundled", "offline", progress=progress)
    gold = [
        TrainingQuestion(g.id, g.question, tuple(normalize_chars(a) for a in g.answers), frozenset(g.sources),
                         GOLD_WEIGHT)
        for g in load_gold(Path(__file__).resolve().parent.parent / "eval" / "gold.jsonl")
    ]
    data.instances.extend(ask_all(gold_index, [(g, bool(g.answers)) for g in gold], -1, "gold", progress))
    for instance in data.instances:
        if instance.answerable and instance.labels.any():
            group = span_group(instance)
            if group:
                data.spans.append(group)
    summary["gold_questions"] = len(gold)
    summary["instances"] = len(data.instances)
    summary["span_groups"] = len(data.spans)
    return data, summary


def _ranker_rows(instances: list[Instance]) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray]:
    kept = [i for i in instances if i.answerable and i.labels.any()]
    x = np.concatenate([i.features for i in kept])
    y = np.concatenate([i.labels for i in kept])
    groups = [len(i.labels) for i in kept]
    weights = np.array([i.question.weight for i in kept], np.float32)
    return x, y, groups, weights


def _span_rows(groups: list[SpanGroup]) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray]:
    x = np.concatenate([g.features for g in groups])
    y = np.concatenate([g.relevance for g in groups])
    return x, y, [len(g.relevance) for g in groups], np.array([g.question.weight for g in groups], np.float32)


def best_candidate_row(model: ReaderModel, instance: Instance) -> tuple[list[float], bool, float]:
    """The abstain row of the top-ranked candidate, whether that candidate holds the answer, and the
    character F1 of its best span with the gold answers."""
    scores = model.rank(instance.features)
    order = np.argsort(-scores, kind="stable")
    top = int(order[0])
    runner_up = float(scores[order[1]]) if len(order) > 1 else None
    span = model.best_span(instance.q, instance.candidates[top].context.text)
    text = instance.candidates[top].context.text
    f1 = max((char_f1(text[span.start : span.end], a) for a in instance.question.answers), default=0.0) if span else 0.0
    return abstain_row(instance.features[top], float(scores[top]), runner_up, span), bool(instance.labels[top]), f1


def _situation(instance: Instance) -> str:
    if instance.answerable:
        return "answerable"
    return "left_out" if instance.question.sources else "near_miss"  # near misses are asked with no source


def cross_fold_report(
    abstain: AbstainModel, rows: list[list[float]], kinds: list[tuple[str, str, bool, float]]
) -> dict[str, dict[str, float]]:
    """Out-of-fold quality by kind of question (SQuAD or the project's gold): top sentence right, its
    span's character F1 (over answerable questions, 0 when the sentence is wrong), and the share
    refused at the chosen threshold of answerable, left-out and near-miss questions."""
    report: dict[str, dict[str, float]] = {}
    for kind in ("squad", "gold"):
        picked = [(abstain.probability(r), s, c, f) for r, (k, s, c, f) in zip(rows, kinds, strict=True) if k == kind]
        answerable = [(c, f) for _, s, c, f in picked if s == "answerable"]
        report[kind] = {
            "answerable": len(answerable),
            "sentence_hit@1": round(sum(c for c, _ in answerable) / max(len(answerable), 1), 4),
            "span_char_f1": round(sum(f for _, f in answerable) / max(len(answerable), 1), 4),
        }
        for situation in ("answerable", "left_out", "near_miss"):
            ps = [p for p, s, _, _ in picked if s == situation]
            if ps:
                report[kind][f"{situation}_refused"] = round(sum(p < abstain.threshold for p in ps) / len(ps), 4)
                report[kind][situation] = len(ps)
    return report


def train(data_dir: Path, output: Path, progress: bool = True) -> dict[str, Any]:
    """Train the ranker, span scorer and abstain model; write them with a model card to `output`."""
    random.seed(SEED)
    np.random.seed(SEED)
    with tempfile.TemporaryDirectory(prefix="jbqa-train-") as tmp:
        data, summary = collect(data_dir, Path(tmp), progress)
    # Out-of-fold scores for the abstain model: each fold scored by models of the other.
    oof_rows: list[list[float]] = []
    oof_labels: list[int] = []
    oof_weights: list[float] = []
    oof_kinds: list[tuple[str, str, bool, float]] = []
    for fold in (0, 1):
        train_inst = [i for i in data.instances if i.fold != fold]
        test_inst = [i for i in data.instances if i.fold == fold]
        ranker = fit_ranker(*_ranker_rows(train_inst), seed=SEED)
        spans = fit_ranker(*_span_rows([g for g in data.spans if g.fold != fold]), seed=SEED, spans=True)
        model = ReaderModel(ranker, spans, None)
        for inst in test_inst:
            row, correct, f1 = best_candidate_row(model, inst)
            oof_rows.append(row)
            oof_labels.append(int(inst.answerable and correct))
            oof_weights.append(inst.question.weight)
            kind = "gold" if inst.question.weight == GOLD_WEIGHT else "squad"
            oof_kinds.append((kind, _situation(inst), correct, f1 if inst.answerable and correct else 0.0))
    answerable = np.array([situation == "answerable" for _, situation, _, _ in oof_kinds])
    abstain = fit_abstain(np.array(oof_rows, np.float32), np.array(oof_labels), np.array(oof_weights), answerable, SEED)
    ranker = fit_ranker(*_ranker_rows(data.instances), seed=SEED)
    spans = fit_ranker(*_span_rows(data.spans), seed=SEED, spans=True)
    model = ReaderModel(ranker, spans, abstain)
    summary["cross_fold"] = cross_fold_report(abstain, oof_rows, oof_kinds)
    summary["abstain"] = abstain.summary()
    summary["seed"] = SEED
    model.save(output, summary)
    return summary


def dump_summary(summary: dict[str, Any]) -> str:
    return json.dumps(summary, ensure_ascii=False, indent=2)
