"""What every route shares: the app state (config, store, clock, templates) and page rendering."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from newsletter.config import Config
from newsletter.core.i18n import normalise_locale, translator
from newsletter.core.roles import Role
from newsletter.publish.email.sns import CertificateCache
from newsletter.store import Store
from newsletter.web.auth import Reviewer, current_reviewer, require_role
from newsletter.web.csrf import check_csrf, csrf_token
from newsletter.web.formatting import FILTERS
from newsletter.web.imports import ImportBoard
from newsletter.web.throttle import SlidingWindow

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
SESSION_LOCALE = "lang"
SESSION_FLASH = "flash"
T = TypeVar("T")


@dataclass
class WebState:
    """Everything the routes need, shared by the whole app; the store is opened on first use."""

    config: Config
    store_factory: Callable[[], Store]
    clock: Callable[[], datetime]
    templates: Jinja2Templates
    login_throttle: SlidingWindow
    sns_certificates: CertificateCache = field(default_factory=CertificateCache)
    imports: ImportBoard = field(default_factory=ImportBoard)
    _store: Store | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> Store:
        """The app's store (one engine and pool for every request)."""
        with self._lock:
            if self._store is None:
                self._store = self.store_factory()
            return self._store

    def close(self) -> None:
        """Close the store if it was opened."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def build_templates() -> Jinja2Templates:
    """The page templates, autoescaped (announcement text is untrusted)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    return Jinja2Templates(env=environment)


def web_state(request: Request) -> WebState:
    """The app's shared state."""
    state: WebState = request.app.state.web
    return state


def locale(request: Request) -> str:
    """The interface language: the session's choice, else the config's locale."""
    config = web_state(request).config
    return normalise_locale(request.session.get(SESSION_LOCALE), config.locale)


def flash(request: Request, text: str, level: str = "info") -> None:
    """A message shown once on the next page."""
    request.session.setdefault(SESSION_FLASH, []).append([level, text])


def local_path(target: str | None, default: str = "/upcoming") -> str:
    """`target` if it is a path on this site (never another host), else `default`."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(target: str) -> RedirectResponse:
    """A 303 See Other to a path on this site."""
    return RedirectResponse(local_path(target), status_code=303)


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a page template with the shared context (translations, CSRF token, who is signed in)."""
    state = web_state(request)
    language = locale(request)
    reviewer = current_reviewer(request, state.config, state.store)
    base = {
        "request": request,
        "t": translator(language),
        "lang": language,
        "csrf_token": csrf_token(request),
        "reviewer": reviewer,
        "may_approve": reviewer is not None and reviewer.may(Role.APPROVER),
        "open_workspace": state.config.review.open,
        "config": state.config,
        "tz": state.config.tz,
        "messages": request.session.pop(SESSION_FLASH, []),
    }
    return state.templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code,
                                            headers=headers)


def signed_in(request: Request, required: Role = Role.EDITOR) -> Reviewer:
    """The signed-in reviewer when their role allows `required` (NotSignedIn or Forbidden otherwise)."""
    state = web_state(request)
    return require_role(request, state.config, state.store, required)


async def posted_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token (CsrfError otherwise)."""
    form = await request.form(max_files=0, max_fields=50)
    check_csrf(request, form)
    return form


async def blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run store, rendering or SMTP work off the event loop."""
    return await run_in_threadpool(function, *args, **kwargs)
