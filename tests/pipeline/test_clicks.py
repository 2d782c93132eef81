"""Click counting (`tracking.clicks`): off by default; on, the one render points the digest's
links at first-party redirects recorded with the issue, so the preview, the recorded issue and
the messages sent carry the same links, and the redirect leads only to a recorded link."""

from __future__ import annotations

import email
import re
from email.message import Message

from newsletter.config import load_config
from newsletter.pipeline.plan import freeze_issue, plan_digest
from newsletter.pipeline.sending import send_digest
from tests.fakes.review_env import NOW, ReviewEnv, app_client, form_post, write_config

REDIRECT = re.compile(r"http://127\.0\.0\.1:8080/r/[A-Za-z0-9_-]{22}")
ARTICLE = "https://ministere.example.org/communiques/apprentissage"


def _html(received: bytes) -> str:
    message: Message = email.message_from_bytes(received)
    parts = [p for p in message.walk() if p.get_content_type() == "text/html"]
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(parts[0].get_content_charset() or "utf-8")


def tracking_env(env: ReviewEnv) -> ReviewEnv:
    """The same environment with `tracking.clicks: true`."""
    config = load_config(write_config(env.folder, env.smtp, tracking={"clicks": True}))
    return ReviewEnv(config, env.store, env.client, env.smtp, env.folder, env.admin_cookie)


def test_links_are_not_rewritten_by_default(review_env: ReviewEnv) -> None:
    plan = plan_digest(review_env.config, review_env.store, review_env.config.digest("hebdo"), NOW, send_at=NOW)
    assert plan.digest is not None and plan.digest.tracked_links == []
    assert "/r/" not in plan.digest.html and ARTICLE in plan.digest.html


def test_preview_recorded_issue_and_sent_messages_carry_the_same_counted_links(review_env: ReviewEnv) -> None:
    env = tracking_env(review_env)
    digest = env.config.digest("hebdo")
    preview = plan_digest(env.config, env.store, digest, NOW, send_at=NOW).digest
    assert preview is not None
    previewed = REDIRECT.findall(preview.html)
    assert previewed and ARTICLE not in preview.html and ARTICLE not in preview.text
    frozen = freeze_issue(env.store, env.config, digest, NOW)
    assert frozen is not None and REDIRECT.findall(frozen.html) == previewed
    env.store.issues.set_digest_issue_status(frozen.issue_id, "approved")
    send_digest(env.config, env.store, frozen.issue_id, now=NOW)
    received = env.smtp.handler.received
    assert len(received) == 2
    for message in received:
        assert REDIRECT.findall(_html(message.data)) == previewed
        assert "%%NL_" not in _html(message.data) and "/unsubscribe/v1." in _html(message.data)
    article_token = next(token for token, url in frozen.tracked_links if url.startswith(ARTICLE))
    with app_client(env.config) as reader:
        for _ in range(3):
            followed = reader.get(f"/r/{article_token}", follow_redirects=False)
            assert followed.status_code == 302 and followed.headers["location"].startswith(ARTICLE)
        assert reader.get("/r/AAAAAAAAAAAAAAAAAAAAAA", follow_redirects=False).status_code == 404
        assert reader.get("/r/https:%2F%2Fevil.example", follow_redirects=False).status_code == 404
    clicks = {link.url: link.clicks for link in env.store.clicks.clicks_of(frozen.issue_id)}
    assert clicks[next(url for url in clicks if url.startswith(ARTICLE))] == 3 and sum(clicks.values()) == 3


def test_the_links_of_a_test_copy_lead_somewhere_before_the_issue_is_recorded(review_env: ReviewEnv) -> None:
    env = tracking_env(review_env)
    with env.admin_client() as admin:
        sent = form_post(admin, "/actions/test-send", {"digest": "hebdo", "address": "relecture@example.org"})
        assert sent.status_code == 303
        links = REDIRECT.findall(_html(env.smtp.handler.received[0].data))
        assert links and env.store.issues.list_digest_issues() == []
        followed = admin.get(links[1].removeprefix("http://127.0.0.1:8080"), follow_redirects=False)
    assert followed.status_code == 302 and followed.headers["location"].startswith("https://ministere.example.org/")
