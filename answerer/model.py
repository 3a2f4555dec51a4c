"""The light reader's learned parts: a sentence ranker and a span scorer (LightGBM lambdarank) and an
abstain model (LightGBM, binary log loss), each saved in LightGBM's text format.

Nothing is pickled: the files are plain text and load with `lightgbm.Booster(model_file=...)` and json.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from jbqa.answerer.features import (
    CATEGORICAL_SENTENCE_FEATURES,
    SENTENCE_FEATURES,
    QuestionTerms,
)
from jbqa.answerer.span_features import (
    CATEGORICAL_SPAN_FEATURES,
    SPAN_FEATURES,
    Span,
    span_candidates,
    span_matrix,
)
from jbqa.files import replacing, write_text
from jbqa.index.words import Words

MODEL_FORMAT = 3  # 2: sentence features from word knowledge and parts of speech; 3: and from e5 vectors
MODEL_DIR = Path(__file__).with_name("trained")
_FILES = ("ranker.txt", "spans.txt", "abstain.txt", "abstain.json", "model.json")

RANKER_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [1],
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 10,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
RANKER_ROUNDS = 200
# Span groups are larger (hundreds of candidates per question) and their edges subtler. 150 rounds
# at 0.1 score as well out of fold as 300 at 0.05, and every answer costs half as much to mark.
SPAN_PARAMS: dict[str, Any] = {"num_leaves": 31, "lambdarank_truncation_level": 3, "learning_rate": 0.1}
SPAN_ROUNDS = 150


class ModelUnavailable(RuntimeError):
    """The shipped reader model is missing or damaged."""


def fit_ranker(
    x: np.ndarray, y: np.ndarray, groups: list[int], weights: np.ndarray, seed: int, spans: bool = False
) -> lgb.Booster:
    """LightGBM lambdarank over one group per question (`weights`: one per group), for sentence
    rows or, with `spans`, for span rows."""
    names, categorical = (
        (list(SPAN_FEATURES), CATEGORICAL_SPAN_FEATURES) if spans
        else (list(SENTENCE_FEATURES), CATEGORICAL_SENTENCE_FEATURES)
    )
    rounds = SPAN_ROUNDS if spans else RANKER_ROUNDS
    data = lgb.Dataset(
        x, label=y, group=groups, weight=np.repeat(weights, groups), feature_name=names,
        categorical_feature=[n for n in categorical], free_raw_data=False,
    )
    params = dict(RANKER_PARAMS, **(SPAN_PARAMS if spans else {}))
    params.update(seed=seed, bagging_seed=seed, feature_fraction_seed=seed, data_random_seed=seed)
    return lgb.train(params, data, num_boost_round=rounds)


ABSTAIN_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 30,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
ABSTAIN_ROUNDS = 200
# The first three are scores, the last the question-word category; the others are sentence
# features of the candidate.
ABSTAIN_FEATURES = (
    "ranker_score", "ranker_margin", "span_score", "coverage", "coverage_window", "soft_coverage",
    "soft_coverage_window", "clause_coverage", "proximity_coverage", "missing_weight", "unseen_share",
    "pair_coverage", "dense_score", "bm25_rank", "type_fit", "type_entity", "question_terms",
    "measure_match", "figures_missing_window", "coverage_title", "question_word",
    "meaning", "meaning_window", "meaning_vs_best",
)
MAX_REFUSED_ANSWERABLE = 0.03  # the threshold keeps at most this share of answerable questions refused


@dataclass(frozen=True)
class AbstainModel:
    """P(the best answer is right), from LightGBM (binary log loss); answer when >= threshold."""

    booster: lgb.Booster
    threshold: float
    report: dict[str, Any]

    def probability(self, row: Sequence[float]) -> float:
        return float(self.booster.predict(np.asarray([row], np.float32), num_threads=1)[0])

    def summary(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **self.report}


def _fit_abstain_booster(x: np.ndarray, y: np.ndarray, weights: np.ndarray, seed: int,
                         names: Sequence[str] = ABSTAIN_FEATURES) -> lgb.Booster:
    data = lgb.Dataset(x, label=y, weight=weights, feature_name=list(names),
                       categorical_feature=["question_word"], free_raw_data=False)
    params = dict(ABSTAIN_PARAMS, seed=seed, bagging_seed=seed, feature_fraction_seed=seed, data_random_seed=seed)
    return lgb.train(params, data, num_boost_round=ABSTAIN_ROUNDS)


def fit_abstain(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, answerable: np.ndarray, folds: np.ndarray, seed: int,
    names: Sequence[str] = ABSTAIN_FEATURES, groups: np.ndarray | None = None,
) -> tuple[AbstainModel, np.ndarray]:
    """Fit "the best answer is right" (rows of out-of-fold scores). The threshold and the report come
    from probabilities that are out of fold too, each fold's from a model fitted on the others: the
    highest threshold that refuses at most MAX_REFUSED_ANSWERABLE of the answerable questions.
    `groups`: a question's number for each row when a question has several rows (candidates), of
    which the most probable is its answer; by default every row is a question of its own.
    Returns the model (fitted on every row) and those out-of-fold probabilities (of every row)."""
    p = np.zeros(len(y))
    for fold in np.unique(folds):
        inside = folds == fold
        p[inside] = _fit_abstain_booster(x[~inside], y[~inside], weights[~inside], seed, names).predict(x[inside])
    booster = _fit_abstain_booster(x, y, weights, seed, names)
    chosen = np.arange(len(y)) if groups is None else most_probable(p, groups)
    p_chosen, y_chosen, answerable = p[chosen], y[chosen], answerable[chosen]
    ordered = np.sort(p_chosen[answerable])
    threshold = float(ordered[int(MAX_REFUSED_ANSWERABLE * len(ordered))]) if len(ordered) else 0.5
    bins = []
    for lo in np.linspace(0, 0.9, 10):
        inside = (p_chosen >= lo) & (p_chosen < lo + 0.1)
        if inside.any():
            bins.append({"bin": f"{lo:.1f}-{lo + 0.1:.1f}", "n": int(inside.sum()),
                         "mean_p": round(float(p_chosen[inside].mean()), 3),
                         "share_right": round(float(y_chosen[inside].mean()), 3)})
    report = {
        "rows": int(len(y)),
        "answerable_refused": round(float((p_chosen[answerable] < threshold).mean()), 4) if answerable.any() else 0.0,
        "unanswerable_refused": round(float((p_chosen[~answerable] < threshold).mean()), 4)
        if (~answerable).any() else 0.0,
        "reliability": bins,  # of the out-of-fold probabilities
    }
    return AbstainModel(booster, threshold, report), p


def most_probable(p: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The row of each group (in order of first appearance) with the highest `p` (the first of ties)."""
    best: dict[int, int] = {}
    for row, group in enumerate(groups.tolist()):
        if group not in best or p[row] > p[best[group]]:
            best[group] = row
    return np.array(list(best.values()), dtype=np.int64)


@dataclass(frozen=True)
class ScoredSpan:
    start: int  # offsets in the candidate's normalised sentence
    end: int
    score: float


class ReaderModel:
    def __init__(self, ranker: lgb.Booster, spans: lgb.Booster, abstain: AbstainModel | None) -> None:
        self.ranker = ranker
        self.spans = spans
        self.abstain = abstain
        self.version = ""

    def rank(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.ranker.predict(features, num_threads=1))

    def best_span(self, q: QuestionTerms, words: Words) -> ScoredSpan | None:
        """The best-scored span of a sentence (its normalised text cut into words)."""
        candidates: list[Span] = span_candidates(words)
        if not candidates:
            return None
        scores = np.asarray(self.spans.predict(span_matrix(q, words, candidates), num_threads=1))
        best = int(np.argmax(scores))
        return ScoredSpan(candidates[best].start, candidates[best].end, float(scores[best]))

    def save(self, directory: Path, summary: dict[str, Any]) -> None:
        """Write the ranker, the span model, the abstain model and their record into `directory`,
        each file replaced atomically."""
        if self.abstain is None:
            raise ValueError("a reader model is saved with its abstain model")
        directory.mkdir(parents=True, exist_ok=True)
        for name, booster in (("ranker.txt", self.ranker), ("spans.txt", self.spans),
                              ("abstain.txt", self.abstain.booster)):
            with replacing(directory / name) as tmp:
                booster.save_model(str(tmp))
        write_text(directory / "abstain.json", json.dumps(self.abstain.summary(), indent=1))
        digest = hashlib.sha256()
        for name in ("ranker.txt", "spans.txt", "abstain.txt", "abstain.json"):
            digest.update((directory / name).read_bytes())
        meta = {
            "format": MODEL_FORMAT,
            "version": f"light-reader-{digest.hexdigest()[:12]}",
            "sentence_features": list(SENTENCE_FEATURES),
            "span_features": list(SPAN_FEATURES),
            "abstain_features": list(ABSTAIN_FEATURES),
            "training": summary,
        }
        write_text(directory / "model.json", json.dumps(meta, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> ReaderModel:
        missing = [name for name in _FILES if not (directory / name).is_file()]
        if missing:
            raise ModelUnavailable(f"reader model incomplete at {directory} (missing {', '.join(missing)}); "
                                   "rebuild it with: jbqa train")
        try:
            meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
            if meta.get("format") != MODEL_FORMAT or meta.get("sentence_features") != list(SENTENCE_FEATURES) or \
                    meta.get("span_features") != list(SPAN_FEATURES) or \
                    meta.get("abstain_features") != list(ABSTAIN_FEATURES):
                raise ModelUnavailable(f"reader model at {directory} was trained for other features; "
                                       "rebuild it with: jbqa train")
            model = cls(
                lgb.Booster(model_file=str(directory / "ranker.txt")),
                lgb.Booster(model_file=str(directory / "spans.txt")),
                _load_abstain(directory),
            )
        except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
            raise ModelUnavailable(f"reader model at {directory} cannot be read ({exc}); rebuild it with: jbqa train") \
                from exc
        model.version = str(meta["version"])
        return model


def model_version(directory: Path = MODEL_DIR) -> str:
    """The version named in a reader model's model.json, without loading the model."""
    try:
        return str(json.loads((directory / "model.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"reader model at {directory} cannot be read ({exc}); rebuild it with: jbqa train") \
            from exc


def _load_abstain(directory: Path) -> AbstainModel:
    summary = json.loads((directory / "abstain.json").read_text(encoding="utf-8"))
    threshold = float(summary.pop("threshold"))
    return AbstainModel(lgb.Booster(model_file=str(directory / "abstain.txt")), threshold, summary)


def abstain_row(features: np.ndarray, score: float, runner_up: float | None, span: ScoredSpan | None) -> list[float]:
    """The abstain model's inputs for a candidate: its ranker score and margin over the next best
    candidate, its best span's score, and some of its sentence features."""
    column = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    return [
        score, score - runner_up if runner_up is not None else 1.0, span.score if span else -5.0,
        *(float(features[column[name]]) for name in ABSTAIN_FEATURES[3:]),
    ]
