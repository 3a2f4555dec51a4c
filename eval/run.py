"""Run the gold set through the answerer and report metrics."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jbqa.answerer import Answerer, AskResult, QuestionError
from jbqa.eval.metrics import (
    GoldItem,
    first_hit_rank,
    mean_interval,
    percentile,
    reciprocal_rank,
    span_em,
    span_f1,
    wilson_interval,
)
from jbqa.files import write_text
from jbqa.index.retriever import hybrid_search
from jbqa.progress import progress as progress_bar

DEFAULT_GOLD = Path(__file__).with_name("gold.jsonl")
EVAL_TOP = 3


def load_gold(path: Path) -> list[GoldItem]:
    items = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                items.append(GoldItem(str(row["id"]), row["question"], list(row["answers"]), list(row["sources"])))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a gold item ({exc})") from exc
    if not items:
        raise ValueError(f"{path} holds no questions")
    return items


@dataclass
class Outcome:
    item: GoldItem
    abstained: bool
    quotes: list[str]
    sources: list[str]
    confidence: float
    latency_ms: float
    answer: str | None = None  # the span marked in the top quote
    retrieved: str | None = None  # the source of the retriever's top passage (before the reader)

    def to_detail(self) -> dict[str, Any]:
        """One line of `--details`: enough to read a miss and to diff two runs."""
        return {
            "id": self.item.id,
            "question": self.item.question,
            "expected": {"answers": self.item.answers, "sources": self.item.sources},
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "quote": self.quotes[0] if self.quotes else None,
            "answer": self.answer,
            "source": self.sources[0] if self.sources else None,
            "retrieved_source": self.retrieved,
            "latency_ms": round(self.latency_ms, 2),
        }


def write_details(outcomes: list[Outcome], path: Path) -> None:
    """One JSON line per question: what it asked, what came back and how it scored (replaced atomically)."""
    write_text(path, "".join(json.dumps(o.to_detail(), ensure_ascii=False) + "\n" for o in outcomes))


def run_questions(
    answerer: Answerer, items: list[GoldItem], top: int = EVAL_TOP, progress: bool = False
) -> list[Outcome]:
    answerer.warm_up()  # the first question would time the loading of dictionaries
    outcomes = []
    for item in progress_bar(items, "Ask", "q", progress):
        started = time.perf_counter()
        try:
            result = answerer.ask(item.question, top=top)
        except QuestionError:  # an empty or oversized question in the data: refused, as the API would
            result = AskResult(item.question, True, answerer.index.embedder_label)
        elapsed = (time.perf_counter() - started) * 1000
        outcomes.append(
            Outcome(
                item,
                result.abstained,
                [a.quote for a in result.answers],
                [a.source for a in result.answers],
                result.confidence,
                elapsed,
                result.answers[0].answer if result.answers else None,
                _top_source(answerer, item.question),
            )
        )
    return outcomes


def _top_source(answerer: Answerer, question: str) -> str | None:
    """The file of the fused ranking's first passage (not timed: the ask above did the same search)."""
    hits = hybrid_search(answerer.index, question, k=1)
    return answerer.index.passages[hits[0].passage].source if hits else None


def report(outcomes: list[Outcome], embedder: str) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.item.answerable]
    ranks = [first_hit_rank(o.item, o.quotes) for o in answerable]
    n_ans = max(1, len(answerable))
    failures = []
    for o in outcomes:
        expected_abstain = not o.item.answerable
        rank = first_hit_rank(o.item, o.quotes) if o.item.answerable else None
        ok = o.abstained if expected_abstain else (rank == 1 and o.sources[0] in o.item.sources)
        if not ok:
            failures.append(
                {
                    "id": o.item.id,
                    "question": o.item.question,
                    "expected": {"answers": o.item.answers, "sources": o.item.sources},
                    "got": {
                        "abstained": o.abstained,
                        "quote": o.quotes[0] if o.quotes else None,
                        "source": o.sources[0] if o.sources else None,
                        "confidence": round(o.confidence, 4),
                    },
                }
            )
    latencies = [o.latency_ms for o in outcomes]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    hits = sum(1 for r in ranks if r == 1)
    retrieved = sum(1 for o in answerable if o.retrieved in o.item.sources)
    refused = sum(1 for o in answerable if o.abstained)
    refused_unanswerable = sum(1 for o in unanswerable if o.abstained)
    f1s = [span_f1(o.answer, o.item.answers) for o in answerable]
    return {
        "n": len(outcomes),
        "answerable": len(answerable),
        "answer_hit@1": round(hits / n_ans, 4),
        "answer_hit@3": round(sum(1 for r in ranks if r and r <= 3) / n_ans, 4),
        "source_hit@1": round(sum(1 for o in answerable if o.sources and o.sources[0] in o.item.sources) / n_ans, 4),
        # The retriever alone: its first passage's file (an abstention does not count here).
        "retrieval_source_hit@1": round(retrieved / n_ans, 4),
        "abstain_accuracy": round(sum(1 for o in outcomes if o.abstained != o.item.answerable) / len(outcomes), 4),
        "abstain_recall": round(refused_unanswerable / max(1, len(unanswerable)), 4),
        "false_abstain_rate": round(refused / n_ans, 4),
        "mrr": round(sum(reciprocal_rank(r) for r in ranks) / n_ans, 4),
        # An abstention or an unmarked answer scores 0.
        "span_em": round(sum(span_em(o.answer, o.item.answers) for o in answerable) / n_ans, 4),
        "span_f1": round(sum(f1s) / n_ans, 4),
        # 95% intervals: how far each figure could lie from that of many more such questions.
        "ci95": {
            "answer_hit@1": _rounded(wilson_interval(hits, len(answerable))),
            "span_f1": _rounded(mean_interval(f1s)),
            "retrieval_source_hit@1": _rounded(wilson_interval(retrieved, len(answerable))),
            "abstain_recall": _rounded(wilson_interval(refused_unanswerable, len(unanswerable))),
            "false_abstain_rate": _rounded(wilson_interval(refused, len(answerable))),
        },
        "latency_ms_p50": round(percentile(latencies, 50), 2),
        "latency_ms_p95": round(percentile(latencies, 95), 2),
        "latency_ms_p99": round(percentile(latencies, 99), 2),
        "embedder": embedder,
        "failures": failures,
    }


def _rounded(interval: tuple[float, float]) -> list[float]:
    return [round(interval[0], 4), round(interval[1], 4)]


def calibrate(outcomes: list[Outcome]) -> tuple[float, float]:
    """The abstention threshold that maximises abstain accuracy (ties: the lowest), and that accuracy."""
    points = sorted({round(o.confidence, 4) for o in outcomes} | {0.0})
    best = (0.0, -1.0)
    for t in points:
        acc = sum(1 for o in outcomes if (o.confidence < t) != o.item.answerable) / len(outcomes)
        if acc > best[1]:
            best = (t, acc)
    return best


def evaluate(answerer: Answerer, gold: Path = DEFAULT_GOLD) -> dict[str, Any]:
    return report(run_questions(answerer, load_gold(gold)), answerer.index.embedder_label)


def format_table(result: dict[str, Any]) -> str:
    keys = [k for k in result if k != "failures"]
    width = max(len(k) for k in keys)
    lines = [f"{k:<{width}}  {result[k]}" for k in keys]
    lines.append(f"{'failures':<{width}}  {len(result['failures'])}")
    for f in result["failures"]:
        got = f["got"]
        shown = "ABSTAINED" if got["abstained"] else f"{got['source']}: {(got['quote'] or '')[:60]}"
        lines.append(f"  {f['id']}  {f['question']}  expected {f['expected']['answers'] or 'abstain'}  got {shown}")
    return "\n".join(lines)
