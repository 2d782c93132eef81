"""Small text helpers shared by the extraction modules."""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated block."""
    return frozenset(text.split())


def trie_pattern(alternatives: set[str] | frozenset[str] | list[str]) -> str:
    """A regex matching any of the strings, as a prefix trie (much faster than a flat `a|b|c`)."""
    root: dict[str, dict] = {}
    for alternative in alternatives:
        node = root
        for char in alternative:
            node = node.setdefault(char, {})
        node[""] = {}
    return "(?:" + _emit(root) + ")"


def _emit(node: dict[str, dict]) -> str:
    """Regex text for one trie node."""
    branches = [_escape(char) + _emit(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:
        return "(?:" + body + ")?"
    return body


def _escape(char: str) -> str:
    """Escape one character for a regex, writing spaces as flexible whitespace."""
    return r"\s+" if char == " " else re.escape(char)
