"""Read announcement files for the CLI and turn announcements into the CLI's JSON objects."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from newsletter.core.models import Announcement, RawDocument
from newsletter.extract.decode import decode_content
from newsletter.extract.frontmatter import split_front_matter

CONTENT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
}


def read_path(path: str) -> RawDocument:
    """Read a .md/.txt/.html file (or `-` for stdin); Markdown front matter becomes metadata."""
    if path == "-":
        data = sys.stdin.buffer.read()
        content_type = "text/html" if data.lstrip()[:1] == b"<" else "text/markdown"
    else:
        data = Path(path).read_bytes()
        content_type = CONTENT_TYPES.get(Path(path).suffix.lower(), "text/plain")
    metadata: dict[str, Any] = {}
    content: str | bytes = data
    if data.lstrip(b"\xef\xbb\xbf").startswith(b"---"):
        warnings: list[str] = []
        text, metadata = split_front_matter(decode_content(data, warnings), warnings)
        if metadata:
            content = text
    identity = str(metadata.get("id") or metadata.get("url") or path)
    url = metadata.get("url") if isinstance(metadata.get("url"), str) else None
    return RawDocument(
        source="file",
        identity=identity,
        content=content,
        content_type=content_type,
        url=url,
        path=None if path == "-" else path,
        metadata=metadata,
    )


def to_json(announcement: Announcement, path: str) -> dict[str, Any]:
    """The CLI's JSON object for one extracted announcement."""
    return {
        "path": path,
        "title": announcement.title,
        "published": announcement.published.isoformat() if announcement.published else None,
        "language": announcement.language,
        "lede": announcement.lede,
        "tags": announcement.tags,
        "acronyms": announcement.acronyms,
        "quotes": [
            {"speaker": q.speaker, "role": q.role, "text": q.text, "score": q.score} for q in announcement.quotes
        ],
        "figures": [asdict(figure) for figure in announcement.figures],
        "key_quote": announcement.key_quote,
        "key_figures": announcement.key_figures,
        "warnings": announcement.warnings,
        "checks": announcement.checks,
    }
