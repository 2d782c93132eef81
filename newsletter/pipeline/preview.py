"""The dry-run preview: exactly what the next runs would send, to whom and when, sending nothing.

It ingests without writing, selects what the next digest would carry, renders it and one post
set per channel, and writes them to a folder. It never touches the ledger and never moves a
digest's "since last send" point.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from newsletter.compose.digest import personalise, render_digest
from newsletter.compose.mime import placeholder_message, preview_unsubscribe_url
from newsletter.compose.social import compose_posts
from newsletter.config import ChannelConfig, Config, DigestConfig
from newsletter.core.models import Announcement, Digest, Post
from newsletter.core.schedules import Schedule, merge_schedules, next_fire_times
from newsletter.pipeline.digests import recipient_values, select_announcements
from newsletter.pipeline.ingest import SourceReport, ingest
from newsletter.store import Store

SUMMARY_VERSION = 1


@dataclass
class PreviewResult:
    """What a preview wrote: the summary data and the folder holding the files."""

    out_dir: Path
    summary: dict[str, Any]
    posts: list[Post] = field(default_factory=list)


def slot_times(config: Config, schedules: list[Schedule], now: datetime, count: int) -> list[datetime | None]:
    """The next `count` fire times of `schedules` after `now` (one post per slot), in the config's
    timezone; None where there is no such time."""
    times = next_fire_times(merge_schedules(schedules), now, config.tz, count) if schedules else []
    return [t.astimezone(config.tz) for t in times] + [None] * (count - len(times))


def next_run(schedules: list[Schedule], config: Config, now: datetime) -> datetime | None:
    """The next time any of `schedules` fires after `now`, in the config's timezone."""
    return slot_times(config, schedules, now, 1)[0]


def digest_announcements(
    config: Config, store: Store, digest: DigestConfig, fresh: list[Announcement], now: datetime
) -> list[Announcement]:
    """What the digest would carry: stored, not yet sent, plus what a run would ingest now."""
    selected = {a.id: a for a in select_announcements(store, config, digest, now).announcements}
    for announcement in fresh:
        if not digest.tags or set(digest.tags) & set(announcement.tags):
            selected.setdefault(announcement.id, announcement)
    ordered = sorted(selected.values(), key=lambda a: (a.published is None, a.published), reverse=False)
    return ordered[-digest.max_items:] if len(ordered) > digest.max_items else ordered


def preview(
    config: Config, store: Store, out_dir: Path, *, now: datetime, digest_name: str | None = None
) -> PreviewResult:
    """Write the preview of the next digest and posts into `out_dir` (cleared first)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "posts").mkdir(parents=True)
    reports = ingest(config, store, now=now, dry_run=True)
    fresh = [a for report in reports for a in report.announced]
    digest_config = config.digest(digest_name)
    announcements = digest_announcements(config, store, digest_config, fresh, now)
    summary: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "generated_at": now.isoformat(),
        "timezone": config.timezone,
        "sources": [_source_summary(r) for r in reports],
        "digest": _write_digest(config, store, digest_config, announcements, out_dir, now),
    }
    posts = []
    summary["posts"] = []
    for channel in config.channels:
        channel_posts = [post for a in fresh or announcements for post in compose_posts(a, channel, config)]
        for post, slot in zip(channel_posts, slot_times(config, channel.slots, now, len(channel_posts)), strict=True):
            post.slot = slot
            posts.append(post)
            summary["posts"].append(_write_post(post, channel, out_dir))
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return PreviewResult(out_dir, summary, posts)


def _source_summary(report: SourceReport) -> dict[str, Any]:
    """One source's fetch counts and errors, for summary.json."""
    return {"name": report.source, **report.counts(), "errors": report.errors}


def _write_digest(
    config: Config, store: Store, digest_config: DigestConfig, announcements: list[Announcement],
    out_dir: Path, now: datetime,
) -> dict[str, Any]:
    """Write the next digest (HTML, text, .eml) unless too few announcements; returns its summary."""
    when = next_run([digest_config.schedule], config, now)
    summary: dict[str, Any] = {
        "name": digest_config.name,
        "list": digest_config.list,
        "recipients": store.count_subscribers(digest_config.list),
        "scheduled_for": when.isoformat() if when else None,
        "announcements": [{"id": a.id, "title": a.title, "url": a.url} for a in announcements],
    }
    if len(announcements) < max(digest_config.min_items, 1):
        summary.update(subject=None, skipped=f"fewer than {max(digest_config.min_items, 1)} announcement(s) to send")
        return summary
    digest = render_digest(config, digest_config, announcements, when or now)
    values = preview_recipient_values(config, digest)
    (out_dir / "digest.html").write_text(personalise(digest.html, values, is_html=True), encoding="utf-8")
    (out_dir / "digest.txt").write_text(personalise(digest.text, values, is_html=False), encoding="utf-8")
    (out_dir / "digest.eml").write_bytes(placeholder_message(digest, digest_config, config, now=now))
    summary.update(subject=digest.subject, issue=digest.issue_id, skipped=None,
                   files=["digest.html", "digest.txt", "digest.eml"])
    return summary


def preview_recipient_values(config: Config, digest: Digest) -> dict[str, str | None]:
    """Placeholder recipient values: working-looking links that need no secret."""
    return recipient_values(config, digest, name=None, unsubscribe_url=preview_unsubscribe_url(config))


def _write_post(post: Post, channel: ChannelConfig, out_dir: Path) -> dict[str, Any]:
    """Write one post's text to posts/; returns its summary entry."""
    name = f"{post.channel}-{post.announcement_id}-{post.variant}.txt"
    (out_dir / "posts" / name).write_text(post.text + "\n", encoding="utf-8")
    return {
        "channel": post.channel,
        "platform": post.platform,
        "account": channel.account,
        "announcement": post.announcement_id,
        "variant": post.variant,
        "length": post.length,
        "limit": post.limit,
        "slot": post.slot.isoformat() if post.slot else None,
        "file": f"posts/{name}",
    }
