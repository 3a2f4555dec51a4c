"""Embedders: a tiny sentence-transformers model built here (no download), and the offline LSA model."""

from __future__ import annotations

import json
import string
import time
from pathlib import Path

import numpy as np
import pytest

from jbqa.answerer import Answerer
from jbqa.config import BUNDLED_CORPUS
from jbqa.index.embedders import (
    OFFLINE_KIND,
    ST_KIND,
    EmbedderUnavailable,
    OfflineEmbedder,
    load_embedder,
    load_sentence_transformer,
    resolve_embedder,
)
from jbqa.index.store import LoadedIndex, build_index, load_index

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HIDDEN = 32


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer BERT over the corpus characters, saved as a sentence-transformers folder."""
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    base = tmp_path_factory.mktemp("tiny-bert")
    chars = {ch for path in BUNDLED_CORPUS.glob("*.txt") for ch in path.read_text(encoding="utf-8")}
    chars |= set(string.ascii_letters + string.digits)
    vocab = SPECIAL_TOKENS + sorted(ch for ch in chars if not ch.isspace())
    vocab_file = base / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")

    tokenizer = transformers.BertTokenizer(str(vocab_file), tokenize_chinese_chars=True)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    transformers.BertModel(config).save_pretrained(base)
    tokenizer.save_pretrained(base)

    folder = tmp_path_factory.mktemp("tiny-st")
    model = SentenceTransformer(
        modules=[Transformer(str(base), max_seq_length=128), Pooling(HIDDEN, "mean")], device="cpu"
    )
    model.save(str(folder))
    return folder


# --- sentence-transformers --------------------------------------------------------------------


@pytest.mark.slow
def test_a_local_model_folder_loads_as_a_sentence_transformer(tiny_model: Path) -> None:
    embedder = load_sentence_transformer(str(tiny_model))
    assert embedder.kind == ST_KIND
    assert embedder.name == str(tiny_model)
    assert embedder.dim == HIDDEN

    texts = ["江北区金融机构有多少家", "塔坪小区完成改造", "LED大屏"]
    docs = embedder.encode_documents(texts)
    queries = embedder.encode_queries(texts)
    assert docs.shape == queries.shape == (3, HIDDEN)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    # No prompts for an unknown model: queries and documents are encoded alike.
    np.testing.assert_allclose(docs, queries, atol=1e-6)


@pytest.mark.slow
def test_the_model_is_deterministic_across_loads(tiny_model: Path) -> None:
    text = ["截至今年7月，江北区内共集聚金融机构超480家"]
    first = load_sentence_transformer(str(tiny_model)).encode_documents(text)
    second = load_sentence_transformer(str(tiny_model)).encode_documents(text)
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert not np.allclose(first, load_sentence_transformer(str(tiny_model)).encode_documents(["完全不同的句子"]))


@pytest.mark.slow
def test_an_index_built_with_the_model_records_it_and_answers(tiny_model: Path, tmp_path: Path) -> None:
    built = build_index(BUNDLED_CORPUS, tmp_path / "index", str(tiny_model))
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"]["kind"] == ST_KIND
    assert manifest["embedder"]["name"] == str(tiny_model)
    assert manifest["embedder"]["dim"] == HIDDEN
    assert built.dense.dim == HIDDEN

    loaded = load_index(tmp_path / "index")
    assert loaded.embedder.kind == ST_KIND
    assert loaded.embedder_label == f"{ST_KIND}:{tiny_model}"
    assert loaded.passages == built.passages

    result = Answerer(loaded).ask("江北区金融机构有多少家")
    assert not result.abstained
    assert result.answers
    assert result.embedder == loaded.embedder_label
    assert any(fig in a.quote for a in result.answers for fig in ("480", "490"))


@pytest.mark.slow
def test_load_embedder_reopens_the_model_by_its_recorded_path(tiny_model: Path, tmp_path: Path) -> None:
    embedder = load_embedder({"kind": ST_KIND, "name": str(tiny_model)}, tmp_path / "unused")
    assert embedder.dim == HIDDEN


def test_an_unknown_model_fails_fast_when_the_hub_is_off() -> None:
    started = time.monotonic()
    with pytest.raises(EmbedderUnavailable, match="no/such-model"):
        load_sentence_transformer("no/such-model")
    assert time.monotonic() - started < 10


def test_an_explicit_model_choice_never_falls_back() -> None:
    started = time.monotonic()
    with pytest.raises(EmbedderUnavailable):
        resolve_embedder("no/such-model")
    assert time.monotonic() - started < 10


def test_an_explicit_model_that_cannot_load_builds_no_index(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailable):
        build_index(BUNDLED_CORPUS, tmp_path / "index", "no/such-model")
    assert not (tmp_path / "index").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_a_model_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("不是模型", encoding="utf-8")
    with pytest.raises(EmbedderUnavailable, match="cannot load model folder"):
        load_sentence_transformer(str(tmp_path))


def test_an_unknown_embedder_kind_is_named() -> None:
    with pytest.raises(ValueError, match="mystery"):
        load_embedder({"kind": "mystery", "name": "x"}, Path("."))


# --- the offline embedder ----------------------------------------------------------------------


def test_offline_fit_save_load_gives_identical_vectors(offline_index: LoadedIndex, tmp_path: Path) -> None:
    embedder = offline_index.embedder
    assert isinstance(embedder, OfflineEmbedder)
    embedder.save(tmp_path / "embedder")
    again = OfflineEmbedder.load(tmp_path / "embedder")
    texts = [p.text for p in offline_index.passages[:10]] + ["江北區金融機構", "LED"]
    np.testing.assert_array_equal(embedder.encode_documents(texts), again.encode_documents(texts))
    np.testing.assert_array_equal(embedder.encode_queries(texts), again.encode_queries(texts))
    assert again.dim == embedder.dim
    assert load_embedder({"kind": OFFLINE_KIND, "name": again.name}, tmp_path / "embedder").vocab == embedder.vocab


def test_offline_fit_is_deterministic() -> None:
    texts = [
        "截至今年7月，江北区内共集聚金融机构超480家。",
        "塔坪小区完成改造，整个小区焕然一新。",
        "观音桥商圈日均人流量达50万人次。",
        "江北嘴江滩公园项目全面启动。",
    ]
    a, b = OfflineEmbedder.fit(texts), OfflineEmbedder.fit(texts)
    np.testing.assert_array_equal(a.encode_documents(texts), b.encode_documents(texts))
    assert a.dim == len(texts) - 1


def test_offline_vectors_are_unit_length(offline_index: LoadedIndex) -> None:
    vectors = offline_index.embedder.encode_documents([p.text for p in offline_index.passages])
    assert vectors.shape == (len(offline_index.passages), offline_index.embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_offline_text_without_known_features_is_a_zero_vector(offline_index: LoadedIndex) -> None:
    vector = offline_index.embedder.encode_queries(["……"])
    assert not np.any(vector)


@pytest.mark.parametrize(
    ("query", "related", "unrelated"),
    [
        ("江北区金融机构数量", "截至今年7月，江北区内共集聚金融机构超480家", "塔坪小区完成改造，整个小区焕然一新"),
        ("塔坪老旧小区改造", "2021年，江北区启动塔坪老旧小区改造工程", "江北嘴金融中心建成后，将成为新的金融地标"),
        ("观音桥商圈人流量", "观音桥商圈日均人流量达50万人次", "海尔衣联网智慧生态研究院在江北区港城工业园揭牌成立"),
    ],
)
def test_offline_similar_texts_score_higher(
    offline_index: LoadedIndex, query: str, related: str, unrelated: str
) -> None:
    embedder = offline_index.embedder
    q = embedder.encode_queries([query])[0]
    docs = embedder.encode_documents([related, unrelated])
    assert float(docs[0] @ q) > float(docs[1] @ q)


def test_offline_traditional_and_simplified_are_the_same_text(offline_index: LoadedIndex) -> None:
    embedder = offline_index.embedder
    a, b = embedder.encode_queries(["江北區金融機構有多少家", "江北区金融机构有多少家"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_offline_load_refuses_files_that_disagree(offline_index: LoadedIndex, tmp_path: Path) -> None:
    offline_index.embedder.save(tmp_path)
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    (tmp_path / "vocab.json").write_text(json.dumps(vocab[:-1], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="disagree"):
        OfflineEmbedder.load(tmp_path)


FIT_TEXTS = [
    "截至今年7月，江北区内共集聚金融机构超480家。",
    "塔坪小区完成改造，整个小区焕然一新；小区居民生活更便捷。",
    "观音桥商圈日均人流量达50万人次，观音桥步行街人流如织。",
    "江北嘴江滩公园项目全面启动。",
    "……",
    "江北区金融机构数量居全市第一，金融资产规模占全市近三分之一。",
]


def test_offline_fit_transform_gives_the_vectors_of_the_fitted_texts() -> None:
    embedder, vectors = OfflineEmbedder.fit_transform(FIT_TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(FIT_TEXTS), embedder.dim)
    np.testing.assert_allclose(vectors, embedder.encode_documents(FIT_TEXTS), atol=1e-6)
    assert not np.any(vectors[4])  # a text without letters or digits has no features
    norms = np.linalg.norm(np.delete(vectors, 4, axis=0), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)

    fitted = OfflineEmbedder.fit(FIT_TEXTS)
    assert fitted.vocab == embedder.vocab
    np.testing.assert_array_equal(fitted.idf, embedder.idf)
    np.testing.assert_array_equal(fitted.components, embedder.components)


def test_offline_fit_transform_takes_the_analyses_a_build_already_has() -> None:
    from jbqa.index.tokenize import analyse

    embedder, vectors = OfflineEmbedder.fit_transform(FIT_TEXTS)
    again, vectors_again = OfflineEmbedder.fit_transform(FIT_TEXTS, analysed=[analyse(t) for t in FIT_TEXTS])
    assert again.vocab == embedder.vocab
    np.testing.assert_array_equal(vectors_again, vectors)
    with pytest.raises(ValueError, match="analysed"):
        OfflineEmbedder.fit_transform(FIT_TEXTS, analysed=[analyse(t) for t in FIT_TEXTS[:-1]])


def test_offline_tf_idf_is_log_scaled_counts_times_idf_on_unit_rows() -> None:
    from jbqa.index.embedders import _features

    embedder = OfflineEmbedder.fit(FIT_TEXTS)
    docs = [_features(t) for t in FIT_TEXTS]
    assert embedder.vocab == sorted({f for feats in docs for f in feats})
    n = len(FIT_TEXTS)
    df = {f: sum(f in feats for feats in docs) for f in embedder.vocab}
    expected_idf = [np.log((1 + n) / (1 + df[f])) + 1.0 for f in embedder.vocab]
    np.testing.assert_allclose(embedder.idf, expected_idf, rtol=1e-6)

    queries = FIT_TEXTS + ["小区小区小区改造", "完全陌生的词语", ""]
    matrix = embedder._tfidf([_features(t) for t in queries]).toarray()
    for row, text in zip(matrix, queries):
        expected = np.zeros(len(embedder.vocab))
        for feature in set(_features(text)):
            j = embedder.index.get(feature)
            if j is not None:
                expected[j] = (1.0 + np.log(_features(text).count(feature))) * embedder.idf[j]
        norm = np.linalg.norm(expected)
        np.testing.assert_allclose(row, expected / norm if norm else expected, atol=1e-6)


def test_offline_features_are_jieba_words_then_character_bigrams() -> None:
    from jbqa.index.embedders import _features

    assert _features("截至今年7月，ＬＥＤ屏") == [
        "w:截至", "w:今年", "w:7", "w:月", "w:led", "w:屏",
        "b:截至", "b:至今", "b:今年", "b:年7", "b:7月", "b:月l", "b:le", "b:ed", "b:d屏",
    ]  # fmt: skip
