"""Sign in, sign out and the interface language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.i18n import LOCALES
from newsletter.web.auth import sign_in
from newsletter.web.common import SESSION_LOCALE, local_path, posted_form, redirect, render, web_state


async def login_page(request: Request) -> Response:
    """The sign-in form (a name for the action log, and the team token when one is set)."""
    return render(request, "login.html", {"next": local_path(request.query_params.get("next"))})


async def login(request: Request) -> Response:
    """Check the token and start a review session."""
    form = await posted_form(request)
    target = local_path(str(form.get("next") or ""))
    if not sign_in(request, web_state(request).token, str(form.get("token") or ""), str(form.get("name") or "")):
        return render(request, "login.html", {"next": target, "failed": True}, status_code=401)
    return redirect(target)


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
