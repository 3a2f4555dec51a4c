"""Follow-up questions completed from the previous question's subject (linguistic rules only)."""

from __future__ import annotations

import pytest

from jbqa.answerer.followup import MAX_HISTORY, resolve, subject_of


@pytest.mark.parametrize(
    ("history", "question", "answered"),
    [
        (["青溪镇有多少茶叶企业"], "那它的面积呢", "青溪镇的面积是多少"),  # a pronoun
        (["青溪镇有多少茶叶企业"], "户籍人口呢", "青溪镇的户籍人口是多少"),  # a bare attribute
        (["西湖在哪里"], "它有多深", "西湖有多深"),
        (["西湖在哪里"], "那里有什么好吃的", "西湖有什么好吃的"),
        (["西湖在哪里"], "雷峰塔呢", "雷峰塔在哪里"),  # another subject, the same question
        (["地铁一号线日均客流是多少"], "节假日呢", "节假日地铁一号线日均客流是多少"),  # narrowed
        (["西湖在哪里", "它的面积是多少"], "那它的历史呢", "西湖的历史是什么"),  # the latest with a subject
    ],
)
def test_a_follow_up_is_completed_from_the_previous_subject(history: list[str], question: str, answered: str) -> None:
    assert resolve(question, history) == answered


@pytest.mark.parametrize(
    ("history", "question"),
    [
        ([], "它的面积呢"),  # nothing to lean on
        (["西湖在哪里"], "青溪镇茶叶企业有多少家"),  # a question of its own
        (["西湖在哪里"], "断桥的长度是多少"),
        (["它在哪里"], "面积呢"),  # no subject before
        (["西湖在哪里"], "今年有哪些新变化呢，请详细介绍一下"),  # a 呢-question with a subject of its own
    ],
)
def test_a_question_that_stands_alone_is_left_as_it_is(history: list[str], question: str) -> None:
    assert resolve(question, history) == question


def test_the_subject_is_what_comes_before_the_predicate() -> None:
    assert subject_of("青溪镇茶叶企业有多少家") == "青溪镇茶叶企业"
    assert subject_of("西湖的面积是多少？") == "西湖"
    assert subject_of("在哪里") is None


def test_only_the_recent_history_counts() -> None:
    history = ["西湖在哪里"] + ["你好"] * MAX_HISTORY
    assert resolve("面积呢", history) == "面积呢"
