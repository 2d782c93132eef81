"""Schedule grammar and pure scheduling logic, checked with explicit datetimes."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from newsletter.core.schedules import (
    CatchUp,
    CronEntry,
    Schedule,
    ScheduleError,
    ScheduleSpec,
    catch_up_decision,
    combined_trigger,
    describe,
    merge_schedules,
    next_fire_times,
    parse_schedule,
    slot_schedules,
)

PARIS = ZoneInfo("Europe/Paris")
SPRING_FORWARD = date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST
FALL_BACK = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET, 02:00-02:59 happens twice


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)


def fires(expression: str | dict, after: datetime, count: int) -> list[datetime]:
    return next_fire_times(parse_schedule(expression), after, PARIS, count)


def fires_until(expression: str, start: datetime, end: datetime) -> list[datetime]:
    schedule = parse_schedule(expression)
    found: list[datetime] = []
    while (batch := next_fire_times(schedule, found[-1] if found else start, PARIS, 20)) and (batch[0] <= end):
        found.extend(moment for moment in batch if moment <= end)
    return found


def utc_minutes(moments: list[datetime]) -> list[str]:
    return [m.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for m in moments]


# --- crontab meaning -------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun", "0 9 * * SUN"])
def test_sunday_is_zero_seven_or_its_name(expression: str) -> None:
    result = fires(expression, paris(2026, 1, 1), 3)
    assert [f.date() for f in result] == [date(2026, 1, 4), date(2026, 1, 11), date(2026, 1, 18)]
    assert all(f.hour == 9 and f.minute == 0 and f.utcoffset() == timedelta(hours=1) for f in result)


def test_numeric_weekdays_count_from_sunday_like_crontab() -> None:
    result = fires("0 9 * * 1-5", paris(2026, 1, 3), 5)  # from a Saturday
    assert [f.strftime("%a") for f in result] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    start, end = paris(2026, 1, 1), paris(2026, 3, 1)
    result = fires_until("0 9 1 * MON", start - timedelta(seconds=1), end)
    expected = [
        start + timedelta(days=n, hours=9)
        for n in range((end - start).days)
        if (start + timedelta(days=n)).day == 1 or (start + timedelta(days=n)).weekday() == 0
    ]
    assert result == expected
    assert paris(2026, 2, 1, 9) in result  # a Sunday: fires for day-of-month alone
    assert paris(2026, 1, 5, 9) in result  # a Monday that is not the 1st


def test_a_day_field_starting_with_star_is_unrestricted_so_both_must_match() -> None:
    result = fires("0 9 */2 * MON", paris(2026, 1, 1), 4)
    assert all(f.weekday() == 0 and f.day % 2 == 1 for f in result)
    assert [f.day for f in result] == [5, 19, 9, 23]


def test_every_quarter_hour_in_office_hours_on_weekdays() -> None:
    result = fires("*/15 9-17 * * mon-fri", paris(2026, 1, 2, 17, 20), 3)  # a Friday
    assert result == [paris(2026, 1, 2, 17, 30), paris(2026, 1, 2, 17, 45), paris(2026, 1, 5, 9)]


def test_month_names_ranges_steps_and_aliases() -> None:
    assert fires("0 8 1 jan-mar/2 *", paris(2026, 1, 2), 2) == [
        paris(2026, 3, 1, 8),
        paris(2027, 1, 1, 8),
    ]
    assert fires("@weekly", paris(2026, 1, 1), 1) == [paris(2026, 1, 4)]
    assert fires("@hourly", paris(2026, 1, 1, 10, 5), 1) == [paris(2026, 1, 1, 11)]
    assert fires("0 9 * * fri-sun", paris(2026, 1, 1), 3) == [
        paris(2026, 1, 2, 9),
        paris(2026, 1, 3, 9),
        paris(2026, 1, 4, 9),
    ]


def test_next_fire_times_are_strictly_after_and_in_the_zone() -> None:
    result = next_fire_times(parse_schedule("0 9 * * *"), paris(2026, 1, 5, 9), "Europe/Paris", 1)
    assert result == [paris(2026, 1, 6, 9)]
    assert result[0].tzinfo == PARIS
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(parse_schedule("0 9 * * *"), datetime(2026, 1, 5), PARIS, 1)


# --- daylight saving, Europe/Paris ------------------------------------------------------------


def test_spring_forward_fixed_time_in_the_gap_runs_once_right_after_the_jump() -> None:
    result = fires("30 2 * * *", paris(2026, 3, 28, 12), 3)
    assert result == [
        paris(2026, 3, 29, 3, 0),
        paris(2026, 3, 30, 2, 30),
        paris(2026, 3, 31, 2, 30),
    ]
    assert result[0].utcoffset() == timedelta(hours=2)


def test_asked_exactly_at_the_jump_the_skipped_job_still_runs() -> None:
    just_before_jump = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)
    assert fires("30 2 * * *", just_before_jump, 1) == [paris(2026, 3, 29, 3, 0)]


def test_spring_forward_wildcard_job_follows_the_new_clock() -> None:
    result = fires_until("*/30 * * * *", paris(2026, 3, 29, 1), paris(2026, 3, 29, 4))
    assert [f.strftime("%H:%M") for f in result] == ["01:30", "03:00", "03:30", "04:00"]
    assert result[1].astimezone(UTC) - result[0].astimezone(UTC) == timedelta(minutes=30)


def test_midnight_job_is_not_lost_on_the_day_of_the_change() -> None:
    # APScheduler 3.11's own CronTrigger answers 2026-03-31 here, skipping a day.
    assert fires("0 0 * * *", paris(2026, 3, 29, 0, 50), 2) == [
        paris(2026, 3, 30),
        paris(2026, 3, 31),
    ]
    daily = fires_until("0 0 * * *", paris(2026, 3, 27, 12), paris(2026, 4, 2, 12))
    assert [f.day for f in daily] == [28, 29, 30, 31, 1, 2]


def test_fall_back_repeated_time_runs_once() -> None:
    result = fires("30 2 * * *", paris(2026, 10, 24, 12), 3)
    assert result == [
        paris(2026, 10, 25, 2, 30),
        paris(2026, 10, 26, 2, 30),
        paris(2026, 10, 27, 2, 30),
    ]
    assert result[0].utcoffset() == timedelta(hours=2)  # the first of the two 02:30


def test_fall_back_wildcard_job_keeps_running_through_the_repeated_hour() -> None:
    result = fires_until("*/30 * * * *", paris(2026, 10, 25, 1, 45), paris(2026, 10, 25, 3, 0))
    assert utc_minutes(result) == [
        "2026-10-25 00:00",
        "2026-10-25 00:30",
        "2026-10-25 01:00",
        "2026-10-25 01:30",
        "2026-10-25 02:00",
    ]


@pytest.mark.parametrize("start", [paris(2026, 3, 29, 1, 30), paris(2026, 10, 25, 1, 30)])
def test_interval_keeps_real_elapsed_time_across_changes(start: datetime) -> None:
    result = fires("every 1h", start, 4)
    steps = [
        later.astimezone(UTC) - earlier.astimezone(UTC)
        for earlier, later in zip([start, *result], result, strict=False)
    ]
    assert steps == [timedelta(hours=1)] * 4


def _matches(entry: CronEntry, wall: datetime) -> bool:
    weekday = (wall.weekday() + 1) % 7
    day_ok = wall.day in entry.days
    weekday_ok = weekday in entry.weekdays
    days_ok = (day_ok or weekday_ok) if entry.day_or_weekday else (day_ok and weekday_ok)
    return wall.minute in entry.minutes and wall.hour in entry.hours and wall.month in entry.months and days_ok


def _vixie_oracle(entry: CronEntry, start: datetime, end: datetime) -> list[datetime]:
    """Fire instants in (start, end], found by walking real time minute by minute."""
    found = []
    instant = start.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    while instant <= end:
        local = instant.astimezone(PARIS)
        wall = local.replace(tzinfo=None)
        jump = local.utcoffset() - (instant - timedelta(minutes=1)).astimezone(PARIS).utcoffset()
        skipped = [wall - jump + timedelta(minutes=n) for n in range(int(jump.total_seconds() // 60))]
        repeat = local.fold == 1
        if entry.fixed_time:
            fire = (_matches(entry, wall) and not repeat) or any(_matches(entry, w) for w in skipped)
        else:
            fire = _matches(entry, wall)
        if fire:
            found.append(local)
        instant += timedelta(minutes=1)
    return found


DST_WINDOWS = [
    (paris(2026, 3, 28, 20), paris(2026, 3, 29, 10)),
    (paris(2026, 10, 24, 20), paris(2026, 10, 25, 10)),
]
ORACLE_EXPRESSIONS = [
    "30 2 * * *",
    "0 2 * * *",
    "59 1 * * *",
    "0 3 * * *",
    "15,45 1-3 * * *",
    "0 0 * * *",
    "* 2 * * *",
    "*/20 * * * *",
    "0 * * * *",
    "*/15 2 * * *",
    "0 9 29 3 SUN",
    "30 2 25 10 *",
    "weekdays 09:30, 12:30, 17:00",
]


@pytest.mark.parametrize("window", DST_WINDOWS, ids=["spring", "autumn"])
@pytest.mark.parametrize("expression", ORACLE_EXPRESSIONS)
def test_fire_times_match_a_minute_by_minute_vixie_walk(expression: str, window: tuple[datetime, datetime]) -> None:
    schedule = parse_schedule(expression)
    start, end = window
    by_instant = {f.astimezone(UTC): f for e in schedule.entries for f in _vixie_oracle(e, start, end)}
    expected = [by_instant[instant] for instant in sorted(by_instant)]
    assert utc_minutes(fires_until(expression, start, end)) == utc_minutes(expected)


@settings(max_examples=25, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True),
    hours=st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True),
    wildcard_minute=st.booleans(),
    window=st.sampled_from(DST_WINDOWS),
)
def test_random_early_morning_schedules_match_the_vixie_walk(
    minutes: list[int], hours: list[int], wildcard_minute: bool, window: tuple[datetime, datetime]
) -> None:
    minute_field = "*/7" if wildcard_minute else ",".join(map(str, minutes))
    expression = f"{minute_field} {','.join(map(str, hours))} * * *"
    (entry,) = parse_schedule(expression).entries
    start, end = window
    assert utc_minutes(fires_until(expression, start, end)) == utc_minutes(_vixie_oracle(entry, start, end))


# --- catch-up ----------------------------------------------------------------------------------

DAILY_NINE = parse_schedule("0 9 * * *")


def test_catch_up_inside_the_grace_window_runs_once() -> None:
    decision = catch_up_decision(
        DAILY_NINE, PARIS, paris(2026, 1, 5, 9, 0, 3), paris(2026, 1, 6, 9, 40), timedelta(hours=1)
    )
    assert decision == CatchUp(run_now=True, due_at=paris(2026, 1, 6, 9), missed=())


def test_catch_up_outside_the_grace_window_records_a_miss() -> None:
    decision = catch_up_decision(
        DAILY_NINE, PARIS, paris(2026, 1, 5, 9, 0, 3), paris(2026, 1, 6, 10, 1), timedelta(hours=1)
    )
    assert decision == CatchUp(run_now=False, due_at=paris(2026, 1, 6, 9), missed=(paris(2026, 1, 6, 9),))


def test_fire_time_exactly_at_the_window_edge_still_runs() -> None:
    decision = catch_up_decision(DAILY_NINE, PARIS, paris(2026, 1, 5, 9), paris(2026, 1, 6, 10), timedelta(hours=1))
    assert decision.run_now and decision.due_at == paris(2026, 1, 6, 9)


def test_nothing_to_catch_up_when_up_to_date_or_never_ran() -> None:
    up_to_date = catch_up_decision(DAILY_NINE, PARIS, paris(2026, 1, 6, 9), paris(2026, 1, 6, 20), timedelta(hours=1))
    never_ran = catch_up_decision(DAILY_NINE, PARIS, None, paris(2026, 1, 6, 9, 10), timedelta(hours=1))
    assert up_to_date == never_ran == CatchUp(run_now=False, due_at=None)


def test_long_pause_coalesces_the_window_into_one_run_and_lists_older_misses() -> None:
    decision = catch_up_decision(
        parse_schedule("every 10m"),
        "Europe/Paris",
        paris(2026, 1, 5, 4, 0),
        paris(2026, 1, 5, 9, 5),
        timedelta(hours=1),
    )
    assert decision.run_now
    assert decision.due_at == paris(2026, 1, 5, 9, 0)
    assert decision.missed == tuple(paris(2026, 1, 5, 4, 10) + timedelta(minutes=10 * n) for n in range(24))
    assert not decision.missed_truncated


def test_week_long_pause_of_a_daily_digest_misses_each_day_and_runs_today() -> None:
    decision = catch_up_decision(
        DAILY_NINE, PARIS, paris(2026, 3, 24, 9), paris(2026, 3, 31, 9, 30), timedelta(hours=2)
    )
    assert decision.run_now and decision.due_at == paris(2026, 3, 31, 9)
    assert [m.day for m in decision.missed] == [25, 26, 27, 28, 29, 30]
    assert decision.missed[-1].utcoffset() == timedelta(hours=2)


def test_missed_list_is_capped_to_the_most_recent() -> None:
    decision = catch_up_decision(
        parse_schedule("* * * * *"),
        PARIS,
        paris(2025, 1, 1),
        paris(2026, 1, 5, 9, 5),
        timedelta(hours=1),
        max_missed=50,
    )
    assert decision.run_now and decision.due_at == paris(2026, 1, 5, 9, 5)
    assert decision.missed_truncated
    assert decision.missed == tuple(paris(2026, 1, 5, 7, 15) + timedelta(minutes=n) for n in range(50))


def test_catch_up_across_the_spring_change_counts_real_time() -> None:
    decision = catch_up_decision(
        parse_schedule("30 2 * * *"),
        PARIS,
        paris(2026, 3, 28, 2, 30),
        paris(2026, 3, 29, 3, 50),
        timedelta(hours=1),
    )
    assert decision.run_now and decision.due_at == paris(2026, 3, 29, 3, 0)


# --- time slots, lists, intervals ------------------------------------------------------------


def test_weekday_slots_fire_at_each_time_on_working_days_only() -> None:
    schedule = parse_schedule("weekdays 09:30, 12:30, 17:00")
    assert schedule.expression == "30 9,12 * * MON-FRI; 0 17 * * MON-FRI"
    result = next_fire_times(schedule, paris(2026, 1, 2, 13), PARIS, 5)  # a Friday
    assert result == [
        paris(2026, 1, 2, 17),
        paris(2026, 1, 5, 9, 30),
        paris(2026, 1, 5, 12, 30),
        paris(2026, 1, 5, 17),
        paris(2026, 1, 6, 9, 30),
    ]


@pytest.mark.parametrize(
    ("slot", "expression"),
    [
        ("09:30", "30 9 * * *"),
        ("mon-fri 12:30", "30 12 * * MON-FRI"),
        ("sat,sun 10:00", "0 10 * * SAT,SUN"),
        ("Sat, Sun 10:00", "0 10 * * SAT,SUN"),
        ("every day 7:05", "5 7 * * *"),
        ("weekends 10:00", "0 10 * * SAT,SUN"),
    ],
)
def test_slot_forms(slot: str, expression: str) -> None:
    assert parse_schedule(slot).expression == expression


def test_slots_combine_into_one_trigger() -> None:
    schedules = slot_schedules(["mon-fri 09:30", "0 18 * * 5", "sat 11:00"])
    trigger = combined_trigger(schedules, PARIS)
    now = paris(2026, 1, 2, 10)  # Friday
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first)
    third = trigger.get_next_fire_time(second, second)
    assert [first, second, third] == [
        paris(2026, 1, 2, 18),
        paris(2026, 1, 3, 11),
        paris(2026, 1, 5, 9, 30),
    ]


def test_merged_slots_catch_up_as_one_schedule() -> None:
    merged = merge_schedules(slot_schedules(["mon-fri 09:30", "sat 11:00"]))
    assert merged.expression == "30 9 * * MON-FRI; 0 11 * * SAT"
    decision = catch_up_decision(merged, PARIS, paris(2026, 1, 2, 9, 30), paris(2026, 1, 3, 11, 20), timedelta(hours=1))
    assert decision == CatchUp(run_now=True, due_at=paris(2026, 1, 3, 11))


def test_slot_errors_name_the_slot_and_intervals_do_not_combine() -> None:
    with pytest.raises(ScheduleError, match=r'^slot 2: time "9:75"'):
        slot_schedules(["09:30", "9:75"])
    with pytest.raises(ScheduleError, match="cannot be combined"):
        combined_trigger(slot_schedules(["09:30", {"every": "1h"}]), PARIS)


@pytest.mark.parametrize(
    ("value", "expression", "seconds"),
    [
        ("every 30s", "every 30s", 30),
        ("every: 10m", "every 10m", 600),
        ({"every": "30s"}, "every 30s", 30),
        ({"every": 45}, "every 45s", 45),
        ("every 1h30m", "every 1h30m", 5400),
        ("Every 2 hours", "every 2h", 7200),
        ("every 1d", "every 1d", 86400),
    ],
)
def test_interval_forms(value: str | dict, expression: str, seconds: int) -> None:
    schedule = parse_schedule(value)
    assert (schedule.kind, schedule.expression) == ("interval", expression)
    assert schedule.interval == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "value",
    ["0 9 1 * MON", "weekdays 09:30, 12:30, 17:00", "every 1h30m", "@daily", "*/5 * * jan,jul 7"],
)
def test_normalised_expression_parses_back_to_the_same_schedule(value: str) -> None:
    schedule = parse_schedule(value)
    assert parse_schedule(schedule.expression) == schedule


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("61 * * * *", 'minute field "61": value 61 out of range 0-59'),
        (
            "* * * *",
            'expected 5 fields (minute hour day-of-month month day-of-week), got 4: "* * * *"',
        ),
        ("0 9 * * FOO", 'day-of-week field "FOO": unknown day name "FOO" (use SUN..SAT or 0-7)'),
        ("0 9 * * 8", 'day-of-week field "8": value 8 out of range 0-7'),
        ("0 9 * JANV *", 'month field "JANV": unknown month name "JANV" (use JAN..DEC or 1-12)'),
        ("0 24 * * *", 'hour field "24": value 24 out of range 0-23'),
        ("0 9 0 * *", 'day-of-month field "0": value 0 out of range 1-31'),
        ("5-1 * * * *", 'minute field "5-1": range "5-1" goes backwards'),
        ("*/0 * * * *", 'minute field "*/0": step "0" must be a positive number'),
        ("1,,2 * * * *", 'minute field "1,,2": empty value'),
        ("0 9 30 FEB *", 'day-of-month "30" never occurs in month "FEB"'),
        ("every 0s", 'interval "0s": must be longer than zero'),
        (
            "every 5x",
            'interval "5x": expected a number followed by s, m, h or d (e.g. 30s, 10m, 1h30m)',
        ),
        ("25:00", 'time "25:00": expected HH:MM between 00:00 and 23:59'),
        ("@reboot", 'unknown alias "@reboot" (use @hourly, @daily, @weekly, @monthly)'),
        ("", "empty schedule"),
        ({"at": "09:00"}, "expected a mapping with one key 'every' or 'cron', got ['at']"),
    ],
)
def test_bad_schedules_give_a_precise_message(value: str | dict, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(value)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_thirty_first_with_a_restricted_weekday_is_valid_by_the_or_rule() -> None:
    assert fires("0 9 31 2 MON", paris(2026, 1, 31, 12), 1) == [paris(2026, 2, 2, 9)]


# --- descriptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "french", "english"),
    [
        ("0 9 * * 0", "À 09:00, uniquement le dimanche", "At 09:00, only on Sunday"),
        ("0 9 * * 7", "À 09:00, uniquement le dimanche", "At 09:00, only on Sunday"),
        (
            "0 9 1 * MON",
            "À 09:00, le 1 du mois, ou le lundi",
            "At 09:00, on day 1 of the month, or on Monday",
        ),
        (
            "weekdays 09:30, 12:30",
            "À 09:30 et 12:30, de lundi à vendredi",
            "At 09:30 and 12:30, Monday through Friday",
        ),
        (
            "0 0 1 1 *",
            "À 00:00, le 1 du mois, uniquement en janvier",
            "At 00:00, on day 1 of the month, only in January",
        ),
        ("every 30s", "toutes les 30 secondes", "every 30 seconds"),
        ("every 1h", "toutes les heures", "every hour"),
        ("every 1h30m", "toutes les 90 minutes", "every 90 minutes"),
        ("every 2d", "tous les 2 jours", "every 2 days"),
    ],
)
def test_descriptions_in_french_and_english(value: str, french: str, english: str) -> None:
    schedule = parse_schedule(value)
    assert describe(schedule) == french
    assert describe(schedule, "fr_FR") == french
    assert describe(schedule, "en") == english


def test_multi_line_schedule_description_joins_each_line() -> None:
    schedule = parse_schedule("weekdays 09:30, 17:00")
    assert describe(schedule, "fr") == "À 09:30, de lundi à vendredi ; À 17:00, de lundi à vendredi"
    assert describe(schedule, "en") == "At 09:30, Monday through Friday; At 17:00, Monday through Friday"


# --- config models and APScheduler --------------------------------------------------------------


class JobConfig(BaseModel):
    schedule: ScheduleSpec
    slots: list[ScheduleSpec] = []


def test_config_model_validates_into_schedules_and_dumps_the_expression() -> None:
    config = JobConfig.model_validate({"schedule": "0 9 * * 0", "slots": ["weekdays 09:30", {"every": "1h"}]})
    assert isinstance(config.schedule, Schedule)
    assert config.model_dump() == {
        "schedule": "0 9 * * 0",
        "slots": ["30 9 * * MON-FRI", "every 1h"],
    }


def test_config_model_reports_the_key_path_and_message() -> None:
    with pytest.raises(ValidationError) as caught:
        JobConfig.model_validate({"schedule": "0 9 * * 1", "slots": ["09:30", "61 * * * *"]})
    (error,) = caught.value.errors()
    assert error["loc"] == ("slots", 1)
    assert error["msg"] == 'minute field "61": value 61 out of range 0-59'


def test_triggers_survive_pickling_for_persistent_job_stores() -> None:
    trigger = parse_schedule("0 9 1 * MON").trigger("Europe/Paris")
    restored = pickle.loads(pickle.dumps(trigger))
    now = paris(2026, 1, 2)
    assert restored.get_next_fire_time(None, now) == trigger.get_next_fire_time(None, now)
    assert restored.get_next_fire_time(None, now) == paris(2026, 1, 5, 9)


def test_apscheduler_schedules_the_job_at_our_next_fire_time() -> None:
    schedule = parse_schedule("0 9 * * 0")
    scheduler = BackgroundScheduler(timezone=PARIS)
    scheduler.start(paused=True)
    try:
        before = datetime.now(PARIS)
        job = scheduler.add_job(print, trigger=schedule.trigger(PARIS))
        assert job.next_run_time == next_fire_times(schedule, before, PARIS, 1)[0]
        assert job.next_run_time.weekday() == 6
    finally:
        scheduler.shutdown(wait=False)
