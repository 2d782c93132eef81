"""Whether a failed HTTP request (requests' exceptions, as tweepy and Mastodon.py raise them)
may have reached the service: only then is a create call's outcome unknown."""

from __future__ import annotations

import requests
from urllib3.exceptions import NewConnectionError


def never_sent(error: BaseException | None) -> bool:
    """True when the request surely never reached the server (refused or timed out connecting)."""
    if not isinstance(error, requests.RequestException):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
