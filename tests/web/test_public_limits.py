"""What a visitor of the public pages can and cannot notice: subscribe answers the same page at
the same speed for every address, never waits for a mail server, mails one address at most its
share, turns a flooding client away with 429, and the pages are titled as the newsletter's,
lists shown by their public names."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

from starlette.testclient import TestClient

from newsletter.config import Config, load_config
from newsletter.pipeline.subscribe import send_confirmations
from newsletter.pipeline.unsubscribe import make_token
from tests.fakes.review_env import NOW, ReviewEnv, app_client, write_config
from tests.fakes.smtp import TEST_SECRET, ControlledHandler, SmtpServer, free_port
from tests.web.test_public import CONFIRM_LINK

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
REQUESTS_PER_PATH = 30


def configured(env: ReviewEnv, **extra: Any) -> Config:
    """The review config with these keys added (same folder, same database)."""
    return load_config(write_config(env.folder, env.smtp, **extra))


def visitor(config: Config, host: str = "198.51.100.7") -> TestClient:
    """A client of a new app over the config's store, not signed in, seen as coming from `host`."""
    return app_client(config, client_address=host)


def subscribe(client: TestClient, email: str) -> Any:
    """Post the subscribe form as a browser would (page first, for the CSRF token)."""
    found = CSRF_FIELD.search(client.get("/subscribe").text)
    assert found
    return client.post("/subscribe", data={"csrf_token": found.group(1), "email": email})


def title(page: Any) -> str:
    """The page's <title>."""
    found = TITLE.search(page.text)
    assert found, page.text
    return found.group(1).strip()


def test_fifty_requests_for_one_address_mail_it_three_times(review_env: ReviewEnv) -> None:
    config = configured(review_env, public={"requests_per_client": 100})
    with visitor(config) as client:
        pages = [subscribe(client, "cible@example.org") for _ in range(50)]
    assert {page.status_code for page in pages} == {200}
    assert len({page.text for page in pages}) == 1, "over its limit the address gets the same page"
    assert review_env.smtp.handler.connections == 0, "no request talked to the mail server"
    assert send_confirmations(config, review_env.store).sent == 3
    assert send_confirmations(config, review_env.store).sent == 0
    assert review_env.smtp.handler.copies() == {"cible@example.org": 3}


def test_a_subscribe_answers_at_once_while_the_mail_server_is_down(review_env: ReviewEnv) -> None:
    nothing_listens = SmtpServer("127.0.0.1", free_port(), ControlledHandler())
    down = load_config(write_config(review_env.folder, nothing_listens))
    with visitor(down) as client:
        subscribe(client, "patient@example.org")
        started = time.perf_counter()
        page = subscribe(client, "patiente@example.org")
        seconds = time.perf_counter() - started
    assert page.status_code == 200 and seconds < 0.5
    assert send_confirmations(down, review_env.store).waiting == 2  # kept for later
    assert send_confirmations(review_env.config, review_env.store).sent == 2  # the server is back
    assert review_env.smtp.handler.copies() == {"patient@example.org": 1, "patiente@example.org": 1}
    link = CONFIRM_LINK.search(review_env.smtp.handler.received[0].message().get_content())
    assert link and review_env.client.get(link.group(1)).status_code == 200


def test_a_client_asking_too_often_gets_429_and_others_do_not(review_env: ReviewEnv) -> None:
    config = configured(review_env, public={"requests_per_client": 3, "client_window_minutes": 10})
    with visitor(config, host="203.0.113.66") as flooder:
        answers = [subscribe(flooder, f"n{n}@example.org") for n in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].headers["retry-after"] == "600"
    assert "Trop de demandes" in answers[3].text and "n3@example.org" not in answers[3].text
    with visitor(config, host="203.0.113.77") as neighbour:
        assert subscribe(neighbour, "voisin@example.org").status_code == 200
    with visitor(config, host="203.0.113.66") as restarted:  # the count lives in the store
        assert subscribe(restarted, "encore@example.org").status_code == 429
    assert send_confirmations(config, review_env.store).sent == 4


def seed_people(env: ReviewEnv, count: int) -> tuple[list[str], list[str]]:
    """`count` subscribed addresses and `count` unknown ones."""
    known = [f"abonne{n}@example.org" for n in range(count)]
    for email in known:
        env.store.subscribers.add_subscriber(email, lists=["main"], consent_source="test")
    return known, [f"inconnu{n}@example.org" for n in range(count)]


def timed(client: TestClient, csrf: str, email: str) -> tuple[float, str]:
    started = time.perf_counter()
    page = client.post("/subscribe", data={"csrf_token": csrf, "email": email})
    assert page.status_code == 200
    return time.perf_counter() - started, page.text


def test_known_and_unknown_addresses_get_the_same_page_in_the_same_time(review_env: ReviewEnv) -> None:
    config = configured(review_env, public={"requests_per_client": 1000})
    known, unknown = seed_people(review_env, REQUESTS_PER_PATH)
    with visitor(config) as client:
        found = CSRF_FIELD.search(client.get("/subscribe").text)
        assert found
        for warm_up in range(5):
            timed(client, found.group(1), f"chauffe{warm_up}@example.org")
        csrf = found.group(1)
        runs = [(timed(client, csrf, k), timed(client, csrf, u)) for k, u in zip(known, unknown, strict=True)]
    known_median = statistics.median(k[0] for k, _ in runs)
    unknown_median = statistics.median(u[0] for _, u in runs)
    gap = abs(known_median - unknown_median)
    assert gap < max(0.015, 0.3 * unknown_median), (known_median, unknown_median)
    assert len({text for pair in runs for _, text in pair}) == 1


def test_every_kind_of_address_gets_the_same_page(review_env: ReviewEnv) -> None:
    review_env.store.subscribers.add_subscriber("parti@example.org", lists=["main"], consent_source="test")
    review_env.store.subscribers.unsubscribe_id(
        review_env.store.subscribers.get_subscriber("parti@example.org").id, ["main"], NOW)
    review_env.store.subscribers.forget_subscriber("oublie@example.org", NOW)
    with visitor(review_env.config) as client:
        subscribe(client, "attente@example.org")
        pages = {email: subscribe(client, email) for email in
                 ("ana@example.org", "attente@example.org", "nouveau@example.org", "parti@example.org",
                  "oublie@example.org")}
    assert {page.status_code for page in pages.values()} == {200}
    assert len({page.text for page in pages.values()}) == 1
    report = send_confirmations(review_env.config, review_env.store)
    assert (report.sent, report.skipped) == (4, 2)  # the subscribed and the forgotten get no mail
    assert set(review_env.smtp.handler.copies()) == {"attente@example.org", "nouveau@example.org",
                                                     "parti@example.org"}


def test_public_pages_are_titled_as_the_newsletter_and_name_lists_publicly(review_env: ReviewEnv) -> None:
    config = configured(review_env, lists={"main": {"title": "Les essais du lundi"}})
    ana = review_env.store.subscribers.get_subscriber("ana@example.org")
    with visitor(config) as client:
        subscribe(client, "lectrice@example.org")
        send_confirmations(config, review_env.store)
        (mail,) = review_env.smtp.handler.received
        link = CONFIRM_LINK.search(mail.message().get_content())
        assert link and mail.message()["Subject"] == "Confirmez votre abonnement à Les essais du lundi"
        pages = {
            "S&#39;abonner à la lettre": client.get("/subscribe"),
            "Confirmer l&#39;abonnement": client.get(link.group(1)),
            "Se désabonner": client.get(f"/unsubscribe/{make_token(TEST_SECRET, ana.id, 'main')}"),
            "Archives de la lettre": client.get("/archive"),
            "Apprentissage : près de 900 000 contrats signés en 2024": client.get("/announcements/apprentissage"),
            "Erreur": client.get("/nulle-part"),
        }
    review = review_env.client.get("/upcoming")  # signed in
    for name, page in pages.items():
        assert title(page) == f"{name} — La lettre des essais", name
        assert "relecture" not in page.text and "review" not in title(page), name
    assert "« Les essais du lundi »" in pages["Se désabonner"].text
    assert "« Les essais du lundi »" in pages["Confirmer l&#39;abonnement"].text
    assert "« main »" not in pages["Se désabonner"].text + pages["Confirmer l&#39;abonnement"].text
    assert "relecture" in title(review), "the team's pages keep the review title"


def test_the_subscribe_form_offers_lists_by_their_titles(review_env: ReviewEnv) -> None:
    digests = [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "main"},
               {"name": "culture", "schedule": "0 9 * * FRI", "list": "culture", "from_name": "Culture & essais"}]
    config = configured(review_env, digests=digests, lists={"main": {"title": "Les essais du lundi"}})
    with visitor(config) as client:
        page = client.get("/subscribe").text
    assert '<option value="main">Les essais du lundi</option>' in page
    assert '<option value="culture">Culture &amp; essais</option>' in page  # no title: the digest's sender name
