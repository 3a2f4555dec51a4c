"""What the answer probability means to a reader of the page: three bands.

The answer probability is calibrated on the training data (out of fold, 19,532 questions of
CMRC2018, DRCD and the gold set; `answerer/trained/MODEL_CARD.md`). Of the answers given 0.0-0.5,
half at most are right (the combined model, the default: 0.03, 0.18, 0.29, 0.43, 0.50 by tenth;
the light reader's abstain model: 0.03, 0.22, 0.27, 0.39, 0.42); 0.5-0.8, 5 to 8 in 10 (0.56,
0.59, 0.77; 0.55, 0.67, 0.76); 0.8 and above, about 9 in 10 (0.85, 0.95; 0.87, 0.94). The bands
follow those steps.
"""

from __future__ import annotations

from typing import Literal

Band = Literal["high", "medium", "low"]
HIGH = 0.8  # at least this: about 9 answers in 10 right
MEDIUM = 0.5  # at least this: 5 to 8 in 10; below it half at most


def band(probability: float) -> Band:
    if probability >= HIGH:
        return "high"
    return "medium" if probability >= MEDIUM else "low"
