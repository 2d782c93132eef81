"""Type name -> implementation for sources and publishers, keyed by the config's `type:`.

Each entry names the implementation and its config model separately: a config is validated
without importing the implementation (a publisher's client library costs seconds of start-up),
and a broken optional publisher never stops the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class Plugin:
    """Where a type's implementation and config model live, as `module:attribute`."""

    implementation: str
    config: str


SOURCE_TYPES: dict[str, Plugin] = {
    "folder": Plugin("newsletter.sources.folder:FolderSource", "newsletter.sources.folder:FolderConfig"),
    "feed": Plugin("newsletter.sources.feed:FeedSource", "newsletter.sources.feed:FeedConfig"),
    "web": Plugin("newsletter.sources.web:WebSource", "newsletter.sources.web:WebConfig"),
}

PUBLISHER_TYPES: dict[str, Plugin] = {
    "x": Plugin("newsletter.publish.x:XPublisher", "newsletter.publish.settings:XConfig"),
    "mastodon": Plugin("newsletter.publish.mastodon:MastodonPublisher", "newsletter.publish.settings:MastodonConfig"),
    "bluesky": Plugin("newsletter.publish.bluesky:BlueskyPublisher", "newsletter.publish.settings:BlueskyConfig"),
    "linkedin": Plugin("newsletter.publish.linkedin:LinkedInPublisher", "newsletter.publish.settings:LinkedInConfig"),
    "threads": Plugin("newsletter.publish.threads:ThreadsPublisher", "newsletter.publish.settings:ThreadsConfig"),
}


class UnknownTypeError(ValueError):
    """A config names a type no module implements."""


def _plugin(kind: str, table: dict[str, Plugin], type_name: str) -> Plugin:
    if type_name not in table:
        valid = ", ".join(sorted(table))
        raise UnknownTypeError(f"unknown {kind} type {type_name!r} (valid: {valid})")
    return table[type_name]


def _attribute(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    return getattr(import_module(module_name), attribute)


def source_class(type_name: str) -> Any:
    """The Source class registered for `type_name`; UnknownTypeError lists valid ones."""
    return _attribute(_plugin("source", SOURCE_TYPES, type_name).implementation)


def source_config(type_name: str) -> Any:
    """The config model of source type `type_name`, without importing more than it needs."""
    return _attribute(_plugin("source", SOURCE_TYPES, type_name).config)


def publisher_class(type_name: str) -> Any:
    """The Publisher class registered for `type_name`; UnknownTypeError lists valid ones."""
    return _attribute(_plugin("channel", PUBLISHER_TYPES, type_name).implementation)


def publisher_config(type_name: str) -> Any:
    """The config model of channel type `type_name`, importable without the service's client library."""
    return _attribute(_plugin("channel", PUBLISHER_TYPES, type_name).config)
