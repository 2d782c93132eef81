"""Stable announcement ids: the same announcement gets the same id however it is reached."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PREFIXES = ("utm_",)
TRACKING_KEYS = {"fbclid", "gclid", "mc_cid", "mc_eid", "xtor"}


def canonical_url(url: str) -> str:
    """The URL without scheme differences, tracking parameters, fragment or trailing slash."""
    parts = urlsplit(url.strip())
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith(TRACKING_PREFIXES) and key.lower() not in TRACKING_KEYS
    ]
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, urlencode(sorted(query)), ""))


def stable_id(identity: str) -> str:
    """A short, stable id for an announcement identity (URLs are canonicalised first)."""
    key = canonical_url(identity) if identity.startswith(("http://", "https://")) else identity
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
