"""The review app's posting actions against a loopback Mastodon: post now, and the posts in doubt
(claimed or uncertain) shown with their accepted parts, settled or retracted from the page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from newsletter.config import load_config
from newsletter.core.models import DeliveryStatus
from newsletter.store.ledger import Ledger
from tests.fakes.daemon_env import WebhookReceiver
from tests.fakes.review_env import NOW, ReviewEnv, write_config
from tests.fakes.social_apis import FakeMastodon
from tests.pipeline.test_actions import MASTO_POST

STATUSES = "/api/v1/statuses"


@pytest.fixture
def masto_env(review_env: ReviewEnv, fake_mastodon: FakeMastodon, webhook: WebhookReceiver,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[ReviewEnv]:
    """The review app with its Mastodon channel on the loopback fake and alerts to a webhook."""
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", fake_mastodon.token)
    channels = [{**c, "base_url": fake_mastodon.url, "timeout": 2} if c["type"] == "mastodon" else c
                for c in _channels(review_env)]
    config = load_config(write_config(review_env.folder, review_env.smtp, channels=channels,
                                      alerts={"webhook_url": webhook.url}))
    with review_env.admin_client(config) as client:
        yield replace(review_env, config=config, client=client)


def _channels(env: ReviewEnv) -> list[dict]:
    return [channel.model_dump(exclude_defaults=True) | {"type": channel.type, "name": channel.name}
            for channel in env.config.channels]


def test_post_now_publishes_a_queued_post_before_its_slot_once(masto_env: ReviewEnv,
                                                               fake_mastodon: FakeMastodon) -> None:
    page = masto_env.client.get("/upcoming").text
    assert 'action="/actions/post-now"' in page and "Publier maintenant" in page
    response = masto_env.post("/actions/post-now", {"target": MASTO_POST})
    assert response.status_code == 303
    assert len(fake_mastodon.calls(STATUSES)) == 1
    row = Ledger(masto_env.store).get(MASTO_POST)
    assert row.status is DeliveryStatus.SENT and row.provider_id == fake_mastodon.objects[row.provider_id]["id"]
    assert row.provider_url in masto_env.client.get("/upcoming").text  # the flash names the published post
    again = masto_env.post("/actions/post-now", {"target": MASTO_POST})
    assert again.status_code == 400 and "rien à publier (état : envoyé)" in again.text
    assert MASTO_POST not in again.text  # named by its channel and title, not its key
    assert len(fake_mastodon.calls(STATUSES)) == 1, "never posted twice"
    assert [a.action for a in masto_env.store.audit.list_actions()][:1] == ["post.post_now"]


def test_post_now_with_refused_credentials_pauses_and_alerts(masto_env: ReviewEnv, fake_mastodon: FakeMastodon,
                                                             webhook: WebhookReceiver,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "revoked")
    masto_env.post("/actions/post-now", {"target": MASTO_POST})
    assert webhook.kinds() == ["channel_paused"]
    assert Ledger(masto_env.store).get(MASTO_POST).status is DeliveryStatus.PENDING
    assert masto_env.store.audit.channel_pause("masto")[0]


def _cut_thread(env: ReviewEnv, fake_mastodon: FakeMastodon) -> str:
    """Make the Mastodon post an uncertain two-part thread whose first part the fake accepted."""
    ledger = Ledger(env.store)
    row = ledger.get(MASTO_POST)
    payload = {**row.payload, "thread": ["Deuxième partie du fil"]}
    ledger.update_payload(MASTO_POST, payload, only_in=(DeliveryStatus.PENDING,), now=NOW)
    fake_mastodon.objects["777"] = {"id": "777", "url": f"{fake_mastodon.url}/@fake/777"}
    assert ledger.claim(MASTO_POST, NOW)
    ledger.record_parts(MASTO_POST, ["777"], f"{fake_mastodon.url}/@fake/777")
    ledger.mark_uncertain(MASTO_POST, "the status request lost its answer", now=NOW)
    return "777"


def test_uncertain_posts_are_shown_with_their_parts_and_can_be_retracted(masto_env: ReviewEnv,
                                                                         fake_mastodon: FakeMastodon) -> None:
    first = _cut_thread(masto_env, fake_mastodon)
    page = masto_env.client.get("/upcoming").text
    assert "En cours ou à vérifier" in page and f'data-key="{MASTO_POST}" data-status="uncertain"' in page
    assert "Parties acceptées : 1" in page and "the status request lost its answer" in page
    assert all(f'action="/actions/{a}"' in page for a in ("settle", "retract"))
    response = masto_env.post("/actions/retract", {"target": MASTO_POST})
    assert response.status_code == 303
    assert [r.path for r in fake_mastodon.calls(STATUSES, "DELETE")] == [f"{STATUSES}/{first}"]
    assert Ledger(masto_env.store).get(MASTO_POST).status is DeliveryStatus.DELETED
    assert f'data-key="{MASTO_POST}" data-status="uncertain"' not in masto_env.client.get("/upcoming").text


def test_a_cut_thread_resumed_from_the_page_posts_only_the_rest(masto_env: ReviewEnv,
                                                                fake_mastodon: FakeMastodon) -> None:
    first = _cut_thread(masto_env, fake_mastodon)
    assert masto_env.post("/actions/settle", {"target": MASTO_POST, "sent": "no"}).status_code == 303
    assert Ledger(masto_env.store).get(MASTO_POST).status is DeliveryStatus.PENDING
    assert masto_env.post("/actions/post-now", {"target": MASTO_POST}).status_code == 303
    (reply,) = fake_mastodon.calls(STATUSES)
    assert reply.form()["in_reply_to_id"] == [first] and "Deuxième partie" in reply.form()["status"][0]
    row = Ledger(masto_env.store).get(MASTO_POST)
    assert row.status is DeliveryStatus.SENT and row.provider_id.split(",")[0] == first


def test_settle_as_sent_keeps_the_accepted_ids(masto_env: ReviewEnv, fake_mastodon: FakeMastodon) -> None:
    first = _cut_thread(masto_env, fake_mastodon)
    assert masto_env.post("/actions/settle", {"target": MASTO_POST, "sent": "yes"}).status_code == 303
    row = Ledger(masto_env.store).get(MASTO_POST)
    assert row.status is DeliveryStatus.SENT and row.provider_id == first
    again = masto_env.post("/actions/settle", {"target": MASTO_POST, "sent": "yes"})
    assert again.status_code == 400 and "elle n&#39;est pas incertaine (état : envoyé), rien à trancher." in again.text
    assert fake_mastodon.calls(STATUSES) == []


def _alert(page: str) -> str:
    return page.split('role="alert">')[1].split("</p>")[0]


def test_a_service_failing_a_retraction_is_told_in_the_interface_language(masto_env: ReviewEnv,
                                                                          fake_mastodon: FakeMastodon) -> None:
    first = _cut_thread(masto_env, fake_mastodon)
    fake_mastodon.fail(f"{STATUSES}/{first}", 422)
    refused = masto_env.post("/actions/retract", {"target": MASTO_POST})
    assert refused.status_code == 400
    assert _alert(refused.text) == ('Le service a refusé la demande. '
                                    '<small lang="en">channel masto: HTTP 422 fake 422</small>')
    fake_mastodon.fail(f"{STATUSES}/{first}", 401)
    masto_env.client.get("/lang/en?next=/upcoming")
    refused = masto_env.post("/actions/retract", {"target": MASTO_POST})
    alert = _alert(refused.text)
    assert alert.startswith("The service refused the channel&#39;s credentials: the request did not go through. "
                            '<small lang="en">') and "401" in alert
    assert Ledger(masto_env.store).get(MASTO_POST).provider_id == first, "nothing retracted, the part still known"


def test_retracting_a_post_never_published_is_refused_in_the_interface_language(
        masto_env: ReviewEnv, fake_mastodon: FakeMastodon) -> None:
    refused = masto_env.post("/actions/retract", {"target": MASTO_POST})
    assert refused.status_code == 400 and "rien à retirer du réseau (état : en file d&#39;attente)" in refused.text
    assert Ledger(masto_env.store).get(MASTO_POST).status is DeliveryStatus.PENDING
    assert fake_mastodon.calls(STATUSES) == []
