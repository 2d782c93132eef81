"""The Calendar page over the app: a week and a month of digests and posts in Paris time, moving a
post, skipping and bringing it back, past sends, navigation and its errors, in French and English."""

from __future__ import annotations

import re
from datetime import timedelta

from newsletter.core.models import DeliveryStatus
from newsletter.store import DigestIssueStatus
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv
from tests.pipeline.test_actions import EMPLOI_MASTO, HOSTILE_MASTO, MASTO_POST, X_POST, audit, frozen_issue


def day_cell(page: str, day: str) -> str:
    """The HTML of one day of the grid."""
    found = re.search(rf'<td class="day[^"]*" data-day="{day}">(.*?)</td>', page, re.S)
    assert found, f"no day {day} on the page"
    return found.group(1)


def item_at(page: str, target: str) -> tuple[str, str]:
    """(status, time) of the calendar item acting on `target`."""
    found = re.search(rf'data-target="{re.escape(target)}" data-status="(\w+)" data-at="([^"]+)"', page)
    assert found, f"no item for {target}"
    return found.group(1), found.group(2)


def test_the_week_shows_each_post_at_its_slot_in_paris_time(review_env: ReviewEnv) -> None:
    page = review_env.client.get("/calendar").text
    assert "Semaine du 17 mars 2025 au 23 mars 2025" in page and "Heures de Europe/Paris" in page
    assert item_at(page, MASTO_POST) == ("pending", "2025-03-21T12:00:00+01:00")
    assert item_at(page, EMPLOI_MASTO) == ("pending", "2025-03-22T12:00:00+01:00")
    assert MASTO_POST in day_cell(page, "2025-03-21") and HOSTILE_MASTO in day_cell(page, "2025-03-23")
    assert '<time datetime="2025-03-21T12:00:00+01:00">12:00</time>' in page
    awaiting = page.split('<section class="awaiting">')[1].split("</section>")[0]
    assert X_POST in awaiting and "<table" not in awaiting  # no slot until approved
    assert 'href="/calendar?week=2025-W11"' in page and 'href="/calendar?week=2025-W13"' in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page  # announcement text is escaped


def test_the_next_week_and_the_month_show_the_digest_runs(review_env: ReviewEnv) -> None:
    week = review_env.client.get("/calendar?week=2025-W13").text
    monday = day_cell(week, "2025-03-24")
    assert 'data-kind="digest" data-name="hebdo"' in monday and 'data-status="planned"' in monday
    assert "09:00" in monday and "Ministère des Essais : 3 nouvelles annonces" in monday
    assert 'href="/digests/hebdo/edit"' in monday
    month = review_env.client.get("/calendar?month=2025-03").text
    assert "Mois : mars 2025" in month and 'href="/calendar?month=2025-04"' in month
    later = day_cell(month, "2025-03-31")
    assert 'data-name="hebdo"' in later and "envoi prévu (contenu pas encore connu)" in later
    assert 'class="day outside" data-day="2025-04-06"' in month  # the grid ends on a Sunday


def test_moving_a_post_from_the_calendar_puts_it_on_the_new_day(review_env: ReviewEnv) -> None:
    page = review_env.client.get("/calendar").text
    assert '<option value="2025-03-23T12:00:00+01:00">23 mars 2025 12:00</option>' in page
    response = review_env.post("/actions/move", {"target": MASTO_POST, "slot": "2025-03-23T12:00:00+01:00",
                                                 "next": "/calendar?week=2025-W12"})
    assert response.status_code == 303 and response.headers["location"] == "/calendar?week=2025-W12"
    page = review_env.client.get("/calendar?week=2025-W12").text
    assert item_at(page, MASTO_POST) == ("pending", "2025-03-23T12:00:00+01:00")
    assert item_at(page, EMPLOI_MASTO) == ("pending", "2025-03-21T12:00:00+01:00")
    flash = page.split('role="status">')[1].split("</p>")[0]
    assert flash.startswith("Publication sur masto déplacée : « ") and flash.endswith("» part le 23 mars 2025 12:00.")
    assert ("alice", "post.move", MASTO_POST) in audit(review_env)
    refused = review_env.post("/actions/move", {"target": MASTO_POST, "slot": "2025-03-23T13:00:00+01:00"})
    assert refused.status_code == 400
    assert ("« 2025-03-23T13:00:00+01:00 » n&#39;est pas l&#39;un des 14 prochains créneaux du canal masto."
            in refused.text)


def test_skip_then_bring_back_a_post_from_the_calendar(review_env: ReviewEnv) -> None:
    review_env.post("/actions/skip", {"target": MASTO_POST})
    page = review_env.client.get("/calendar").text
    assert item_at(page, MASTO_POST) == ("skipped", "2025-03-21T11:00:00+01:00")  # shown when it was skipped
    assert 'action="/actions/undo-skip"' in day_cell(page, "2025-03-21")
    assert review_env.post("/actions/undo-skip", {"target": MASTO_POST}).status_code == 303
    assert Ledger(review_env.store).get(MASTO_POST).status is DeliveryStatus.PENDING
    assert item_at(review_env.client.get("/calendar").text, MASTO_POST)[0] == "pending"
    assert [a for _, a, t in audit(review_env) if t == MASTO_POST] == ["post.undo_skip", "post.skip"]


def test_only_a_post_a_person_skipped_offers_to_bring_it_back(review_env: ReviewEnv) -> None:
    Ledger(review_env.store).mark_skipped(MASTO_POST, "channel paused", now=NOW)  # the system's skip
    review_env.post("/actions/skip", {"target": EMPLOI_MASTO})
    page = review_env.client.get("/calendar").text
    assert item_at(page, MASTO_POST)[0] == item_at(page, EMPLOI_MASTO)[0] == "skipped"
    undo_targets = re.findall(r'action="/actions/undo-skip".*?name="target" value="([^"]+)"', page, re.S)
    assert undo_targets == [EMPLOI_MASTO]


def test_past_posts_show_on_the_day_they_went_out(review_env: ReviewEnv) -> None:
    ledger = Ledger(review_env.store)
    ledger.claim(EMPLOI_MASTO, NOW)
    ledger.mark_sent(EMPLOI_MASTO, "123", "https://social.example/@ministere/123", now=NOW - timedelta(days=2))
    page = review_env.client.get("/calendar").text
    assert item_at(page, EMPLOI_MASTO) == ("sent", "2025-03-19T11:00:00+01:00")
    assert EMPLOI_MASTO in day_cell(page, "2025-03-19")


def test_a_period_that_cannot_be_read_is_a_clear_error_in_the_interface_language(review_env: ReviewEnv) -> None:
    for query, message in (("week=2025-W54", "week=2025-W54 : attendu une semaine ISO comme 2025-W13."),
                           ("month=2025-13", "month=2025-13 : attendu un mois comme 2025-03.")):
        response = review_env.client.get(f"/calendar?{query}")
        assert response.status_code == 400 and message in response.text, query
    review_env.client.get("/lang/en?next=/calendar")
    response = review_env.client.get("/calendar?week=2025-W54")
    assert response.status_code == 400 and "week=2025-W54: expected an ISO week like 2025-W13." in response.text


def test_the_calendar_speaks_english_when_asked(review_env: ReviewEnv) -> None:
    review_env.client.get("/lang/en?next=/calendar")
    page = review_env.client.get("/calendar").text
    assert "Sending calendar" in page and "Week of March 17, 2025 to March 23, 2025" in page
    assert "Move to slot" in page and "Friday 21 March" in page and "Times in Europe/Paris" in page


def test_skip_then_bring_back_the_planned_digest_run(review_env: ReviewEnv) -> None:
    week = review_env.client.get("/calendar?week=2025-W13").text
    assert 'action="/actions/skip"' in day_cell(week, "2025-03-24")
    assert review_env.post("/actions/skip", {"target": "hebdo"}).status_code == 303  # recorded, then skipped
    issue = review_env.store.issues.list_digest_issues(digest="hebdo", limit=1)[0]
    assert issue.status is DigestIssueStatus.SKIPPED and issue.digest.scheduled_for == NOW.replace(day=24, hour=8)
    today = day_cell(review_env.client.get("/calendar").text, "2025-03-21")
    assert f'data-target="{issue.id}" data-status="skipped"' in today and 'action="/actions/undo-skip"' in today
    assert review_env.post("/actions/undo-skip", {"target": issue.id}).status_code == 303
    monday = day_cell(review_env.client.get("/calendar?week=2025-W13").text, "2025-03-24")
    assert f'data-target="{issue.id}" data-status="approved"' in monday
    assert [a for _, a, t in audit(review_env) if t == issue.id] == ["digest.undo_skip", "digest.skip",
                                                                      "digest.record_next"]


def test_an_issue_being_sent_shows_once_with_its_state(review_env: ReviewEnv) -> None:
    issue_id = frozen_issue(review_env, DigestIssueStatus.SENDING)  # recorded for now, Friday 11:00
    today = day_cell(review_env.client.get("/calendar").text, "2025-03-21")
    assert today.count(f'data-target="{issue_id}"') == 1 and "en cours d&#39;envoi" in today
    assert 'action="/actions/skip"' not in today.split(issue_id)[1].split("</li>")[0]
