"""Speed and scale benchmark: build throughput, ask latency against a plain jieba + bm25s peer, a
profile of the ask path and, on request, the same on a large synthetic corpus.

`run_benchmark` prints a readable report to stdout (progress goes to stderr) and returns the full
report, which it also writes as JSON when given a path. The scale build runs in a child process
so that its peak resident memory is its own.
"""

from __future__ import annotations

import cProfile
import inspect
import json
import os
import platform
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from jbqa.config import BUNDLED_CORPUS, default_embedder
from jbqa.eval.metrics import GoldItem, answer_hit, percentile
from jbqa.eval.run import DEFAULT_GOLD, load_gold, report, run_questions
from jbqa.eval.synthetic import DEFAULT_SEED, make_synthetic_corpus
from jbqa.files import write_text

BUILD_REPEATS = 5
PROFILE_TOP = 10
RECALL_K = 10
EF_SEARCH_SWEEP = (32, 64, 128, 256, 512)
TIE_TOLERANCE = 1e-5
SCALE_BUILD_TIMEOUT_S = 30 * 60  # and SCALE_BUILD_S_PER_PASSAGE for each passage asked for
SCALE_BUILD_S_PER_PASSAGE = 0.2  # a model embedding 5 passages (and their sentences) a second
PEER_NAME = "jieba.lcut + bm25s.BM25() (default parameters), top-1 passage"
PEER_NOTE = (
    "the peer's quote is its whole top-1 passage (about 200 characters), more lenient than the one "
    "sentence jbqa quotes; the peer never abstains"
)
_ROOT = Path(__file__).resolve().parent.parent
_LIBRARIES = ("faiss-cpu", "bm25s", "jieba", "numpy", "scipy", "scikit-learn")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "latency_ms_p50": round(percentile(latencies_ms, 50), 3),
        "latency_ms_p95": round(percentile(latencies_ms, 95), 3),
        "latency_ms_mean": round(statistics.fmean(latencies_ms), 3) if latencies_ms else 0.0,
    }


def _peak_rss_mib() -> float:
    """This process's peak resident set size: VmHWM where /proc has it (ru_maxrss keeps, across
    fork and exec, the peak of the process that started this one), else ru_maxrss (KiB on Linux,
    bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _dir_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 2)


def _environment() -> dict[str, Any]:
    from jbqa.index.store import library_versions

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "libraries": library_versions(_LIBRARIES),
    }


# --- build -----------------------------------------------------------------------------------------


@contextmanager
def _models_dir(folder: Path) -> Iterator[None]:
    """JBQA_MODELS set to `folder` for the block: a model cache of the benchmark's own."""
    before = os.environ.get("JBQA_MODELS")
    os.environ["JBQA_MODELS"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("JBQA_MODELS", None)
        else:
            os.environ["JBQA_MODELS"] = before


def _add_one_document(corpus: Path, folder: Path, seed: int = DEFAULT_SEED) -> Path:
    """A copy of `corpus` with one new document of its sentences in another order (about 3,000 characters)."""
    from jbqa.eval.synthetic import corpus_sentences

    shutil.copytree(corpus, folder)
    sentences = corpus_sentences(corpus)
    random.Random(seed).shuffle(sentences)
    text, chars = [], 0
    for sentence in sentences:
        if chars > 3000:
            break
        text.append(sentence)
        chars += len(sentence)
    (folder / "added.txt").write_text("新增的资料\n\n" + "".join(text) + "\n", encoding="utf-8")
    return folder


def bench_build(corpus: Path, workdir: Path, repeats: int = BUILD_REPEATS, embedder: str = "auto") -> dict[str, Any]:
    """Build the index of `corpus` with `embedder` from nothing (in a fresh model cache, JBQA_MODELS:
    the packaged model converted and every text embedded), then `repeats` times again (the vectors
    reused), then once more with one document added; and time embedding every passage anew."""
    from jbqa.index.store import build_index
    from jbqa.index.tokenize import initialize

    initialize()
    started = time.perf_counter()
    warm = build_index(corpus, workdir / "warm-up", embedder)
    first = time.perf_counter() - started
    seconds = []
    for i in range(repeats):
        started = time.perf_counter()
        build_index(corpus, workdir / f"build-{i}", embedder)
        seconds.append(time.perf_counter() - started)
    grown = _add_one_document(corpus, workdir / "grown")
    started = time.perf_counter()
    build_index(grown, workdir / "grown-index", embedder)
    one_more = time.perf_counter() - started
    texts = [p.text for p in warm.passages]
    started = time.perf_counter()
    warm.embedder.encode_documents(texts)
    embed_s = time.perf_counter() - started
    median = statistics.median(seconds)
    n = warm.manifest["passage_count"]
    return {
        "corpus": str(corpus),
        "files": len(warm.manifest["corpus"]["files"]),
        "passages": n,
        "embedder": warm.embedder_label,
        "faiss_factory": warm.manifest["faiss"]["factory"],
        "first_build_seconds": round(first, 2),
        "repeats": repeats,
        "seconds": [round(s, 4) for s in seconds],
        "seconds_median": round(median, 4),
        "seconds_min": round(min(seconds), 4),
        "passages_per_s": round(n / median, 1),
        "passages_per_s_best": round(n / min(seconds), 1),
        "one_document_added_seconds": round(one_more, 2),
        "passages_embedded_per_s": round(n / embed_s, 1),
        "index_dir": str(workdir / "warm-up"),
    }


# --- ask and peer ----------------------------------------------------------------------------------


def bench_ask(index_dir: Path, items: list[GoldItem], reader: str | None = None) -> tuple[dict[str, Any], Any]:
    """Our ask latency and accuracy over `items`, the answerer loaded once and warmed up once,
    with the light reader or the neural one `reader` names.

    Returns the summary and the loaded index.
    """
    from jbqa.answerer import Answerer
    from jbqa.answerer.neural import load_reader
    from jbqa.index.store import load_index

    started = time.perf_counter()
    answerer = Answerer(load_index(index_dir), reader=load_reader(reader))
    load_s = time.perf_counter() - started
    result = report(run_questions(answerer, items), answerer.index.embedder_label)
    summary = {
        "questions": result["n"],
        "answerable": result["answerable"],
        "load_seconds": round(load_s, 3),
        "latency_ms_p50": result["latency_ms_p50"],
        "latency_ms_p95": result["latency_ms_p95"],
        "latency_ms_p99": result["latency_ms_p99"],
        "answer_hit@1": result["answer_hit@1"],
        "answer_hit@3": result["answer_hit@3"],
        "source_hit@1": result["source_hit@1"],
        "abstain_accuracy": result["abstain_accuracy"],
        "mrr": result["mrr"],
        "embedder": result["embedder"],
    }
    return summary, answerer.index


def bench_peer(passages: list[Any], items: list[GoldItem]) -> dict[str, Any]:
    """A plain peer: jieba.lcut tokens, bm25s.BM25 with default parameters, top-1 passage per question."""
    import bm25s
    import jieba

    started = time.perf_counter()
    corpus_tokens = [jieba.lcut(p.text) for p in passages]
    retriever = bm25s.BM25()
    retriever.index(corpus_tokens, show_progress=False)
    index_s = time.perf_counter() - started

    def top1(question: str) -> int:
        ids, _ = retriever.retrieve([jieba.lcut(question)], k=1, show_progress=False)
        return int(ids[0, 0])

    top1(items[0].question)  # warm-up, as for jbqa
    latencies, hits, source_hits = [], [], []
    for item in items:
        started = time.perf_counter()
        doc = top1(item.question)
        latencies.append((time.perf_counter() - started) * 1000)
        if item.answerable:
            hits.append(answer_hit(item, passages[doc].text))
            source_hits.append(passages[doc].source in item.sources)
    n_ans = max(1, len(hits))
    return {
        "name": PEER_NAME,
        "params": {"k1": retriever.k1, "b": retriever.b, "method": retriever.method},
        "index_seconds": round(index_s, 3),
        "questions": len(items),
        **_latency_summary(latencies),
        "answer_hit@1": round(sum(hits) / n_ans, 4),
        "source_hit@1": round(sum(source_hits) / n_ans, 4),
        "note": PEER_NOTE,
    }


LARGE_FILE_MB = 8


def bench_large_file(workdir: Path, megabytes: int = LARGE_FILE_MB) -> dict[str, Any]:
    """Ingest throughput (read, clean, split) of one file of the bundled text repeated to `megabytes`."""
    from jbqa.ingest import ingest_corpus

    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(BUNDLED_CORPUS.glob("*.txt")))
    repeats = max(1, int(megabytes * 1_000_000 / len(text.encode("utf-8"))))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "large.txt").write_text((text + "\n") * repeats, encoding="utf-8")
    size = (workdir / "large.txt").stat().st_size
    started = time.perf_counter()
    report = ingest_corpus(workdir)
    seconds = time.perf_counter() - started
    return {"megabytes": round(size / 1e6, 2), "seconds": round(seconds, 2),
            "mb_per_second": round(size / 1e6 / seconds, 2), "passages": len(report.passages)}


# --- profile ---------------------------------------------------------------------------------------


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    try:
        return str(Path(filename).resolve().relative_to(_ROOT))
    except ValueError:
        return filename


def profile_ask(index: Any, items: list[GoldItem], top: int = PROFILE_TOP) -> dict[str, Any]:
    """cProfile over one pass of `items`; the `top` functions by cumulative time.

    The pass is made as the timed one is: by a new answerer over `index`, after one warm-up
    question, so that what the answerer caches per question word is as cold as it was there.
    `share` is a function's cumulative time over the wall time of the profiled pass.
    """
    from jbqa.answerer import Answerer

    answerer = Answerer(index)
    answerer.ask(items[0].question)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for item in items:
        answerer.ask(item.question)
    profiler.disable()
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][3])  # type: ignore[attr-defined]
    functions = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in rows:
        if filename == "~" and name.startswith("<method 'disable'"):
            continue
        functions.append(
            {
                "function": name,
                "file": _short_path(filename) if filename != "~" else "(built-in)",
                "line": line,
                "ncalls": ncalls,
                "tottime_s": round(tottime, 4),
                "cumtime_s": round(cumtime, 4),
                "share": round(cumtime / total, 4) if total else 0.0,
            }
        )
        if len(functions) == top:
            break
    return {"questions": len(items), "total_seconds": round(total, 4), "top_cumulative": functions}


# --- scale -----------------------------------------------------------------------------------------


class StageClock:
    """Wall time and call count of chosen functions, nested stages keyed by their path (`a > b`).

    Installed by patching the functions in place, in the process that builds, so the build code
    itself is measured unchanged.
    """

    def __init__(self, announce: Callable[[str], None] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.rss_after: dict[str, float] = {}
        self._stack: list[str] = []
        self._announce = announce

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        self._stack.append(label)
        key = " > ".join(self._stack)
        if key not in self.seconds:  # rows keep the order in which stages first start
            self.seconds[key] = 0.0
            if self._announce and len(self._stack) == 1:
                self._announce(f"  - {label} ...")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
            self.calls[key] = self.calls.get(key, 0) + 1
            self._stack.pop()
            if not self._stack:
                self.rss_after[key] = _peak_rss_mib()

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        raw = inspect.getattr_static(owner, attr)
        func = raw.__func__ if isinstance(raw, (classmethod, staticmethod)) else raw

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(label):
                return func(*args, **kwargs)

        timed.__wrapped__ = func  # type: ignore[attr-defined]
        if isinstance(raw, classmethod):
            setattr(owner, attr, classmethod(timed))
        elif isinstance(raw, staticmethod):
            setattr(owner, attr, staticmethod(timed))
        else:
            setattr(owner, attr, timed)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "stage": key,
                "calls": self.calls[key],
                "seconds": round(seconds, 3),
                **({"peak_rss_mib_after": self.rss_after[key]} if key in self.rss_after else {}),
            }
            for key, seconds in self.seconds.items()
        ]


# (module, class or "", attributes to try in order, label); stages missing from the code are skipped.
BUILD_STAGES = (
    ("jbqa.index.store", "", ("ingest_corpus",), "ingest (read, clean, split)"),
    ("jbqa.index.store", "", ("analyse",), "jieba tokens (once per passage)"),
    ("jbqa.index.embedders", "OfflineEmbedder", ("fit_transform", "fit"), "fit offline embedder"),
    ("jbqa.index.embedders", "", ("_features_of", "_features"), "features (jieba words + char bigrams)"),
    ("jbqa.index.embedders", "", ("_tfidf_rows",), "tf-idf matrix"),
    ("sklearn.utils.extmath", "", ("randomized_svd",), "randomized SVD"),
    ("jbqa.index.embedders", "SentenceTransformerEmbedder", ("encode_documents",), "embed passages (model)"),
    ("jbqa.index.dense", "DenseIndex", ("build",), "FAISS add"),
    ("jbqa.index.store", "", ("index_terms_from_tokens", "index_terms"), "BM25 terms"),
    ("jbqa.index.bm25", "BM25Index", ("build",), "BM25 index"),
    ("jbqa.index.store", "", ("_write_atomically",), "write index folder"),
)


def _instrument_build(clock: StageClock) -> list[str]:
    """Time the build stages in this process; returns the stages that could not be found."""
    import importlib

    missing = []
    for module_name, class_name, attrs, label in BUILD_STAGES:
        owner: Any = importlib.import_module(module_name)
        if class_name:
            owner = getattr(owner, class_name, None)
        attr = next((a for a in attrs if owner is not None and a in vars(owner)), None)
        if attr is None:
            missing.append(label)
        else:
            clock.wrap(owner, attr, label)
    return missing


def build_child(corpus_dir: str, index_dir: str, result_path: str, factory: str, embedder: str) -> None:
    """Build in this (child) process and write timings, stage times and peak RSS to `result_path`."""
    from tqdm import tqdm

    from jbqa.index.store import build_index
    from jbqa.index.tokenize import initialize

    initialize()
    clock = StageClock(announce=lambda message: tqdm.write(message, file=sys.stderr))
    missing = _instrument_build(clock)
    baseline = _peak_rss_mib()
    started = time.perf_counter()
    index = build_index(Path(corpus_dir), Path(index_dir), embedder, progress=True, factory=factory or None)
    seconds = time.perf_counter() - started
    result = {
        "seconds": round(seconds, 3),
        "passages": index.manifest["passage_count"],
        "files": len(index.manifest["corpus"]["files"]),
        "skipped_files": len(index.manifest["corpus"]["skipped"]),
        "faiss_factory": index.manifest["faiss"]["factory"],
        "embedder": index.embedder_label,
        "embedder_dim": index.manifest["embedder"]["dim"],
        # texts the model embedded; the others' vectors were reused (the same text seen before)
        "embedded": index.manifest["embedder"]["embedded"],
        "vocabulary": len(index.embedder.vocab) if hasattr(index.embedder, "vocab") else None,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_before_build_mib": baseline,
        "stages": clock.rows(),
        "stages_not_found": missing,
    }
    write_text(Path(result_path), json.dumps(result, ensure_ascii=False, indent=2))


def _run_build_child(corpus: Path, index_dir: Path, factory: str | None, embedder: str, timeout: float
                     ) -> dict[str, Any]:
    result_path = index_dir.parent / "build-result.json"
    code = "import sys; from eval.bench import build_child; build_child(*sys.argv[1:])"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
    args = [sys.executable, "-c", code, str(corpus), str(index_dir), str(result_path), factory or "", embedder]
    try:  # the child's progress goes where ours does; the report alone goes to stdout
        sink: int | None = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        sink = None
    started = time.perf_counter()
    try:
        subprocess.run(args, env=env, check=True, timeout=timeout, stdout=sink, stderr=sink)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"scale build did not finish within {timeout:.0f} s") from exc
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"scale build failed (exit status {exc.returncode}); see its output above") from exc
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["child_wall_seconds"] = round(time.perf_counter() - started, 3)
    return result


def dense_recall(index: Any, items: list[GoldItem], k: int = RECALL_K) -> dict[str, Any]:
    """Recall@k of the index's FAISS search against exact inner-product search over the same vectors.

    `recall_at_k` is the mean overlap of the top-k id sets / k. Synthetic passages repeat sentences,
    so some vectors tie; `tie_aware_recall_at_k` also counts an approximate hit whose score reaches
    the exact k-th score (within TIE_TOLERANCE) as found. For an HNSW index the same is measured
    for other efSearch values too (the index is left as it was).
    """
    import faiss

    dense = index.dense
    vectors = _stored_vectors(dense.index, index)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    queries = np.ascontiguousarray(index.embedder.encode_queries([i.question for i in items]), dtype=np.float32)
    k = min(k, len(vectors))
    truth = _one_by_one(exact, queries, k)
    hnsw = getattr(dense.index, "hnsw", None)
    result: dict[str, Any] = {
        "k": k,
        "queries": len(queries),
        "factory": dense.factory,
        "ef_search": int(hnsw.efSearch) if hnsw is not None else None,
        **_recall(_one_by_one(dense.index, queries, k), truth),
        "exact_search_ms_p50": truth[2],
    }
    if hnsw is not None:
        configured = hnsw.efSearch
        sweep = []
        try:
            for ef in EF_SEARCH_SWEEP:
                hnsw.efSearch = ef
                sweep.append({"ef_search": ef, **_recall(_one_by_one(dense.index, queries, k), truth)})
        finally:
            hnsw.efSearch = configured
        result["ef_search_sweep"] = sweep
    return result


def _one_by_one(faiss_index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(scores, ids, p50 ms per query) searching one query at a time, as `ask` does."""
    scores, ids, elapsed = [], [], []
    for q in queries:
        started = time.perf_counter()
        s, i = faiss_index.search(q[None, :], k)
        elapsed.append((time.perf_counter() - started) * 1000)
        scores.append(s[0])
        ids.append(i[0])
    return np.array(scores), np.array(ids), round(percentile(elapsed, 50), 3)


def _recall(found: tuple[np.ndarray, np.ndarray, float], truth: tuple[np.ndarray, np.ndarray, float]) -> dict[str, Any]:
    (scores, ids, ms), (true_scores, true_ids, _) = found, truth
    k = true_ids.shape[1]
    overlap = [len(set(a.tolist()) & set(e.tolist())) / k for a, e in zip(ids, true_ids)]
    tie_aware = [min(k, int(np.sum(a >= e[-1] - TIE_TOLERANCE))) / k for a, e in zip(scores, true_scores)]
    return {
        "recall_at_k": round(float(np.mean(overlap)), 4),
        "tie_aware_recall_at_k": round(float(np.mean(tie_aware)), 4),
        "queries_with_full_overlap": sum(1 for o in overlap if o == 1.0),
        "search_ms_p50": ms,
    }


def _stored_vectors(faiss_index: Any, index: Any) -> np.ndarray:
    """The index's own vectors, or the passages re-encoded where the index cannot give them back."""
    try:
        return np.ascontiguousarray(faiss_index.reconstruct_n(0, faiss_index.ntotal), dtype=np.float32)
    except RuntimeError:
        texts = [p.text for p in index.passages]
        return np.ascontiguousarray(index.embedder.encode_documents(texts), dtype=np.float32)


def bench_scale(
    scale: int,
    workdir: Path,
    items: list[GoldItem],
    seed: int,
    factory: str | None,
    log: Callable[[str], None],
    embedder: str,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Build a synthetic corpus of about `scale` passages with `embedder` in a child process (peak
    RSS of the build alone), then ask the gold questions of it and measure its dense recall."""
    if timeout is None:
        timeout = SCALE_BUILD_TIMEOUT_S + SCALE_BUILD_S_PER_PASSAGE * scale
    started = time.perf_counter()
    synthetic = make_synthetic_corpus(workdir / "corpus", scale, seed=seed)
    synth_s = time.perf_counter() - started
    log(
        f"  synthetic corpus: {synthetic.files} files, {synthetic.passages} planned passages, "
        f"{synthetic.chars / 1e6:.1f} M characters in {synth_s:.1f} s"
    )
    log(f"  building its index in a child process (embedder {embedder}) ...")
    index_dir = workdir / "index"
    build = _run_build_child(synthetic.directory, index_dir, factory, embedder, timeout)
    build["passages_per_s"] = round(build["passages"] / build["seconds"], 1)
    log(f"  built {build['passages']} passages in {build['seconds']:.1f} s, peak RSS {build['peak_rss_mib']} MiB")
    on_disk = {p.name: _dir_mib(p) if p.is_dir() else round(p.stat().st_size / 2**20, 2) for p in index_dir.iterdir()}

    log("  loading the big index and asking the gold questions ...")
    ask, index = bench_ask(index_dir, items)
    log("  profiling the ask path against the big index ...")
    profile = profile_ask(index, items)
    log("  recall of the FAISS index against exact search ...")
    recall = dense_recall(index, items)
    return {
        "requested_passages": scale,
        "seed": seed,
        "synthetic": {
            "files": synthetic.files,
            "planned_passages": synthetic.passages,
            "characters": synthetic.chars,
            "sentence_pool": synthetic.pool_sentences,
            "seconds": round(synth_s, 3),
        },
        "build": build,
        "index_mib": round(sum(on_disk.values()), 2),
        "index_mib_by_part": on_disk,
        "faiss_factory": build["faiss_factory"],
        "ask": {
            **ask,
            "note": "answer_hit@1 on recombined passages; source_hit@1 is meaningless (synthetic file names)",
        },
        "profile": profile,
        "dense_recall": recall,
    }


# --- report ----------------------------------------------------------------------------------------


def bench_squad(squad: Path, holdout_every: int, workdir: Path) -> dict[str, Any]:
    """Ask latency over every question of a SQuAD-format file asked of its contexts as an open
    corpus (every `holdout_every`-th context left out), as `jbqa eval --squad` asks them."""
    from jbqa.eval.open_squad import prepare

    data = prepare(squad, workdir, holdout_every, progress=False)
    summary, _ = bench_ask(data.index, data.items)
    return {"file": str(squad), "documents": data.documents, "left_out": data.left_out,
            "holdout_every": holdout_every, **summary}


def run_benchmark(
    output: Path | None = None,
    scale: int = 0,
    *,
    squad: Path | None = None,
    holdout_every: int = 2,
    neural: bool = False,
    gold: Path = DEFAULT_GOLD,
    seed: int = DEFAULT_SEED,
    build_repeats: int = BUILD_REPEATS,
    scale_factory: str | None = None,
    embedder: str | None = None,
    log: Callable[[str], None] = _stderr,
) -> dict[str, Any]:
    """Measure, print a readable report, write the full JSON report to `output`, and return it.

    `scale` > 0 also builds a synthetic corpus of about that many passages; `scale_factory`
    overrides the FAISS factory chosen for it (default: `index.dense.choose_factory`). Both
    builds use `embedder` (default: `jbqa.config.default_embedder`). `squad`
    also measures asking a SQuAD-format file's questions of its own contexts (`bench_squad`);
    `neural` also times the gold questions with the trained neural reader.
    """
    if scale < 0:
        raise ValueError(f"scale must be 0 or positive, got {scale}")
    embedder = embedder or default_embedder()
    items = load_gold(gold)
    started = time.perf_counter()
    steps = 4 + bool(scale) + bool(squad)
    result: dict[str, Any] = {"environment": _environment(), "gold": str(gold)}
    with tempfile.TemporaryDirectory(prefix="jbqa-bench-") as tmp, _models_dir(Path(tmp) / "models"):
        workdir = Path(tmp)
        log(f"[1/{steps}] building the bundled corpus index ({build_repeats} timed builds after a warm-up) ...")
        result["build"] = bench_build(BUNDLED_CORPUS, workdir / "bundled", build_repeats, embedder)
        log(f"[2/{steps}] asking {len(items)} gold questions ...")
        result["ask"], index = bench_ask(Path(result["build"].pop("index_dir")), items)
        if neural:
            log(f"[2/{steps}] asking {len(items)} gold questions with the neural reader ...")
            result["ask_neural"], _ = bench_ask(index.directory, items, reader="neural")
        log(f"[3/{steps}] peer: {PEER_NAME} ...")
        result["peer"] = bench_peer(index.passages, items)
        result["ask_p50_over_peer_p50"] = (
            round(result["ask"]["latency_ms_p50"] / result["peer"]["latency_ms_p50"], 2)
            if result["peer"]["latency_ms_p50"] > 0
            else None
        )
        log(f"[4/{steps}] profiling the ask path; ingesting one large file ...")
        result["profile"] = profile_ask(index, items)
        del index
        result["large_file"] = bench_large_file(workdir / "large")
        result["squad"] = None
        if squad:
            log(f"[5/{steps}] asking the questions of {squad.name} of its own contexts ...")
            result["squad"] = bench_squad(squad, holdout_every, workdir / "squad")
        if scale:
            log(f"[{steps}/{steps}] scale: about {scale} synthetic passages ...")
            result["scale"] = bench_scale(scale, workdir / "scale", items, seed, scale_factory, log, embedder)
        else:
            result["scale"] = None
    result["peak_rss_mib"] = _peak_rss_mib()
    result["total_seconds"] = round(time.perf_counter() - started, 2)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_text(output, json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(format_report(result, output), flush=True)
    return result


def _neural_lines(ask: dict[str, Any] | None) -> list[str]:
    if not ask:
        return []
    return [f"  with the neural reader: p50 {ask['latency_ms_p50']:.2f} ms   p95 {ask['latency_ms_p95']:.2f} ms"
            f"   p99 {ask['latency_ms_p99']:.2f} ms   answer_hit@1 {ask['answer_hit@1']:.3f}"]


def format_report(result: dict[str, Any], output: Path | None = None) -> str:
    env, build, ask, peer, prof = (result[k] for k in ("environment", "build", "ask", "peer", "profile"))
    lines = [
        f"jbqa bench  (Python {env['python']}, {env['cpus']} CPUs, embedder {ask['embedder']})",
        "",
        f"Build: bundled corpus, {build['passages']} passages in {build['files']} files, FAISS {build['faiss_factory']}",
        f"  from nothing (model converted, every text embedded) {build['first_build_seconds']:.1f} s;"
        f" with one document added {build['one_document_added_seconds']:.1f} s;"
        f" passages embedded anew {build['passages_embedded_per_s']:.0f}/s",
        f"  again, the vectors reused: {build['seconds_median'] * 1000:.0f} ms median of {build['repeats']} builds"
        f" -> {build['passages_per_s']:.0f} passages/s (best {build['seconds_min'] * 1000:.0f} ms"
        f" -> {build['passages_per_s_best']:.0f} passages/s)",
        "",
        f"Ask: {ask['questions']} gold questions, answerer loaded once, 1 warm-up question",
        f"  latency p50 {ask['latency_ms_p50']:.2f} ms   p95 {ask['latency_ms_p95']:.2f} ms"
        f"   p99 {ask['latency_ms_p99']:.2f} ms",
        f"  answer_hit@1 {ask['answer_hit@1']:.3f}   source_hit@1 {ask['source_hit@1']:.3f}"
        f"   (over {ask['answerable']} answerable questions; quote = one sentence)",
        *_neural_lines(result.get("ask_neural")),
        "",
        *_squad_lines(result.get("squad")),
        *(
            [f"Large file: {result['large_file']['megabytes']} MB ingested in {result['large_file']['seconds']} s "
             f"({result['large_file']['mb_per_second']} MB/s)"]
            if result.get("large_file") else []
        ),
        f"Peer: {peer['name']}",
        f"  latency p50 {peer['latency_ms_p50']:.2f} ms   p95 {peer['latency_ms_p95']:.2f} ms",
        f"  answer_hit@1 {peer['answer_hit@1']:.3f}   source_hit@1 {peer['source_hit@1']:.3f}",
        f"  note: {peer['note']}",
        f"  jbqa ask p50 / peer p50 = {result['ask_p50_over_peer_p50']}x",
        "",
        f"Profile of the ask path (cProfile, {prof['questions']} questions, {prof['total_seconds']:.2f} s"
        " under the profiler), top by cumulative time:",
        *_profile_lines(prof["top_cumulative"]),
    ]
    scale = result.get("scale")
    if scale:
        lines += ["", *_scale_lines(scale)]
    lines += ["", f"Peak RSS of this process {result['peak_rss_mib']:.0f} MiB"]
    lines += ["", f"Total {result['total_seconds']:.1f} s" + (f"; full JSON report: {output}" if output else "")]
    return "\n".join(lines)


def _squad_lines(squad: dict[str, Any] | None) -> list[str]:
    if not squad:
        return []
    return [
        f"Ask: {squad['questions']} questions of {Path(squad['file']).name} asked of {squad['documents']} of its"
        f" contexts (one in {squad['holdout_every']} left out)",
        f"  latency p50 {squad['latency_ms_p50']:.2f} ms   p95 {squad['latency_ms_p95']:.2f} ms"
        f"   p99 {squad['latency_ms_p99']:.2f} ms",
        "",
    ]


def _profile_lines(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"  {row['cumtime_s']:8.3f} s {row['share']:6.1%}  {row['ncalls']:>7}x  {row['function']}  ({row['file']}:{row['line']})"
        for row in rows
    ]


def _scale_lines(scale: dict[str, Any]) -> list[str]:
    b, a, r, prof = scale["build"], scale["ask"], scale["dense_recall"], scale["profile"]
    lines = [
        f"Scale: {b['passages']} synthetic passages in {b['files']} files"
        f" (requested {scale['requested_passages']}, seed {scale['seed']}), embedder {b['embedder']}",
        f"  embedded {b['embedded']['passages']} passages and {b['embedded']['sentences']} sentences; the others"
        " repeat a text already embedded (synthetic passages recombine the corpus's sentences)",
        f"  build {b['seconds']:.1f} s -> {b['passages_per_s']:.0f} passages/s;"
        f" peak RSS {b['peak_rss_mib']:.0f} MiB (before build {b['rss_before_build_mib']:.0f} MiB)",
        "  where the build time goes:",
    ]
    for stage in b["stages"]:
        depth = stage["stage"].count(" > ")
        name = stage["stage"].rsplit(" > ", 1)[-1]
        rss = f"   peak RSS so far {stage['peak_rss_mib_after']:.0f} MiB" if "peak_rss_mib_after" in stage else ""
        lines.append(f"    {'  ' * depth}{name:<{44 - 2 * depth}} {stage['seconds']:8.1f} s  {stage['calls']:>7}x{rss}")
    parts = ", ".join(f"{k} {v}" for k, v in scale["index_mib_by_part"].items())
    lines += [
        f"  index on disk {scale['index_mib']:.1f} MiB ({parts})",
        f"  FAISS factory {scale['faiss_factory']}" + (f" (efSearch {r['ef_search']})" if r["ef_search"] else ""),
        f"  load {a['load_seconds']:.1f} s; ask latency p50 {a['latency_ms_p50']:.2f} ms"
        f"   p95 {a['latency_ms_p95']:.2f} ms   answer_hit@1 {a['answer_hit@1']:.3f}",
        f"  ask profile ({prof['total_seconds']:.1f} s under the profiler), top 5 by cumulative time:",
        *_profile_lines(prof["top_cumulative"][:5]),
        f"  dense recall@{r['k']} vs exact search over {r['queries']} gold questions: {r['recall_at_k']:.4f}"
        f" (tie-aware {r['tie_aware_recall_at_k']:.4f}); search p50 {r['search_ms_p50']:.3f} ms"
        f" vs exact {r['exact_search_ms_p50']:.3f} ms",
    ]
    for row in r.get("ef_search_sweep", []):
        lines.append(
            f"    efSearch {row['ef_search']:>4}: recall@{r['k']} {row['recall_at_k']:.4f}"
            f" (tie-aware {row['tie_aware_recall_at_k']:.4f}), search p50 {row['search_ms_p50']:.3f} ms"
        )
    return lines
