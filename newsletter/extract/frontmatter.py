"""YAML front matter at the top of a Markdown document."""

from __future__ import annotations

import re
from typing import Any

import frontmatter
import yaml

_FENCE = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)
_MAX_FRONT_MATTER = 64_000


def split_front_matter(text: str, warnings: list[str]) -> tuple[str, dict[str, Any]]:
    """Return the text without its front matter and the front matter's keys (empty if none)."""
    if not text.startswith("---"):
        return text, {}
    match = _FENCE.match(text[:_MAX_FRONT_MATTER])
    if match is None:
        return text, {}
    try:
        post = frontmatter.loads(match.group(0) + "\n")
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        warnings.append(f"front matter is not valid YAML: {str(exc).splitlines()[0]}")
        return text[match.end() :], {}
    meta = dict(post.metadata) if isinstance(post.metadata, dict) else {}
    return text[match.end() :], {str(key): value for key, value in meta.items()}
