"""Small metric functions: each returns one score and is computed per question."""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

from jbqa.ingest.normalize import normalize_for_match


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answers: list[str]
    sources: list[str]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def answer_hit(gold: GoldItem, quote: str) -> bool:
    """A gold answer is a substring of the quote, both normalised (NFKC, t2s, no whitespace)."""
    text = normalize_for_match(quote)
    return any(normalize_for_match(a) in text for a in gold.answers)


def first_hit_rank(gold: GoldItem, quotes: list[str]) -> int | None:
    """1-based rank of the first quote that contains a gold answer."""
    return next((i for i, q in enumerate(quotes, start=1) if answer_hit(gold, q)), None)


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))  # nearest rank, 1-based
    return ordered[min(len(ordered), max(1, rank)) - 1]


# --- uncertainty of a set's figures ----------------------------------------------------------------

Z95 = 1.959964  # the standard normal's 97.5th percentile: two-sided 95% intervals


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a share `successes / n` (95% by default); (0, 1) when n is 0.
    Unlike mean ± z standard errors it stays inside [0, 1] and is not empty at 0 or n."""
    if n <= 0:
        return 0.0, 1.0
    share = successes / n
    spread = z * z / n
    centre = (share + spread / 2) / (1 + spread)
    half = z * math.sqrt(share * (1 - share) / n + spread / (4 * n)) / (1 + spread)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: list[float], z: float = Z95) -> tuple[float, float]:
    """Mean ± z standard errors of per-question scores in [0, 1] (normal approximation), clipped
    to [0, 1]; (0, 1) for fewer than two values."""
    if len(values) < 2:
        return 0.0, 1.0
    mean = statistics.fmean(values)
    half = z * statistics.stdev(values, mean) / math.sqrt(len(values))
    return max(0.0, mean - half), min(1.0, mean + half)


# --- span metrics, after the CMRC2018 evaluation script --------------------------------------------

_CMRC_PUNCT = frozenset("-:_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』")
_CJK = re.compile(r"[\u4e00-\u9fa5]")
_LATIN_TOKEN = re.compile(r"\w+(?:[.,']\w+)*|\S")


def cmrc_segments(text: str, remove_punct: bool = True) -> list[str]:
    """Lower-cased text cut as CMRC2018 does: every CJK character and punctuation mark alone, other
    runs cut into words (the official script's nltk word tokens, approximated by a pattern)."""
    segments: list[str] = []
    run = ""
    for ch in text.lower().strip():
        if remove_punct and ch in _CMRC_PUNCT:
            continue
        if _CJK.match(ch) or ch in _CMRC_PUNCT:
            segments.extend(_LATIN_TOKEN.findall(run))
            run = ""
            segments.append(ch)
        else:
            run += ch
    segments.extend(_LATIN_TOKEN.findall(run))
    return segments


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def span_f1(prediction: str | None, answers: list[str]) -> float:
    """CMRC2018 F1: the longest common run of segments, as precision and recall, best over the gold
    answers (punctuation removed); 0 for no prediction."""
    if not prediction or not answers:
        return 0.0
    predicted = cmrc_segments(prediction)
    best = 0.0
    for answer in answers:
        gold = cmrc_segments(answer)
        common = _longest_common_run(gold, predicted)
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _without_punct(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in _CMRC_PUNCT and not ch.isspace())


def span_em(prediction: str | None, answers: list[str]) -> float:
    """CMRC2018 exact match: equal to a gold answer once punctuation and whitespace are removed;
    0 for no prediction."""
    if prediction is None:
        return 0.0
    return 1.0 if any(_without_punct(prediction) == _without_punct(a) for a in answers) else 0.0
