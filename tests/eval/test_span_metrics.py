"""Span EM and F1 as the CMRC2018 evaluation script defines them, against hand-computed cases."""

from __future__ import annotations

import pytest

from jbqa.eval.metrics import cmrc_segments, span_em, span_f1


def test_segments_cut_cjk_by_character_and_latin_by_word() -> None:
    assert cmrc_segments("GDP增长6.7%，达1744亿元") == ["gdp", "增", "长", "6.7", "%", "达", "1744", "亿", "元"]
    assert cmrc_segments("《长江》", remove_punct=False) == ["《", "长", "江", "》"]
    assert cmrc_segments("《长江》") == ["长", "江"]


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("1744亿元", ["1744亿元"], 1.0),
        # gold 超/480/家 (3), prediction 480/家 (2): common run 2 -> P 1, R 2/3 -> F1 0.8
        ("480家", ["超480家"], 0.8),
        # prediction 金/融/机/构/超/480/家 (7) vs gold 超/480/家 (3): run 3 -> P 3/7, R 1 -> 0.6
        ("金融机构超480家", ["超480家"], 0.6),
        # best over the gold answers
        ("五分之一", ["近五分之一", "1/5"], 2 * 1 * 0.8 / 1.8),
        # punctuation and case do not count
        ("“Apple”公司", ["apple公司"], 1.0),
        # no common segment
        ("四五", ["三十一"], 0.0),
        # 二十 / 三十一 share 十 only: P 1/2, R 1/3 -> F1 0.4
        ("二十", ["三十一"], 0.4),
        # an abstention or an unmarked answer scores 0
        (None, ["三十一"], 0.0),
        ("", ["三十一"], 0.0),
    ],
)
def test_span_f1_hand_computed(prediction: str | None, answers: list[str], expected: float) -> None:
    assert span_f1(prediction, answers) == pytest.approx(expected)


def test_span_f1_uses_the_longest_common_run_not_the_bag_of_characters() -> None:
    # 江北 and 北江 share both characters but only runs of one: LCS 1 of 2 -> F1 0.5
    assert span_f1("江北", ["北江"]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("1744亿元", ["1744亿元"], 1.0),
        ("1744 亿元。", ["1744亿元"], 1.0),  # whitespace and punctuation removed
        ("480家", ["超480家", "近480家"], 0.0),
        ("近480家", ["超480家", "近480家"], 1.0),
        (None, ["近480家"], 0.0),
    ],
)
def test_span_em_hand_computed(prediction: str | None, answers: list[str], expected: float) -> None:
    assert span_em(prediction, answers) == expected
