"""Endpoint tests of the public pages: unsubscribe (page and one-click), double opt-in, archive.

A subscribe request only queues its confirmation: `drain` sends the queue, as the daemon does."""

from __future__ import annotations

import re
from datetime import date, timedelta

from newsletter.compose.digest import announcement_url
from newsletter.config import load_config
from newsletter.core.models import Announcement, Figure, Quote
from newsletter.pipeline.digests import write_archive
from newsletter.pipeline.subscribe import ConfirmationReport, send_confirmations
from newsletter.pipeline.unsubscribe import make_token
from newsletter.store import DigestIssueStatus, SubscriberStatus
from tests.fakes.review_env import HOSTILE, NOW, ReviewEnv, app_client, write_config
from tests.fakes.smtp import TEST_SECRET
from tests.pipeline.test_actions import frozen_issue

CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:8080(/subscribe/confirm/\S+)")


def token_for(env: ReviewEnv, email: str) -> str:
    subscriber = env.store.subscribers.get_subscriber(email)
    return make_token(TEST_SECRET, subscriber.id, "main")


def status(env: ReviewEnv, email: str) -> SubscriberStatus:
    return env.store.subscribers.get_subscriber(email).status


def test_unsubscribe_page_confirms_then_unsubscribes(review_env: ReviewEnv) -> None:
    token = token_for(review_env, "ana@example.org")
    page = review_env.client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert "« La lettre des essais »" in page.text and "ana@example.org" not in page.text  # no subscriber data
    assert "« main »" not in page.text  # the list's public name, never its internal one
    assert status(review_env, "ana@example.org") is SubscriberStatus.ACTIVE  # a GET changes nothing
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = review_env.client.post(f"/unsubscribe/{token}", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Vous êtes désabonné·e" in done.text
    assert status(review_env, "ana@example.org") is SubscriberStatus.UNSUBSCRIBED
    replay = review_env.client.post(f"/unsubscribe/{token}", data={"csrf_token": csrf})
    assert replay.status_code == 200 and "déjà été pris en compte" in replay.text
    assert status(review_env, "bob@example.org") is SubscriberStatus.ACTIVE
    assert [a.action for a in review_env.store.audit.list_actions()] == ["unsubscribe"]


def test_a_token_for_several_lists_names_them_all(review_env: ReviewEnv) -> None:
    digests = [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "main,culture"}]
    titles = {"main": {"title": "Les essais du lundi"}, "culture": {"title": "Culture & essais"}}
    config = load_config(write_config(review_env.folder, review_env.smtp, digests=digests, lists=titles))
    subscriber = review_env.store.subscribers.get_subscriber("ana@example.org")
    with app_client(config) as client:
        page = client.get(f"/unsubscribe/{make_token(TEST_SECRET, subscriber.id, 'main,culture')}")
    assert page.status_code == 200
    assert "des listes « Les essais du lundi » et « Culture &amp; essais » ?" in page.text
    assert "main,culture" not in page.text and "« culture »" not in page.text


def test_unsubscribe_form_needs_csrf(review_env: ReviewEnv) -> None:
    token = token_for(review_env, "ana@example.org")
    review_env.client.get(f"/unsubscribe/{token}")
    response = review_env.client.post(f"/unsubscribe/{token}", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert status(review_env, "ana@example.org") is SubscriberStatus.ACTIVE


def test_one_click_unsubscribe_works_without_a_page_or_cookie(review_env: ReviewEnv) -> None:
    token = token_for(review_env, "bob@example.org")
    with app_client(review_env.config) as mail_provider:
        response = mail_provider.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200 and response.text == "unsubscribed"
        assert status(review_env, "bob@example.org") is SubscriberStatus.UNSUBSCRIBED
        replay = mail_provider.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert replay.status_code == 200 and replay.text == "already unsubscribed"


def test_bad_unsubscribe_tokens_are_refused(review_env: ReviewEnv) -> None:
    ana = review_env.store.subscribers.get_subscriber("ana@example.org")
    forged = make_token("another-secret-0123456789", ana.id, "main")
    altered = token_for(review_env, "ana@example.org").replace("v1.1.", "v1.2.")
    for token in [forged, altered, "garbage", "v1.1.bWFpbg.AAAA"]:
        page = review_env.client.get(f"/unsubscribe/{token}")
        assert page.status_code == 400 and "n&#39;est pas valide" in page.text, token
        one_click = review_env.client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 400, token
    assert status(review_env, "ana@example.org") is SubscriberStatus.ACTIVE
    assert status(review_env, "bob@example.org") is SubscriberStatus.ACTIVE
    preview = review_env.client.get("/unsubscribe/preview")
    assert preview.status_code == 200 and "aperçu" in preview.text


def subscribe(env: ReviewEnv, email: str, name: str = "") -> int:
    page = env.client.get("/subscribe").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    return env.client.post("/subscribe", data={"csrf_token": csrf, "email": email, "name": name}).status_code


def drain(env: ReviewEnv) -> ConfirmationReport:
    """Send the queued confirmations, as the daemon's job does."""
    return send_confirmations(env.config, env.store)


def confirm_link(env: ReviewEnv) -> str:
    message = env.smtp.handler.received[-1].message()
    found = CONFIRM_LINK.search(message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_double_opt_in(review_env: ReviewEnv) -> None:
    assert subscribe(review_env, "Nouvelle@Example.org", "Nina <b>") == 200
    assert review_env.store.subscribers.get_subscriber("nouvelle@example.org") is None  # nothing before confirmation
    assert review_env.smtp.handler.received == []  # queued, not sent by the request
    assert drain(review_env).sent == 1
    (mail,) = review_env.smtp.handler.received
    assert mail.rcpt_tos == ["nouvelle@example.org"]
    assert mail.message()["Subject"] == "Confirmez votre abonnement à La lettre des essais"
    link = confirm_link(review_env)
    page = review_env.client.get(link)
    assert page.status_code == 200 and "Confirmer mon abonnement" in page.text
    assert (
        review_env.store.subscribers.get_subscriber("nouvelle@example.org") is None
    )  # a GET (link scanner) does nothing
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = review_env.client.post(link, data={"csrf_token": csrf})
    assert done.status_code == 200 and "abonnement est confirmé" in done.text
    subscriber = review_env.store.subscribers.get_subscriber("nouvelle@example.org")
    assert subscriber.status is SubscriberStatus.ACTIVE and subscriber.lists == ["main"]
    assert subscriber.name == "Nina <b>" and subscriber.consent_source
    assert review_env.client.post(link, data={"csrf_token": csrf}).status_code == 200  # replay: no harm
    assert review_env.store.subscribers.count_subscribers("main") == 3
    assert review_env.client.post(link, data={"csrf_token": "forged"}).status_code == 403


def test_subscribe_reveals_nothing_about_known_addresses(review_env: ReviewEnv) -> None:
    known = review_env.client.get("/subscribe")
    assert subscribe(review_env, "ana@example.org") == 200
    assert drain(review_env).skipped == 1
    assert review_env.smtp.handler.received == []  # already subscribed: no mail
    assert subscribe(review_env, "inconnu@example.org") == 200
    assert drain(review_env).sent == 1
    assert len(review_env.smtp.handler.received) == 1
    assert "ana@example.org" not in known.text
    assert subscribe(review_env, "pas une adresse") == 400
    response = review_env.client.post("/subscribe", data={"email": "x@example.org"})
    assert response.status_code == 403


def test_confirmation_links_expire_and_cannot_be_forged(review_env: ReviewEnv) -> None:
    subscribe(review_env, "tard@example.org")
    drain(review_env)
    link = confirm_link(review_env)
    with app_client(review_env.config, now=NOW + timedelta(hours=49)) as later:
        expired = later.get(link)
        assert expired.status_code == 410 and "expiré" in expired.text
    token = link.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert review_env.client.get(f"/subscribe/confirm/{tampered}").status_code == 400
    assert review_env.client.get("/subscribe/confirm/garbage").status_code == 400
    assert review_env.store.subscribers.get_subscriber("tard@example.org") is None


def test_archive_shows_sent_issues_only(review_env: ReviewEnv) -> None:
    waiting = frozen_issue(review_env)
    assert review_env.client.get(f"/archive/{waiting}").status_code == 404
    review_env.store.issues.set_digest_issue_status(waiting, DigestIssueStatus.SENT, now=NOW)
    copy = review_env.client.get(f"/archive/{waiting}")
    assert copy.status_code == 200 and "Apprentissage" in copy.text
    assert "%%NL_" not in copy.text and "/unsubscribe/" not in copy.text  # no personal link
    assert "<script>alert" not in copy.text
    index = review_env.client.get("/archive").text
    assert f'href="/archive/{waiting}"' in index
    moved = review_env.client.get(f"/issues/{waiting}", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == f"/archive/{waiting}"
    assert review_env.client.get("/archive/../newsletter.yaml").status_code == 404


def test_archive_serves_the_written_web_copy(review_env: ReviewEnv) -> None:
    issue_id = frozen_issue(review_env, DigestIssueStatus.SENT)
    path = write_archive(review_env.config, review_env.store.issues.get_digest_issue(issue_id).digest)
    path.write_text(path.read_text(encoding="utf-8").replace("Apprentissage", "Copie archivée"), encoding="utf-8")
    assert "Copie archivée" in review_env.client.get(f"/archive/{issue_id}").text


def test_announcement_without_url_has_an_escaped_public_page(review_env: ReviewEnv) -> None:
    hostile = Announcement(
        identity="sans-url", source="communiques", id="sans-url", title=f"Plan {HOSTILE}",
        published=date(2025, 3, 18), lede=f"Chapeau {HOSTILE}",
        body=f"Premier paragraphe {HOSTILE}\nsur deux lignes.\n\n  \nSecond paragraphe.",
        quotes=[Quote(f"Citation {HOSTILE}", f"Orateur {HOSTILE}", "ministre")],
        figures=[Figure("12 000", 12000, about=f"postes {HOSTILE}")], key_quote=0, key_figures=[0],
    )
    review_env.store.announcements.upsert_announcement(hostile, announce=True, now=NOW - timedelta(hours=1))
    link = announcement_url(hostile, review_env.config)
    assert link == "http://127.0.0.1:8080/announcements/sans-url"
    with app_client(review_env.config) as visitor:  # a reader is never signed in
        page = visitor.get(link.removeprefix("http://127.0.0.1:8080"), follow_redirects=False)
    assert page.status_code == 200
    escaped = "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    for text in (f"Plan {escaped}", f"Chapeau {escaped}", f"Premier paragraphe {escaped} sur deux lignes.",
                 "<p>Second paragraphe.</p>", f"<q>Citation {escaped}</q> — Orateur {escaped}, ministre",
                 f"<strong>12 000</strong> postes {escaped}", "18 mars 2025"):
        assert text in page.text, text
    assert "<script>" not in page.text and "<img" not in page.text
    assert "ana@example.org" not in page.text and "/actions/" not in page.text  # no subscriber data, no forms
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_withdrawn_embargoed_and_unknown_announcements_have_no_public_page(review_env: ReviewEnv) -> None:
    assert review_env.client.get("/announcements/emploi-jeunes").status_code == 200
    review_env.store.announcements.mark_withdrawn("emploi-jeunes", now=NOW)
    assert review_env.client.get("/announcements/emploi-jeunes").status_code == 404
    embargoed = Announcement(identity="plus-tard", source="communiques", id="plus-tard", title="Bientôt")
    review_env.store.announcements.upsert_announcement(
        embargoed, announce=True, now=NOW, publish_at=NOW + timedelta(hours=1)
    )
    assert review_env.client.get("/announcements/plus-tard").status_code == 404
    with app_client(review_env.config, now=NOW + timedelta(hours=2)) as later:
        assert later.get("/announcements/plus-tard").status_code == 200
    assert review_env.client.get("/announcements/inconnue").status_code == 404


def test_a_refused_confirmation_fails_in_the_queue_and_subscribes_nobody(review_env: ReviewEnv) -> None:
    review_env.smtp.handler.reject_rcpt = {"refus@example.org"}
    assert subscribe(review_env, "refus@example.org") == 200  # the visitor is told what everyone is told
    report = drain(review_env)
    assert (report.sent, report.failed) == (0, 1)
    assert (
        review_env.smtp.handler.received == []
        and review_env.store.subscribers.get_subscriber("refus@example.org") is None
    )
    assert drain(review_env).failed == 0  # refused for good: never tried again
