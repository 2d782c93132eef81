"""Who may use the review pages: sign-in with a password, roles per action, throttling and lockout,
the Host check, HSTS, API tokens and the loopback-only open mode."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.routing import Route

from newsletter.config import load_config
from newsletter.core.errors import ConfigError
from newsletter.core.models import DeliveryStatus
from newsletter.pipeline.accounts import change_password, create_api_token, remove_user
from newsletter.pipeline.checks import check_config
from newsletter.store.ledger import Ledger
from newsletter.web.api import ENDPOINTS, PREFIX
from newsletter.web.app import create_app
from newsletter.web.auth import check_can_serve
from tests.fakes.review_env import (
    NOW,
    PASSWORD,
    SESSION_COOKIE,
    ReviewEnv,
    app_client,
    form_post,
    sign_in,
    write_config,
)
from tests.pipeline.test_actions import MASTO_POST, X_POST, audit, frozen_issue
from tests.web.test_api import concrete

REVIEW_PAGES = ["/upcoming", "/announcements", "/history", "/upcoming/digest/hebdo.html", "/calendar",
                "/digests/hebdo/edit"]
EDITOR_ACTIONS = {"/actions/edit", "/actions/pick-key", "/actions/edit-digest"}
APPROVER_ACTIONS = {"/actions/approve", "/actions/send-now", "/actions/post-now", "/actions/settle",
                    "/actions/retract", "/actions/skip", "/actions/test-send", "/actions/move", "/actions/undo-skip"}
ADMIN_ACTIONS = {"/subscribers/add", "/subscribers/remove", "/subscribers/import", "/subscribers/forget"}
ADMIN_PAGES = ["/subscribers", "/subscribers/export.csv", "/subscribers/1", "/subscribers/1/forget"]
# POST routes a visitor may use without an account: each is authorised by its own token, form or signature
# (the providers' webhooks: tests/web/test_webhooks.py).
PUBLIC_POSTS = {"/login", "/logout", "/subscribe", "/subscribe/confirm/{token}", "/unsubscribe/{token}",
                "/webhooks/ses", "/webhooks/brevo"}
FORM = {"email": "ana@example.org", "list": "main", "confirm": "yes",
        "target": X_POST, "text": "pirate", "digest": "hebdo", "address": "dehors@example.net", "sent": "yes",
        "kind": "quote", "index": "1", "slot": "2025-03-24T10:00:00+01:00", "op": "subject"}


def post_routes(env: ReviewEnv) -> set[str]:
    """Every POST path the app serves."""
    app = create_app(env.config, lambda: env.store)
    return {r.path for r in app.routes if isinstance(r, Route) and r.methods and "POST" in r.methods
            and not r.path.startswith(PREFIX)}  # the API's routes: tests/web/test_api.py


def unchanged(env: ReviewEnv) -> bool:
    """Nothing was approved, edited or recorded."""
    row = Ledger(env.store).get(X_POST)
    return row.status == DeliveryStatus.AWAITING_APPROVAL and "pirate" not in row.payload["text"] and not audit(env)


def test_every_post_route_is_public_by_design_or_needs_a_role(review_env: ReviewEnv) -> None:
    assert post_routes(review_env) == PUBLIC_POSTS | EDITOR_ACTIONS | APPROVER_ACTIONS | ADMIN_ACTIONS


def test_review_pages_and_actions_need_a_signed_in_user_even_on_loopback(review_env: ReviewEnv) -> None:
    with app_client(review_env.config) as anonymous:
        for path in REVIEW_PAGES:
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}", path
        csrf = anonymous.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        for path in sorted(EDITOR_ACTIONS | APPROVER_ACTIONS | ADMIN_ACTIONS):
            assert anonymous.post(path, data={"csrf_token": csrf, **FORM}).status_code == 401, path
        for path in ADMIN_PAGES:
            assert anonymous.get(path, follow_redirects=False).status_code == 303, path
        assert anonymous.get("/health").json() == {"ok": False}
    assert unchanged(review_env) and review_env.smtp.handler.received == []


def test_a_password_sign_in_names_the_user_in_the_audit_log(review_env: ReviewEnv) -> None:
    with app_client(review_env.config) as client:
        wrong = sign_in(client, "paul", "not the password")
        assert wrong.status_code == 401 and "Nom d&#39;utilisateur ou mot de passe incorrect" in wrong.text
        unknown = sign_in(client, "mallory", PASSWORD)
        assert unknown.status_code == 401 and unknown.text == wrong.text.replace('value="paul"', 'value="mallory"')
        assert client.get("/upcoming", follow_redirects=False).status_code == 303
        assert sign_in(client, "paul").headers["location"] == "/upcoming"
        assert "Connecté en tant que paul (validation)" in client.get("/upcoming").text
        assert form_post(client, "/actions/approve", {"target": X_POST}).status_code == 303
        assert form_post(client, "/logout", {}).headers["location"] == "/login"
        assert client.get("/upcoming", follow_redirects=False).status_code == 303
    assert audit(review_env) == [("paul", "post.approve", X_POST)]
    assert review_env.store.users.get_user("paul").last_login_at == NOW


@pytest.mark.parametrize("path", sorted(APPROVER_ACTIONS))
def test_an_editor_cannot_approve_send_post_skip_settle_or_retract(review_env: ReviewEnv, path: str) -> None:
    with review_env.client_as("edith") as editor:
        response = form_post(editor, path, FORM)
    assert response.status_code == 403 and "demande le rôle validation" in response.text
    assert unchanged(review_env) and review_env.smtp.handler.received == []
    assert Ledger(review_env.store).get(MASTO_POST).status == DeliveryStatus.PENDING


@pytest.mark.parametrize("name", ["edith", "paul"])
def test_only_an_admin_adds_removes_imports_forgets_or_exports_subscribers(review_env: ReviewEnv, name: str) -> None:
    with review_env.client_as(name) as other:
        for path in sorted(ADMIN_ACTIONS):
            response = form_post(other, path, FORM)
            assert response.status_code == 403 and "demande le rôle administration" in response.text, path
        for path in ADMIN_PAGES:
            assert other.get(path).status_code == 403, path
    ana = review_env.store.subscribers.get_subscriber("ana@example.org")
    assert ana is not None and ana.lists == ["main"] and not audit(review_env)


def test_an_editor_edits_and_an_approver_approves(review_env: ReviewEnv) -> None:
    with review_env.client_as("edith") as editor:
        edited = form_post(editor, "/actions/edit", {"target": X_POST, "text": "Relu par la rédaction"})
        assert edited.status_code == 303
    with review_env.client_as("paul") as approver:
        assert form_post(approver, "/actions/approve", {"target": X_POST}).status_code == 303
    assert [(actor, action) for actor, action, _ in audit(review_env)] == [("paul", "post.approve"),
                                                                           ("edith", "post.edit")]


def test_a_forged_host_is_refused_even_with_a_session(review_env: ReviewEnv) -> None:
    for base in ["http://evil.example", "http://rebound.attacker.example:8080"]:
        with review_env.admin_client(base_url=base) as client:
            assert client.get("/upcoming").status_code == 400
            assert client.get("/login").status_code == 400
            for path in sorted(EDITOR_ACTIONS | APPROVER_ACTIONS):
                assert client.post(path, data=FORM).status_code == 400, path
            for page in REVIEW_PAGES:
                assert client.get(page).status_code == 400, page
            token = {"Authorization": f"Bearer {create_api_token(review_env.store, 'alice', 'tests', NOW)}"}
            for endpoint in ENDPOINTS:
                path = PREFIX + concrete(endpoint.path)
                assert client.request(endpoint.method, path, json={}, headers=token).status_code == 400, path
    assert review_env.client.get("/upcoming").status_code == 200
    assert unchanged(review_env)


def test_a_forged_host_is_refused_on_every_post_route(review_env: ReviewEnv) -> None:
    with review_env.admin_client(base_url="http://evil.example") as client:
        for path in sorted(post_routes(review_env)):
            assert client.post(path.replace("{token}", "x"), data=FORM).status_code == 400, path
        assert client.get("/r/AAAAAAAAAAAAAAAAAAAAAA").status_code == 400
    assert unchanged(review_env) and review_env.store.subscribers.get_subscriber("ana@example.org") is not None


def test_sign_in_failures_are_throttled_per_client(review_env: ReviewEnv) -> None:
    with app_client(review_env.config, client_address="198.51.100.7") as guesser:
        refused = [sign_in(guesser, "paul", f"guess-{n}").status_code for n in range(10)]
        throttled = sign_in(guesser, "edith")  # even the right password waits
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        assert "réessayez dans 10 min" in throttled.text
    assert refused == [401] * 10
    with app_client(review_env.config, client_address="198.51.100.8") as other:
        assert sign_in(other, "edith").status_code == 303
    with app_client(review_env.config, client_address="198.51.100.7",
                    now=NOW + timedelta(minutes=11)) as later:  # a new process: the window starts again
        assert sign_in(later, "edith").status_code == 303


def test_repeated_failures_lock_the_account_until_it_expires_or_the_password_changes(review_env: ReviewEnv) -> None:
    for n in range(5):
        with app_client(review_env.config, client_address=f"203.0.113.{n}") as client:
            sign_in(client, "paul", "wrong password")
    with app_client(review_env.config, client_address="203.0.113.99") as client:
        locked = sign_in(client, "paul")
        assert locked.status_code == 401 and "bloqué jusqu&#39;à" in locked.text
    assert review_env.store.users.get_user("paul").locked(NOW)
    with app_client(review_env.config, now=NOW + timedelta(minutes=16)) as later:
        assert sign_in(later, "paul").status_code == 303
    for n in range(5):
        with app_client(review_env.config, client_address=f"203.0.113.{n}") as client:
            sign_in(client, "paul", "wrong password")
    change_password(review_env.store, "paul", "a brand new passphrase")
    with app_client(review_env.config) as client:
        assert sign_in(client, "paul", "a brand new passphrase").status_code == 303


def test_a_password_change_or_removal_ends_open_sessions(review_env: ReviewEnv) -> None:
    with review_env.client_as("paul") as paul, review_env.client_as("edith") as edith:
        assert paul.get("/upcoming").status_code == 200 and edith.get("/upcoming").status_code == 200
        change_password(review_env.store, "paul", "another long passphrase")
        remove_user(review_env.store, "edith")
        assert paul.get("/upcoming", follow_redirects=False).status_code == 303
        assert edith.get("/upcoming", follow_redirects=False).status_code == 303


def test_api_tokens_act_as_their_user(review_env: ReviewEnv) -> None:
    token = create_api_token(review_env.store, "edith", "script", NOW)
    with app_client(review_env.config) as script:
        assert script.get("/upcoming", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        for wrong in [token[:-1] + "x", "nl_guess", ""]:
            response = script.get("/upcoming", headers={"Authorization": f"Bearer {wrong}"}, follow_redirects=False)
            assert response.status_code in (401, 303) and "Prochains envois" not in response.text
    remove_user(review_env.store, "edith")
    with app_client(review_env.config) as script:
        assert script.get("/upcoming", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_https_deployments_get_hsts_and_secure_cookies(review_env: ReviewEnv) -> None:
    config = load_config(write_config(review_env.folder, review_env.smtp, public_base_url="https://lettre.example.org"))
    with app_client(config, base_url="https://lettre.example.org") as client:
        response = client.get("/login")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "secure" in response.headers["set-cookie"].lower()
        assert app_client(config, base_url="https://127.0.0.1").get("/login").status_code == 400
    assert "strict-transport-security" not in review_env.client.get("/login").headers


def test_the_open_workspace_is_loopback_only(review_env: ReviewEnv) -> None:
    opened = load_config(write_config(review_env.folder, review_env.smtp, review={"open": True}))
    with app_client(opened) as client:
        assert client.get("/upcoming").status_code == 200
        assert form_post(client, "/actions/approve", {"target": X_POST}).status_code == 303
    assert audit(review_env) == [("web", "post.approve", X_POST)]
    assert check_config(opened).problems == []
    check_can_serve(opened, "127.0.0.1")
    with pytest.raises(ConfigError, match=r"review\.open"):
        check_can_serve(opened, "0.0.0.0")
    public = load_config(write_config(review_env.folder, review_env.smtp, review={"open": True},
                                      public_base_url="https://lettre.example.org"))
    assert any(p.startswith("review.open:") for p in check_config(public).problems)
    with pytest.raises(ConfigError, match=r"review\.open"):
        check_can_serve(public, "127.0.0.1")


def test_the_session_cookie_is_signed(review_env: ReviewEnv) -> None:
    with app_client(review_env.config) as client:
        client.cookies.set(SESSION_COOKIE, review_env.admin_cookie[:-4] + "AAAA")
        assert client.get("/upcoming", follow_redirects=False).status_code == 303


def test_pages_offer_each_user_only_the_actions_their_role_allows(review_env: ReviewEnv) -> None:
    frozen_issue(review_env)
    with review_env.client_as("edith") as editor:
        page = "".join(editor.get(path).text for path in ("/upcoming", "/announcements", "/calendar",
                                                           "/digests/hebdo/edit"))
    assert 'action="/actions/edit"' in page and 'action="/actions/pick-key"' in page
    assert 'action="/actions/edit-digest"' in page
    absent = {"/actions/settle", "/actions/retract", "/actions/undo-skip"}  # nothing is in doubt or skipped here
    for path in APPROVER_ACTIONS - absent:
        assert f'action="{path}"' not in page, path
    admin_page = "".join(review_env.client.get(path).text for path in ("/upcoming", "/announcements", "/calendar"))
    for path in APPROVER_ACTIONS - absent:
        assert f'action="{path}"' in admin_page, path
