"""Feed source: RSS 0.9x/1.0/2.0 and Atom, parsed by feedparser and fetched with httpx."""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import feedparser
from pydantic import AnyHttpUrl

from newsletter.core.errors import SourceError
from newsletter.core.models import RawDocument
from newsletter.sources.base import FetchState, SourceConfig
from newsletter.sources.http import Fetcher, HttpSettings
from newsletter.sources.pages import article_document

log = logging.getLogger(__name__)

NOT_FEED_TYPES = ("text/html", "application/xhtml+xml", "application/json", "application/pdf")
NOT_FEED_PREFIXES = ("image/", "audio/", "video/", "font/")
FIRST_ITEM = re.compile(rb"<(?:\w+:)?(?:item|entry)[\s>/]")
ENTRY = re.compile(rb"<((?:\w+:)?(?:item|entry))[\s>].*?</\1\s*>", re.DOTALL)
ENTRY_KEY = re.compile(
    rb"<(?:\w+:)?(?:guid|id|link)\b[^>]*?(?:href=[\"'](?P<href>[^\"']+)[\"'][^>]*)?>(?P<text>[^<]*)<"
)
FEED_TIMESTAMP = re.compile(rb"<((?:\w+:)?(?:lastBuildDate|pubDate|updated|date))\b[^>]*>[^<]*</\1\s*>")


def feed_fingerprint(body: bytes) -> str:
    """A hash of the feed body that ignores feed-level timestamps (`lastBuildDate`, `updated`…),
    so a feed that only re-stamps itself on every request counts as unchanged; items' own dates
    still count."""
    first_item = FIRST_ITEM.search(body)
    split = first_item.start() if first_item else len(body)
    head = FEED_TIMESTAMP.sub(b"", body[:split])
    return hashlib.sha256(head + body[split:]).hexdigest()


class FeedConfig(SourceConfig, HttpSettings):
    """An RSS or Atom feed; `fetch_full` fetches the linked page of summary-only items."""

    url: AnyHttpUrl
    fetch_full: bool = False


class FeedSource:
    """Yields one RawDocument per feed entry, with the feed's title, date, tags and link."""

    type_name: ClassVar[str] = "feed"
    Config: ClassVar[type[FeedConfig]] = FeedConfig
    complete: ClassVar[bool] = False

    def __init__(self, config: FeedConfig, base_dir: Path):
        self.config = config

    def describe(self) -> str:
        """Name, kind and URL of this source."""
        return f"{self.config.name} (feed {self.config.url})"

    def fetch(self, state: FetchState) -> Iterator[RawDocument]:
        """The feed's current entries; nothing when the server answers 304 Not Modified or serves
        the same bytes as last time (no parsing then)."""
        with Fetcher(self.config) as fetcher:
            response = fetcher.get(
                str(self.config.url), etag=state.etag, last_modified=state.last_modified
            )
            fingerprint = feed_fingerprint(response.content)
            if response.not_modified or fingerprint == state.fingerprint:
                state.not_modified = True
                return
            _refuse_non_feed(response.media_type, response.url)
            headers = {"content-type": response.content_type or "application/xml", "content-location": response.url}
            parsed = _parse(response.content, headers, state)
            entries = [entry for entry in parsed.entries if _usable(entry)]
            _check_parsed(parsed, entries, state)
            state.etag, state.last_modified = response.etag, response.last_modified
            state.fingerprint = fingerprint
            for entry in entries:
                yield self._document(entry, fetcher, state)

    def _document(self, entry: Any, fetcher: Fetcher, state: FetchState) -> RawDocument:
        link = entry.get("link") or None
        content, content_type = _entry_content(entry)
        metadata = _entry_metadata(entry)
        identity = entry.get("id") or link or _hash_identity(entry)
        if self.config.fetch_full and link and not entry.get("content"):
            try:
                page = fetcher.get(link)
                full = article_document(self.config.name, identity, page, metadata)
            except SourceError as error:
                state.warnings.append(f"{link}: full page not fetched, summary kept ({error})")
            else:
                return full
        return RawDocument(
            source=self.config.name,
            identity=identity,
            content=content,
            content_type=content_type,
            url=link,
            metadata=metadata,
        )


def _parse(body: bytes, headers: dict[str, str], state: FetchState) -> Any:
    """The parsed feed; when feedparser cannot parse it whole (an entry with a lone surrogate
    such as `&#xD800;`), each entry is parsed alone and only the broken ones fail."""
    try:
        return _feedparser(body, headers)
    except Exception as error:  # feedparser raises on some bad entries; they must fail alone
        log.debug("feed parsed entry by entry after %s", error, exc_info=True)
        return _parse_each_entry(body, headers, state)


def _feedparser(body: bytes, headers: dict[str, str]) -> Any:
    return feedparser.parse(
        body,
        sanitize_html=False,  # extraction reads HTML as untrusted text; output is escaped
        resolve_relative_uris=False,
        response_headers=headers,
    )


def _parse_each_entry(body: bytes, headers: dict[str, str], state: FetchState) -> Any:
    """Parse the feed once per entry (feed head + one entry + feed tail); record the entries that
    still raise as failures under their guid or link."""
    items = list(ENTRY.finditer(body))
    if not items:
        raise SourceError("unreadable feed (the parser failed and no entry could be told apart)")
    head, tail = body[: items[0].start()], body[items[-1].end() :]
    entries: list[Any] = []
    for number, item in enumerate(items, 1):
        try:
            parsed = _feedparser(head + item.group(0) + tail, headers)
        except Exception as error:  # this entry alone is broken
            key = _entry_key(item.group(0)) or f"entry {number}"
            reason = f"feed entry {number} ({key}): cannot be parsed ({type(error).__name__}: {error})"
            state.failures.append((key, reason))
            continue
        entries.extend(parsed.entries)
    return feedparser.FeedParserDict(bozo=0, entries=entries)


def _entry_key(item: bytes) -> str | None:
    """The guid, id or link written in a raw entry, if any."""
    found = ENTRY_KEY.search(item)
    if found is None:
        return None
    value = found.group("text") or found.group("href") or b""
    return value.decode("utf-8", "replace").strip() or None


def _refuse_non_feed(media_type: str, url: str) -> None:
    if media_type in NOT_FEED_TYPES or media_type.startswith(NOT_FEED_PREFIXES):
        raise SourceError(f"{url}: not a feed (content type {media_type})")


def _usable(entry: Any) -> bool:
    """An entry with something to announce (the loose parser leaves empty ones behind)."""
    return any(entry.get(key) for key in ("title", "link", "id", "summary", "content"))


def _check_parsed(parsed: Any, entries: list[Any], state: FetchState) -> None:
    """Refuse an unreadable feed; a bozo feed that still has entries only warns."""
    if not parsed.get("bozo"):
        return
    reason = parsed.get("bozo_exception")
    reason_text = f"{type(reason).__name__}: {reason}" if reason else "ill-formed"
    if not entries:
        raise SourceError(f"unreadable feed ({reason_text})")
    state.warnings.append(f"ill-formed feed, {len(entries)} entries read anyway ({reason_text})")


def _entry_content(entry: Any) -> tuple[str, str]:
    """The fullest text the entry carries: its longest content, else its summary."""
    contents = [c for c in entry.get("content") or [] if c.get("value")]
    if contents:
        best = max(contents, key=lambda c: len(c["value"]))
        return best["value"], _content_type(best.get("type"))
    detail = entry.get("summary_detail") or {}
    summary = entry.get("summary") or entry.get("title") or ""
    return summary, _content_type(detail.get("type"))


def _content_type(feed_type: str | None) -> str:
    return "text/html" if feed_type in (None, "text/html", "application/xhtml+xml") else "text/plain"


def _entry_metadata(entry: Any) -> dict[str, Any]:
    """What the feed states for sure: title, date (kept from the feed), tags, language, link."""
    metadata: dict[str, Any] = {}
    if entry.get("title"):
        metadata["title"] = entry["title"]
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if moment:
        published = datetime.fromtimestamp(calendar.timegm(moment), UTC)
        metadata["date"] = published.date()
        metadata["datetime"] = published
    tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    if tags:
        metadata["tags"] = tags
    language = (entry.get("title_detail") or {}).get("language")
    if language:
        metadata["lang"] = language.split("-", 1)[0].lower()
    if entry.get("link"):
        metadata["url"] = entry["link"]
    summary = entry.get("summary") or ""
    if entry.get("content") and summary.strip():
        metadata["summary"] = summary
    return metadata


def _hash_identity(entry: Any) -> str:
    """An identity for an entry with neither guid nor link: a hash of its title and text."""
    text = f"{entry.get('title', '')}\n{entry.get('summary', '')}"
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
