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
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jbqa.answerer.candidates import Candidate, CorpusView, gather
from jbqa.answerer.combined import DEPTH as COMBINED_DEPTH
from jbqa.answerer.features import QuestionTerms, question_terms, sentence_matrix
from jbqa.answerer.model import AbstainModel, ReaderModel, abstain_row, fit_abstain, fit_ranker
from jbqa.answerer.span_features import span_candidates, span_matrix
from jbqa.answerer.terms import TermStats
from jbqa.config import BUNDLED_CORPUS, training_cache_dir
from jbqa.eval.metrics import span_f1
from jbqa.eval.open_squad import write_corpus
from jbqa.eval.run import load_gold
from jbqa.eval.squad import SquadContext, load_squad, split_contexts
from jbqa.files import replacing
from jbqa.index.checksum import sha256_file
from jbqa.index.lexicon import Lexicon, default_lexicon, ensure_lexicon, lexicon_info
from jbqa.index.store import LoadedIndex, build_index
from jbqa.ingest.normalize import normalize_chars
from jbqa.ingest.split import sentence_bounds
from jbqa.progress import progress as progress_bar

SEED = 20261124
EMBEDDER = "auto"  # questions are asked of indexes built as jbqa builds them: multilingual-e5-small
TRAINING_FILES = {  # file name -> (share of articles held out for reporting, licence, source)
    "cmrc2018_trial.json": (40, "CC BY-SA 4.0", "https://github.com/ymcui/cmrc2018 squad-style-data/cmrc2018_trial.json"),
    "DRCD_dev.json": (20, "CC BY-SA 3.0", "https://github.com/DRCKnowledgeTeam/DRCD DRCD_dev.json"),
}
GOLD = "gold"  # the project's own questions (eval/gold.jsonl)
GOLD_FILE = Path(__file__).resolve().parent.parent / "eval" / "gold.jsonl"
GOLD_WEIGHT = 6.0  # they are few but in the product's domain
# Each SQuAD file weighs as much as the largest: the smaller one (CMRC2018 trial) has the longer answers.
MAX_SPAN_SENTENCES = 2


@dataclass(frozen=True)
class TrainingQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # normalised
    sources: frozenset[str]
    weight: float = 1.0
    dataset: str = GOLD  # the training file it comes from, or GOLD


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
    environment: str  # which corpus it was asked of (a fold, halves of one, ...)


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


def _questions(contexts: list[SquadContext], names: list[str], datasets: dict[int, tuple[str, float]]
               ) -> list[TrainingQuestion]:
    """The answerable questions of `contexts`, whose documents are `names` (in the same order);
    `datasets`: id() of each context -> (its file, the weight of its questions)."""
    return [
        TrainingQuestion(q.id, q.question, tuple(dict.fromkeys(normalize_chars(a.text) for a in q.answers)),
                         frozenset({name}), datasets[id(c)][1], datasets[id(c)][0])
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
    index: LoadedIndex, questions: Iterable[tuple[TrainingQuestion, bool]], fold: int, environment: str,
    progress: bool,
) -> Iterator[Instance]:
    lexicon = default_lexicon()
    view = CorpusView(index, lexicon)
    stats = TermStats(view.normalized, index.bm25.postings)
    items = list(questions)
    desc = f"{environment} {fold}" if fold >= 0 else environment
    for question, answerable in progress_bar(items, desc, "q", progress):
        q = question_terms(question.question, stats)
        if not q.terms:
            continue
        candidates = gather(view, q)
        if not candidates:
            continue
        labels = label_candidates(question, candidates) if answerable else np.zeros(len(candidates), np.int32)
        features = sentence_matrix(q, [c.context for c in candidates], lexicon)
        own_fold = _fold_of(question.id) if fold < 0 else fold  # gold questions: a fold by id
        yield Instance(question, own_fold, answerable, q, candidates, labels, features, environment)


def span_group(instance: Instance) -> SpanGroup | None:
    """Span candidates of the (at most two best-retrieved) sentences that hold the answer."""
    positives = [c for c, y in zip(instance.candidates, instance.labels, strict=True) if y][:MAX_SPAN_SENTENCES]
    rows, relevance = [], []
    for c in positives:
        spans = span_candidates(c.context.analysis.words)
        if not spans:
            continue
        rows.append(span_matrix(instance.q, c.context.analysis.words, spans))
        for span in spans:
            f1 = max(char_f1(c.context.text[span.start : span.end], a) for a in instance.question.answers)
            relevance.append(3 if f1 >= 0.999 else int(f1 * 3))
    if not rows or max(relevance) == 0:
        return None
    return SpanGroup(instance.question, instance.fold, np.concatenate(rows), np.array(relevance, np.int32))


def _fold_of(key: str) -> int:
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2


def article_fold(context: SquadContext) -> int:
    """The fold of a context's article (its own questions are asked of this fold's index)."""
    return _fold_of(context.title or context.id)


def collect(data_dir: Path, work: Path, progress: bool = True) -> tuple[TrainingData, dict[str, Any]]:
    """Ask every training question of the fold indexes (and the gold questions of the bundled corpus)."""
    data = TrainingData()
    summary: dict[str, Any] = {"files": {}}
    contexts_by_fold: list[list[SquadContext]] = [[], []]
    training: dict[str, list[SquadContext]] = {}
    for name, (held_percent, licence, source) in TRAINING_FILES.items():
        path = data_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"training file missing: {path} (get it from {source})")
        train, held = split_contexts(load_squad(path), held_percent)
        training[name] = train
        summary["files"][name] = {
            "sha256": sha256_file(path), "licence": licence, "source": source,
            "train_contexts": len(train), "train_questions": sum(len(c.questions) for c in train),
            "held_out_contexts": len(held), "held_out_questions": sum(len(c.questions) for c in held),
        }
        for c in train:
            contexts_by_fold[article_fold(c)].append(c)
    counts = {name: max(1, summary["files"][name]["train_questions"]) for name in training}
    weights = {name: max(counts.values()) / count for name, count in counts.items()}
    datasets = {id(c): (name, weights[name]) for name, cs in training.items() for c in cs}
    for name, weight in weights.items():
        summary["files"][name]["question_weight"] = round(weight, 4)
    fold_questions = []
    indexes = []
    for fold, contexts in enumerate(contexts_by_fold):
        index, names = _build(work / f"fold{fold}", contexts, progress)
        fold_questions.append(_questions(contexts, names, datasets))
        indexes.append(index)
    for fold in (0, 1):
        own = [(q, True) for q in fold_questions[fold]]
        other = [(q, False) for q in fold_questions[1 - fold]]
        data.instances.extend(ask_all(indexes[fold], own + other, fold, "fold", progress))
    # As `jbqa eval --holdout-every K` asks: contexts left out of a corpus that keeps the other
    # paragraphs of their article, so that their questions find their topic but not their answer;
    # in corpora of several sizes, so that scores mean the same in small corpora and in large ones.
    for fold, contexts in enumerate(contexts_by_fold):
        for every, name in ((2, "halves"), (4, "quarters")):
            kept, left = contexts[::every], contexts[1::every]
            data.instances.extend(_ask_left_out(work / f"{name}{fold}", kept, left, datasets, fold, name, progress))
    everything = [c for contexts in contexts_by_fold for c in contexts]
    most = [c for i, c in enumerate(everything) if i % 4 != 3]
    index, written = _build(work / "most", most, progress)
    most_names = dict(zip(map(id, most), written, strict=True))
    for fold, contexts in enumerate(contexts_by_fold):
        kept = [c for c in contexts if id(c) in most_names]
        left = [c for c in contexts if id(c) not in most_names]
        asked = _kept_and_left_out(kept, [most_names[id(c)] for c in kept], left, datasets)
        data.instances.extend(ask_all(index, asked, fold, "most", progress))
    # Near misses: every context stays, less the sentences that answer its questions.
    stripped = [without_answers(c) for fold in (0, 1) for c in contexts_by_fold[fold]]
    stripped_index, names = _build(work / "stripped", [c for c in stripped if c.context.strip()], progress)
    for fold in (0, 1):
        near = [(dataclasses.replace(q, sources=frozenset()), False) for q in fold_questions[fold]]
        data.instances.extend(ask_all(stripped_index, near, fold, "near misses", progress))
    # Near misses of another kind: the same question about another year or figure.
    for fold in (0, 1):
        changed = [(q, False) for q in map(other_figures, fold_questions[fold]) if q is not None]
        data.instances.extend(ask_all(indexes[fold], changed, fold, "other figures", progress))
    summary["near_miss_contexts"] = len(names)
    gold_index = build_index(BUNDLED_CORPUS, work / "bundled", EMBEDDER, progress=progress)
    gold = [
        TrainingQuestion(g.id, g.question, tuple(normalize_chars(a) for a in g.answers), frozenset(g.sources),
                         GOLD_WEIGHT, GOLD)
        for g in load_gold(GOLD_FILE)
    ]
    gold_asked = list(ask_all(gold_index, [(g, bool(g.answers)) for g in gold], -1, "gold", progress))
    lexicon = default_lexicon()
    data.instances.extend(gold_asked)
    data.instances.extend(n for n in (near_miss(i, lexicon) for i in gold_asked if i.answerable) if n is not None)
    for instance in data.instances:
        if instance.answerable and instance.labels.any():
            group = span_group(instance)
            if group:
                data.spans.append(group)
    summary["gold_questions"] = len(gold)
    summary["instances"] = len(data.instances)
    summary["span_groups"] = len(data.spans)
    return data, summary


def _build(folder: Path, contexts: list[SquadContext], progress: bool) -> tuple[LoadedIndex, list[str]]:
    """An index of one document per context, and the documents' names (in the contexts' order)."""
    names = write_corpus(contexts, folder / "corpus")
    return build_index(folder / "corpus", folder / "index", EMBEDDER, progress=progress), names


def _ask_left_out(
    folder: Path, kept: list[SquadContext], left: list[SquadContext], datasets: dict[int, tuple[str, float]],
    fold: int, environment: str, progress: bool,
) -> Iterator[Instance]:
    """The questions of `kept` and of `left` asked of an index of `kept` only."""
    index, names = _build(folder, kept, progress)
    return ask_all(index, _kept_and_left_out(kept, names, left, datasets), fold, environment, progress)


def _kept_and_left_out(
    kept: list[SquadContext], names: list[str], left: list[SquadContext], datasets: dict[int, tuple[str, float]]
) -> list[tuple[TrainingQuestion, bool]]:
    """The questions of the contexts in a corpus (`kept`, written as `names`), answerable, and of
    those left out of it, not."""
    return [(q, True) for q in _questions(kept, names, datasets)] + [
        (q, False) for q in _questions(left, ["left-out"] * len(left), datasets)
    ]


def near_miss(instance: Instance, lexicon: Lexicon) -> Instance | None:
    """The question asked of its corpus less every sentence that holds one of its answers: its
    topic is there, its fact is not (None when nothing else was retrieved)."""
    answers = instance.question.answers
    kept = [c for c in instance.candidates if not any(a in c.context.text for a in answers)]
    if not kept:
        return None
    question = dataclasses.replace(instance.question, id=instance.question.id + "~near", sources=frozenset())
    features = sentence_matrix(instance.q, [c.context for c in kept], lexicon)
    return Instance(question, instance.fold, False, instance.q, kept, np.zeros(len(kept), np.int32), features,
                    instance.environment + " near misses")


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


@dataclass(frozen=True)
class Outcome:
    """An instance scored out of fold: the abstain row of its top-ranked candidate and how that
    candidate fares."""

    dataset: str
    environment: str
    situation: str  # answerable, left_out or near_miss
    fold: int
    weight: float
    row: list[float]
    right: bool  # the candidate is a sentence of a gold source that holds a gold answer (the label)
    hit: bool  # the candidate holds a gold answer (the quote hit of the evaluation)
    span_f1: float  # CMRC2018 F1 of its best span (0 unless it holds a gold answer)
    question: str = ""  # what a second reader of the candidate needs: the question as asked,
    quote: str = ""  # the candidate sentence as the answer quotes it, its neighbours as context,
    previous: str = ""
    following: str = ""
    light_span: tuple[int, int] | None = None  # and the light reader's span in the quote
    question_id: str = ""
    position: int = 0  # in the light reader's ranking of the instance's candidates
    answers: tuple[str, ...] = ()  # normalised


def score_out_of_fold(model: ReaderModel, instance: Instance, depth: int = 1) -> list[Outcome]:
    """The outcomes of the instance's `depth` best-ranked candidates, each scored as if it led (its
    margin is over the candidate ranked next)."""
    scores = model.rank(instance.features)
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    answers = list(instance.question.answers)
    outcomes = []
    for position, top in enumerate(order[:depth]):
        runner_up = float(scores[order[position + 1]]) if position + 1 < len(order) else None
        context = instance.candidates[top].context
        span = model.best_span(instance.q, context.analysis.words)
        hit = any(a in context.text for a in answers)
        f1 = span_f1(context.text[span.start : span.end], answers) if span and hit else 0.0
        outcomes.append(Outcome(
            instance.question.dataset, instance.environment, _situation(instance), instance.fold,
            instance.question.weight, abstain_row(instance.features[top], float(scores[top]), runner_up, span),
            bool(instance.labels[top]), hit, f1,
            instance.question.question, _quote(instance.candidates[top]), context.previous, context.following,
            (span.start, span.end) if span else None, instance.question.id, position, tuple(answers),
        ))
    return outcomes


def _quote(candidate: Candidate) -> str:
    """The candidate's sentence as the answerer quotes it: the passage's text, not normalised."""
    return candidate.passage.sentence_text(candidate.sentence)


def _situation(instance: Instance) -> str:
    if instance.answerable:
        return "answerable"
    return "left_out" if instance.question.sources else "near_miss"  # near misses are asked with no source


def cross_fold_report(outcomes: list[Outcome], probability: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """Out-of-fold quality by training file (and the project's gold questions): the top sentence holds
    an answer (quote hit@1, before and after refusals), its span's CMRC2018 F1 (0 when the sentence
    holds no answer or is refused), and the share refused of answerable, left-out and near-miss questions."""
    report: dict[str, dict[str, float]] = {}
    for dataset in dict.fromkeys(o.dataset for o in outcomes):
        mine = [(o, p >= threshold) for o, p in zip(outcomes, probability, strict=True) if o.dataset == dataset]
        answerable = [(o, answered) for o, answered in mine if o.situation == "answerable"]
        n = max(len(answerable), 1)
        entry = {
            "answerable": len(answerable),
            "quote_hit@1": round(sum(o.hit for o, _ in answerable) / n, 4),
            "quote_hit@1_answered": round(sum(o.hit and answered for o, answered in answerable) / n, 4),
            "span_f1_answered": round(sum(o.span_f1 * answered for o, answered in answerable) / n, 4),
        }
        for situation in ("answerable", "left_out", "near_miss"):
            picked = [answered for o, answered in mine if o.situation == situation]
            if picked:
                entry[f"{situation}_refused"] = round(sum(not a for a in picked) / len(picked), 4)
                entry[situation] = len(picked)
        report[dataset] = entry
    return report


def refusals_by_environment(outcomes: list[Outcome], probability: np.ndarray, threshold: float
                            ) -> dict[str, dict[str, float]]:
    """The share refused out of fold of the answerable and the unanswerable questions asked of each
    kind of corpus: one threshold should hold in corpora of any size."""
    report: dict[str, dict[str, float]] = {}
    for environment in dict.fromkeys(o.environment for o in outcomes):
        entry = {}
        for answerable in (True, False):
            refused = [p < threshold for o, p in zip(outcomes, probability, strict=True)
                       if o.environment == environment and (o.situation == "answerable") == answerable]
            if refused:
                key = "answerable" if answerable else "unanswerable"
                entry[f"{key}_refused"] = round(sum(refused) / len(refused), 4)
                entry[key] = len(refused)
        report[environment] = entry
    return report


def out_of_fold(data: TrainingData, depth: int = 1) -> list[Outcome]:
    """Every instance scored by a ranker and span scorer trained on the other fold: the rows the
    abstain model learns from (the `depth` best-ranked candidates of each, in order)."""
    outcomes: list[Outcome] = []
    for fold in (0, 1):
        ranker = fit_ranker(*_ranker_rows([i for i in data.instances if i.fold != fold]), seed=SEED)
        spans = fit_ranker(*_span_rows([g for g in data.spans if g.fold != fold]), seed=SEED, spans=True)
        model = ReaderModel(ranker, spans, None)
        for instance in data.instances:
            if instance.fold == fold:
                outcomes.extend(score_out_of_fold(model, instance, depth))
    return outcomes


# Modules that read the outcomes rather than compute them: changing them keeps the cached ones.
_AFTER_OUTCOMES = frozenset({"jbqa/cli.py", "jbqa.answerer/combined.py", "jbqa.answerer/neural.py",
                             "jbqa.answerer/neural_training.py", "jbqa.answerer/reader_files.py"})


def source_digest(keep: Callable[[str], bool] = lambda module: True) -> str:
    """SHA-256 of jbqa's own source files ("package/module.py") that `keep` keeps."""
    import importlib

    h = hashlib.sha256()
    for package in ("jbqa", "jbqa.ingest", "jbqa.index", "jbqa.answerer", "jbqa.eval"):
        folder = Path(importlib.import_module(package).__file__ or "").parent
        for path in sorted(folder.glob("*.py")):
            module = f"{package}/{path.name}"
            if keep(module):
                h.update(f"{module}\0".encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def outcomes_key(data_dir: Path, depth: int) -> str:
    """What out-of-fold outcomes are computed from: the training files, the gold questions, the
    lexicon, the embedder's packaged model, jbqa's source and `depth`."""
    from jbqa.index.e5 import package_file

    parts = {
        "depth": depth,
        "files": {name: sha256_file(data_dir / name) for name in TRAINING_FILES},
        "gold": sha256_file(GOLD_FILE),
        "lexicon": lexicon_info(ensure_lexicon())["vectors_sha256"],
        "embedder": {"name": EMBEDDER, "sha256": sha256_file(package_file())},
        "source": source_digest(lambda module: module not in _AFTER_OUTCOMES),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cached_out_of_fold(data_dir: Path, depth: int, progress: bool = True, cache: Path | None = None,
                       log: Callable[[str], None] = print, key: str | None = None) -> list[Outcome]:
    """`out_of_fold` of every training question asked (`collect`), kept in jbqa's training cache
    under `outcomes_key`: a refit from the same files and code reads them back instead of asking
    again (most of a fit's time). A file that cannot be read back is computed again; writing one
    removes those of other inputs unused for a month (`prune_stale`). `key`: the `outcomes_key` of
    `data_dir` and `depth`, when the caller has it already."""
    key = key or outcomes_key(data_dir, depth)
    path = _outcomes_path(cache, key)
    if path.is_file():
        try:
            outcomes = [_outcome(fields) for fields in read_json_lines(path)]
            log(f"training questions scored out of fold: read back from {used(path)}")
            return outcomes
        except (OSError, EOFError, ValueError, TypeError) as exc:
            log(f"cannot read {path} ({exc}): asking the training questions again")
    with tempfile.TemporaryDirectory(prefix="jbqa-train-") as tmp:
        data, _ = collect(data_dir, Path(tmp), progress)
    outcomes = out_of_fold(data, depth)
    keep_out_of_fold(data_dir, depth, outcomes, cache, log, key)
    return outcomes


STALE_DAYS = 30  # an entry of the training cache neither written nor read back for this long is removed
_ENTRY = re.compile(r"(out-of-fold|readings|fold-readers)-[0-9a-f]{24}\b")


def used(entry: Path) -> Path:
    """Mark an entry of the training cache as read back now (`prune_stale` keeps what is in use)."""
    os.utime(entry)
    return entry


def prune_stale(entry: Path, log: Callable[[str], None] = print, days: float = STALE_DAYS) -> list[Path]:
    """Remove the entries of `entry`'s kind beside it (scored questions, readings, fold readers) that
    were neither written nor read back for `days`: they were computed from other files or code,
    and their keys are never asked for again. Nothing else in the folder is touched. Returns what
    was removed."""
    kind = _ENTRY.match(entry.name)
    if kind is None:
        raise ValueError(f"{entry.name} is not an entry of jbqa's training cache")
    cutoff = time.time() - days * 86400
    removed = []
    for other in sorted(entry.parent.iterdir()):
        found = _ENTRY.match(other.name)
        if other == entry or found is None or found.group(1) != kind.group(1) or other.is_symlink():
            continue
        if other.stat().st_mtime < cutoff:
            shutil.rmtree(other) if other.is_dir() else other.unlink()
            removed.append(other)
    if removed:
        log(f"training cache: removed {len(removed)} {kind.group(1)} entries unused for {days:g} days")
    return removed


def _outcomes_path(cache: Path | None, key: str) -> Path:
    return (cache or training_cache_dir()) / f"out-of-fold-{key[:24]}.jsonl.gz"


def keep_out_of_fold(data_dir: Path, depth: int, outcomes: Sequence[Outcome], cache: Path | None = None,
                     log: Callable[[str], None] = print, key: str | None = None) -> Path:
    """Write `out_of_fold(…, depth)` of the training questions where `cached_out_of_fold` reads it back
    (`key`: their `outcomes_key`, when the caller has it), and prune the stale ones (`prune_stale`)."""
    path = write_json_lines(_outcomes_path(cache, key or outcomes_key(data_dir, depth)),
                            (dataclasses.asdict(o) for o in outcomes))
    prune_stale(path, log)
    return path


def read_json_lines(path: Path) -> list[Any]:
    """The values `write_json_lines` wrote."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def write_json_lines(path: Path, rows: Iterable[Any]) -> Path:
    """One JSON value per line, gzipped, written atomically: an interrupted write leaves no file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _outcome(fields: dict[str, Any]) -> Outcome:
    span = fields.get("light_span")
    return Outcome(**{**fields, "light_span": tuple(span) if span is not None else None,
                      "answers": tuple(fields.get("answers", ()))})


def abstain_targets(outcomes: Sequence[Outcome]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What `fit_abstain` learns the outcomes by: labels (answerable and right), weights, whether
    answerable, folds."""
    return (np.array([int(o.situation == "answerable" and o.right) for o in outcomes]),
            np.array([o.weight for o in outcomes], np.float32),
            np.array([o.situation == "answerable" for o in outcomes]),
            np.array([o.fold for o in outcomes]))


def fit_light_abstain(outcomes: Sequence[Outcome], seed: int) -> tuple[AbstainModel, np.ndarray]:
    """The light reader's abstain model over the outcomes' rows, and its out-of-fold probabilities."""
    return fit_abstain(np.array([o.row for o in outcomes], np.float32), *abstain_targets(outcomes), seed)


def train(data_dir: Path, output: Path, progress: bool = True,
          log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> dict[str, Any]:
    """Train the ranker, span scorer and abstain model; write them with a model card to `output`.
    The questions scored out of fold, to the depth the combined model weighs, go to jbqa's training
    cache, where `jbqa train --reader neural` reads them back instead of asking them again."""
    random.seed(SEED)
    np.random.seed(SEED)
    with tempfile.TemporaryDirectory(prefix="jbqa-train-") as tmp:
        data, summary = collect(data_dir, Path(tmp), progress)
    outcomes = out_of_fold(data, COMBINED_DEPTH)
    try:
        log(f"training questions scored out of fold: kept in {keep_out_of_fold(data_dir, COMBINED_DEPTH, outcomes, log=log)}")
    except OSError as exc:  # only a later fit's time is lost
        log(f"cannot keep the training questions scored out of fold ({exc})")
    outcomes = [o for o in outcomes if o.position == 0]  # the best-ranked candidate: the abstain model's rows
    abstain, probability = fit_light_abstain(outcomes, SEED)
    ranker = fit_ranker(*_ranker_rows(data.instances), seed=SEED)
    spans = fit_ranker(*_span_rows(data.spans), seed=SEED, spans=True)
    model = ReaderModel(ranker, spans, abstain)
    summary["lexicon"] = {key: lexicon_info()[key] for key in ("source", "vectors_sha256")}
    summary["cross_fold"] = cross_fold_report(outcomes, probability, abstain.threshold)
    summary["refusals_by_corpus"] = refusals_by_environment(outcomes, probability, abstain.threshold)
    summary["abstain"] = abstain.summary()
    summary["seed"] = SEED
    model.save(output, summary)
    return summary


def dump_summary(summary: dict[str, Any]) -> str:
    return json.dumps(summary, ensure_ascii=False, indent=2)
