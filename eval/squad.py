"""SQuAD-format reading-comprehension data (CMRC2018, DRCD): data -> paragraphs -> context, qas."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SquadAnswer:
    text: str
    start: int  # character offset in the context; -1 when the file gives none


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[SquadAnswer, ...]


@dataclass(frozen=True)
class SquadContext:
    id: str
    title: str
    context: str
    questions: tuple[SquadQuestion, ...]


class SquadFormatError(ValueError):
    """A file that is not SQuAD-format JSON."""


def load_squad(path: Path) -> list[SquadContext]:
    """Every paragraph of a SQuAD-format file, in file order."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        articles = data["data"]
        contexts = []
        for a, article in enumerate(articles):
            title = str(article.get("title") or "")
            for p, paragraph in enumerate(article["paragraphs"]):
                questions = tuple(
                    SquadQuestion(
                        str(qa["id"]),
                        str(qa["question"]),
                        tuple(SquadAnswer(str(ans["text"]), int(ans.get("answer_start", -1))) for ans in qa["answers"]),
                    )
                    for qa in paragraph["qas"]
                )
                context_id = str(paragraph.get("id") or f"{a}-{p}")
                contexts.append(SquadContext(context_id, title, str(paragraph["context"]), questions))
    except (OSError, UnicodeDecodeError) as exc:
        raise SquadFormatError(f"cannot read {path}: {exc}") from exc
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SquadFormatError(f"{path} is not SQuAD-format JSON (data -> paragraphs -> context, qas): {exc}") from exc
    return contexts


def split_key(context: SquadContext) -> str:
    """Contexts of one article stay on one side of a split (an article's paragraphs share facts)."""
    return context.title or context.id


def is_held_out(context: SquadContext, held_out_percent: int) -> bool:
    """A fixed split by hash of the article: the same contexts are held out on every machine and run."""
    digest = hashlib.sha256(split_key(context).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < held_out_percent


def split_contexts(
    contexts: list[SquadContext], held_out_percent: int
) -> tuple[list[SquadContext], list[SquadContext]]:
    """(train, held_out) by `is_held_out`."""
    held = [c for c in contexts if is_held_out(c, held_out_percent)]
    train = [c for c in contexts if not is_held_out(c, held_out_percent)]
    return train, held


def write_squad(contexts: list[SquadContext], path: Path) -> None:
    """Write contexts back as SQuAD-format JSON (one article per title)."""
    articles: dict[str, list[dict[str, object]]] = {}
    for c in contexts:
        articles.setdefault(c.title, []).append({
            "id": c.id,
            "context": c.context,
            "qas": [
                {"id": q.id, "question": q.question,
                 "answers": [{"text": a.text, "answer_start": a.start} for a in q.answers]}
                for q in c.questions
            ],
        })
    data = {"version": "jbqa-split", "data": [{"title": t, "paragraphs": ps} for t, ps in articles.items()]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
