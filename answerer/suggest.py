"""Questions the documents can answer, near one they cannot: offered with a refusal.

From the sentences ranked nearest to the refused question that share a distinctive word with it,
each figure becomes a question about what it counts (金融机构超480家 -> 金融机构有多少家; a figure
that is not a count: …是多少), kept only when jbqa answers it from that very sentence. Linguistic
rules only: parts of speech (the nouns right before the figure name what it counts) and units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from jbqa.answerer.figures import FIGURE
from jbqa.index.words import POS, Words

MAX_SUGGESTIONS = 3
MAX_TRIED = 4  # questions asked to check them: a refusal costs at most this many more answers
MIN_SUBJECT_CHARS = 2
MAX_SUBJECT_CHARS = 12
SKIPPABLE = 2  # verbs, adverbs or particles between the nouns and their figure (集聚金融机构超480家)
_NOUNS = {POS[k] for k in ("n", "nr", "ns", "nt", "nz", "eng")}
_BETWEEN = {POS[k] for k in ("v", "d", "p", "u", "other")}
# Units that count things: asked for with 有多少 + the unit; any other figure with 是多少.
_COUNTED = re.compile(r"家|所|座|个|项|条|只|辆|台|套|栋|幢|种|类|批|处|件|艘|架|名|位|户")


def questions_from(words: Words) -> list[tuple[str, str]]:
    """(question, the figure it asks for) for each figure of the sentence whose nouns name what it counts."""
    asked = []
    starts = list(words.bounds[:-1])
    for found in FIGURE.finditer(words.text):
        if found.group("unit") == "年" and re.fullmatch(r"\d{4}", found.group("number")):
            continue  # a year
        if found.start() not in starts:
            continue  # inside a word
        i = starts.index(found.start()) - 1
        skipped = 0
        while i >= 0 and words.pos[i] in _BETWEEN and not words.punct[i] and skipped < SKIPPABLE:
            i, skipped = i - 1, skipped + 1
        end = i
        while i >= 0 and words.pos[i] in _NOUNS and not words.punct[i]:
            i -= 1
        if end == i:
            continue
        subject = words.text[words.bounds[i + 1] : words.bounds[end + 1]]
        if not MIN_SUBJECT_CHARS <= len(subject) <= MAX_SUBJECT_CHARS:
            continue
        unit = found.group("unit")
        asked.append((subject + (f"有多少{unit}" if _COUNTED.fullmatch(unit) else "是多少"), found.group()))
    return asked


def suggest(sentences: Iterable[Words], answers_with: Callable[[str], str | None]) -> list[str]:
    """Up to MAX_SUGGESTIONS questions from `sentences` (nearest first) that `answers_with` (a
    question -> the normalised quote it is answered with, or None) answers from the sentence they
    came from."""
    chosen: list[str] = []
    tried = 0
    for words in sentences:
        for question, figure in questions_from(words):
            if question in chosen:
                continue
            if tried == MAX_TRIED:
                return chosen
            tried += 1
            quote = answers_with(question)
            if quote is not None and figure in quote and quote in words.text + quote[-1:]:
                chosen.append(question)
                if len(chosen) == MAX_SUGGESTIONS:
                    return chosen
    return chosen
