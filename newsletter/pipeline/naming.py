"""How people are told which item an action or a notification is about: a post by its channel
and its announcement's title, a digest issue by its digest and subject, an announcement by its
title — never by the internal keys (`post:<id>:<variant>:<channel>`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from newsletter.core.keys import parse_post_key
from newsletter.store import Store
from newsletter.store.ledger import Ledger


class ItemKind(StrEnum):
    """What a target id names."""

    POST = "post"
    ISSUE = "issue"
    ANNOUNCEMENT = "announcement"
    OTHER = "other"


@dataclass(frozen=True)
class ItemName:
    """An item as people know it: its kind, where it goes (channel or digest) and its title."""

    kind: ItemKind
    place: str
    title: str
    url: str = ""  # where a published post can be seen


def name_item(store: Store, target: str) -> ItemName:
    """The item `target` names (a post key, a digest issue id or an announcement id); an unknown
    id is named by itself."""
    post = parse_post_key(target)
    if post is not None:
        announcement = store.announcements.get_announcement(post.announcement_id)
        row = Ledger(store).get(target)
        return ItemName(ItemKind.POST, post.channel, _one_line(announcement.title) if announcement else target,
                        (row.provider_url or "") if row else "")
    issue = store.issues.get_digest_issue(target)
    if issue is not None:
        return ItemName(ItemKind.ISSUE, issue.digest.name, _one_line(issue.digest.subject))
    announcement = store.announcements.get_announcement(target)
    if announcement is not None:
        return ItemName(ItemKind.ANNOUNCEMENT, announcement.source, _one_line(announcement.title))
    return ItemName(ItemKind.OTHER, "", target)


def _one_line(text: str) -> str:
    return " ".join(text.split())
