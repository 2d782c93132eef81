"""The Starlette application: routes, signed-cookie sessions, security headers, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.config import Config
from newsletter.store import Store, utcnow
from newsletter.web.auth import NotSignedIn, bearer, review_token, session_secret
from newsletter.web.common import STATIC_DIR, WebState, build_templates, render
from newsletter.web.csrf import CsrfError
from newsletter.web.pages import (
    announcements,
    archive,
    health,
    history,
    public_announcement,
    review,
    session,
    subscribers,
    upcoming,
)

SESSION_COOKIE = "newsletter_session"
SESSION_MAX_AGE = 12 * 3600
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

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", PAGE_CSP.encode("ascii")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def not_signed_in(request: Request, exc: Exception) -> Response:
    """Browsers go to the sign-in page; scripts (bearer tokens, posts) get 401."""
    if request.method == "GET" and bearer(request) is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return JSONResponse({"error": "sign in first (or send Authorization: Bearer <token>)"}, status_code=401)


async def csrf_failed(request: Request, exc: Exception) -> Response:
    """A form without this session's CSRF token."""
    return render(request, "message.html", {"title_key": "error_title", "text_key": "csrf_failed"}, status_code=403)


async def http_error(request: Request, exc: Exception) -> Response:
    """Error pages in the interface language."""
    status_code = exc.status_code if isinstance(exc, HTTPException) else 500
    key = "not_found" if status_code == 404 else "error_title"
    return render(request, "message.html", {"title_key": "error_title", "text_key": key}, status_code=status_code)


def create_app(
    config: Config,
    store_factory: Callable[[], Store],
    *,
    clock: Callable[[], datetime] = utcnow,
    token: str | None = None,
) -> Starlette:
    """The review web app for `config`; the store is opened on first use and closed at shutdown.
    `token` defaults to the review token from the environment (`review.token_env`)."""
    token = token if token is not None else review_token(config)
    state = WebState(config, store_factory, clock, token, build_templates())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    routes = [
        *upcoming.routes, *review.routes, *announcements.routes, *public_announcement.routes, *history.routes,
        *archive.routes,
        *subscribers.routes, *health.routes, *session.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=session_secret(token), session_cookie=SESSION_COOKIE,
                   max_age=SESSION_MAX_AGE, same_site="lax",
                   https_only=config.public_base_url.startswith("https://") and token is not None),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={NotSignedIn: not_signed_in, CsrfError: csrf_failed, HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.web = state
    return app
