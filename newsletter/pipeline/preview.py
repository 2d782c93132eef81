"""The dry-run preview: exactly what the next runs would send, to whom and when, sending nothing.

It ingests without writing, then writes what the one plan (`newsletter.pipeline.plan`) decides:
the next digest issue and every channel's upcoming posts (all thread parts, cards, slots). It
never touches the ledger and never moves a digest's "since last send" point.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from newsletter.compose.digest import personalise
from newsletter.compose.mime import placeholder_message, preview_unsubscribe_url
from newsletter.compose.social import UnfitVariant
from newsletter.config import Config
from newsletter.core.i18n import translator
from newsletter.core.models import Announcement, Digest, Media, Post
from newsletter.pipeline.digests import recipient_values
from newsletter.pipeline.ingest import SourceReport, ingest
from newsletter.pipeline.plan import DigestPlan, PlannedPost, plan_channel, plan_digest
from newsletter.publish.base import ChannelConfig
from newsletter.store import Store

SUMMARY_VERSION = 2
THREAD_SEPARATOR = "\n\n---\n\n"


@dataclass
class PreviewResult:
    """What a preview wrote: the summary data and the folder holding the files."""

    out_dir: Path
    summary: dict[str, Any]
    posts: list[Post] = field(default_factory=list)


def preview(
    config: Config, store: Store, out_dir: Path, *, now: datetime, digest_name: str | None = None
) -> PreviewResult:
    """Write the plan of the next digest and of every channel's posts into `out_dir` (cleared first)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "posts").mkdir(parents=True)
    reports = ingest(config, store, now=now, dry_run=True)
    fresh = [a for report in reports for a in report.announced]
    plan = plan_digest(config, store, config.digest(digest_name), now, extra=fresh)
    summary: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "generated_at": now.isoformat(),
        "timezone": config.timezone,
        "sources": [_source_summary(r) for r in reports],
        "digest": _write_digest(config, plan, out_dir, now),
        "posts": [],
        "unfit_posts": [],
    }
    known = {a.id: a for a in plan.announcements} | {a.id: a for a in fresh}
    checker = _Checker(config, store, known)
    for item in summary["digest"]["announcements"]:
        item.update(checker.flags(item["id"]))
    posts = []
    unfit: list[UnfitVariant] = []
    for channel in config.channels:
        for entry in plan_channel(config, store, channel, now, extra=fresh, card_folder=out_dir / "posts" / "cards",
                                  unfit=unfit):
            entry.post.slot = entry.slot
            posts.append(entry.post)
            written = _write_post(entry, channel, out_dir)
            summary["posts"].append({**written, **checker.flags(entry.post.announcement_id)})
    summary["unfit_posts"] = [asdict(item) for item in unfit]
    checker.write(out_dir, summary)
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return PreviewResult(out_dir, summary, posts)


class _Checker:
    """Flags the weak extractions of a preview as « à vérifier » / "check", with their reasons."""

    def __init__(self, config: Config, store: Store, known: dict[str, Announcement]) -> None:
        self.store = store
        self.known = known
        self.t = translator(config.locale)

    def flags(self, announcement_id: str) -> dict[str, Any]:
        """`check` (the label, or None when the extraction is sure) and `checks` (the reasons)."""
        announcement = self.known.get(announcement_id) or self.store.announcements.get_announcement(announcement_id)
        reasons = announcement.checks if announcement is not None else []
        return {"check": self.t("check") if reasons else None, "checks": reasons}

    def write(self, out_dir: Path, summary: dict[str, Any]) -> None:
        """`to_check.txt`: one line per weak announcement and post, naming what to check."""
        lines = [self._line(item["title"], item) for item in summary["digest"]["announcements"] if item["check"]]
        lines += [self._line(post["file"], post) for post in summary["posts"] if post["check"]]
        if lines:
            (out_dir / "to_check.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            summary["to_check"] = "to_check.txt"

    def _line(self, name: str, item: dict[str, Any]) -> str:
        reasons = ", ".join(self.t(f"check_{reason}") for reason in item["checks"])
        return f"{self.t('check')} : {name} — {reasons}"


def _source_summary(report: SourceReport) -> dict[str, Any]:
    """One source's fetch counts and errors, for summary.json."""
    return {"name": report.source, **report.counts(), "errors": report.errors}


def _write_digest(config: Config, plan: DigestPlan, out_dir: Path, now: datetime) -> dict[str, Any]:
    """Write the planned digest (HTML, text, .eml) unless it is skipped; returns its summary."""
    summary: dict[str, Any] = {
        "name": plan.config.name,
        "list": plan.config.list,
        "recipients": plan.recipients,
        "scheduled_for": plan.scheduled_for.isoformat() if plan.scheduled_for else None,
        "announcements": [{"id": a.id, "title": a.title, "url": a.url} for a in plan.announcements],
    }
    digest = plan.digest
    if digest is None:
        summary.update(subject=None, skipped=plan.skip_reason)
        return summary
    values = preview_recipient_values(config, digest)
    (out_dir / "digest.html").write_text(personalise(digest.html, values, is_html=True), encoding="utf-8")
    (out_dir / "digest.txt").write_text(personalise(digest.text, values, is_html=False), encoding="utf-8")
    (out_dir / "digest.eml").write_bytes(placeholder_message(digest, plan.config, config, now=now))
    summary.update(subject=digest.subject, issue=digest.issue_id, skipped=None,
                   files=["digest.html", "digest.txt", "digest.eml"])
    return summary


def preview_recipient_values(config: Config, digest: Digest) -> dict[str, str | None]:
    """Placeholder recipient values: working-looking links that need no secret."""
    return recipient_values(config, digest, name=None, unsubscribe_url=preview_unsubscribe_url(config))


def _write_post(entry: PlannedPost, channel: ChannelConfig, out_dir: Path) -> dict[str, Any]:
    """Write one post's parts (and its card image) to posts/; returns its summary entry."""
    post = entry.post
    name = f"{post.channel}-{post.announcement_id}-{post.variant}.txt"
    (out_dir / "posts" / name).write_text(THREAD_SEPARATOR.join(entry.parts) + "\n", encoding="utf-8")
    return {
        "channel": post.channel,
        "platform": post.platform,
        "account": channel.account,
        "announcement": post.announcement_id,
        "variant": post.variant,
        "key": entry.key,
        "state": str(entry.state),
        "length": post.length,
        "limit": post.limit,
        "slot": entry.slot.isoformat() if entry.slot else None,
        "parts": entry.parts,
        "cards": [_copy_card(media, out_dir) for media in post.media],
        "file": f"posts/{name}",
    }


def _copy_card(media: Media, out_dir: Path) -> dict[str, str]:
    """The card image inside the preview folder (queued posts' cards are copied in), with its alt text."""
    source = Path(media.path)
    cards = out_dir / "posts" / "cards"
    if not source.resolve().is_relative_to(cards.resolve()):
        target = cards / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copyfile(source, target)
        source = target
    return {"file": source.resolve().relative_to(out_dir.resolve()).as_posix(), "alt_text": media.alt_text}
