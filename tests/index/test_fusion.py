"""Reciprocal-rank fusion as a pure function."""

from __future__ import annotations

import pytest

from jbqa.index.fusion import RRF_K, reciprocal_rank_fusion


def test_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([[7, 3], [3, 9]], k=60))
    assert fused[3] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[7] == pytest.approx(1 / 61)
    assert fused[9] == pytest.approx(1 / 62)


def test_order_is_by_fused_score() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 2, 1], [2, 4]])
    assert [doc for doc, _ in fused] == [2, 1, 3, 4]
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


def test_an_item_in_both_lists_beats_one_on_top_of_a_single_list() -> None:
    fused = reciprocal_rank_fusion([[10, 20], [30, 20]])
    assert fused[0][0] == 20


def test_ties_are_broken_by_the_smaller_id() -> None:
    fused = reciprocal_rank_fusion([[5, 8], [8, 5]])
    assert [doc for doc, _ in fused] == [5, 8]
    assert fused[0][1] == fused[1][1]
    swapped = reciprocal_rank_fusion([[8, 5], [5, 8]])
    assert swapped == fused


def test_one_list_keeps_its_order() -> None:
    ranking = [42, 7, 19, 3]
    assert [doc for doc, _ in reciprocal_rank_fusion([ranking])] == ranking


def test_empty_input_gives_nothing() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def test_a_smaller_k_weighs_the_top_ranks_more() -> None:
    sharp = dict(reciprocal_rank_fusion([[1, 2]], k=1))
    flat = dict(reciprocal_rank_fusion([[1, 2]], k=1000))
    assert sharp[1] / sharp[2] > flat[1] / flat[2]
    assert sharp[1] == pytest.approx(1 / 2)


def test_the_default_k_is_60() -> None:
    assert RRF_K == 60
    assert reciprocal_rank_fusion([[1]]) == [(1, pytest.approx(1 / 61))]


@pytest.mark.parametrize("k", [0, -1, -60])
def test_k_must_be_positive_and_the_message_names_it(k: int) -> None:
    with pytest.raises(ValueError, match=f"got {k}"):
        reciprocal_rank_fusion([[1, 2]], k=k)


def test_inputs_are_not_modified() -> None:
    rankings = [[3, 1], [1, 2]]
    reciprocal_rank_fusion(rankings)
    assert rankings == [[3, 1], [1, 2]]
