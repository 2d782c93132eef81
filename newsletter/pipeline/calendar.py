"""What the review app's Calendar page shows: a week or a month of digests and posts, in the config's timezone.

Upcoming items come from the one plan (`plan_digest` per digest, its later runs from its
schedule; `plan_channel` per channel, each post at its slot); past ones from the store: digest
issues sent or skipped, and post rows sent, skipped, failed, deleted, being sent or in doubt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from newsletter.config import Config, DigestConfig
from newsletter.core.models import DeliveryStatus, post_from_payload
from newsletter.pipeline.actions import SKIP_ACTION, next_slots
from newsletter.pipeline.digests import OPEN_STATUSES
from newsletter.pipeline.plan import PlannedPost, PostState, plan_channel, plan_digest, preview_cards_dir, slot_times
from newsletter.publish.base import ChannelConfig
from newsletter.store import DigestIssueStatus, Store
from newsletter.store.ledger import Ledger

WEEK = re.compile(r"(\d{4})-W(\d{2})")
MONTH = re.compile(r"(\d{4})-(\d{2})")
LATER_RUNS = 62
EXCERPT = 140


class Mode(StrEnum):
    """How much the page shows."""

    WEEK = "week"
    MONTH = "month"


class ItemKind(StrEnum):
    """What a calendar entry is."""

    DIGEST = "digest"
    POST = "post"


@dataclass
class Period:
    """The days shown: a whole ISO week, or a month padded to whole weeks."""

    mode: Mode
    first: date
    last: date
    query: str
    previous: str
    next: str

    @property
    def grid_start(self) -> date:
        """The Monday the grid starts on."""
        return self.first - timedelta(days=self.first.weekday())

    def bounds(self, config: Config) -> tuple[datetime, datetime]:
        """The period's start and end as aware times (midnight in the config's timezone)."""
        start = datetime.combine(self.first, time(), config.tz)
        return start, datetime.combine(self.last + timedelta(days=1), time(), config.tz)


@dataclass
class CalendarItem:
    """One digest issue or post at its time: its status, its text, what may be done with it."""

    at: datetime
    kind: ItemKind
    name: str
    title: str
    status: str
    target: str | None = None
    slots: list[datetime] = field(default_factory=list)
    undoable: bool = False


@dataclass
class CalendarDay:
    """One day of the grid with its items in time order."""

    day: date
    in_period: bool
    today: bool
    items: list[CalendarItem] = field(default_factory=list)


@dataclass
class CalendarView:
    """The page: the period, its weeks of days, and posts awaiting approval (no slot yet)."""

    period: Period
    weeks: list[list[CalendarDay]]
    awaiting: list[CalendarItem] = field(default_factory=list)


class PeriodError(ValueError):
    """A `?week=` or `?month=` that cannot be read: the parameter and the value given."""

    def __init__(self, parameter: str, value: str, expected: str):
        super().__init__(f"{parameter}={value!r}: expected {expected}")
        self.parameter, self.value = parameter, value


def parse_period(week: str | None, month: str | None, today: date) -> Period:
    """The period `?week=2025-W13` or `?month=2025-03` names (this week by default);
    PeriodError naming the parameter when it cannot be read."""
    if month:
        found = MONTH.fullmatch(month.strip())
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise PeriodError("month", month, "a month like 2025-03")
        first = date(int(found.group(1)), int(found.group(2)), 1)
        after = (first + timedelta(days=32)).replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        return Period(Mode.MONTH, first, after - timedelta(days=1), f"month={first:%Y-%m}",
                      f"month={previous:%Y-%m}", f"month={after:%Y-%m}")
    if week:
        found = WEEK.fullmatch(week.strip())
        try:
            monday = date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1) if found else None
        except ValueError:
            monday = None
        if monday is None:
            raise PeriodError("week", week, "an ISO week like 2025-W13")
    else:
        monday = today - timedelta(days=today.weekday())
    return Period(Mode.WEEK, monday, monday + timedelta(days=6), week_query(monday),
                  week_query(monday - timedelta(days=7)), week_query(monday + timedelta(days=7)))


def week_query(monday: date) -> str:
    """The `week=` query of the ISO week holding `monday`."""
    year, number, _ = monday.isocalendar()
    return f"week={year}-W{number:02d}"


def calendar_view(config: Config, store: Store, period: Period, now: datetime) -> CalendarView:
    """Every digest and post of the period, by day, in the config's timezone."""
    start, end = period.bounds(config)
    items = [*digest_items(config, store, end, now), *past_digest_items(store, start, end)]
    awaiting: list[CalendarItem] = []
    for channel in config.channels:
        for item in post_items(config, store, channel, now):
            slotless = item.status == PostState.AWAITING_APPROVAL and item.at <= now
            (awaiting if slotless else items).append(item)
    items += past_post_items(store, start, end)
    for item in awaiting:
        item.at = item.at.astimezone(config.tz)
    return CalendarView(period, grid(config, period, [i for i in items if start <= i.at < end], now), awaiting)


def grid(config: Config, period: Period, items: list[CalendarItem], now: datetime) -> list[list[CalendarDay]]:
    """The period's weeks, Monday first, each day holding its items in time order."""
    today = now.astimezone(config.tz).date()
    days: list[CalendarDay] = []
    day = period.grid_start
    while day <= period.last or day.weekday() != 0:
        days.append(CalendarDay(day, period.first <= day <= period.last, day == today))
        day += timedelta(days=1)
    by_day = {d.day: d for d in days}
    for item in sorted(items, key=lambda i: (i.at, i.name)):
        item.at = item.at.astimezone(config.tz)
        if item.at.date() in by_day:
            by_day[item.at.date()].items.append(item)
    return [days[i:i + 7] for i in range(0, len(days), 7)]


def digest_items(config: Config, store: Store, end: datetime, now: datetime) -> list[CalendarItem]:
    """Each digest's next issue as the plan decides it, then its later scheduled runs until `end`."""
    items = []
    for digest in config.digests:
        plan = plan_digest(config, store, digest, now)
        moment = plan.issue.digest.scheduled_for if plan.issue and plan.issue.digest.scheduled_for else plan.send_at
        if plan.issue is not None:
            items.append(CalendarItem(moment, ItemKind.DIGEST, digest.name, plan.issue.digest.subject,
                                      str(plan.issue.status), plan.issue.id))
        elif plan.scheduled_for is not None:
            title = plan.subject or plan.skip_reason or ""
            items.append(CalendarItem(moment, ItemKind.DIGEST, digest.name, title,
                                      str(PostState.PLANNED) if plan.digest else "would_skip"))
        items += later_runs(config, digest, moment, end)
    return items


def later_runs(config: Config, digest: DigestConfig, after: datetime, end: datetime) -> list[CalendarItem]:
    """The digest's scheduled runs after its next one, up to `end` (their content is not known yet)."""
    times = slot_times(config, [digest.schedule], after, LATER_RUNS)
    return [CalendarItem(t, ItemKind.DIGEST, digest.name, "", "later") for t in times if t is not None and t < end]


def past_digest_items(store: Store, start: datetime, end: datetime) -> list[CalendarItem]:
    """Digest issues of the period that are finished (sent, skipped); open ones are the plan's."""
    items = []
    for issue in store.issues.issues_between(start, end):
        if issue.status in OPEN_STATUSES:
            continue  # the plan shows a digest's open issue
        at = issue.finished_at or issue.digest.scheduled_for or issue.created_at
        items.append(CalendarItem(at, ItemKind.DIGEST, issue.digest.name, issue.digest.subject, str(issue.status),
                                  issue.id, undoable=issue.status is DigestIssueStatus.SKIPPED))
    return items


def post_items(config: Config, store: Store, channel: ChannelConfig, now: datetime) -> list[CalendarItem]:
    """A channel's upcoming posts at their slots (those awaiting approval at `now`, slotless),
    queued ones with the slots they may be moved to."""
    slots = next_slots(config, channel, now)
    entries = plan_channel(config, store, channel, now, card_folder=preview_cards_dir(config))
    return [post_item(channel, entry, slots, now) for entry in entries]


def post_item(channel: ChannelConfig, entry: PlannedPost, slots: list[datetime], now: datetime) -> CalendarItem:
    """One planned post as a calendar entry."""
    queued = entry.state is not PostState.PLANNED
    at = entry.slot or entry.not_before or now
    return CalendarItem(at, ItemKind.POST, channel.name, excerpt(entry.post.text), str(entry.state),
                        entry.key if queued else None, slots if queued else [])


def past_post_items(store: Store, start: datetime, end: datetime) -> list[CalendarItem]:
    """Posts of the period that went out, were skipped, failed or deleted, or are being sent or in doubt;
    those a person skipped may be brought back."""
    rows = Ledger(store).past_posts(start, end)
    skipped = [row.key for row, _ in rows if row.status is DeliveryStatus.SKIPPED]
    skipped_by_a_person = store.audit.targets_with_action(SKIP_ACTION, skipped)
    return [
        CalendarItem(at, ItemKind.POST, row.target, excerpt(post_from_payload(row.payload).text), str(row.status),
                     row.key, undoable=row.key in skipped_by_a_person)
        for row, at in rows
    ]


def excerpt(text: str) -> str:
    """The start of a post's text, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"
