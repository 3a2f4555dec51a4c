"""Which answers give one figure different values: the same measure, unit and subject."""

from __future__ import annotations

from jbqa.answerer.figures import conflicting_figures, figure_in, same_subject


def figure(quote: str, answer: str):  # type: ignore[no-untyped-def]
    start = quote.index(answer)
    return figure_in(quote, start, start + len(answer))


def test_a_figure_has_its_unit_and_the_subject_before_it() -> None:
    found = figure("截至去年，全县共有各类茶叶企业超120家，茶园面积约300公顷。", "超120家")
    assert found is not None and (found.unit, found.subject) == ("家", "茶叶企业")
    area = figure("截至去年，全县共有各类茶叶企业超120家，茶园面积约300公顷。", "约300公顷")
    assert area is not None and (area.unit, area.subject) == ("公顷", "茶园")
    after = figure("近480家茶叶企业聚集于此。", "近480家")  # the figure opens its clause
    assert after is not None and after.subject == "茶叶企业"
    scaled = figure("全市茶叶企业数量达1.2万家。", "1.2万家")
    assert scaled is not None and (scaled.unit, scaled.subject) == ("家", "茶叶企业")


def test_words_and_dates_are_not_figures() -> None:
    assert figure("产业园于2022年建成。", "2022年") is None
    assert figure("茶叶企业持续增加。", "持续增加") is None


def test_subjects_match_at_their_ends() -> None:
    assert same_subject("各类茶叶企业", "茶叶企业")
    assert not same_subject("茶园", "产业园区")
    assert not same_subject("", "茶园")


def test_only_values_of_the_first_figure_from_different_sources_conflict() -> None:
    count_a = figure("全镇共有茶叶企业120家。", "120家")
    count_b = figure("茶叶企业已达150余家。", "150余家")
    area = figure("入园茶叶企业占地约35公顷。", "约35公顷")
    town = figure("全镇总面积86平方公里。", "86平方公里")
    assert conflicting_figures([("a", count_a), ("d", area), ("b", count_b)]) == [0, 2]
    assert conflicting_figures([("d", area), ("c", town)]) == []  # two areas of two things
    assert conflicting_figures([("a", count_a), ("a", count_b)]) == []  # one source
    assert conflicting_figures([("a", count_a), ("b", count_a)]) == []  # the same value
    assert conflicting_figures([("x", None), ("a", count_a), ("b", count_b)]) == [1, 2]
