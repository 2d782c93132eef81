"""Extraction: turn a `RawDocument` into a structured `Announcement` (quotes, figures, metadata)."""

from newsletter.extract.engine import extract
from newsletter.extract.rank import figure_score, quote_score
from newsletter.extract.reader import read_path, to_json

__all__ = ["extract", "figure_score", "quote_score", "read_path", "to_json"]
