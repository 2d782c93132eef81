"""Type name -> implementation for sources and publishers, keyed by the config's `type:`.

Modules are imported lazily so that a broken optional publisher never stops the rest, and
so that `check` can list the valid types without importing every network library.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

SOURCE_TYPES: dict[str, str] = {
    "folder": "newsletter.sources.folder:FolderSource",
    "feed": "newsletter.sources.feed:FeedSource",
    "web": "newsletter.sources.web:WebSource",
}

PUBLISHER_TYPES: dict[str, str] = {
    "x": "newsletter.publish.x:XPublisher",
    "mastodon": "newsletter.publish.mastodon:MastodonPublisher",
    "bluesky": "newsletter.publish.bluesky:BlueskyPublisher",
}


class UnknownTypeError(ValueError):
    """A config names a type no module implements."""


def _load(kind: str, table: dict[str, str], type_name: str) -> Any:
    if type_name not in table:
        valid = ", ".join(sorted(table))
        raise UnknownTypeError(f"unknown {kind} type {type_name!r} (valid: {valid})")
    module_name, _, attribute = table[type_name].partition(":")
    return getattr(import_module(module_name), attribute)


def source_class(type_name: str) -> Any:
    """The Source class registered for `type_name`; UnknownTypeError lists valid ones."""
    return _load("source", SOURCE_TYPES, type_name)


def publisher_class(type_name: str) -> Any:
    """The Publisher class registered for `type_name`; UnknownTypeError lists valid ones."""
    return _load("channel", PUBLISHER_TYPES, type_name)
