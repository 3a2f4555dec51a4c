"""Ingest stage: read files, clean PDF-to-text damage, split into passages."""

from jbqa.ingest.passage import Passage, Sentence
from jbqa.ingest.pipeline import IngestReport, ingest_corpus

__all__ = ["IngestReport", "Passage", "Sentence", "ingest_corpus"]
