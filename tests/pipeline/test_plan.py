"""One plan, one path: what `preview` writes is what a real send and a real post run deliver.

Each test previews a real SQLite store at one `now`, then runs the real send or posting stage at
the time the preview announced, against loopback servers, and compares what arrived.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from newsletter.config import Config, load_config
from newsletter.core.models import Announcement, Figure, Quote
from newsletter.pipeline.posting import post_due, queue_posts
from newsletter.pipeline.preview import THREAD_SEPARATOR, preview
from newsletter.pipeline.sending import issue_to_send, send_digest
from newsletter.store import Store
from tests.fakes.smtp import TEST_SECRET, TEST_SECRET_ENV, SmtpServer

NOW = datetime(2025, 3, 21, 10, 0, tzinfo=UTC)  # a Friday; the digest goes out on Mondays at 9:00


def announcement(number: int, published: date, quote: str) -> Announcement:
    """An announcement with a quote and a figure, published on `published`."""
    return Announcement(
        f"doc{number}", "communiques", f"Annonce n°{number} : un nouveau dispositif pour les jeunes",
        url=f"https://ministere.example.org/communiques/{number}", published=published,
        lede="Un dispositif pour l'insertion des jeunes.",
        quotes=[Quote(quote, "Claire Fontaine", "ministre du Travail")], key_quote=0,
        figures=[] if quote == LONG_QUOTE else [Figure("12 500", 12500, about="jeunes accompagnés")],
        key_figures=[] if quote == LONG_QUOTE else [0],
        id=f"annonce{number:09d}",
    )


LONG_QUOTE = (  # one sentence and no figure: it cannot be shortened, only threaded
    "Nous voulons que chaque jeune trouve une formation, un emploi ou un accompagnement près de chez lui, "
    "et les missions locales recevront des moyens nouveaux dès cette année pour aller au-devant de ceux qui "
    "ne poussent jamais leur porte, territoire par territoire"
)


def write_config(folder: Path, smtp_port: int, mastodon_url: str) -> Config:
    """A digest to list `main` on the loopback SMTP server and a threading Mastodon channel."""
    data = {
        "public_base_url": "http://127.0.0.1:8080",
        "data_dir": "data",
        "outbox_dir": "outbox",
        "branding": {"organisation": "Ministère des Essais"},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout": 5},
        "unsubscribe": {"secret_env": TEST_SECRET_ENV},
        "digests": [{"name": "hebdo", "schedule": "0 9 * * MON", "list": "main",
                     "subject": "{{ count }} annonces — {{ first_title }}", "from_address": "lettre@example.org"}],
        "channels": [{"name": "masto", "type": "mastodon", "base_url": mastodon_url, "variants": ["quote"],
                      "thread": True, "limit": 160, "slots": ["0 12 * * *"], "timeout": 2}],
    }
    path = folder / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path)


@pytest.fixture
def planned(tmp_path: Path, smtp_server: SmtpServer, fake_mastodon, monkeypatch: pytest.MonkeyPatch):
    """A config, a store with three announcements (published out of order) and two subscribers."""
    monkeypatch.setenv(TEST_SECRET_ENV, TEST_SECRET)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "masto-token")
    config = write_config(tmp_path, smtp_server.port, fake_mastodon.url)
    with Store.open(config.database_url(), create=True) as store:
        for number, published in ((1, date(2025, 3, 18)), (2, date(2025, 3, 20)), (3, date(2025, 3, 14))):
            quote = LONG_QUOTE if number == 2 else "Chaque jeune doit pouvoir compter sur nous."
            store.announcements.upsert_announcement(
                announcement(number, published, quote), announce=True, now=NOW - timedelta(1)
            )
        store.subscribers.add_subscriber("ana@example.org", name="Ana", lists=["main"], consent_source="test")
        store.subscribers.add_subscriber("bob@example.org", lists=["main"], consent_source="test")
        yield config, store, tmp_path


def html_part(message: email.message.EmailMessage) -> str:
    """The HTML part of a received digest, character references decoded."""
    part = message.get_body(("html",))
    assert part is not None
    return html.unescape(str(part.get_content())).replace("\u00a0", " ").replace("\u202f", " ")


def titles_in_order(page: str, titles: list[str]) -> list[str]:
    """`titles` sorted by where they first appear in `page`."""
    found = [title for title in titles if title in page]
    return sorted(found, key=page.index)


def test_the_previewed_digest_is_the_one_a_real_send_delivers(planned, smtp_server: SmtpServer) -> None:
    config, store, folder = planned
    summary = preview(config, store, folder / "preview", now=NOW).summary["digest"]
    when = datetime.fromisoformat(summary["scheduled_for"])
    assert when.isoformat() == "2025-03-24T09:00:00+01:00"
    previewed = [a["title"] for a in summary["announcements"]]
    assert previewed == [f"Annonce n°{n} : un nouveau dispositif pour les jeunes" for n in (2, 1, 3)], "newest first"

    plan = issue_to_send(config, store, "hebdo", when)
    assert plan.issue is not None
    report = send_digest(config, store, plan.issue, now=when)
    assert report.sent == 2

    eml = email.message_from_bytes((folder / "preview" / "digest.eml").read_bytes(), policy=email.policy.default)
    for received in smtp_server.handler.received:
        message = received.message()
        assert message["Subject"] == summary["subject"] == eml["Subject"]
        assert titles_in_order(html_part(message), previewed) == previewed
    assert titles_in_order(html_part(eml), previewed) == previewed


def test_the_previewed_posts_are_what_each_slot_publishes(planned, fake_mastodon) -> None:
    config, store, folder = planned
    result = preview(config, store, folder / "preview", now=NOW)
    posts = result.summary["posts"]
    assert len(posts) == 3
    assert [p["slot"] for p in posts] == ["2025-03-21T12:00:00+01:00", "2025-03-22T12:00:00+01:00",
                                          "2025-03-23T12:00:00+01:00"]
    threaded = [p for p in posts if len(p["parts"]) > 1]
    assert threaded, "the long quote is threaded, and the preview shows every part"
    for entry in posts:
        text = (folder / "preview" / entry["file"]).read_text(encoding="utf-8").rstrip("\n")
        assert text.split(THREAD_SEPARATOR) == entry["parts"]
        for card in entry["cards"]:
            image = folder / "preview" / card["file"]
            assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and card["alt_text"]

    for entry in posts:
        slot = datetime.fromisoformat(entry["slot"])
        before = len(fake_mastodon.calls("/api/v1/statuses"))
        queue_posts(config, store, slot)
        report = post_due(config, store, "masto", slot)
        assert report.sent == [entry["key"]]
        sent = [call.form()["status"][0] for call in fake_mastodon.calls("/api/v1/statuses")[before:]]
        assert sent == entry["parts"], "every thread part, in order, at the previewed slot"

    again = preview(config, store, folder / "again", now=NOW + timedelta(days=3))
    assert again.summary["posts"] == [], "posts already sent never appear as upcoming"
    assert json.loads((folder / "again" / "summary.json").read_text())["posts"] == []


def test_a_variant_that_fits_in_no_post_is_shown_with_its_reason(planned) -> None:
    config, store, folder = planned
    narrow = config.channels[0].model_copy(update={"thread": False, "limit": 60})
    config = config.model_copy(update={"channels": [narrow]})
    result = preview(config, store, folder / "preview", now=NOW)
    unfit = {item["announcement_id"]: item for item in result.summary["unfit_posts"]}
    long_one = unfit["annonce000000002"]  # one long sentence: no shorter quote, no figure to fall back on
    assert long_one["variant"] == "quote" and long_one["channel"] == "masto"
    assert "over the limit of 60" in long_one["reason"] and "thread: false" in long_one["reason"]
    posted = {post["announcement"] for post in result.summary["posts"]}
    assert not posted & set(unfit)
    assert posted | set(unfit) == {"annonce000000001", "annonce000000002", "annonce000000003"}
