"""Endpoint tests of the review pages: upcoming, actions, announcements, history, login, health."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest

from newsletter.core.models import Announcement, DeliveryStatus
from newsletter.pipeline.accounts import create_api_token
from newsletter.runtime.daemon import LEASE_NAME
from newsletter.store import DigestIssueStatus
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv, app_client
from tests.pipeline.test_actions import MASTO_POST, X_POST, frozen_issue


def test_upcoming_shows_the_next_digest_and_posts(review_env: ReviewEnv) -> None:
    page = review_env.client.get("/upcoming")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fr">' in html and "Prochains envois" in html
    assert "Ministère des Essais : 3 nouvelles annonces" in html  # subject
    assert '<span class="recipients">2</span>' in html  # the list's active subscribers
    assert "24 mars 2025 09:00" in html  # next Monday 9:00, Paris time
    assert 'src="/upcoming/digest/hebdo.html"' in html
    assert 'data-width="mobile"' in html
    assert f'data-key="{X_POST}" data-status="awaiting_approval"' in html
    assert f'data-key="{MASTO_POST}" data-status="pending"' in html
    assert '<output class="length">134/280</output>' in html  # counted like compose/length.py
    assert 'src="/cards/queued/x-main/apprentissage-quote.png"' in html
    assert "Créneau : 21 mars 2025 12:00" in html  # the first Mastodon slot at 12:00 Paris
    assert "Créneau : 22 mars 2025 12:00" in html  # the next post takes the next slot


def test_digest_frame_is_the_preview_rendering(review_env: ReviewEnv) -> None:
    frame = review_env.client.get("/upcoming/digest/hebdo.html")
    assert frame.status_code == 200
    assert "Apprentissage" in frame.text and "/unsubscribe/preview" in frame.text
    assert "sandbox" in frame.headers["content-security-policy"]
    assert review_env.client.get("/upcoming/digest/nope.html").status_code == 404


def test_card_images_are_served_only_from_the_card_folders(review_env: ReviewEnv) -> None:
    image = review_env.client.get("/cards/queued/x-main/apprentissage-quote.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert review_env.client.get("/cards/queued/x-main/..%2F..%2Fnewsletter.db").status_code == 404
    assert review_env.client.get("/cards/other/x-main/apprentissage-quote.png").status_code == 404


def test_announcement_html_is_escaped_everywhere(review_env: ReviewEnv) -> None:
    frozen_issue(review_env)
    for path in ["/upcoming", "/announcements", "/history", "/upcoming/digest/hebdo.html"]:
        html = review_env.client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
    announcements = review_env.client.get("/announcements").text
    assert "Annonce &lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in announcements
    assert 'href="javascript:' not in announcements


def test_edit_then_approve_moves_the_post_to_the_queue(review_env: ReviewEnv) -> None:
    response = review_env.post("/actions/edit", {"target": X_POST, "text": "Texte relu https://example.org/a",
                                                 "next": "/upcoming"})
    assert response.status_code == 303 and response.headers["location"] == "/upcoming"
    response = review_env.post("/actions/approve", {"target": X_POST})
    assert response.status_code == 303
    row = Ledger(review_env.store).get(X_POST)
    assert row.status == DeliveryStatus.PENDING and row.payload["text"] == "Texte relu https://example.org/a"
    page = review_env.client.get("/upcoming").text
    assert f'data-key="{X_POST}" data-status="pending"' in page
    flash = page.split('class="flash flash-info" role="status">')[1].split("</p>")[0]
    assert flash == ("Publication sur x-main validée : « Apprentissage : près de 900 000 contrats signés en 2024 » "
                     "est en file d&#39;attente.")  # in French, naming the channel and the announcement, not the key
    assert X_POST not in flash
    assert [a.action for a in review_env.store.audit.list_actions()][:2] == ["post.approve", "post.edit"]


def test_edit_over_the_limit_is_refused(review_env: ReviewEnv) -> None:
    before = Ledger(review_env.store).get(X_POST).payload["text"]
    response = review_env.post("/actions/edit", {"target": X_POST, "text": "x" * 281})
    assert response.status_code == 400
    assert "281/280" in response.text
    assert Ledger(review_env.store).get(X_POST).payload["text"] == before


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_forms_without_the_session_csrf_token_are_refused(review_env: ReviewEnv, token: str | None) -> None:
    review_env.client.get("/upcoming")
    data = {"target": X_POST} | ({"csrf_token": token} if token else {})
    for path in ["/actions/approve", "/actions/skip", "/actions/edit"]:
        response = review_env.client.post(path, data=data | {"text": "pirate"}, follow_redirects=False)
        assert response.status_code == 403
        assert "Le formulaire a expiré" in response.text
    row = Ledger(review_env.store).get(X_POST)
    assert row.status == DeliveryStatus.AWAITING_APPROVAL and "pirate" not in row.payload["text"]
    assert review_env.store.audit.list_actions() == []


def test_csrf_token_of_another_session_is_refused(review_env: ReviewEnv) -> None:
    other_token = review_env.csrf()
    with review_env.client_as("paul") as other_user:
        other_user.get("/upcoming")
        response = other_user.post("/actions/approve", data={"csrf_token": other_token, "target": X_POST},
                                 follow_redirects=False)
    assert response.status_code == 403


def pick_key_forms(page: str, announcement_id: str) -> list[tuple[str, str]]:
    """(kind, index) of the « make key » forms the announcements page offers for one announcement."""
    forms = re.findall(r'<form method="post" action="/actions/pick-key".*?</form>', page, re.S)
    fields = [dict(re.findall(r'name="(\w+)" value="([^"]*)"', form)) for form in forms]
    back = f"/announcements#a-{announcement_id}"
    return [(f["kind"], f["index"]) for f in fields
            if f["target"] == announcement_id and f["csrf_token"] and f["next"] == back]


def test_pick_key_and_skip_from_the_pages(review_env: ReviewEnv) -> None:
    offered = pick_key_forms(review_env.client.get("/announcements").text, "apprentissage")
    assert offered == [("quote", "1"), ("figure", "1")]  # the key quote and key figure are not offered again
    response = review_env.post("/actions/pick-key", {"target": "apprentissage", "kind": "quote", "index": "1",
                                                     "next": "/announcements"})
    assert response.status_code == 303
    assert "Nous continuerons" in Ledger(review_env.store).get(MASTO_POST).payload["text"]
    assert review_env.post("/actions/pick-key", {"target": "apprentissage", "kind": "quote",
                                                 "index": "x"}).status_code == 400
    response = review_env.post("/actions/skip", {"target": "emploi-jeunes", "next": "/announcements"})
    assert response.status_code == 303
    page = review_env.client.get("/upcoming").text
    assert "2 nouvelles annonces" in page
    assert 'data-key="post:emploi-jeunes:quote:masto"' not in page


def test_approve_and_test_send_a_frozen_issue(review_env: ReviewEnv) -> None:
    issue_id = frozen_issue(review_env)
    page = review_env.client.get("/upcoming").text
    assert f'src="/upcoming/issue/{issue_id}.html"' in page and "en attente d&#39;approbation" in page
    assert review_env.client.get(f"/upcoming/issue/{issue_id}.html").status_code == 200
    response = review_env.post("/actions/test-send", {"digest": "hebdo", "address": "relecture@example.org"})
    assert response.status_code == 303
    (received,) = review_env.smtp.handler.received
    assert received.rcpt_tos == ["relecture@example.org"]
    assert review_env.post("/actions/test-send", {"digest": "hebdo", "address": "nope"}).status_code == 400
    assert review_env.post("/actions/approve", {"target": issue_id}).status_code == 303
    issue = review_env.store.issues.get_digest_issue(issue_id)
    assert issue.approved_by == "alice"
    assert issue.status is DigestIssueStatus.SENT, "approved once its time had come: sent at once"
    assert len(review_env.smtp.handler.received) == 3, "the test copy, then both subscribers"


def test_bringing_back_a_skipped_issue_past_its_time_sends_it_at_once(review_env: ReviewEnv) -> None:
    issue_id = frozen_issue(review_env, DigestIssueStatus.APPROVED)  # its time (NOW) has come
    assert review_env.post("/actions/skip", {"target": issue_id}).status_code == 303
    assert review_env.post("/actions/undo-skip", {"target": issue_id, "next": "/history"}).status_code == 303
    assert review_env.store.issues.get_digest_issue(issue_id).status is DigestIssueStatus.SENT
    assert sorted(m.rcpt_tos[0] for m in review_env.smtp.handler.received) == ["ana@example.org", "bob@example.org"]
    assert "son heure est passée, il part maintenant" in review_env.client.get("/history").text


def test_announcements_filter_by_source_and_date(review_env: ReviewEnv) -> None:
    by_source = review_env.client.get("/announcements?source=agenda").text
    assert 'id="a-emploi-jeunes"' in by_source and 'id="a-apprentissage"' not in by_source
    by_date = review_env.client.get("/announcements?from=2025-03-19&to=2025-03-20").text
    assert 'id="a-apprentissage"' in by_date and 'id="a-hostile"' in by_date
    assert 'id="a-emploi-jeunes"' not in by_date
    everything = review_env.client.get("/announcements?from=not-a-date").text
    assert everything.count('class="announcement"') == 3
    assert "près de 900 000" in everything and "Nous continuerons" in everything


def test_history_shows_issues_posts_runs_and_the_action_log(review_env: ReviewEnv) -> None:
    store = review_env.store
    issue_id = frozen_issue(review_env, DigestIssueStatus.SENT)
    ledger = Ledger(store)
    ledger.ensure_pending([(f"email:{issue_id}:1", "email", "ana@example.org", {}),
                           (f"email:{issue_id}:2", "email", "bob@example.org", {})], issue_id=issue_id)
    ledger.claim(f"email:{issue_id}:1", NOW)
    ledger.mark_sent(f"email:{issue_id}:1", now=NOW)
    ledger.claim(f"email:{issue_id}:2", NOW)
    ledger.mark_failed(f"email:{issue_id}:2", "550 no such user")
    store.subscribers.set_subscriber_status("bob@example.org", "bounced")
    ledger.claim(MASTO_POST, NOW)
    ledger.mark_sent(MASTO_POST, "123", "https://social.example/@ministere/123", now=NOW)
    run_id = store.runs.start_run("digest:hebdo", now=NOW)
    store.runs.finish_run(run_id, "failed", {}, "SMTP <down>", now=NOW)
    review_env.post("/actions/approve", {"target": X_POST})
    html = review_env.client.get("/history").text
    row = html.split(f'data-issue="{issue_id}"')[1].split("</tr>")[0]
    assert '<td class="n-recipients">2</td><td class="n-sent">1</td>' in row
    assert '<td class="n-failed">1</td><td class="n-bounces">1</td>' in row
    assert 'href="https://social.example/@ministere/123"' in html
    assert "SMTP &lt;down&gt;" in html
    assert "post.approve" in html and X_POST in html


def test_interface_in_english(review_env: ReviewEnv) -> None:
    response = review_env.client.get("/lang/en?next=/upcoming", follow_redirects=False)
    assert response.headers["location"] == "/upcoming"
    html = review_env.client.get("/upcoming").text
    assert '<html lang="en">' in html and "Upcoming sends" in html
    assert review_env.client.get("/lang/en?next=https://evil.example/", follow_redirects=False
                                 ).headers["location"] == "/"


def test_health_needs_a_live_runner_and_no_failing_job(review_env: ReviewEnv) -> None:
    store = review_env.store
    response = review_env.client.get("/health")
    assert response.status_code == 503
    assert response.json()["ok"] is False and "lease" in response.json()["problems"][0]
    store.leases.acquire_lease(LEASE_NAME, "runner-1", 30)
    healthy = review_env.client.get("/health")
    assert healthy.status_code == 200
    body = healthy.json()
    assert body["ok"] is True and body["runner"] == "runner-1"
    assert {job["id"] for job in body["jobs"]} >= {"digest:hebdo", "post:x-main", "post:masto"}
    run_id = store.runs.start_run("post:masto", now=NOW - timedelta(minutes=1))
    store.runs.finish_run(run_id, "failed", {}, "HTTP 500", now=NOW)
    failing = review_env.client.get("/health")
    assert failing.status_code == 503 and "post:masto" in failing.json()["problems"][0]
    token = create_api_token(store, "edith", "monitoring", NOW)
    with app_client(review_env.config) as client:
        assert client.get("/health").json() == {"ok": False}
        full = client.get("/health", headers={"Authorization": f"Bearer {token}"}).json()
        assert "jobs" in full


def test_stale_lease_is_unhealthy(review_env: ReviewEnv) -> None:
    review_env.store.leases.acquire_lease(LEASE_NAME, "runner-1", 0.05)
    time.sleep(0.1)
    assert review_env.client.get("/health").status_code == 503


def test_announcements_come_a_page_at_a_time_with_their_filter(review_env: ReviewEnv) -> None:
    for n in range(70):
        review_env.store.announcements.upsert_announcement(
            Announcement(identity=f"lot-{n}", source="lot", id=f"lot-{n:02}", title=f"Annonce du lot {n:02}",
                         url=None, published=date(2025, 1, 1) + timedelta(days=n), content_hash=f"lot{n}"),
            announce=False, now=NOW - timedelta(days=200 - n))
    first = review_env.client.get("/announcements?source=lot").text
    assert first.count('class="announcement"') == 50 and "Annonce du lot 69" in first and "Page 1 sur 2" in first
    second = review_env.client.get("/announcements?source=lot&page=2").text
    assert second.count('class="announcement"') == 20 and "Annonce du lot 00" in second
    assert 'href="/announcements?source=lot&amp;page=1"' in second
    actions_come_back = review_env.client.get("/announcements?page=1").text
    assert 'name="next" value="/announcements?page=1#a-apprentissage"' in actions_come_back
    ranged = review_env.client.get("/announcements?source=lot&from=2025-01-01&to=2025-01-10").text
    assert ranged.count('class="announcement"') == 10 and "Page 1 sur" not in ranged


def test_history_and_archive_come_a_page_at_a_time(review_env: ReviewEnv) -> None:
    for n in range(60):
        review_env.store.audit.record_action("robot", f"test.step{n:02}", now=NOW + timedelta(minutes=n))
        review_env.store.runs.finish_run(review_env.store.runs.start_run("ingest:x", now=NOW), "ok", {}, f"run {n}")
    first = review_env.client.get("/history").text
    assert "test.step59" in first and "test.step09" not in first
    assert 'href="/history?actions=2"' in first and 'href="/history?runs=2"' in first
    second = review_env.client.get("/history?runs=2&actions=2").text
    assert "test.step09" in second and "test.step59" not in second and "Page 2 sur 2" in second
    assert 'href="/history?runs=2&amp;actions=1"' in second  # each section keeps the other's page
    assert "Page" not in review_env.client.get("/archive").text  # a single page needs no links
    ledger = Ledger(review_env.store)
    ledger.ensure_pending([(f"post:lot-{n}:quote:masto", "post", "masto", {"text": f"Message {n:02}"})
                           for n in range(55)], now=NOW)
    for n in range(55):
        ledger.claim(f"post:lot-{n}:quote:masto", NOW)
        ledger.mark_sent(f"post:lot-{n}:quote:masto", str(n), now=NOW)
    newest = review_env.client.get("/history").text
    assert "Message 54" in newest and "Message 04" not in newest and 'href="/history?posts=2"' in newest
    assert "Message 04" in review_env.client.get("/history?posts=2").text


def test_each_page_has_its_own_title_in_the_interface_language(review_env: ReviewEnv) -> None:
    titles = {path: re.search(r"<title>(.*?)</title>", review_env.client.get(path).text).group(1)
              for path in ["/upcoming", "/announcements", "/history", "/subscribers"]}
    assert titles["/upcoming"].startswith("Prochains envois — ") and titles["/history"].startswith("Historique — ")
    assert titles["/announcements"].startswith("Annonces enregistrées — ")
    assert titles["/subscribers"].startswith("Abonnés — ")
    review_env.client.get("/lang/en?next=/upcoming")
    assert "<title>Upcoming sends — " in review_env.client.get("/upcoming").text


def test_upcoming_posts_come_fifty_a_page_per_channel_with_the_digest_on_top(review_env: ReviewEnv) -> None:
    ledger = Ledger(review_env.store)
    payload = ledger.get(MASTO_POST).payload
    ledger.ensure_pending([(f"post:lot-{n:02}:quote:masto", "post", "masto",
                            {**payload, "text": f"Message du lot {n:02}"}) for n in range(55)], now=NOW)
    masto = ledger.queued_posts("masto")
    assert len(masto) == 58

    def shown(page: str, channel: str) -> list[str]:
        section = page.split(f'id="channel-{channel}"')[1].split("</section>")[0]
        return re.findall(r'data-key="(post:[^"]+)"', section)

    first = review_env.client.get("/upcoming").text
    assert first.index('id="digest-hebdo"') < first.index('id="channel-x-main"')  # the digest stays on top
    assert len(shown(first, "masto")) == 50 and "Page 1 sur 2" in first
    assert 'href="/upcoming?page_masto=2#channel-masto"' in first and "page_x-main" not in first
    second = review_env.client.get("/upcoming?page_masto=2").text
    assert sorted(shown(first, "masto") + shown(second, "masto")) == sorted(row.key for row in masto)
    assert shown(second, "x-main") == shown(first, "x-main") != []  # the other channel keeps its own page
    assert 'id="digest-hebdo"' in second and "Page 2 sur 2" in second
    assert 'name="next" value="/upcoming?page_masto=2"' in second  # an action comes back to this page
    beyond = review_env.client.get("/upcoming?page_masto=9").text
    assert shown(beyond, "masto") == shown(second, "masto")
