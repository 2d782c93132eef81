"""The results of an issue on the History page and its own page; click counts only when
`tracking.clicks` is on."""

from __future__ import annotations

from datetime import timedelta

from newsletter.pipeline.plan import freeze_issue
from tests.fakes.review_env import NOW, ReviewEnv, app_client
from tests.pipeline.test_clicks import ARTICLE, tracking_env
from tests.pipeline.test_results import sent_issue


def test_history_links_each_issue_to_its_results(review_env: ReviewEnv) -> None:
    issue_id = sent_issue(review_env, NOW, {"ana@example.org": "sent", "bob@example.org": "550 no such user"})
    ana = review_env.store.subscribers.get_subscriber("ana@example.org")
    review_env.store.subscribers.leave_lists(ana.id, ["main"], NOW + timedelta(hours=2))
    history = review_env.client.get("/history").text
    row = history.split(f'data-issue="{issue_id}"')[1].split("</tr>")[0]
    assert '<td class="n-unsubscribes">1</td>' in row and f'href="/history/issues/{issue_id}"' in row
    assert "clics" not in history
    with review_env.client_as("edith") as editor:
        page = editor.get(f"/history/issues/{issue_id}").text
    assert '<dd class="n-delivered">1</dd>' in page and '<dd class="n-failed">1</dd>' in page
    assert '<dd class="n-unsubscribes">1</dd>' in page and "Résultats" in page
    assert 'class="clicks"' not in page
    assert review_env.client.get("/history/issues/nope").status_code == 404


def test_clicks_per_link_show_when_counting_is_on(review_env: ReviewEnv) -> None:
    env = tracking_env(review_env)
    frozen = freeze_issue(env.store, env.config, env.config.digest("hebdo"), NOW)
    assert frozen is not None
    token = next(token for token, url in frozen.tracked_links if url.startswith(ARTICLE))
    with env.admin_client() as admin:
        admin.get(f"/r/{token}", follow_redirects=False)
        admin.get(f"/r/{token}", follow_redirects=False)
        page = admin.get(f"/history/issues/{frozen.issue_id}").text
        assert "<th>clics</th>" in admin.get("/history").text
    rows = page.split('<table class="clicks">')[1].split("</table>")[0]
    assert f"<td>{ARTICLE}" in rows and '<td class="n-clicks">2</td>' in rows
    with app_client(review_env.config) as anonymous:  # the page itself needs a signed-in user
        assert anonymous.get(f"/history/issues/{frozen.issue_id}", follow_redirects=False).status_code == 303
