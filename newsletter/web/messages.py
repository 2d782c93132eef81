"""The message shown after a review action, in the interface language: each action the pages
offer has its sentence in `core/i18n.py` (`done_<action>`); any other keeps the pipeline's summary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from newsletter.core.i18n import translator
from newsletter.pipeline.actions import ActionResult
from newsletter.web.formatting import local_datetime

WITHDRAWN_NOTE = "done_approval_withdrawn"


def action_message(result: ActionResult, lang: str, tz: ZoneInfo) -> str:
    """The sentence telling a person what their action did."""
    t = translator(lang)
    key = "done_" + result.action.replace(".", "_")
    if t(key) == key:
        return result.summary
    detail = result.detail
    values = {"target": result.target, "length": detail.get("length", ""),
              "status": t(f"status_{detail.get('status', '')}"), "slot": _when(detail.get("slot"), tz, lang, t)}
    text = t(key, **values)
    if detail.get("approval_withdrawn"):
        text += " " + t(WITHDRAWN_NOTE)
    if detail.get("send_now"):
        text += " " + t("done_sent_now")
    return text


def _when(moment: str | None, tz: ZoneInfo, lang: str, t: Callable[..., str]) -> str:
    """A slot from an action's detail, written for `lang`, or the words for "once approved"."""
    return local_datetime(datetime.fromisoformat(moment), tz, lang) if moment else t("after_approval")
