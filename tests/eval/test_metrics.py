"""Metric functions, the report built from them, and the bundled gold set."""

from __future__ import annotations

import json
from pathlib import Path

import opencc
import pytest

from jbqa.config import BUNDLED_CORPUS
from jbqa.eval.metrics import (
    Z95,
    GoldItem,
    answer_hit,
    first_hit_rank,
    mean_interval,
    percentile,
    reciprocal_rank,
    wilson_interval,
)
from jbqa.eval.run import DEFAULT_GOLD, Outcome, load_gold, report


def item(answers: list[str], sources: list[str] | None = None, id: str = "q") -> GoldItem:
    return GoldItem(id, f"question {id}", answers, sources or ["a.txt"])


# --- answer_hit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "quote"),
    [
        (["480家"], "截至今年7月，江北区内共集聚金融机构超480家，涵盖10余种门类"),
        (["480家"], "共集聚金融机构超４８０家"),  # full-width digits in the quote
        (["４８０家"], "共集聚金融机构超480家"),  # full-width digits in the gold answer
        (["目标"], "共建西部金融中心的目標,把金融作为"),  # traditional in the quote
        (["金融機構"], "江北区还集聚金融机构490余家"),  # traditional in the gold answer
        (["952.1亿元"], "实现电子商务交易额 952.1 亿元，增长"),  # whitespace in the quote
        (["LED 大屏"], "蓝色的LED大屏上数据闪动"),  # whitespace in the gold answer
        (["led"], "蓝色的LED大屏上数据闪动"),  # case
        (["没有的", "去年12月"], "去年12月，全市首家"),  # any of several answers
    ],
)
def test_answer_hit_normalises_both_sides(answers: list[str], quote: str) -> None:
    assert answer_hit(item(answers), quote)


@pytest.mark.parametrize(
    ("answers", "quote"),
    [
        (["490余家"], "江北区内共集聚金融机构超480家"),
        (["480家"], "江北区内共集聚金融机构超480"),
        ([], "任何文字"),
    ],
)
def test_answer_hit_misses(answers: list[str], quote: str) -> None:
    assert not answer_hit(item(answers), quote)


def test_first_hit_rank_is_one_based() -> None:
    gold = item(["480家"])
    assert first_hit_rank(gold, ["超480家", "无关"]) == 1
    assert first_hit_rank(gold, ["无关", "近480家", "超480家"]) == 2
    assert first_hit_rank(gold, ["无关", "也无关"]) is None
    assert first_hit_rank(gold, []) is None


@pytest.mark.parametrize(("rank", "expected"), [(1, 1.0), (2, 0.5), (4, 0.25), (None, 0.0)])
def test_reciprocal_rank(rank: int | None, expected: float) -> None:
    assert reciprocal_rank(rank) == expected


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 50, 0.0),
        ([7.0], 50, 7.0),
        ([7.0], 95, 7.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([5.0, 1.0, 4.0, 2.0, 3.0], 50, 3.0),
        ([5.0, 1.0, 4.0, 2.0, 3.0], 95, 5.0),
        (list(range(1, 21)), 50, 10),
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 100, 100),
        (list(range(1, 101)), 0, 1),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [([1, 2], 50, 1), (list(range(1, 11)), 50, 5), ([1, 2, 3, 4], 25, 1), (list(range(1, 101)), 95, 95)],
)
def test_percentile_nearest_rank_when_the_rank_is_whole(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_percentile_does_not_reorder_its_input() -> None:
    values = [3.0, 1.0, 2.0]
    percentile(values, 50)
    assert values == [3.0, 1.0, 2.0]


# --- report ----------------------------------------------------------------------------------


def outcome(gold: GoldItem, abstained: bool, quotes: list[str], sources: list[str], latency: float) -> Outcome:
    return Outcome(gold, abstained, quotes, sources, 0.5, latency)


@pytest.fixture
def outcomes() -> list[Outcome]:
    return [
        # answered first, from the right file
        outcome(item(["480家"], ["a.txt"], "A"), False, ["超480家", "无关"], ["a.txt", "b.txt"], 10.0),
        # answered second, first source wrong
        outcome(item(["12月"], ["a.txt"], "B"), False, ["无关", "去年12月开业"], ["b.txt", "a.txt"], 20.0),
        # answerable but abstained
        outcome(item(["5月"], ["a.txt"], "C"), True, [], [], 30.0),
        # unanswerable and abstained
        outcome(item([], ["a.txt"], "D"), True, [], [], 40.0),
        # unanswerable but answered
        outcome(item([], ["a.txt"], "E"), False, ["胡乱回答"], ["c.txt"], 50.0),
        # right answer first, from a file the gold set does not name
        outcome(item(["480家"], ["a.txt"], "F"), False, ["近480家"], ["c.txt"], 60.0),
        # answered third
        outcome(
            item(["6.7%"], ["a.txt"], "G"), False, ["无关", "也无关", "增长6.7%"], ["a.txt", "b.txt", "c.txt"], 70.0
        ),
    ]


def test_report_gives_the_exact_numbers(outcomes: list[Outcome]) -> None:
    result = report(outcomes, "offline-tfidf-svd:offline-tfidf-svd")
    assert result["n"] == 7
    assert result["answerable"] == 5
    assert result["answer_hit@1"] == 0.4  # A, F
    assert result["answer_hit@3"] == 0.8  # A, B, F, G
    assert result["source_hit@1"] == 0.4  # A, G
    assert result["abstain_accuracy"] == 0.7143  # all but C and E
    assert result["abstain_recall"] == 0.5  # D of D, E
    assert result["false_abstain_rate"] == 0.2  # C
    assert result["mrr"] == 0.5667  # (1 + 1/2 + 0 + 1 + 1/3) / 5
    assert result["latency_ms_p50"] == 40.0
    assert result["latency_ms_p95"] == 70.0
    assert result["embedder"] == "offline-tfidf-svd:offline-tfidf-svd"
    assert [f["id"] for f in result["failures"]] == ["B", "C", "E", "F", "G"]
    ci = result["ci95"]
    assert ci["answer_hit@1"] == [0.1176, 0.7693]  # Wilson's interval of 2 in 5
    assert ci["false_abstain_rate"] == [0.0362, 0.6245]  # 1 in 5
    assert ci["abstain_recall"] == [0.0945, 0.9055]  # 1 in 2
    for name, (low, high) in ci.items():
        assert low <= result[name] <= high, name


def test_wilson_interval_gives_the_textbook_values() -> None:
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)  # not empty at 0
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no questions: nothing is known


def test_mean_interval_is_the_mean_give_or_take_its_standard_errors() -> None:
    low, high = mean_interval([0.0, 1.0] * 50)  # mean 0.5, standard deviation 0.5025
    assert (low + high) / 2 == pytest.approx(0.5)
    assert high - low == pytest.approx(2 * Z95 * 0.502519 / 10, abs=1e-5)
    assert mean_interval([1.0] * 5) == (1.0, 1.0)
    assert mean_interval([0.3]) == (0.0, 1.0)


def test_report_failures_say_what_was_expected_and_what_came(outcomes: list[Outcome]) -> None:
    failures = {f["id"]: f for f in report(outcomes, "x")["failures"]}
    assert failures["C"]["got"] == {"abstained": True, "quote": None, "source": None, "confidence": 0.5}
    assert failures["E"]["expected"] == {"answers": [], "sources": ["a.txt"]}
    assert failures["E"]["got"]["quote"] == "胡乱回答"
    assert failures["B"]["got"]["source"] == "b.txt"
    json.dumps(report(outcomes, "x"), ensure_ascii=False)


def test_report_of_only_unanswerable_questions_does_not_divide_by_zero() -> None:
    result = report([outcome(item([], id="D"), True, [], [], 1.0)], "x")
    assert result["answerable"] == 0
    assert result["answer_hit@1"] == 0.0
    assert result["abstain_accuracy"] == 1.0
    assert result["failures"] == []
    assert result["ci95"]["answer_hit@1"] == [0.0, 1.0]  # no answerable question


# --- load_gold ---------------------------------------------------------------------------------


def test_load_gold_reads_items_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(
        '{"id": "x1", "question": "江北区金融机构有多少家", "answers": ["480家"], "sources": ["a.txt"]}\n'
        "\n"
        '{"id": 2, "question": "鸿恩寺门票多少钱", "answers": [], "sources": []}\n',
        encoding="utf-8",
    )
    items = load_gold(path)
    assert items == [
        GoldItem("x1", "江北区金融机构有多少家", ["480家"], ["a.txt"]),
        GoldItem("2", "鸿恩寺门票多少钱", [], []),
    ]
    assert items[0].answerable and not items[1].answerable


@pytest.mark.parametrize(
    "bad_line",
    [
        "{not json",
        '{"id": "q3", "question": "缺少答案"}',
        '["a", "list"]',
    ],
    ids=["broken-json", "missing-key", "not-an-object"],
)
def test_load_gold_names_the_malformed_line(tmp_path: Path, bad_line: str) -> None:
    path = tmp_path / "gold.jsonl"
    good = '{"id": "q1", "question": "问题", "answers": ["答案"], "sources": ["a.txt"]}'
    path.write_text(f"{good}\n\n{bad_line}\n{good}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"gold\.jsonl:3:"):
        load_gold(path)


def test_load_gold_refuses_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no questions"):
        load_gold(path)


# --- the bundled gold set ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gold() -> list[GoldItem]:
    return load_gold(DEFAULT_GOLD)


def test_the_gold_set_is_large_enough(gold: list[GoldItem]) -> None:
    assert len(gold) >= 80
    assert len({g.id for g in gold}) == len(gold)
    assert len({g.question for g in gold}) == len(gold)


def test_the_gold_set_covers_every_corpus_file(gold: list[GoldItem]) -> None:
    corpus = {p.name for p in BUNDLED_CORPUS.glob("*.txt")}
    named = {s for g in gold for s in g.sources}
    assert named == corpus
    for name in corpus:
        assert sum(1 for g in gold if name in g.sources) >= 5, name


def test_every_gold_answer_is_written_in_one_of_its_sources(gold: list[GoldItem]) -> None:
    from jbqa.ingest import ingest_corpus
    from jbqa.ingest.normalize import normalize_for_match

    report = ingest_corpus(BUNDLED_CORPUS)
    texts = {
        name: normalize_for_match("".join(p.text for p in report.passages if p.source == name))
        for name in report.sources
    }
    for g in gold:
        if g.answerable:
            assert g.sources, g.id
            assert any(normalize_for_match(a) in texts[s] for a in g.answers for s in g.sources), g.id


def test_the_gold_set_has_unanswerable_questions(gold: list[GoldItem]) -> None:
    assert sum(1 for g in gold if not g.answerable) >= 8


def test_the_gold_set_has_questions_in_traditional_characters(gold: list[GoldItem]) -> None:
    t2s = opencc.OpenCC("t2s")
    traditional = [g for g in gold if t2s.convert(g.question) != g.question]
    assert len(traditional) >= 5


def test_the_near_miss_set_asks_only_what_the_documents_do_not_give(gold: list[GoldItem]) -> None:
    """eval/near_misses.jsonl: unanswerable questions only, none of them a gold question."""
    near_misses = load_gold(DEFAULT_GOLD.with_name("near_misses.jsonl"))
    assert len(near_misses) == 49
    assert len({g.id for g in near_misses}) == len({g.question for g in near_misses}) == len(near_misses)
    assert not any(g.answerable or g.sources for g in near_misses)
    assert not {g.question for g in near_misses} & {g.question for g in gold}
