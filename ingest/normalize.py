"""Normalisation for matching only: the clean text keeps its original characters."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def _char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        return ch.lower()
    return _T2S.convert(folded).lower()


def normalize_chars(text: str) -> str:
    """Same length as `text`: full/half width folded, traditional -> simplified, lower case.

    Character by character, so positions in the result are positions in the original.
    """
    return "".join(_char(ch) for ch in text)


def normalize_for_match(text: str) -> str:
    """NFKC, traditional -> simplified, lower case, no whitespace (the scoring normalisation)."""
    text = _T2S.convert(unicodedata.normalize("NFKC", text))
    return _SPACES.sub("", text).lower()
