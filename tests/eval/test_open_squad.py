"""`jbqa eval --squad`: SQuAD-format data as an open-retrieval test, with held-out contexts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jbqa.cli import main
from jbqa.eval.open_squad import prepare, write_corpus
from jbqa.eval.squad import SquadContext
from jbqa.ingest import ingest_corpus

CONTEXTS = [
    ("青石镇", "青石镇位于大河下游，1952年建成第一座石桥。镇上共有小学4所，居民约三千人。"),
    ("白沙湖", "白沙湖是一座人工湖，湖面面积约12平方公里。湖边的灯塔建于1978年。"),
    ("云台山", "云台山海拔1320米，山顶有一座古寺。古寺始建于明代，每年春季举办庙会。"),
    ("金沙港", "金沙港是一座内河港口，2008年开港。港口年吞吐量超过500万吨。"),
]
QUESTIONS = {
    "青石镇": [("青石镇第一座石桥是哪一年建成的？", "1952年"), ("青石镇有几所小学？", "4所")],
    "白沙湖": [("白沙湖的湖面面积有多大？", "约12平方公里")],
    "云台山": [("云台山海拔多少米？", "1320米"), ("云台山的古寺始建于哪个朝代？", "明代")],
    "金沙港": [("金沙港是哪一年开港的？", "2008年")],
}


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    data = {"version": "test", "data": []}
    for title, context in CONTEXTS:
        qas = [
            {"id": f"{title}-{i}", "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
            for i, (q, a) in enumerate(QUESTIONS[title])
        ]
        data["data"].append({"title": title, "paragraphs": [{"id": title, "context": context, "qas": qas}]})
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_every_kth_context_is_left_out_and_its_questions_expect_a_refusal(squad_file: Path, tmp_path: Path) -> None:
    data = prepare(squad_file, tmp_path / "cache", holdout_every=2)
    assert data.documents == 2 and data.left_out == 2
    documents = {p.read_text(encoding="utf-8").splitlines()[0] for p in data.corpus.iterdir()}
    assert documents == {"青石镇", "云台山"}  # titles are the first lines; 白沙湖 and 金沙港 are left out
    refused = {i.id for i in data.items if not i.answerable}
    assert refused == {"白沙湖-0", "金沙港-0"}
    again = prepare(squad_file, tmp_path / "cache", holdout_every=2)
    assert again.index == data.index  # the built index is reused


def test_eval_squad_reports_span_metrics_and_the_bm25_peer(squad_file: Path, tmp_path: Path) -> None:
    details = tmp_path / "details.jsonl"
    result = CliRunner().invoke(
        main, ["eval", "--squad", str(squad_file), "--holdout-every", "2", "--json", "--details", str(details)],
        env={"JBQA_INDEX": str(tmp_path / "home" / "index")},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 6 and report["answerable"] == 4
    assert report["corpus"] == {"documents": 2, "left_out": 2, "questions": 6}
    for key in ("span_em", "span_f1", "latency_ms_p50", "latency_ms_p95", "latency_ms_p99", "abstain_recall",
                "false_abstain_rate", "answer_hit@1", "source_hit@1"):
        assert 0 <= report[key] <= (1 if "latency" not in key else 10_000), key
    assert report["bm25"]["source_hit@1"] == pytest.approx(1.0)  # two documents: plain BM25 finds them
    assert report["retrieval_source_hit@1"] == pytest.approx(1.0)  # and so does the fused ranking
    lines = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["青石镇-0", "青石镇-1", "白沙湖-0", "云台山-0", "云台山-1", "金沙港-0"]
    assert {"question", "expected", "abstained", "confidence", "quote", "answer", "source", "retrieved_source"} <= lines[0].keys()
    assert lines[2]["expected"] == {"answers": [], "sources": []}


def test_eval_gold_reports_span_metrics_and_limit(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "--json", "--limit", "10"], env={"JBQA_EMBEDDER": "offline"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 10
    assert 0 < report["span_f1"] <= 1 and 0 <= report["span_em"] <= report["span_f1"] + 1e-9


def test_a_file_that_is_not_squad_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "--squad", str(bad)])
    assert result.exit_code != 0 and "not SQuAD-format" in result.output and "Traceback" not in result.output


def test_a_title_stays_a_heading_before_a_long_context(tmp_path: Path) -> None:
    # A title line right before a long line reads as a line broken mid-sentence unless a blank line parts them.
    long_context = "这座石桥建于清代，" + "桥身由青石砌成，" * 40 + "至今仍在使用。"
    names = write_corpus([SquadContext("c0", "石桥", long_context, ())], tmp_path / "corpus")
    passages = ingest_corpus(tmp_path / "corpus").passages
    assert [p.source for p in passages[:1]] == names
    assert passages[0].sentence_text(passages[0].sentences[0]) == "石桥"
