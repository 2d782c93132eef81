"""Sign in, sign out and the interface language."""

from __future__ import annotations

import math
from datetime import datetime

from babel.dates import format_datetime
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.i18n import LOCALES, translator
from newsletter.pipeline.accounts import SignIn, SignInOutcome, sign_in
from newsletter.web.auth import start_session
from newsletter.web.common import SESSION_LOCALE, blocking, local_path, locale, posted_form, redirect, render, web_state


async def login_page(request: Request) -> Response:
    """The sign-in form: user name and password."""
    return render(request, "login.html", {"next": local_path(request.query_params.get("next"))})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    """Check the password and start a session; failures are counted per client (429 past the limit)
    and per account (locked for a while after repeated failures)."""
    state = web_state(request)
    form = await posted_form(request)
    target = local_path(str(form.get("next") or ""))
    name = str(form.get("name") or "")
    t = translator(locale(request))
    wait = state.login_throttle.wait(_client(request), state.clock())
    if wait:
        text = t("login_throttled", minutes=str(math.ceil(wait / 60)))
        return render(request, "login.html", {"next": target, "error": text, "name": name}, status_code=429,
                      headers={"Retry-After": str(math.ceil(wait))})
    now = state.clock()
    result = await blocking(sign_in, state.store, state.config.review, name, str(form.get("password") or ""), now)
    if result.outcome is SignInOutcome.SIGNED_IN and result.user is not None:
        language = request.session.get(SESSION_LOCALE)
        start_session(request, result.user)
        if language:
            request.session[SESSION_LOCALE] = language
        return redirect(target)
    state.login_throttle.record(_client(request), now)
    return render(request, "login.html", {"next": target, "error": _refusal(request, result), "name": name},
                  status_code=401)


def _refusal(request: Request, result: SignIn) -> str:
    language = locale(request)
    t = translator(language)
    if result.outcome is SignInOutcome.LOCKED and isinstance(result.locked_until, datetime):
        until = format_datetime(result.locked_until, "short", tzinfo=web_state(request).config.tz, locale=language)
        return t("login_locked", until=until)
    return t("login_failed")


async def logout(request: Request) -> Response:
    """End the review session."""
    await posted_form(request)
    request.session.clear()
    return redirect("/login")


async def set_language(request: Request) -> Response:
    """Switch the interface to `fr` or `en` and go back where the visitor was."""
    code = request.path_params["code"]
    if code in LOCALES:
        request.session[SESSION_LOCALE] = code
    return redirect(local_path(request.query_params.get("next"), "/"))


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang/{code}", set_language, methods=["GET"]),
]
