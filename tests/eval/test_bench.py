"""The benchmark runs end to end and reports every field with a sane value (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jbqa.eval.bench import StageClock, run_benchmark
from jbqa.eval.synthetic import corpus_sentences, make_synthetic_corpus
from jbqa.ingest import ingest_corpus

SMALL_SCALE = 2000


def _check_latencies(section: dict[str, Any]) -> None:
    assert 0 < section["latency_ms_p50"] <= section["latency_ms_p95"]


def _check_common(result: dict[str, Any]) -> None:
    build = result["build"]
    assert build["passages"] > 0 and build["files"] == 5
    assert build["passages_per_s"] > 0
    assert len(build["seconds"]) == build["repeats"]

    ask = result["ask"]
    _check_latencies(ask)
    assert ask["questions"] > ask["answerable"] > 0
    for metric in ("answer_hit@1", "source_hit@1"):
        assert 0 < ask[metric] <= 1

    peer = result["peer"]
    _check_latencies(peer)
    assert 0 <= peer["answer_hit@1"] <= 1
    assert 0 <= peer["source_hit@1"] <= 1
    assert peer["params"]["k1"] == 1.5 and peer["params"]["b"] == 0.75
    assert "lenient" in peer["note"]
    assert result["ask_p50_over_peer_p50"] > 0

    profile = result["profile"]
    assert profile["questions"] == ask["questions"]
    rows = profile["top_cumulative"]
    assert len(rows) == 10
    assert [r["cumtime_s"] for r in rows] == sorted((r["cumtime_s"] for r in rows), reverse=True)
    assert any(r["function"] == "ask" for r in rows)
    assert all(0 <= r["share"] <= 1.0 + 1e-6 for r in rows)


def _tiny_squad(path: Path) -> Path:
    contexts = [
        ("青石镇", "青石镇位于大河下游，1952年建成第一座石桥。", "青石镇第一座石桥是哪一年建成的？", "1952年"),
        ("白沙湖", "白沙湖是一座人工湖，湖面面积约12平方公里。", "白沙湖的湖面面积有多大？", "约12平方公里"),
        ("云台山", "云台山海拔1320米，山顶有一座古寺。", "云台山海拔多少米？", "1320米"),
        ("金沙港", "金沙港是一座内河港口，2008年开港。", "金沙港是哪一年开港的？", "2008年"),
    ]
    data = {"version": "test", "data": [
        {"title": title, "paragraphs": [{"id": title, "context": context, "qas": [
            {"id": title, "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}
        ]}]}
        for title, context, question, answer in contexts
    ]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_bundled_benchmark_reports_every_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "report" / "bench.json"
    result = run_benchmark(output=output, scale=0, build_repeats=2, squad=_tiny_squad(tmp_path / "tiny.json"))

    _check_common(result)
    assert result["scale"] is None
    assert result["ask"]["latency_ms_p95"] <= result["ask"]["latency_ms_p99"]
    squad = result["squad"]
    assert (squad["documents"], squad["left_out"], squad["questions"], squad["holdout_every"]) == (2, 2, 4, 2)
    assert 0 < squad["latency_ms_p50"] <= squad["latency_ms_p95"] <= squad["latency_ms_p99"]
    assert json.loads(output.read_text(encoding="utf-8")) == result
    printed = capsys.readouterr().out
    for heading in ("Build:", "Ask:", "Peer:", "p50 / peer p50", "Profile of the ask path", "passages/s", "Large file:",
                    "questions of tiny.json asked of 2 of its contexts", "p99"):
        assert heading in printed
    assert "Scale:" not in printed
    large = result["large_file"]
    assert large["megabytes"] >= 7 and large["mb_per_second"] > 0 and large["passages"] > 1000


@pytest.mark.slow
def test_small_scale_benchmark_measures_an_approximate_index(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_benchmark(scale=SMALL_SCALE, build_repeats=1, scale_factory="HNSW32", embedder="offline")

    _check_common(result)
    scale = result["scale"]
    build = scale["build"]
    assert abs(build["passages"] - SMALL_SCALE) <= SMALL_SCALE * 0.05
    assert build["files"] == SMALL_SCALE // 50
    assert build["seconds"] > 0 and build["passages_per_s"] > 0
    assert build["peak_rss_mib"] >= build["rss_before_build_mib"] > 0
    assert build["stages_not_found"] == []
    assert result["build"]["embedder"] == build["embedder"] == "offline-tfidf-svd:offline-tfidf-svd"
    assert build["embedded"] == {"passages": build["passages"], "sentences": 0}  # offline: no sentence vectors
    stages = {row["stage"] for row in build["stages"]}
    assert {"ingest (read, clean, split)", "fit offline embedder > randomized SVD", "FAISS add"} <= stages
    assert scale["index_mib"] > 0 and "faiss.index" in scale["index_mib_by_part"]
    assert scale["faiss_factory"] == "HNSW32"
    _check_latencies(scale["ask"])

    recall = scale["dense_recall"]
    assert recall["k"] == 10 and recall["queries"] == result["ask"]["questions"]
    assert recall["ef_search"] is not None
    assert 0 <= recall["recall_at_k"] <= recall["tie_aware_recall_at_k"] <= 1
    assert "Scale:" in capsys.readouterr().out


def test_synthetic_corpus_is_deterministic_and_sized(tmp_path: Path) -> None:
    first = make_synthetic_corpus(tmp_path / "a", 230, seed=7, passages_per_file=50)
    again = make_synthetic_corpus(tmp_path / "b", 230, seed=7, passages_per_file=50)
    other = make_synthetic_corpus(tmp_path / "c", 230, seed=8, passages_per_file=50)

    assert (first.files, first.passages) == (5, 230)
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(first.directory.iterdir())}
    assert texts == {p.name: p.read_text(encoding="utf-8") for p in sorted(again.directory.iterdir())}
    assert texts != {p.name: p.read_text(encoding="utf-8") for p in sorted(other.directory.iterdir())}

    pool = set(corpus_sentences())
    ingested = ingest_corpus(first.directory)
    assert not ingested.skipped
    assert abs(len(ingested.passages) - 230) <= 230 * 0.05
    # Sentences really are shuffled across the source documents: a file draws on most of the pool.
    first_file = next(iter(texts.values()))
    assert sum(1 for s in pool if s in first_file) > len(pool) / 2


def test_synthetic_corpus_rejects_a_bad_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_passages"):
        make_synthetic_corpus(tmp_path, 0)


def test_stage_clock_times_nested_calls_and_keeps_behaviour() -> None:
    class Target:
        @classmethod
        def make(cls, x: int) -> int:
            return x + 1

        def method(self, x: int) -> int:
            return self.make(x) * 2

    clock = StageClock()
    clock.wrap(Target, "make", "make")
    clock.wrap(Target, "method", "method")
    assert Target().method(1) == 4
    assert Target.make(1) == 2
    rows = {row["stage"]: row for row in clock.rows()}
    assert list(rows) == ["method", "method > make", "make"]
    assert rows["method"]["calls"] == 1 and rows["make"]["calls"] == 1
    assert "peak_rss_mib_after" in rows["method"] and "peak_rss_mib_after" not in rows["method > make"]
