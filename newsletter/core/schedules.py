"""The one schedule grammar: crontab, time slots and intervals, parsed into `Schedule`s.

Accepted forms (`check` and `run` both go through `parse_schedule`):

- five-field crontab, meaning what crontab(5) means: `0 9 * * 0` and `0 9 * * 7` are Sunday,
  day and month names (SUN..SAT, JAN..DEC) in any case, `@daily`-style aliases, and the
  day-of-month OR day-of-week rule when both fields are restricted (do not start with `*`);
- time slots: `09:30` (every day), `weekdays 09:30, 12:30, 17:00`, `mon-fri 12:30`,
  `sat,sun 10:00`;
- several crontabs or slots joined by `;` (the normalised text of a multi-slot schedule);
- intervals: `every 30s`, `every: 10m`, `every 1h30m` or the mapping `{"every": "30s"}`.

Daylight-saving changes follow vixie cron: a fixed-time job (no `*` at the start of its minute
and hour fields) whose time is skipped by the spring-forward jump runs once, right after the
jump (02:30 on 2026-03-29 in Europe/Paris runs at 03:00 CEST), and runs only once when the
fall-back repeats its time; wildcard jobs follow the new wall clock (skipped times are not run,
repeated times run again). Intervals count real elapsed time.
"""

from __future__ import annotations

import calendar
import math
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

DEFAULT_TIMEZONE = "Europe/Paris"
_TICK = timedelta(microseconds=1)

_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_APSCHEDULER_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_SLOT_DAYS = {
    "daily": "*",
    "everyday": "*",
    "every day": "*",
    "weekdays": "MON-FRI",
    "weekday": "MON-FRI",
    "weekends": "SAT,SUN",
    "weekend": "SAT,SUN",
}
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_WORDS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
}  # fmt: skip
_FRENCH_UNITS = {
    "s": ("toutes les", "secondes"),
    "m": ("toutes les", "minutes"),
    "h": ("toutes les", "heures"),
    "d": ("tous les", "jours"),
}
_ENGLISH_UNITS = {
    "s": ("second", "seconds"),
    "m": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "d": ("day", "days"),
}
_TIME = r"\d{1,2}:\d{2}"
_SLOT_RE = re.compile(rf"(?:(?P<days>.+?)\s+)?(?P<times>{_TIME}(?:\s*,\s*{_TIME})*)")
_INTERVAL_RE = re.compile(r"every\s*:?\s*(?P<spec>.*)", re.IGNORECASE)
_DURATION_PART_RE = re.compile(r"(\d+)\s*([a-z]+)\s*")
_MAX_DST_STEPS = 200


class ScheduleError(ValueError):
    """A schedule could not be parsed; the message names the faulty field or value."""


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0


_FIELDS = (
    _FieldSpec("minute", 0, 59),
    _FieldSpec("hour", 0, 23),
    _FieldSpec("day-of-month", 1, 31),
    _FieldSpec("month", 1, 12, _MONTH_NAMES, 1),
    _FieldSpec("day-of-week", 0, 7, _DAY_NAMES, 0),
)
_MINUTE, _HOUR, _DAY, _MONTH, _WEEKDAY = _FIELDS


@dataclass(frozen=True)
class CronEntry:
    """One crontab line: the expanded value sets and the flags that carry crontab's semantics.

    `weekdays` counts from 0 = Sunday. `day_or_weekday` is crontab's OR rule (both day fields
    restricted); `fixed_time` selects vixie cron's daylight-saving treatment.
    """

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_or_weekday: bool
    fixed_time: bool

    def trigger(self, tz: ZoneInfo) -> BaseTrigger:
        """The APScheduler trigger for this line, with crontab's day and DST rules."""
        fields = {
            "minute": _list_or_star(self.minutes, _MINUTE),
            "hour": _list_or_star(self.hours, _HOUR),
            "month": _list_or_star(self.months, _MONTH),
            "timezone": UTC,
        }
        days = _list_or_star(self.days, _DAY)
        weekdays = _weekday_names(self.weekdays)
        if self.day_or_weekday:
            wall_clock: BaseTrigger = OrTrigger(
                [
                    CronTrigger(day=days, day_of_week="*", **fields),
                    CronTrigger(day="*", day_of_week=weekdays, **fields),
                ]
            )
        else:
            wall_clock = CronTrigger(day=days, day_of_week=weekdays, **fields)
        return CrontabTrigger(wall_clock, tz, fixed_time=self.fixed_time, text=self.text)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: crontab lines (`kind="cron"`) or a fixed `interval`.

    `expression` is the normalised text; `parse_schedule(expression)` gives the same schedule.
    """

    kind: Literal["cron", "interval"]
    expression: str
    entries: tuple[CronEntry, ...] = ()
    interval: timedelta | None = None

    def trigger(self, tz: str | ZoneInfo, start: datetime | None = None) -> BaseTrigger:
        """The APScheduler trigger; `start` is an interval's first run (default: now + interval)."""
        zone = _zone(tz)
        if self.interval is not None:
            return IntervalTrigger(seconds=int(self.interval.total_seconds()), start_date=start, timezone=zone)
        triggers = [entry.trigger(zone) for entry in self.entries]
        return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


@dataclass(frozen=True)
class CatchUp:
    """What to do at start-up about fire times that passed while the daemon was down.

    `due_at` is the most recent passed fire time; `missed` lists passed fire times older than
    the grace window (oldest first, the most recent `max_missed` of them, `missed_truncated`
    when there were more). Fire times inside the window coalesce into a single run.
    """

    run_now: bool
    due_at: datetime | None
    missed: tuple[datetime, ...] = ()
    missed_truncated: bool = False


class CrontabTrigger(BaseTrigger):
    """A crontab line in a real time zone, with vixie cron's daylight-saving rules.

    `wall_clock` is a cron trigger in UTC used as a plain wall-clock calendar: APScheduler
    3.11's CronTrigger adds wall-clock differences as elapsed time, so on a DST day it can
    skip a run (`0 0 * * *` asked at 00:50 on 2026-03-29 in Paris answers 03-31). Each wall
    time found is mapped to the real instant here, one UTC-offset period at a time.
    """

    __slots__ = ("fixed_time", "text", "timezone", "wall_clock")

    def __init__(self, wall_clock: BaseTrigger, tz: ZoneInfo, *, fixed_time: bool, text: str = ""):
        self.wall_clock = wall_clock
        self.timezone = tz
        self.fixed_time = fixed_time
        self.text = text

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The first fire time after `previous_fire_time` (or at/after `now`), DST rules applied."""
        tz = self.timezone
        start = now.astimezone(UTC) if previous_fire_time is None else previous_fire_time.astimezone(UTC) + _TICK
        offset = min(_offset(start - _TICK, tz), _offset(start, tz))
        for _ in range(_MAX_DST_STEPS):
            wall = self._next_wall(start + offset)
            if wall is None:
                return None
            instant = wall - offset
            if _offset(instant, tz) != offset:
                change = _offset_change(start - _TICK, instant, offset, tz)
                new_offset = _offset(change, tz)
                if self.fixed_time and self._skipped_by(change, offset, new_offset):
                    return change.astimezone(tz)
                start, offset = change, new_offset
            elif self.fixed_time and _is_repeat(instant, tz):
                start = instant + _TICK
                offset = _offset(start, tz)
            else:
                return instant.astimezone(tz)
        return None

    def _next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock time at or after `wall` (both expressed in UTC)."""
        fire_time: datetime | None = self.wall_clock.get_next_fire_time(None, wall)
        return fire_time

    def _skipped_by(self, change: datetime, before: timedelta, after: timedelta) -> bool:
        """True when a clock jump at `change` skipped over a matching wall time."""
        if after <= before:
            return False
        skipped = self._next_wall(change + before)
        return skipped is not None and skipped < change + after

    def __getstate__(self) -> dict[str, object]:
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for slot, value in state.items():
            setattr(self, slot, value)

    def __str__(self) -> str:
        return f"crontab[{self.text}]"

    def __repr__(self) -> str:
        return f"<CrontabTrigger {self.text!r} timezone={self.timezone}>"


def parse_schedule(value: str | Mapping[str, object]) -> Schedule:
    """Parse a crontab, time slot, `;`-joined list of those, or interval into a `Schedule`."""
    if isinstance(value, Mapping):
        return _parse_mapping(value)
    if not isinstance(value, str):
        raise ScheduleError(f"expected a crontab string or {{every: ...}}, got {type(value).__name__}")
    text = " ".join(value.split())
    if not text:
        raise ScheduleError("empty schedule")
    interval = _INTERVAL_RE.fullmatch(text)
    if interval and not re.search(_TIME, text):
        return _interval_schedule(interval["spec"])
    parts = [part.strip() for part in text.split(";")]
    if any(not part for part in parts):
        raise ScheduleError(f'empty item in schedule list "{text}"')
    entries = tuple(entry for part in parts for entry in _parse_cron_or_slot(part))
    return Schedule("cron", "; ".join(entry.text for entry in entries), entries)


def _validate_schedule(value: object) -> Schedule:
    if isinstance(value, Schedule):
        return value
    try:
        return parse_schedule(value)  # type: ignore[arg-type]
    except ScheduleError as exc:
        raise PydanticCustomError("schedule", "{reason}", {"reason": str(exc)}) from exc


ScheduleSpec = Annotated[
    Schedule,
    PlainValidator(_validate_schedule),
    PlainSerializer(lambda schedule: schedule.expression, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "crontab, time slot or 'every 30s'"},
                {"type": "object", "properties": {"every": {"type": ["string", "integer"]}}},
            ]
        }
    ),
]
"""Type for config models: `schedule: ScheduleSpec` validates into a `Schedule`."""


def slot_schedules(slots: list[str | Mapping[str, object]]) -> list[Schedule]:
    """Parse posting slots; the error names the slot number (1-based) at fault."""
    schedules = []
    for number, slot in enumerate(slots, start=1):
        try:
            schedules.append(parse_schedule(slot))
        except ScheduleError as exc:
            raise ScheduleError(f"slot {number}: {exc}") from exc
    return schedules


def merge_schedules(schedules: list[Schedule]) -> Schedule:
    """One schedule firing at every time of any of `schedules` (a lone interval is returned as is)."""
    if not schedules:
        raise ScheduleError("no schedule to combine")
    if len(schedules) == 1:
        return schedules[0]
    if any(schedule.kind == "interval" for schedule in schedules):
        raise ScheduleError("an interval cannot be combined with other slots")
    entries = tuple(entry for schedule in schedules for entry in schedule.entries)
    return Schedule("cron", "; ".join(entry.text for entry in entries), entries)


def combined_trigger(schedules: list[Schedule], tz: str | ZoneInfo) -> BaseTrigger:
    """One trigger firing at every time of any of `schedules` (a single interval is allowed)."""
    return merge_schedules(schedules).trigger(tz)


def next_fire_times(schedule: Schedule, after: datetime, tz: str | ZoneInfo, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `after` (intervals count from `after`)."""
    _require_aware(after, "after")
    zone = _zone(tz)
    trigger = _anchored_trigger(schedule, zone, after)
    return list(islice(_fire_times_after(trigger, after, zone), count))


def catch_up_decision(
    schedule: Schedule,
    tz: str | ZoneInfo,
    last_run: datetime | None,
    now: datetime,
    grace: timedelta,
    max_missed: int = 100,
) -> CatchUp:
    """Decide whether fire times passed since `last_run` run now (coalesced) or count as missed.

    A job that never ran (`last_run` None) does not run for the past. A fire time at exactly
    `now - grace` is still inside the window (as with APScheduler's misfire grace time).
    """
    _require_aware(now, "now")
    if last_run is None:
        return CatchUp(run_now=False, due_at=None)
    _require_aware(last_run, "last_run")
    zone = _zone(tz)
    trigger = _anchored_trigger(schedule, zone, last_run)
    before_window = max(_utc_shift(now, -grace - _TICK, zone), last_run)
    in_window, _ = _latest_fire_times(trigger, before_window, now, 1, zone)
    missed, truncated = _latest_fire_times(trigger, last_run, before_window, max_missed, zone)
    if in_window:
        return CatchUp(True, in_window[-1], tuple(missed), truncated)
    return CatchUp(False, missed[-1] if missed else None, tuple(missed), truncated)


def _anchored_trigger(schedule: Schedule, zone: ZoneInfo, anchor: datetime) -> BaseTrigger:
    """The schedule's trigger, with an interval counted from `anchor`."""
    if schedule.interval is None:
        return schedule.trigger(zone)
    return schedule.trigger(zone, start=_utc_shift(anchor, schedule.interval, zone))


def describe(schedule: Schedule, locale: str = "fr") -> str:
    """The schedule in words: French for `fr`/`fr_FR`, English otherwise (crontab via cron-descriptor)."""
    language = "fr" if locale.replace("-", "_").split("_")[0].lower() == "fr" else "en"
    if schedule.interval is not None:
        return _describe_interval(schedule.interval, language)
    from cron_descriptor import ExpressionDescriptor, Options  # wording only: not at every start-up

    options = Options(locale_code="fr_FR" if language == "fr" else "en_US", use_24hour_time_format=True)
    texts = [
        _localise_names(ExpressionDescriptor(entry.text, options).get_description(), language)
        for entry in schedule.entries
    ]
    return (" ; " if language == "fr" else "; ").join(texts)


def _parse_mapping(value: Mapping[str, object]) -> Schedule:
    keys = set(value)
    if keys == {"every"}:
        every = value["every"]
        if isinstance(every, bool) or not isinstance(every, int | str):
            raise ScheduleError(f"every: expected a duration such as 30s, got {every!r}")
        return _interval_schedule(f"{every}s" if isinstance(every, int) else every)
    if keys == {"cron"} and isinstance(value["cron"], str):
        return parse_schedule(value["cron"])
    raise ScheduleError(f"expected a mapping with one key 'every' or 'cron', got {sorted(keys)}")


def _interval_schedule(spec: str) -> Schedule:
    compact = spec.replace(" ", "").lower()
    seconds = 0
    position = 0
    for match in _DURATION_PART_RE.finditer(compact):
        unit = _UNIT_WORDS.get(match[2])
        if match.start() != position or unit is None:
            break
        seconds += int(match[1]) * _UNIT_SECONDS[unit]
        position = match.end()
    if not compact or position != len(compact):
        raise ScheduleError(f'interval "{spec}": expected a number followed by s, m, h or d (e.g. 30s, 10m, 1h30m)')
    if seconds == 0:
        raise ScheduleError(f'interval "{spec}": must be longer than zero')
    interval = timedelta(seconds=seconds)
    return Schedule("interval", f"every {_compact_duration(seconds)}", interval=interval)


def _compact_duration(seconds: int) -> str:
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _parse_cron_or_slot(text: str) -> list[CronEntry]:
    if re.search(_TIME, text):
        return _parse_slot(text)
    expanded = _ALIASES.get(text.lower())
    if expanded is None and text.startswith("@"):
        raise ScheduleError(f'unknown alias "{text}" (use @hourly, @daily, @weekly, @monthly)')
    return [_parse_crontab(expanded or text)]


def _parse_crontab(text: str) -> CronEntry:
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(
            f'expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}: "{text}"'
        )
    minute, hour, day, month, weekday = fields
    return _entry(minute, hour, day, month, weekday)


def _parse_slot(text: str) -> list[CronEntry]:
    match = _SLOT_RE.fullmatch(text)
    if match is None:
        raise ScheduleError(f'time slot "{text}": expected [days] HH:MM[, HH:MM...], e.g. "weekdays 09:30"')
    days = match["days"] or "daily"
    weekday_field = _SLOT_DAYS.get(days.lower(), days.replace(" ", ""))
    hours_by_minute: dict[int, list[int]] = {}
    for time_text in re.findall(_TIME, match["times"]):
        hour, minute = (int(part) for part in time_text.split(":"))
        if hour > 23 or minute > 59:
            raise ScheduleError(f'time "{time_text}": expected HH:MM between 00:00 and 23:59')
        hours_by_minute.setdefault(minute, []).append(hour)
    ordered = sorted(hours_by_minute.items(), key=lambda item: (min(item[1]), item[0]))
    return [
        _entry(str(minute), ",".join(map(str, sorted(set(hours)))), "*", "*", weekday_field)
        for minute, hours in ordered
    ]


def _entry(minute: str, hour: str, day: str, month: str, weekday: str) -> CronEntry:
    texts = [field.upper() for field in (minute, hour, day, month, weekday)]
    minutes, hours, days, months, weekdays = (
        _expand_field(text, spec) for text, spec in zip(texts, _FIELDS, strict=True)
    )
    weekdays = frozenset(value % 7 for value in weekdays)
    day_or_weekday = not texts[2].startswith("*") and not texts[4].startswith("*")
    if not day_or_weekday:
        _check_day_exists(days, months, texts[2], texts[3])
    return CronEntry(
        text=" ".join(texts),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        day_or_weekday=day_or_weekday,
        fixed_time=not texts[0].startswith("*") and not texts[1].startswith("*"),
    )


def _expand_field(text: str, spec: _FieldSpec) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        try:
            values.update(_expand_item(item, spec))
        except ScheduleError as exc:
            raise ScheduleError(f'{spec.name} field "{text}": {exc}') from None
    return frozenset(values)


def _expand_item(item: str, spec: _FieldSpec) -> range:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ScheduleError(f'step "{step_text}" must be a positive number')
        step = int(step_text)
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    first_text, dash, last_text = base.partition("-")
    first = _field_value(first_text, spec)
    if not dash:
        return range(first, (spec.high if slash else first) + 1, step)
    last = _field_value(last_text, spec)
    if spec is _WEEKDAY and last == 0 and first > 0:
        last = 7
    if first > last:
        raise ScheduleError(f'range "{base}" goes backwards')
    return range(first, last + 1, step)


def _field_value(text: str, spec: _FieldSpec) -> int:
    if not text:
        raise ScheduleError("empty value")
    if text.isdigit():
        value = int(text)
        if not spec.low <= value <= spec.high:
            raise ScheduleError(f"value {value} out of range {spec.low}-{spec.high}")
        return value
    if text in spec.names:
        return spec.names.index(text) + spec.names_start
    if spec.names:
        kind = "day" if spec is _WEEKDAY else "month"
        hint = f"{spec.names[0]}..{spec.names[-1]} or {spec.low}-{spec.high}"
        raise ScheduleError(f'unknown {kind} name "{text}" (use {hint})')
    raise ScheduleError(f'"{text}" is not a number')


def _check_day_exists(days: frozenset[int], months: frozenset[int], day: str, month: str) -> None:
    longest = max(calendar.monthrange(2024, m)[1] for m in months)  # a leap year: 29 FEB exists
    if min(days) > longest:
        raise ScheduleError(f'day-of-month "{day}" never occurs in month "{month}"')


def _list_or_star(values: frozenset[int], spec: _FieldSpec) -> str:
    if values == frozenset(range(spec.low, spec.high + 1)):
        return "*"
    return ",".join(str(value) for value in sorted(values))


def _weekday_names(weekdays: frozenset[int]) -> str:
    if len(weekdays) == 7:
        return "*"
    return ",".join(_APSCHEDULER_DAYS[day] for day in sorted(weekdays))


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def _utc_shift(moment: datetime, delta: timedelta, tz: ZoneInfo) -> datetime:
    """`moment + delta` in elapsed time (aware arithmetic in Python is wall-clock)."""
    return (moment.astimezone(UTC) + delta).astimezone(tz)


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    """The UTC offset in force in `tz` at `instant`."""
    return instant.astimezone(tz).utcoffset() or timedelta(0)


def _is_repeat(moment: datetime, tz: ZoneInfo) -> bool:
    """True when `moment` is the second occurrence of a wall time repeated by a fall-back."""
    instant = moment.astimezone(UTC)
    first = instant.astimezone(tz).replace(fold=0)
    return first.astimezone(UTC) != instant


def _offset_change(low: datetime, high: datetime, offset: timedelta, tz: ZoneInfo) -> datetime:
    """The first whole second in (low, high] whose UTC offset in `tz` is no longer `offset`."""
    low_second = math.floor(low.timestamp())
    high_second = math.ceil(high.timestamp())
    while high_second - low_second > 1:
        middle = (low_second + high_second) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), tz) == offset:
            low_second = middle
        else:
            high_second = middle
    return datetime.fromtimestamp(high_second, UTC)


def _fire_times_after(trigger: BaseTrigger, after: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    fire_time = trigger.get_next_fire_time(None, _utc_shift(after, _TICK, tz))
    while fire_time is not None:
        yield fire_time
        fire_time = trigger.get_next_fire_time(fire_time, fire_time)


def _latest_fire_times(
    trigger: BaseTrigger, after: datetime, until: datetime, limit: int, tz: ZoneInfo
) -> tuple[list[datetime], bool]:
    """The last `limit` fire times in (after, until], and whether older ones were left out.

    Looks back over a doubling span so a long pause costs about `limit` trigger steps per span.
    """
    if until <= after or limit <= 0:
        return [], False
    span = timedelta(minutes=1)
    while True:
        start = max(after, _utc_shift(until, -span, tz))
        latest: deque[datetime] = deque(maxlen=limit)
        found = 0
        for fire_time in _fire_times_after(trigger, start, tz):
            if fire_time > until:
                break
            latest.append(fire_time)
            found += 1
        if found >= limit or start == after:
            older = found > limit or (start > after and _fires_between(trigger, after, start, tz))
            return list(latest), older
        span *= 2


def _fires_between(trigger: BaseTrigger, after: datetime, until: datetime, tz: ZoneInfo) -> bool:
    first = next(_fire_times_after(trigger, after, tz), None)
    return first is not None and first <= until


def _describe_interval(interval: timedelta, language: str) -> str:
    seconds = int(interval.total_seconds())
    unit = next(unit for unit, size in _UNIT_SECONDS.items() if seconds % size == 0)
    amount = seconds // _UNIT_SECONDS[unit]
    if language == "fr":
        article, noun = _FRENCH_UNITS[unit]
        return f"{article} {noun}" if amount == 1 else f"{article} {amount} {noun}"
    singular, plural = _ENGLISH_UNITS[unit]
    return f"every {singular}" if amount == 1 else f"every {amount} {plural}"


def _localise_names(description: str, language: str) -> str:
    """Replace the day and month names cron-descriptor takes from the process locale."""
    from babel.dates import get_day_names, get_month_names  # wording only: not at every start-up

    days = get_day_names("wide", locale=language)
    months = get_month_names("wide", locale=language)
    names = {calendar.day_name[index]: days[index] for index in range(7)}
    names.update({calendar.month_name[index]: months[index] for index in range(1, 13)})
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len)[::-1]) + r")\b")
    return pattern.sub(lambda match: names[match[1]], description)
