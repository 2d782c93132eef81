"""The registry names each type's implementation and config model; they agree with each other."""

from __future__ import annotations

import pytest

from newsletter.plugins import (
    PUBLISHER_TYPES,
    SOURCE_TYPES,
    UnknownTypeError,
    publisher_class,
    publisher_config,
    source_class,
    source_config,
)


@pytest.mark.parametrize("type_name", sorted(PUBLISHER_TYPES))
def test_each_publisher_uses_the_config_model_the_registry_names(type_name):
    publisher = publisher_class(type_name)
    assert publisher.Config is publisher_config(type_name)
    assert publisher.type_name == type_name
    assert publisher.platform == publisher_config(type_name).platform


@pytest.mark.parametrize("type_name", sorted(SOURCE_TYPES))
def test_each_source_uses_the_config_model_the_registry_names(type_name):
    assert source_class(type_name).Config is source_config(type_name)
    assert source_class(type_name).type_name == type_name


def test_an_unknown_type_lists_the_valid_ones():
    valid = r"\(valid: bluesky, linkedin, mastodon, threads, x\)"
    with pytest.raises(UnknownTypeError, match=rf"unknown channel type 'linkedln' {valid}"):
        publisher_config("linkedln")
