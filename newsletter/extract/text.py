"""Small text helpers shared by the extraction modules."""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated block."""
    return frozenset(text.split())
