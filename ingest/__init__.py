"""Ingest stage: read files, clean PDF-to-text damage, split into passages."""

from ingest.passage import Passage, Sentence
from ingest.pipeline import IngestReport, ingest_corpus

__all__ = ["IngestReport", "Passage", "Sentence", "ingest_corpus"]
