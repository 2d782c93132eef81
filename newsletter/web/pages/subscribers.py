"""Public subscriber pages: unsubscribe (page and RFC 8058 one-click) and double opt-in subscribe.

They never show anything about other subscribers, nor whether an address is on a list: a
subscribe request only queues a confirmation (see `pipeline/subscribe.py`) and every address
gets the same page; only a client asking too often gets 429. Lists are shown by their public
title (`lists.<name>.title`), never by their internal name.
"""

from __future__ import annotations

import logging

from babel.lists import format_list
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from newsletter.config import Config
from newsletter.core.errors import ConfigError
from newsletter.core.i18n import translator
from newsletter.pipeline.subscribe import (
    ExpiredConfirmation,
    InvalidConfirmation,
    SubscribeOutcome,
    SubscribeRequest,
    confirm_subscription,
    normalised_address,
    read_confirm_token,
    request_subscription,
)
from newsletter.pipeline.unsubscribe import (
    InvalidTokenError,
    UnsubscribeOutcome,
    secret_from_env,
    unsubscribe,
    verify_token,
)
from newsletter.web.common import blocking, locale, posted_form, render, web_state
from newsletter.web.csrf import check_csrf

log = logging.getLogger(__name__)
ONE_CLICK = "One-Click"
PREVIEW_TOKEN = "preview"
UNKNOWN_CLIENT = "unknown"


def _message(request: Request, title_key: str, text_key: str, status_code: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    return render(request, "message.html", {"title_key": title_key, "text_key": text_key},
                  status_code=status_code, headers=headers)


def list_titles(config: Config, names: list[str]) -> list[str]:
    """The public titles of lists, each once, in order."""
    return list(dict.fromkeys(config.list_title(name) for name in names))


def _secret(request: Request) -> str | None:
    try:
        return secret_from_env(web_state(request).config)
    except ConfigError:
        log.error("unsubscribe.secret_env is not set: subscriber links cannot be checked")
        return None


async def unsubscribe_help(request: Request) -> Response:
    """Where the public web copy's unsubscribe link leads: how to unsubscribe."""
    return _message(request, "unsubscribe_title", "unsubscribe_generic")


async def unsubscribe_page(request: Request) -> Response:
    """Ask for confirmation before unsubscribing the token's subscriber."""
    token = request.path_params["token"]
    if token == PREVIEW_TOKEN:
        return _message(request, "unsubscribe_title", "preview_link")
    secret = _secret(request)
    try:
        claims = verify_token(secret, token) if secret else None
    except InvalidTokenError:
        claims = None
    if claims is None:
        return _message(request, "unsubscribe_title", "invalid_link", 400 if secret else 503)
    language = locale(request)
    t = translator(language)
    titles = list_titles(web_state(request).config, claims.lists)
    lists_text = format_list([t("quoted", name=title) for title in titles], locale=language)
    return render(request, "unsubscribe.html", {"token": token, "lists": titles, "lists_text": lists_text})


async def unsubscribe_post(request: Request) -> Response:
    """Unsubscribe: from the confirmation page (CSRF-checked) or as an RFC 8058 one-click POST,
    which the signed token alone authorises."""
    token = request.path_params["token"]
    form = await request.form(max_files=0, max_fields=10)
    one_click = form.get("List-Unsubscribe") == ONE_CLICK
    if not one_click:
        check_csrf(request, form)
    secret = _secret(request)
    if secret is None or token == PREVIEW_TOKEN:
        return _message(request, "unsubscribe_title", "invalid_link" if secret else "preview_link", 400)
    state = web_state(request)
    try:
        result = await blocking(unsubscribe, state.store, token, secret, state.clock())
    except InvalidTokenError:
        if one_click:
            return PlainTextResponse("invalid unsubscribe link", status_code=400)
        return _message(request, "unsubscribe_title", "invalid_link", 400)
    done = result.outcome is UnsubscribeOutcome.UNSUBSCRIBED
    if one_click:
        return PlainTextResponse("unsubscribed" if done else "already unsubscribed")
    return _message(request, "unsubscribe_title", "unsubscribed" if done else "already_unsubscribed")


def _subscribe_form(request: Request, status_code: int = 200, invalid: bool = False) -> Response:
    config = web_state(request).config
    lists = [(name, config.list_title(name)) for name in config.offered_lists()]
    return render(request, "subscribe.html", {"lists": lists, "invalid": invalid}, status_code=status_code)


async def subscribe_page(request: Request) -> Response:
    """The subscribe form."""
    return _subscribe_form(request)


async def subscribe_post(request: Request) -> Response:
    """Queue a confirmation mail; the answer is the same whether or not the address is known,
    and comes before any mail server is contacted."""
    form = await posted_form(request)
    state = web_state(request)
    lists = state.config.offered_lists()
    address = normalised_address(str(form.get("email") or ""))
    list_name = str(form.get("list") or (lists[0] if lists else ""))
    if address is None or list_name not in lists:
        return _subscribe_form(request, 400, invalid=True)
    if _secret(request) is None:
        return _message(request, "subscribe_title", "invalid_link", 503)
    name = " ".join(str(form.get("name") or "").split())[:100]
    wish = SubscribeRequest(address, list_name, name, locale(request), state.clock())
    client = request.client.host if request.client else UNKNOWN_CLIENT
    answer = await blocking(request_subscription, state.config, state.store, wish, client)
    if answer.outcome is SubscribeOutcome.CLIENT_LIMITED:
        return _message(request, "subscribe_title", "too_many_requests", 429,
                        headers={"Retry-After": str(answer.retry_after)})
    return _message(request, "subscribe_title", "subscribe_sent")


def _confirmation(request: Request) -> tuple[SubscribeRequest | None, Response | None]:
    secret = _secret(request)
    if secret is None:
        return None, _message(request, "confirm_title", "invalid_link", 503)
    state = web_state(request)
    try:
        return read_confirm_token(state.config, secret, request.path_params["token"], state.clock()), None
    except ExpiredConfirmation:
        return None, _message(request, "confirm_title", "expired_link", 410)
    except InvalidConfirmation:
        return None, _message(request, "confirm_title", "invalid_link", 400)


async def confirm_page(request: Request) -> Response:
    """Show the confirmation button (a GET never subscribes: mail scanners open links)."""
    wish, problem = _confirmation(request)
    if problem is not None or wish is None:
        return problem or _message(request, "confirm_title", "invalid_link", 400)
    title = web_state(request).config.list_title(wish.list_name)
    return render(request, "confirm.html", {"token": request.path_params["token"], "list_title": title})


async def confirm_post(request: Request) -> Response:
    """Add the address to the list."""
    await posted_form(request)
    wish, problem = _confirmation(request)
    if problem is not None or wish is None:
        return problem or _message(request, "confirm_title", "invalid_link", 400)
    state = web_state(request)
    await blocking(confirm_subscription, state.store, wish, state.clock())
    return _message(request, "confirm_title", "subscribed")


routes = [
    Route("/unsubscribe", unsubscribe_help, methods=["GET"]),
    Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
    Route("/unsubscribe/{token}", unsubscribe_post, methods=["POST"]),
    Route("/subscribe", subscribe_page, methods=["GET"]),
    Route("/subscribe", subscribe_post, methods=["POST"]),
    Route("/subscribe/confirm/{token}", confirm_page, methods=["GET"]),
    Route("/subscribe/confirm/{token}", confirm_post, methods=["POST"]),
]
