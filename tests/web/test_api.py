"""The REST API over real HTTP (uvicorn on loopback): per-user API tokens, roles, the actions the
pages offer, pagination and the OpenAPI description built from the same routes."""

from __future__ import annotations

import httpx
import pytest

from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.accounts import create_api_token
from newsletter.store import DigestIssueStatus
from newsletter.store.ledger import Ledger
from newsletter.web.api import ENDPOINTS, PREFIX
from tests.fakes.review_env import NOW, ReviewEnv
from tests.pipeline.test_actions import MASTO_POST, X_POST, audit, frozen_issue


@pytest.fixture
def api(served: str, review_env: ReviewEnv) -> dict[str, httpx.Client]:
    """An HTTP client per user, each with its own API token."""
    clients = {}
    for name in ("alice", "paul", "edith"):
        token = create_api_token(review_env.store, name, "tests", NOW)
        clients[name] = httpx.Client(base_url=served + PREFIX, headers={"Authorization": f"Bearer {token}"},
                                     timeout=10)
    return clients


EDITOR_MAY = {"/posts/{key}/edit", "/digests/{name}/edit"}  # besides reading
ADMIN_ONLY = {"/subscribers", "/subscribers/{email}"}


def concrete(path: str) -> str:
    return (path.replace("{id}", "apprentissage").replace("{key}", X_POST).replace("{email}", "ana@example.org")
            .replace("{name}", "hebdo"))


def test_every_endpoint_needs_a_valid_token_and_the_right_role(
        served: str, api: dict[str, httpx.Client], review_env: ReviewEnv) -> None:
    anonymous = httpx.Client(base_url=served + PREFIX, timeout=10)
    forged = httpx.Client(base_url=served + PREFIX, headers={"Authorization": "Bearer nl_forged"}, timeout=10)
    for endpoint in ENDPOINTS:
        path = concrete(endpoint.path)
        for client in (anonymous, forged):
            response = client.request(endpoint.method, path, json={})
            assert response.status_code == 401 and "error" in response.json(), (endpoint.path, response.text)
        editor_refused = (endpoint.method != "GET" and endpoint.path not in EDITOR_MAY) or endpoint.path in ADMIN_ONLY
        if editor_refused:
            assert api["edith"].request(endpoint.method, path, json={}).status_code == 403, endpoint.path
        if endpoint.path in ADMIN_ONLY:
            assert api["paul"].request(endpoint.method, path, json={}).status_code == 403, endpoint.path
    # a signed-in browser session is not enough: no page can be made to call the API
    cookie = {"newsletter_session": review_env.admin_cookie}
    assert httpx.get(served + PREFIX + "/approvals", cookies=cookie).status_code == 401
    assert Ledger(review_env.store).get(X_POST).status == DeliveryStatus.AWAITING_APPROVAL
    assert audit(review_env) == [] and review_env.smtp.handler.received == []


def test_approvals_edit_approve_and_skip_a_post(api: dict[str, httpx.Client], review_env: ReviewEnv) -> None:
    waiting = api["edith"].get("/approvals").json()
    waiting_keys = {post["key"] for post in waiting["posts"]}
    assert X_POST in waiting_keys and MASTO_POST not in waiting_keys  # only x-main needs approval
    assert {post["channel"] for post in waiting["posts"]} == {"x-main"} and all(p["text"] for p in waiting["posts"])
    edited = api["edith"].post(f"/posts/{X_POST}/edit", json={"text": "Relu par la rédaction"})
    assert edited.status_code == 200 and "edited" in edited.json()["summary"]
    too_long = api["edith"].post(f"/posts/{X_POST}/edit", json={"text": "é" * 281})
    assert too_long.status_code == 400 and "over the limit" in too_long.json()["error"]
    assert api["edith"].post(f"/posts/{X_POST}/edit", json={"txt": "x"}).json()["error"].startswith("body.text")
    assert api["paul"].post(f"/posts/{X_POST}/approve").status_code == 200
    again = api["paul"].post(f"/posts/{X_POST}/approve")
    assert again.status_code == 400 and "not awaiting approval" in again.json()["error"]
    assert api["paul"].post(f"/posts/{MASTO_POST}/skip", json={"reason": "doublon"}).status_code == 200
    post = api["edith"].get(f"/posts/{X_POST}").json()
    assert post["status"] == "pending" and post["text"] == "Relu par la rédaction"
    assert api["edith"].get("/posts/post:nope:quote:x-main").status_code == 404
    assert [(actor, action) for actor, action, _ in audit(review_env)] == [
        ("paul", "post.skip"), ("paul", "post.approve"), ("edith", "post.edit")]


def test_an_issue_is_approved_and_sent_through_the_api(api: dict[str, httpx.Client], review_env: ReviewEnv) -> None:
    issue_id = frozen_issue(review_env)
    listed = api["edith"].get("/issues").json()
    assert [item["id"] for item in listed["items"]] == [issue_id] and listed["items"][0]["status"] == (
        "awaiting_approval")
    sent = api["paul"].post(f"/issues/{issue_id}/send-now")
    assert sent.status_code == 200 and sent.json()["sent"] == 2
    assert sorted(r.rcpt_tos[0] for r in review_env.smtp.handler.received) == ["ana@example.org", "bob@example.org"]
    issue = api["edith"].get(f"/issues/{issue_id}").json()
    assert issue["status"] == str(DigestIssueStatus.SENT) and issue["deliveries"]["sent"] == 2
    assert issue["approved_by"] == "paul"


def test_announcements_and_subscribers_are_paged(api: dict[str, httpx.Client], review_env: ReviewEnv) -> None:
    first = api["edith"].get("/announcements", params={"limit": 2}).json()
    rest = api["edith"].get("/announcements", params={"limit": 2, "offset": 2}).json()
    assert first["total"] == 3 and len(first["items"]) == 2 and len(rest["items"]) == 1
    ids = [a["id"] for a in first["items"] + rest["items"]]
    assert sorted(ids) == ["apprentissage", "emploi-jeunes", "hostile"]
    one = api["edith"].get("/announcements/apprentissage").json()
    assert one["quotes"][0]["speaker"] == "Astrid Martin" and one["figures"][0]["about"] == "contrats signés"
    assert api["edith"].get("/announcements", params={"limit": 0}).status_code == 400
    added = api["alice"].post("/subscribers", json={"email": "Chloe@Example.org", "lists": ["main"]})
    assert added.status_code == 200 and added.json()["email"] == "chloe@example.org"
    bad = api["alice"].post("/subscribers", json={"email": "pas-une-adresse"})
    assert bad.status_code == 400
    page = api["alice"].get("/subscribers", params={"list": "main", "limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    removed = api["alice"].delete("/subscribers/bob@example.org")
    assert removed.status_code == 200 and removed.json()["status"] == "unsubscribed"
    assert api["alice"].get("/subscribers", params={"list": "main"}).json()["total"] == 2
    assert review_env.store.audit.list_actions()[0].actor == "alice"


def test_the_openapi_description_lists_every_endpoint(served: str) -> None:
    spec = httpx.get(f"{served}{PREFIX}/openapi.json").json()
    assert spec["openapi"].startswith("3.") and spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    described = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert described == {(e.method, PREFIX + e.path) for e in ENDPOINTS}
    edit = spec["paths"][f"{PREFIX}/posts/{{key}}/edit"]["post"]
    assert edit["requestBody"]["content"]["application/json"]["schema"]["properties"]["text"]["type"] == "string"


def test_a_post_is_moved_skipped_and_brought_back_and_a_digest_edited(
        api: dict[str, httpx.Client], review_env: ReviewEnv) -> None:
    moved = api["paul"].post(f"/posts/{MASTO_POST}/move", json={"slot": "2025-03-23T12:00:00+01:00"})
    assert moved.status_code == 200 and moved.json()["summary"].endswith("goes out at 2025-03-23T12:00:00+01:00")
    assert api["paul"].post(f"/posts/{MASTO_POST}/move", json={}).json()["error"].startswith("body.slot")
    assert api["paul"].post(f"/posts/{MASTO_POST}/skip").status_code == 200
    assert api["paul"].post(f"/posts/{MASTO_POST}/undo-skip").status_code == 200
    assert api["edith"].get(f"/posts/{MASTO_POST}").json()["status"] == "pending"
    before = api["edith"].get("/digests/hebdo/next").json()
    assert before["status"] == "planned" and before["announcements"] == ["apprentissage", "hostile", "emploi-jeunes"]
    edited = api["edith"].post("/digests/hebdo/edit", json={"op": "down", "announcement": "apprentissage"})
    assert edited.status_code == 200
    after = api["edith"].get("/digests/hebdo/next").json()
    assert after["status"] == "approved" and after["announcements"] == ["hostile", "apprentissage", "emploi-jeunes"]
    bad = api["edith"].post("/digests/hebdo/edit", json={"op": "shuffle"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("body.op: one of up, down")
    assert api["edith"].get("/digests/nope/next").status_code == 404
    assert [action for _, action, _ in audit(review_env)][:4] == [
        "digest.edit", "digest.record_next", "post.undo_skip", "post.skip"]
