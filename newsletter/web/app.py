"""The Starlette application: routes, signed-cookie sessions, security headers, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.config import Config, is_loopback
from newsletter.core.i18n import translator
from newsletter.store import Store, utcnow
from newsletter.web import api
from newsletter.web.api import PREFIX as API_PREFIX
from newsletter.web.auth import Forbidden, NotSignedIn, bearer, current_reviewer, session_secret
from newsletter.web.common import STATIC_DIR, WebState, build_templates, locale, render, web_state
from newsletter.web.csrf import CsrfError
from newsletter.web.pages import (
    announcements,
    archive,
    calendar,
    clicks,
    digest_editor,
    health,
    history,
    public_announcement,
    review,
    session,
    subscriber_admin,
    subscribers,
    upcoming,
    webhooks,
)
from newsletter.web.throttle import SlidingWindow

SESSION_COOKIE = "newsletter_session"
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1"]
HSTS = b"max-age=31536000"
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-src 'self'; "
            "frame-ancestors 'self'; form-action 'self'; base-uri 'none'")
SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"x-frame-options": b"SAMEORIGIN",
}


class SecurityHeaders:
    """Adds nosniff, referrer and framing headers to every response, and a strict CSP to pages
    that do not set their own."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False):
        self.app = app
        self.extra = [(b"strict-transport-security", HSTS)] if hsts else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                headers += self.extra
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", PAGE_CSP.encode("ascii")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def not_signed_in(request: Request, exc: Exception) -> Response:
    """Browsers go to the sign-in page; scripts (API tokens, posts) get 401."""
    if request.method == "GET" and bearer(request) is None and not request.url.path.startswith(API_PREFIX):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return JSONResponse({"error": "sign in first (or send Authorization: Bearer <API token>)"}, status_code=401)


async def forbidden(request: Request, exc: Exception) -> Response:
    """A signed-in user whose role does not allow the action: 403, saying which role it needs."""
    required = exc.required if isinstance(exc, Forbidden) else None
    state = web_state(request)
    reviewer = current_reviewer(request, state.config, state.store)
    if bearer(request) is not None or request.url.path.startswith(API_PREFIX):
        return JSONResponse({"error": f"your role does not allow this: it needs {required}"}, status_code=403)
    t = translator(locale(request))
    text = t("forbidden", role=t(f"role_{reviewer.role}") if reviewer else "", required=t(f"role_{required}"))
    return render(request, "error.html", {"error": text, "back": "/upcoming"}, status_code=403)


async def csrf_failed(request: Request, exc: Exception) -> Response:
    """A form without this session's CSRF token."""
    return render(request, "message.html", {"title_key": "error_title", "text_key": "csrf_failed"}, status_code=403)


async def http_error(request: Request, exc: Exception) -> Response:
    """Error pages in the interface language."""
    status_code = exc.status_code if isinstance(exc, HTTPException) else 500
    key = "not_found" if status_code == 404 else "error_title"
    return render(request, "message.html", {"title_key": "error_title", "text_key": key}, status_code=status_code)


def allowed_hosts(config: Config) -> list[str]:
    """The Host headers the app answers: the public URL's host (and loopback names when that host
    is loopback), so a rebound DNS name or a forged Host gets 400."""
    host = urlsplit(config.public_base_url).hostname or ""
    return [host, *LOOPBACK_NAMES] if is_loopback(host) else [host]


def create_app(
    config: Config,
    store_factory: Callable[[], Store],
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The review web app for `config`; the store is opened on first use and closed at shutdown."""
    settings = config.review
    throttle = SlidingWindow(settings.login_attempts_per_client, timedelta(minutes=settings.login_window_minutes))
    state = WebState(config, store_factory, clock, build_templates(), throttle)
    https = config.public_base_url.startswith("https://")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    routes = [
        *upcoming.routes, *review.routes, *announcements.routes, *public_announcement.routes, *history.routes,
        *archive.routes, *calendar.routes, *digest_editor.routes,
        *subscribers.routes, *health.routes, *session.routes, *api.routes, *webhooks.routes,
        *subscriber_admin.routes, *clicks.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(config)),
        Middleware(SecurityHeaders, hsts=https),
        Middleware(SessionMiddleware, secret_key=session_secret(config), session_cookie=SESSION_COOKIE,
                   max_age=settings.session_hours * 3600, same_site="lax", https_only=https),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={NotSignedIn: not_signed_in, Forbidden: forbidden, CsrfError: csrf_failed,
                            HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.web = state
    return app
