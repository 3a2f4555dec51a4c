"""What the answer probability means to a reader of the page: three bands.

The abstain model's probability is calibrated on the training data (out-of-fold, 19,532 questions
of CMRC2018, DRCD and the gold set; `answerer/trained/MODEL_CARD.md`): of the answers given 0.0-0.5,
at most 4 in 10 are right (0.03, 0.21, 0.31, 0.38, 0.37 by tenth); 0.5-0.8, 6 to 8 in 10 (0.59,
0.65, 0.79); 0.8 and above, about 9 in 10 (0.88, 0.95). The bands follow those steps.
"""

from __future__ import annotations

from typing import Literal

Band = Literal["high", "medium", "low"]
HIGH = 0.8  # at least this: about 9 answers in 10 right
MEDIUM = 0.5  # at least this: 6 to 8 in 10; below it at most 4 in 10


def band(probability: float) -> Band:
    if probability >= HIGH:
        return "high"
    return "medium" if probability >= MEDIUM else "low"
