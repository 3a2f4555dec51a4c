"""Weighted score fusion as a pure function."""

from __future__ import annotations

import pytest

from jbqa.index.fusion import DENSE_WEIGHT, weighted_fusion


def test_scores_are_weighted_shares_of_each_lists_best() -> None:
    fused = dict(weighted_fusion([[(7, 10.0), (3, 5.0)], [(3, 0.8), (9, 0.4)]], [0.75, 0.25]))
    assert fused[7] == pytest.approx(0.75)
    assert fused[3] == pytest.approx(0.75 * 0.5 + 0.25)
    assert fused[9] == pytest.approx(0.25 * 0.5)


def test_order_is_by_fused_score_and_ties_go_to_the_smaller_id() -> None:
    fused = weighted_fusion([[(5, 2.0), (8, 1.0)], [(8, 2.0), (5, 1.0)]], [0.5, 0.5])
    assert [doc for doc, _ in fused] == [5, 8]
    assert fused[0][1] == pytest.approx(fused[1][1])


def test_one_list_keeps_its_order() -> None:
    scored = [(42, 9.0), (7, 4.0), (19, 2.5), (3, 0.1)]
    assert [doc for doc, _ in weighted_fusion([scored], [1.0])] == [42, 7, 19, 3]


def test_a_heavier_list_decides_the_top() -> None:
    lists = [[(1, 3.0), (2, 1.5)], [(2, 0.9), (1, 0.1)]]
    assert weighted_fusion(lists, [0.8, 0.2])[0][0] == 1
    assert weighted_fusion(lists, [0.2, 0.8])[0][0] == 2


def test_with_the_default_weight_a_near_tie_in_meaning_goes_to_the_exact_words() -> None:
    bm25 = [(1, 9.0), (2, 3.0)]  # passage 1 writes the question's words, passage 2 few of them
    dense = [(2, 0.86), (1, 0.85)]  # both say much the same
    assert weighted_fusion([bm25, dense], [1 - DENSE_WEIGHT, DENSE_WEIGHT])[0][0] == 1
    clearly = [(2, 0.90), (1, 0.70)]  # passage 2 is clearly closer in meaning
    assert weighted_fusion([bm25, clearly], [1 - DENSE_WEIGHT, DENSE_WEIGHT])[0][0] == 2


def test_empty_lists_and_non_positive_scores_give_nothing() -> None:
    assert weighted_fusion([], []) == []
    assert weighted_fusion([[], []], [0.5, 0.5]) == []
    assert weighted_fusion([[(1, 0.0), (2, -1.0)]], [1.0]) == []


@pytest.mark.parametrize(("lists", "weights", "message"), [
    ([[(1, 1.0)]], [0.5, 0.5], "one weight per list"),
    ([[(1, 1.0)]], [-0.1], "must not be negative"),
])
def test_bad_weights_are_refused_with_a_message(lists: list, weights: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        weighted_fusion(lists, weights)


def test_inputs_are_not_modified() -> None:
    lists = [[(3, 2.0), (1, 1.0)], [(1, 0.5)]]
    weighted_fusion(lists, [0.5, 0.5])
    assert lists == [[(3, 2.0), (1, 1.0)], [(1, 0.5)]]
