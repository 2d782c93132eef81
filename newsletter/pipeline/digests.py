"""Digest issues: what a digest carries, freezing it in the store, and its public web copy.

A digest takes the announcements that became eligible (`announced_at`: first seen, embargo
passed, or re-announced after an update) since its last successful send was selected (for its
tag filter), newest first, capped by `max_items`; one carried by that send is left out unless
it was re-announced after that send's content was last rendered. `freeze_issue` renders that selection once and
records it; approval, test sends and a resume after a crash all use the recorded issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from newsletter.compose.digest import (
    LABELS,
    PreparedPart,
    compile_mjml,
    digest_context,
    digest_environment,
    digest_locale,
    personalise,
    render_subject,
    render_template,
)
from newsletter.compose.placeholders import PLACEHOLDERS, archive_url
from newsletter.config import BrandingConfig, Config, DigestConfig
from newsletter.core.errors import ComposeError, NewsletterError, StoreError
from newsletter.core.keys import JobKind, job_id
from newsletter.core.models import Announcement, Digest, Figure, Quote
from newsletter.store import AnnouncedItem, DigestIssue, DigestIssueStatus, Store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OPEN_STATUSES = (
    DigestIssueStatus.AWAITING_APPROVAL,
    DigestIssueStatus.APPROVED,
    DigestIssueStatus.SENDING,
    DigestIssueStatus.PAUSED,
)
SAFE_ISSUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
HEX_COLOUR = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
WHITE = "#ffffff"
FOOTER_TEXT = "#3a3a3a"


@dataclass
class Selection:
    """What a digest would carry now: its announcements, the point they are new since, and
    why the send is skipped (None when it goes ahead)."""

    announcements: list[Announcement]
    since: datetime | None
    skip_reason: str | None = None
    left_out: list[str] = field(default_factory=list)


def digest_job(digest: DigestConfig) -> str:
    """The run-history job name of a digest."""
    return job_id(JobKind.DIGEST, digest.name)


def last_sent_issue(store: Store, digest: DigestConfig) -> DigestIssue | None:
    """The digest's last sent issue (None if never sent)."""
    sent = store.issues.list_digest_issues(digest=digest.name, statuses=[DigestIssueStatus.SENT], limit=1)
    return sent[0] if sent else None


def by_date_newest_first(announcements: list[Announcement]) -> list[Announcement]:
    """Announcements by publication date, newest first; undated ones keep their eligibility order last."""
    dated = sorted((a for a in announcements if a.published), key=lambda a: a.published or date.min, reverse=True)
    return dated + [a for a in announcements if not a.published]


def not_yet_carried(found: list[AnnouncedItem], last: DigestIssue | None) -> list[Announcement]:
    """`found` without what the last sent issue already carried: an announcement it holds comes
    again only when re-announced after that issue's content was last rendered."""
    if last is None:
        return [item.announcement for item in found]
    carried = set(last.digest.announcement_ids)
    rendered = last.rendered_at or last.created_at
    return [
        item.announcement
        for item in found
        if item.announcement.id not in carried or (item.revision > 0 and item.announced_at > rendered)
    ]


def select_announcements(
    store: Store, config: Config, digest: DigestConfig, now: datetime, *, extra: list[AnnouncedItem] | None = None
) -> Selection:
    """The announcements eligible since the digest's last successful send was selected and not
    carried by it, newest first, capped by `max_items`; with fewer than `min_items` (at least 1),
    a skip reason. `extra` items (what an ingestion run would bring) replace stored ones by id."""
    last = last_sent_issue(store, digest)
    since = last.created_at if last else None
    found = with_extra(
        store.announcements.announced_since(since or EPOCH, digest.tags or None, now=now), extra or [], digest
    )
    fresh = by_date_newest_first(not_yet_carried(found, last))
    kept, left_out = fresh[: digest.max_items], fresh[digest.max_items :]
    minimum = digest.minimum_items
    reason = None
    if len(kept) < minimum:
        since_text = since.astimezone(config.tz).strftime("%Y-%m-%d %H:%M %Z") if since else "the start"
        reason = f"{len(kept)} new announcement(s) since {since_text}, fewer than min_items={minimum}"
    return Selection(kept, since, reason, [a.id for a in left_out])


def with_extra(found: list[AnnouncedItem], extra: list[AnnouncedItem], digest: DigestConfig) -> list[AnnouncedItem]:
    """`found` with the `extra` items the digest's tags admit, an extra one replacing a stored one."""
    admitted = [item for item in extra if not digest.tags or set(digest.tags) & set(item.announcement.tags)]
    replaced = {item.announcement.id for item in admitted}
    return [item for item in found if item.announcement.id not in replaced] + admitted


def open_recorded_issue(store: Store, digest: DigestConfig) -> DigestIssue | None:
    """The digest's issue that is recorded but not finished (awaiting approval, approved,
    sending or paused), if any."""
    found = store.issues.list_digest_issues(digest=digest.name, statuses=OPEN_STATUSES, limit=1)
    return found[0] if found else None


def open_issue(store: Store, digest: DigestConfig) -> Digest | None:
    """The digest of the open recorded issue, if any."""
    issue = open_recorded_issue(store, digest)
    return issue.digest if issue else None


def unfinished_issues(store: Store) -> list[tuple[str, str]]:
    """(issue id, digest name) of the issues a previous process left half-sent, oldest first."""
    found = store.issues.list_digest_issues(statuses=[DigestIssueStatus.SENDING], limit=1000)
    return [(issue.id, issue.digest.name) for issue in reversed(found)]


def load_issue(store: Store, issue_id: str) -> Digest:
    """The frozen digest issue with this id, exactly as recorded."""
    issue = store.issues.get_digest_issue(issue_id)
    if issue is None:
        raise StoreError(f"no digest issue {issue_id}")
    return issue.digest


def mark_issue_sent(store: Store, issue_id: str, now: datetime) -> None:
    """Record that an issue went out; its selection time becomes the digest's "since" point."""
    if store.issues.set_digest_issue_status(issue_id, DigestIssueStatus.SENT, expected=OPEN_STATUSES[1:], now=now):
        return
    issue = store.issues.get_digest_issue(issue_id)
    if issue is not None and issue.status is not DigestIssueStatus.SENT:
        raise NewsletterError(f"digest issue {issue_id} is {issue.status}, it cannot be marked sent")


def archive_path(config: Config, issue_id: str) -> Path:
    """Where an issue's web copy is kept: data_dir/archive/<issue_id>.html."""
    if not SAFE_ISSUE_ID.fullmatch(issue_id):
        raise NewsletterError(f"digest issue id {issue_id!r} is not a safe file name")
    return config.resolve(config.data_dir) / "archive" / f"{issue_id}.html"


def archive_values(config: Config, issue_id: str) -> dict[str, str | None]:
    """Neutral recipient values for the public copy: no name, no personal unsubscribe token."""
    return {
        "name": None,
        "unsubscribe_url": f"{config.public_base_url}/unsubscribe",
        "browser_url": archive_url(config, issue_id),
    }


def write_archive(config: Config, digest: Digest) -> Path:
    """Write the public web copy of an issue (atomically) and return its path."""
    path = archive_path(config, digest.issue_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_suffix(".html.tmp")
    partial_path.write_text(personalise(digest.html, archive_values(config, digest.issue_id), is_html=True), "utf-8")
    partial_path.replace(path)
    return path


def recipient_values(
    config: Config, digest: Digest, *, name: str | None, unsubscribe_url: str
) -> dict[str, str | None]:
    """The per-recipient values of one message of `digest` (for `PreparedPart.fill`)."""
    return {"name": name, "unsubscribe_url": unsubscribe_url, "browser_url": archive_url(config, digest.issue_id)}


def prepared_parts(digest: Digest) -> tuple[PreparedPart, PreparedPart]:
    """The issue's HTML and text parts split at their placeholders, ready to personalise fast."""
    return PreparedPart.of(digest.html, is_html=True), PreparedPart.of(digest.text, is_html=False)


def sample_announcements() -> list[Announcement]:
    """A complete and a bare announcement: every template is rendered against both."""
    full = Announcement(
        identity="check:full",
        source="check",
        id="check-full",
        title="Exemple d'annonce",
        url="https://example.org/annonce",
        published=date(2025, 3, 24),
        lede="Un paragraphe d'introduction.",
        quotes=[Quote("Une citation complète.", "Prénom Nom", "ministre")],
        figures=[
            Figure("près de 900 000", 900000, qualifier="près de", about="nouveaux contrats"),
            Figure("7,4 %", 7.4, kind="percent", about="de hausse"),
        ],
        key_quote=0,
        key_figures=[0, 1],
    )
    return [full, Announcement(identity="check:bare", source="check", id="check-bare", title="Titre seul")]


def check_templates(config: Config, now: datetime | None = None) -> list[str]:
    """Render and compile every digest's templates against sample announcements under
    StrictUndefined; one line per problem (template name and line), colours included."""
    now = now or datetime.now(UTC)
    problems = colour_problems(config.branding)
    for index, digest in enumerate(config.digests):
        where = f"digests[{index}] ({digest.name})"
        locale = digest_locale(config, digest)
        if locale not in LABELS:
            problems.append(f"{where}.locale: {locale!r} is not supported (use one of {', '.join(LABELS)})")
            continue
        problems.extend(f"{where}: {line}" for line in digest_template_problems(config, digest, now))
    return problems


def digest_template_problems(config: Config, digest: DigestConfig, now: datetime) -> list[str]:
    """Problems of one digest's subject, MJML and text templates, each checked on its own."""
    environment = digest_environment(config, digest)
    samples = sample_announcements()
    context = digest_context(config, digest, samples, now)
    problems: list[str] = []
    try:
        context["subject"] = render_subject(environment, digest, config, samples, now)
    except ComposeError as error:
        problems.append(str(error))
        context["subject"] = digest.name
    for suffix in ("mjml.j2", "txt.j2"):
        name = f"{digest.template}.{suffix}"
        try:
            part = render_template(environment, name, context)
            if suffix == "mjml.j2":
                part = compile_mjml(part, name)
        except ComposeError as error:
            problems.append(str(error))
            continue
        problems.extend(placeholder_problems(name, part))
    return problems


def placeholder_problems(template: str, part: str) -> list[str]:
    """Required per-recipient links missing from a rendered part (a customised template may drop them)."""
    return [
        f"template {template}: never shows {{{{ {key} }}}}"
        for key in ("unsubscribe_url", "browser_url")
        if PLACEHOLDERS[key] not in part
    ]


def colour_problems(branding: BrandingConfig) -> list[str]:
    """Branding colours that are not #rgb/#rrggbb or too low in contrast where the template uses them."""
    pairs = [
        ("text_color", branding.text_color, WHITE, 4.5, "text on white"),
        ("primary_color", branding.primary_color, WHITE, 4.5, "links and buttons against white"),
        ("accent_color", branding.accent_color, WHITE, 3.0, "large key figures on white"),
        ("background_color", FOOTER_TEXT, branding.background_color, 4.5, "footer text on the background"),
    ]
    problems = []
    for key in ("text_color", "primary_color", "accent_color", "background_color"):
        if not HEX_COLOUR.fullmatch(getattr(branding, key)):
            problems.append(f"branding.{key}: {getattr(branding, key)!r} is not a #rgb or #rrggbb colour")
    invalid = {line.split(":")[0].removeprefix("branding.") for line in problems}
    for key, foreground, background, minimum, use in pairs:
        if key in invalid:
            continue
        ratio = contrast_ratio(foreground, background)
        if ratio < minimum:
            problems.append(f"branding.{key}: contrast {ratio:.1f}:1 for {use} is below {minimum}:1")
    return problems


def contrast_ratio(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two #rgb/#rrggbb colours."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def relative_luminance(colour: str) -> float:
    """The WCAG 2 relative luminance of a #rgb/#rrggbb colour."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
