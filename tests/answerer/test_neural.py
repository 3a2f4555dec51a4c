"""The neural span reader, with a tiny extractive-QA model built here (no download): real
transformers loading, spans in characters, the CLI's --reader, and refusals that come at once."""

from __future__ import annotations

import json
import math
import string
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from jbqa.answerer import Answerer
from jbqa.answerer.neural import NeuralReader, ReaderUnavailable, load_reader, recorded_reader
from jbqa.cli import main
from jbqa.index.store import LoadedIndex, build_index

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CORPUS = {
    "finance.txt": "江北区金融发展\n截至今年7月，江北区内共集聚金融机构超480家。\n江北嘴是重庆的金融中心，金融资产规模占全市近三分之一。\n",
    "housing.txt": "塔坪小区改造\n2021年，江北区启动塔坪老旧小区改造工程。\n塔坪小区完成改造后，整个小区焕然一新。\n",
    "commerce.txt": "观音桥商圈\n观音桥商圈日均人流量达50万人次。\n观音桥步行街有LED大屏，夜间人流如织。\n",
}
QUESTIONS = ["江北区金融机构有多少家", "塔坪老旧小区改造工程什么时候启动", "观音桥商圈日均人流量是多少"]
TEXTS = [
    "截至今年7月，江北区内共集聚金融机构超480家。",
    "",
    "观音桥步行街有LED大屏，夜间人流如织。",
    "   ",
    "江北嘴是重庆的金融中心。" * 60,  # longer than one window of the model: read in overlapping windows
]


def _tiny_qa_model(folder: Path, head: bool = True) -> Path:
    """A one-layer BERT with a character vocabulary (letters and digits also as ##pieces) and a
    fast tokenizer, saved with a question-answering head (random, fixed seed) or without one."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    chars = {ch for text in [*CORPUS.values(), *QUESTIONS, *TEXTS] for ch in text if not ch.isspace()}
    ascii_chars = string.ascii_letters + string.digits
    vocab = SPECIAL_TOKENS + sorted(chars | set(ascii_chars)) + [f"##{ch}" for ch in ascii_chars]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    transformers.BertTokenizerFast(str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=160,
    )
    model = transformers.BertForQuestionAnswering(config) if head else transformers.BertModel(config)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_qa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_qa_model(tmp_path_factory.mktemp("tiny-qa"))


@pytest.fixture(scope="module")
def reader(tiny_qa: Path) -> NeuralReader:
    return NeuralReader(str(tiny_qa))


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result: Result, *parts: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.output
    for part in parts:
        assert part in lines[0]


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_read_gives_a_legal_character_span_inside_each_text(reader: NeuralReader) -> None:
    assert reader.max_length == 160  # the model's positions, not the default window
    predictions = reader.read(QUESTIONS[0], TEXTS)
    assert len(predictions) == len(TEXTS)
    for text, found in zip(TEXTS, predictions):
        if not text.strip():
            assert found is None
            continue
        assert found is not None
        assert 0 <= found.start < found.end <= len(text)
        assert found.end - found.start <= reader.max_answer_chars
        span = text[found.start : found.end]
        assert span == span.strip() and span
        assert math.isfinite(found.score)


@pytest.mark.slow
def test_a_given_span_is_scored_as_the_reader_scores_its_own(reader: NeuralReader) -> None:
    texts = [TEXTS[0], TEXTS[2]]
    found = reader.read(QUESTIONS[0], texts)
    assert all(f is not None for f in found)
    again = reader.read(QUESTIONS[0], texts, given=[(f.start, f.end) for f in found if f])
    for f, g in zip(found, again):
        assert f and g and (g.start, g.end) == (f.start, f.end)
        assert g.given_score == pytest.approx(f.score, abs=1e-4)
    longer = reader.read(QUESTIONS[0], texts, given=[(0, len(texts[0])), None])
    assert longer[0] and longer[0].given_score is not None and math.isfinite(longer[0].given_score)  # over the cap
    assert longer[1] and longer[1].given_score is None
    outside = reader.read(QUESTIONS[0], texts, given=[(len(texts[0]) - 1, len(texts[0]) + 5), None])
    assert outside[0] and outside[0].given_score is None  # the text does not hold it


@pytest.mark.slow
def test_the_best_span_outside_the_part_asked_about_comes_back_beside_its_best_inside(reader: NeuralReader) -> None:
    text = TEXTS[0]
    [whole] = reader.read(QUESTIONS[0], [text])
    assert whole is not None and whole.outside is None  # nothing lies outside the whole text
    part = (whole.end, len(text)) if len(text) - whole.end > whole.start else (0, whole.start)
    [inside] = reader.read(QUESTIONS[0], [text], within=[part])
    assert inside is not None and part[0] <= inside.start < inside.end <= part[1]
    assert inside.outside is not None and inside.outside[:2] == (whole.start, whole.end)
    assert inside.outside[2] == pytest.approx(whole.score) and inside.score < whole.score
    [held] = reader.read(QUESTIONS[0], [text], within=[(whole.start, whole.end)])
    assert held is not None and (held.start, held.end) == (whole.start, whole.end) and held.outside is None


@pytest.mark.slow
def test_a_span_outside_a_quote_read_with_its_neighbours_is_placed_by_the_quote(reader: NeuralReader) -> None:
    text = "截至今年7月，江北区内共集聚金融机构超480家。江北嘴是重庆的金融中心。"
    [whole] = reader.read(QUESTIONS[0], [text])
    assert whole is not None and whole.end - whole.start >= 2
    cut = whole.start + 1
    # The window's best span runs from the previous sentence into the quote / lies in the following one.
    splits = [(text[:cut], text[cut:], ""), ("", text[: whole.start], text[whole.start :])]
    reader.window_chars = 200
    try:
        found = reader.read_quotes(QUESTIONS[0], [(quote, previous, following) for previous, quote, following in splits])
    finally:
        reader.window_chars = 0
    for f, (previous, quote, _) in zip(found, splits, strict=True):
        assert f is not None and 0 <= f.start < f.end <= len(quote)
        assert f.outside is not None and f.outside[:2] == (whole.start - len(previous), whole.end - len(previous))
    assert found[0].outside[0] < 0 and found[1].outside[0] >= len(splits[1][1])  # type: ignore[index]


@pytest.mark.slow
def test_a_given_span_of_a_quote_read_with_its_neighbours_is_in_the_quote(reader: NeuralReader) -> None:
    reader.window_chars = 200
    try:
        quote, previous, following = "江北区内共集聚金融机构超480家。", "截至今年7月，", "江北嘴是重庆的金融中心。"
        [found] = reader.read_quotes(QUESTIONS[0], [(quote, previous, following)])
        [again] = reader.read_quotes(QUESTIONS[0], [(quote, previous, following)], given=[(found.start, found.end)])
    finally:
        reader.window_chars = 0
    assert found and again and (again.start, again.end) == (found.start, found.end)
    assert 0 <= found.start < found.end <= len(quote)
    assert again.given_score == pytest.approx(found.score, abs=1e-4)


@pytest.mark.slow
def test_a_long_text_is_read_past_its_first_window(tiny_qa: Path) -> None:
    # Each unknown word is one [UNK] token of 5 characters: no legal span within 3 characters.
    filler = "αβγδε " * 200  # 200 tokens: more than one window of the model
    short = NeuralReader(str(tiny_qa), max_answer_chars=3)
    assert short.read(QUESTIONS[0], [filler]) == [None]
    text = filler + "超480家"
    found = short.read(QUESTIONS[0], [text])[0]
    assert found is not None
    assert len(filler) <= found.start < found.end <= len(text)  # found in the last window only


@pytest.mark.slow
def test_the_answer_length_is_capped(tiny_qa: Path) -> None:
    short = NeuralReader(str(tiny_qa), max_answer_chars=2)
    for found, text in zip(short.read(QUESTIONS[2], TEXTS), TEXTS):
        if found is not None:
            assert 1 <= found.end - found.start <= 2
            assert text[found.start : found.end]
    with pytest.raises(ValueError, match="max_answer_chars"):
        NeuralReader(str(tiny_qa), max_answer_chars=0)


@pytest.mark.slow
def test_reading_is_deterministic_and_batching_changes_nothing(reader: NeuralReader, tiny_qa: Path) -> None:
    together = reader.read(QUESTIONS[1], TEXTS)
    assert reader.read(QUESTIONS[1], TEXTS) == together
    again = NeuralReader(str(tiny_qa)).read(QUESTIONS[1], TEXTS)
    assert [(p.start, p.end) if p else None for p in again] == [(p.start, p.end) if p else None for p in together]
    for text, batched in zip(TEXTS, together):
        alone = reader.read(QUESTIONS[1], [text])[0]
        assert (alone is None) == (batched is None)
        if alone and batched:
            assert (alone.start, alone.end) == (batched.start, batched.end)
            assert alone.score == pytest.approx(batched.score, abs=1e-4)
    assert reader.read(QUESTIONS[1], []) == []


@pytest.mark.slow
def test_load_reader_names_the_folder_and_none_is_the_light_reader(tiny_qa: Path) -> None:
    assert load_reader(None) is None
    loaded = load_reader(str(tiny_qa))
    assert isinstance(loaded, NeuralReader)
    assert loaded.name == str(tiny_qa.resolve())
    assert recorded_reader({"span_reader": {"kind": "neural", "name": loaded.name}}) == loaded.name
    assert recorded_reader({"span_reader": {"kind": "light"}}) == "light"
    assert recorded_reader({"span_reader": {"kind": "default"}}) is None  # none chosen: the default reader
    assert recorded_reader({"reader": "light-reader-x"}) is None  # an index built before span readers


# --- refusals ----------------------------------------------------------------------------------


def test_an_unknown_model_fails_fast_when_the_hub_is_off() -> None:
    started = time.monotonic()
    with pytest.raises(ReaderUnavailable, match="HF_HUB_OFFLINE") as caught:
        NeuralReader("no/such-qa-model")
    assert time.monotonic() - started < 10
    assert "no/such-qa-model" in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("不是模型", encoding="utf-8")
    with pytest.raises(ReaderUnavailable, match="no config.json"):
        NeuralReader(str(tmp_path))
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ReaderUnavailable, match="cannot load reader model folder") as caught:
        NeuralReader(str(tmp_path))
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_a_model_without_a_question_answering_head_is_refused(tmp_path: Path) -> None:
    folder = _tiny_qa_model(tmp_path / "base", head=False)
    with pytest.raises(ReaderUnavailable, match="not a trained extractive-QA model .*qa_outputs"):
        NeuralReader(str(folder))


def test_the_cli_refuses_an_unknown_reader_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run("ask", QUESTIONS[0], "--reader", "no/such-qa-model", "--index", str(tmp_path / "none"))
    assert time.monotonic() - started < 10
    assert_one_line_error(result, "no/such-qa-model", "HF_HUB_OFFLINE")


def test_build_with_a_reader_that_is_no_model_builds_nothing(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    index_dir = tmp_path / "index"
    result = run("build", "--corpus", str(corpus), "--index", str(index_dir), "--embedder", "offline",
                 "--reader", str(tmp_path / "not-a-model"))
    assert_one_line_error(result, "not-a-model", "no config.json")
    assert not index_dir.exists()


# --- end to end --------------------------------------------------------------------------------


def _answers(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert not data["abstained"]
    return list(data["answers"])


@pytest.mark.slow
def test_build_records_the_reader_and_ask_marks_its_spans(
    tiny_qa: Path, reader: NeuralReader, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    built = run("build", "--corpus", str(corpus), "--index", str(index_dir), "--embedder", "offline",
                "--reader", str(tiny_qa))
    assert built.exit_code == 0, built.output
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["span_reader"] == {"kind": "neural", "name": str(tiny_qa.resolve())}

    for question in QUESTIONS:
        answers = _answers(run("ask", question, "--index", str(index_dir), "--json"))  # the manifest's reader
        assert answers
        for a in answers:
            quote = str(a["quote"])
            start, end = a["answer_start"], a["answer_end"]
            assert isinstance(start, int) and isinstance(end, int)
            assert a["answer"] == quote[start:end]
            found = reader.read(question, [quote])[0]
            assert found is not None and (found.start, found.end) == (start, end)  # the neural span

    # --reader light overrides the recorded reader: the light reader's own spans.
    from jbqa.answerer import Answerer
    from jbqa.index.store import load_index

    light = Answerer(load_index(index_dir)).ask(QUESTIONS[0]).to_dict()["answers"]
    asked = _answers(run("ask", QUESTIONS[0], "--index", str(index_dir), "--json", "--reader", "light"))
    assert [(a["answer_start"], a["answer_end"]) for a in asked] == [(a["answer_start"], a["answer_end"]) for a in light]


@pytest.mark.slow
def test_ask_reader_overrides_an_index_built_with_the_light_reader(
    tiny_qa: Path, reader: NeuralReader, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    assert run("build", "--corpus", str(corpus), "--index", str(index_dir), "--embedder", "offline",
               "--reader", "light").exit_code == 0
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["span_reader"] == {"kind": "light"}
    question = QUESTIONS[0]
    light = _answers(run("ask", question, "--index", str(index_dir), "--json"))
    neural = _answers(run("ask", question, "--index", str(index_dir), "--json", "--reader", str(tiny_qa)))
    assert [a["quote"] for a in neural] == [a["quote"] for a in light]  # the light reader still picks the quotes
    assert [set(a) for a in neural] == [set(a) for a in light]  # the same JSON
    for a in neural:
        found = reader.read(question, [str(a["quote"])])[0]
        assert found is not None and (a["answer_start"], a["answer_end"]) == (found.start, found.end)


@pytest.mark.slow
def test_health_names_the_reader(reader: NeuralReader, corpus: Path, tmp_path: Path) -> None:
    from jbqa.answerer.model import model_version
    from jbqa.server.main import create_app

    index = build_index(corpus, tmp_path / "index", "offline", span_reader=reader.name)
    assert recorded_reader(index.manifest) == reader.name
    assert TestClient(create_app(index, reader=reader), base_url="http://127.0.0.1").get("/api/health").json()["reader"] == reader.name
    assert TestClient(create_app(index), base_url="http://127.0.0.1").get("/api/health").json()["reader"] == model_version()
    assert Answerer(index, reader=reader).reader is reader


@pytest.mark.slow
def test_the_default_reader_is_the_trained_neural_reader(e5_index: LoadedIndex, monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from jbqa.answerer.model import model_version

    assert e5_index.manifest["span_reader"] == {"kind": "default"}  # built with no reader chosen
    asked = ["eval", "--index", str(e5_index.directory), "--limit", "3", "--json"]
    light = run(*asked)  # $JBQA_READER names the default: light here
    assert light.exit_code == 0, light.output
    assert json.loads(light.stdout)["reader"] == model_version()

    monkeypatch.delenv("JBQA_READER")
    default = run(*asked)
    assert default.exit_code == 0, default.output
    assert json.loads(default.stdout)["reader"] == "neural"
    answers = _answers(run("ask", "江北区金融机构有多少家", "--index", str(e5_index.directory), "--json"))
    first = answers[0]
    assert first["answer"] and first["answer"] == str(first["quote"])[first["answer_start"]:first["answer_end"]]
