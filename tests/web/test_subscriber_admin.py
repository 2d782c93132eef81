"""The Subscribers pages: search and pages, one person's history, add and remove, CSV import with
its progress and report, export and forget — admin only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from newsletter.core.models import BounceEvent, BounceKind
from newsletter.pipeline.bounces import apply_bounce
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import NOW, ReviewEnv, form_post
from tests.pipeline.test_actions import frozen_issue

CSV_TEXT = "email;name;lists\nchloe@example.org;Chloé;main\nnot an address;X;main\nbob@example.org;Bob;main\n" \
           "denis@example.org;Denis;culture\nchloe@example.org;Chloé;main\n"


def audit_actions(env: ReviewEnv) -> list[tuple[str, str]]:
    """(actor, action) of the audit log, oldest first."""
    return [(a.actor, a.action) for a in reversed(env.store.audit.list_actions())]


def _upload(env: ReviewEnv, text: str, list_name: str = "") -> object:
    return env.client.post("/subscribers/import", data={"csrf_token": env.csrf("/subscribers"), "list": list_name},
                           files={"file": ("abonnés.csv", text.encode("utf-8"), "text/csv")}, follow_redirects=False)


def test_search_filters_and_pages_through_subscribers(review_env: ReviewEnv) -> None:
    for n in range(120):
        review_env.store.subscribers.add_subscriber(f"lecteur{n:03}@example.net", name=f"Lecteur {n}",
                                                    lists=["main"] if n % 2 else ["culture"])
    first = review_env.client.get("/subscribers?q=LECTEUR&list=main").text
    assert "60 abonné(s) trouvé(s)" in first and "Page 1 sur 2" in first
    assert first.count('data-subscriber="') == 50 and "lecteur001@example.net" in first
    assert "lecteur000@example.net" not in first and "ana@example.org" not in first  # culture / no match
    second = review_env.client.get("/subscribers?q=LECTEUR&list=main&page=2").text
    assert second.count('data-subscriber="') == 10 and "lecteur119@example.net" in second
    assert 'href="/subscribers?q=LECTEUR&amp;list=main&amp;page=1"' in second
    by_name = review_env.client.get("/subscribers?q=ana").text
    assert "1 abonné(s) trouvé(s)" in by_name and "ana@example.org" in by_name
    literal = review_env.client.get("/subscribers?q=%25").text  # a % is searched as itself, not a wildcard
    assert "0 abonné(s) trouvé(s)" in literal
    review_env.store.subscribers.set_subscriber_status("bob@example.org", "unsubscribed")
    unsubscribed = review_env.client.get("/subscribers?status=unsubscribed").text
    assert "1 abonné(s) trouvé(s)" in unsubscribed and "bob@example.org" in unsubscribed


def test_add_then_remove_from_a_list_is_logged_and_said_in_french(review_env: ReviewEnv) -> None:
    added = form_post(review_env.client, "/subscribers/add", {"email": " Zoe@Example.ORG ", "name": "Zoé",
                                                              "list": "main"}, page="/subscribers")
    zoe = review_env.store.subscribers.get_subscriber("zoe@example.org")
    assert added.status_code == 303 and added.headers["location"] == f"/subscribers/{zoe.id}"
    page = review_env.client.get(added.headers["location"]).text
    assert "zoe@example.org est inscrit(e) à la liste « La lettre des essais »." in page
    removed = form_post(review_env.client, "/subscribers/remove", {"email": "zoe@example.org", "list": "main"},
                        page="/subscribers")
    assert removed.status_code == 303
    page = review_env.client.get(removed.headers["location"]).text
    assert "zoe@example.org est désinscrit(e) de la liste « La lettre des essais »." in page
    assert '<dd class="status">désabonné</dd>' in page
    assert "inscription" in page and "désinscription" in page  # the history shows both
    again = form_post(review_env.client, "/subscribers/add", {"email": "zoe@example.org", "list": "main"},
                      page="/subscribers")
    assert "n&#39;a pas été réinscrit(e)" in review_env.client.get(again.headers["location"]).text
    assert review_env.store.subscribers.get_subscriber("zoe@example.org").lists == []
    invalid = form_post(review_env.client, "/subscribers/add", {"email": "pas une adresse", "list": "main"},
                        page="/subscribers")
    assert invalid.status_code == 400 and "« pas une adresse » n&#39;est pas une adresse e-mail valide." in invalid.text
    no_list = form_post(review_env.client, "/subscribers/add", {"email": "new@example.org"}, page="/subscribers")
    assert no_list.status_code == 400 and "Choisissez une liste." in no_list.text
    unknown = form_post(review_env.client, "/subscribers/remove", {"email": "personne@example.org", "list": "main"},
                        page="/subscribers")
    assert unknown.status_code == 400 and "Aucun abonné n&#39;a l&#39;adresse « personne@example.org »." in unknown.text
    assert audit_actions(review_env)[-3:] == [
        ("alice", "subscriber.add"), ("alice", "subscriber.remove"), ("alice", "subscriber.add")]


def test_a_csv_import_shows_its_progress_then_its_report(review_env: ReviewEnv) -> None:
    response = _upload(review_env, CSV_TEXT)
    assert response.status_code == 303 and response.headers["location"].startswith("/subscribers/import/")
    page = review_env.client.get(response.headers["location"]).text
    assert "Import terminé." in page and 'data-finished="yes"' in page and "5 ligne(s) traitée(s) sur 5" in page
    assert '<dd class="n-rows">5</dd>' in page and '<dd class="n-added">2</dd>' in page
    assert '<dd class="n-existing">1</dd>' in page and '<dd class="n-duplicates">1</dd>' in page
    assert '<dd class="n-rejected">1</dd>' in page
    assert ('<td>3</td><td>not an address</td><td>adresse invalide : il manque le @ '
            '<small lang="en">(An email address must have an @-sign.)</small>') in page
    assert review_env.store.subscribers.get_subscriber("chloe@example.org").lists == ["main"]
    assert review_env.store.subscribers.get_subscriber("denis@example.org").consent_source == "import:abonnés.csv"
    assert ("alice", "subscriber.import") in audit_actions(review_env)
    broken = review_env.client.get(_upload(review_env, "adresse\nx@example.org\n").headers["location"]).text
    assert "abonnés.csv, line 1: no &#39;email&#39; column" in broken and "/tmp" not in broken
    assert review_env.client.get("/subscribers/import/unknown-id").status_code == 404


def test_export_downloads_every_subscriber_as_csv(review_env: ReviewEnv) -> None:
    response = review_env.client.get("/subscribers/export.csv?list=main")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["email"], r["lists"]) for r in rows] == [("ana@example.org", "main"), ("bob@example.org", "main")]
    assert audit_actions(review_env)[-1] == ("alice", "subscriber.export")


def test_forget_needs_a_confirmation_then_erases_the_person(review_env: ReviewEnv) -> None:
    ana = review_env.store.subscribers.get_subscriber("ana@example.org")
    confirm = review_env.client.get(f"/subscribers/{ana.id}/forget").text
    assert "Je confirme l&#39;effacement de ana@example.org" in confirm
    unconfirmed = form_post(review_env.client, "/subscribers/forget", {"email": "ana@example.org"},
                            page="/subscribers")
    assert unconfirmed.status_code == 400 and review_env.store.subscribers.get_subscriber("ana@example.org")
    done = form_post(review_env.client, "/subscribers/forget", {"email": "ana@example.org", "confirm": "yes"},
                     page="/subscribers")
    assert done.status_code == 303 and review_env.store.subscribers.get_subscriber("ana@example.org") is None
    assert "La personne a été effacée" in review_env.client.get("/subscribers").text
    assert review_env.client.get(f"/subscribers/{ana.id}").status_code == 404
    assert review_env.store.subscribers.suppression_reason("ana@example.org") == "forgotten"


def test_a_subscriber_page_shows_issues_sent_failed_bounces_and_complaints(review_env: ReviewEnv) -> None:
    store = review_env.store
    store.subscribers.add_subscriber("carla@example.org", lists=["main"], consent_source="salon 2025",
                                     now=NOW - timedelta(days=1))
    bob = store.subscribers.get_subscriber("carla@example.org")
    issue_id = frozen_issue(review_env)
    ledger = Ledger(store)
    key = f"email:{issue_id}:{bob.id}"
    ledger.ensure_pending([(key, "email", bob.email, {})], issue_id=issue_id, now=NOW)
    ledger.claim(key, NOW)
    ledger.mark_sent(key, now=NOW)
    for event_id, kind, diagnostic, hours in [("dsn-1", BounceKind.SOFT, "452 mailbox full", 1),
                                              ("arf-1", BounceKind.COMPLAINT, "abuse report", 2)]:
        at = NOW + timedelta(hours=hours)
        apply_bounce(review_env.config, store, BounceEvent(event_id, "imap", kind, bob.email, diagnostic, at), at)
    page = review_env.client.get(f"/subscribers/{bob.id}").text
    kinds = [row.split('"')[0] for row in page.split('<tr class="history-')[1:]]
    assert kinds == ["consent", "sent", "soft_bounce", "complained", "unsubscribed"]
    assert f'href="/history/issues/{issue_id}"' in page and "452 mailbox full" in page and "salon 2025" in page
    assert '<dd class="status">a signalé un spam</dd>' in page


def test_only_admins_see_or_manage_subscribers(review_env: ReviewEnv) -> None:
    with review_env.client_as("paul") as approver:
        assert approver.get("/subscribers").status_code == 403
        assert 'href="/subscribers"' not in approver.get("/upcoming").text
        refused = form_post(approver, "/subscribers/add", {"email": "x@example.org", "list": "main"})
        assert refused.status_code == 403
    assert review_env.store.subscribers.get_subscriber("x@example.org") is None
    assert 'href="/subscribers"' in review_env.client.get("/upcoming").text
