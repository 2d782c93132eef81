"""What the review pages say after an action, or why it was refused, in the interface language:
the item named as people know it (a post by its channel and announcement title, a digest issue by its digest
and subject), never by its internal key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from newsletter.core.errors import ComposeError, ConfigError, NewsletterError, PublishError, StoreError
from newsletter.pipeline.actions import ActionError, ActionResult
from newsletter.pipeline.naming import ItemKind, ItemName, name_item
from newsletter.publish.faults import AuthFailed, RateLimited, Transient
from newsletter.store import Store
from newsletter.web.formatting import local_datetime

Translate = Callable[..., str]

FAILURES: tuple[tuple[type[NewsletterError], str], ...] = (
    (AuthFailed, "failed_auth"),
    (RateLimited, "failed_rate_limited"),
    (Transient, "failed_unreachable"),
    (PublishError, "failed_publish"),
    (ComposeError, "failed_compose"),
    (ConfigError, "failed_config"),
    (StoreError, "failed_store"),
)


def _variant(result: ActionResult) -> str:
    """Which sentence of the action applies, from what it did."""
    detail = result.detail
    if result.action == "digest.approve":
        return "_send_now" if detail.get("send_now") else "_planned" if detail.get("scheduled_for") else ""
    if result.action == "post.settle":
        return "_sent" if detail.get("sent") else "_again"
    if result.action == "post.post_now":
        return "_sent" if detail.get("status") == "sent" else "_not_sent"
    if result.action == "digest.undo_skip":
        return "_send_now" if detail.get("send_now") else ""
    return ""


def _title(named: ItemName, result: ActionResult) -> str:
    """The item's title; an issue not recorded yet (a test copy of the plan) by the subject it was sent with."""
    if named.kind is ItemKind.OTHER and isinstance(result.detail.get("subject"), str):
        return str(result.detail["subject"])
    return named.title


def _local(moment: object, tz: ZoneInfo, lang: str) -> str | None:
    """An ISO time from an action's detail, written for `lang` in `tz`; None when there is none."""
    return local_datetime(datetime.fromisoformat(moment), tz, lang) if isinstance(moment, str) else None


def action_message(t: Translate, store: Store, result: ActionResult, *, lang: str, tz: ZoneInfo) -> str:
    """The sentence telling the user what `result` did, in `t`'s language."""
    named = name_item(store, result.target)
    key = "done_" + result.action.replace(".", "_") + _variant(result)
    when, slot = result.detail.get("scheduled_for"), result.detail.get("slot")
    values = {
        "place": named.place, "title": _title(named, result), "url": named.url, "to": result.detail.get("to", ""),
        "status": t("status_" + str(result.detail.get("status", ""))),
        "when": _local(when, tz, lang) or "",
        "slot": _local(slot, tz, lang) or t("after_approval"),
        "count": len(result.detail.get("posts_skipped", [])),
    }
    text = t(key, **values)
    text = text if text != key else t("done_generic", **values)
    return f"{text} {t('done_approval_withdrawn')}" if result.detail.get("approval_withdrawn") else text


def refusal_message(t: Translate, store: Store, error: ActionError) -> str:
    """Why an action was refused, in `t`'s language when the error names its reason (else its message)."""
    if error.reason is None:
        return str(error)
    named = name_item(store, error.target) if error.target else None
    values = {**error.values, "place": named.place if named else "", "title": named.title if named else ""}
    if "status" in values:
        values["status"] = t("status_" + str(values["status"]))
    return t("refused_" + error.reason, **values)


def failure_message(t: Translate, error: NewsletterError) -> str:
    """What failed when an action met an error other than a refusal (a service, a template, the
    store…), in `t`'s language; the page shows the error's own (English) detail after it."""
    key = next((key for kind, key in FAILURES if isinstance(error, kind)), "failed_generic")
    return t(key)
