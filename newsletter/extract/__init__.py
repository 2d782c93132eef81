"""Extraction: turn a `RawDocument` into a structured `Announcement` (temporary minimal version)."""

from __future__ import annotations

import hashlib

from newsletter.models import Announcement, RawDocument


def extract(raw: RawDocument) -> Announcement:
    """Extract an announcement from a raw document; never raises."""
    content = raw.content
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    lines = [line.strip("#* ") for line in text.splitlines() if line.strip()]
    title = str(raw.metadata.get("title") or (lines[0] if lines else ""))
    return Announcement(
        identity=raw.identity,
        source=raw.source,
        title=title,
        body="\n\n".join(lines[1:]),
        url=raw.url,
        lede=lines[1] if len(lines) > 1 else "",
        content_hash=hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(),
    )
