"""Platform length rules: the twitter-text v3 conformance suite, Mastodon, Bluesky, LinkedIn."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from newsletter.compose import length
from newsletter.compose.length import (
    PLATFORM_LIMITS,
    Measurement,
    bluesky_link_facets,
    find_urls,
    measure,
)
from tests.conftest import SHARED_DIR

CONFORMANCE_DIR = SHARED_DIR / "conformance" / "twitter-text"
CONFORMANCE_SUITES = (
    "WeightedTweetsWithDiscountedEmojiCounterTest",
    "UnicodeDirectionalMarkerCounterTest",
)


def _conformance_cases() -> list[Any]:
    """One param per case of the v3 counter suites, or a single placeholder when absent."""
    validate = CONFORMANCE_DIR / "validate.yml"
    if not validate.is_file():
        return [pytest.param(None, None, id="conformance-suite-absent")]
    tests = yaml.safe_load(validate.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(suite, case, id=f"{suite}: {case['description']}")
        for suite in CONFORMANCE_SUITES
        for case in tests[suite]
    ]


def _require_conformance() -> None:
    if not (CONFORMANCE_DIR / "validate.yml").is_file():
        # ../shared is absent on a fresh clone: a plain skip, even when CI requires optional pieces
        pytest.skip(f"twitter-text conformance suite absent at {CONFORMANCE_DIR}")


@pytest.mark.parametrize(("suite", "case"), _conformance_cases())
def test_x_matches_twitter_text_conformance(suite: str | None, case: dict[str, Any] | None) -> None:
    _require_conformance()
    assert case is not None
    measured = measure(case["text"], "x")
    expected = case["expected"]
    assert (measured.length, measured.valid) == (expected["weightedLength"], expected["valid"]), suite


def test_conformance_suites_are_not_empty() -> None:
    _require_conformance()
    tests = yaml.safe_load((CONFORMANCE_DIR / "validate.yml").read_text(encoding="utf-8"))["tests"]
    assert all(len(tests[suite]) > 0 for suite in CONFORMANCE_SUITES)
    assert sum(len(tests[suite]) for suite in CONFORMANCE_SUITES) >= 20


def test_x_rules_are_the_v3_config() -> None:
    _require_conformance()
    config = json.loads((CONFORMANCE_DIR / "v3.json").read_text(encoding="utf-8"))
    assert config["maxWeightedTweetLength"] == PLATFORM_LIMITS["x"]
    assert config["scale"] == length.X_SCALE
    assert config["defaultWeight"] == length.X_DEFAULT_WEIGHT
    assert config["transformedURLLength"] == length.X_TRANSFORMED_URL_LENGTH
    assert config["emojiParsingEnabled"] is True
    ranges = tuple((r["start"], r["end"], r["weight"]) for r in config["ranges"])
    assert ranges == length.X_WEIGHT_RANGES


def test_x_counts_french_text_with_a_link_as_23() -> None:
    url = "https://www.economie.gouv.fr/actualites/plan-energie-2025?utm_source=x"
    text = f"« Près de 900 000 ménages » aidés : {url}"
    prefix = text[: text.index(url)]
    assert measure(text, "x").length == len(prefix) + 23


def test_x_counts_decomposed_accents_after_nfc() -> None:
    decomposed = "e\u0301te\u0301"
    assert len(decomposed) == 5
    assert measure(decomposed, "x").length == 3


def test_x_counts_an_emoji_sequence_as_two() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    assert measure(f"A {family} {family}", "x").length == 2 + 2 + 1 + 2
    assert measure("\U0001f1eb\U0001f1f7", "x").length == 2


def test_x_counts_copyright_sign_as_text_without_emoji_selector() -> None:
    assert measure("\u00a9", "x").length == 1
    assert measure("\u00a9\ufe0f", "x").length == 2


def test_x_limit_boundary_and_empty_text() -> None:
    assert measure("a" * 280, "x") == Measurement(280, 280, True)
    assert measure("a" * 281, "x") == Measurement(281, 280, False)
    assert not measure("", "x").valid


def test_x_rejects_invalid_characters_within_limit() -> None:
    measured = measure("ok\ufffe", "x")
    assert measured.length <= measured.limit
    assert not measured.valid


def test_mastodon_counts_each_url_as_23_and_remote_mentions_locally() -> None:
    url = "https://www.service-public.fr/particuliers/actualites/A17000?xtor=RSS"
    assert len(url) > 23
    assert measure(f"Voir {url}", "mastodon").length == len("Voir ") + 23
    assert measure("@alice@mastodon.social salut", "mastodon").length == len("@alice salut")


def test_mastodon_counts_graphemes_and_bare_domains_literally() -> None:
    assert measure("e\u0301\U0001f1eb\U0001f1f7", "mastodon").length == 2
    assert measure("service-public.fr", "mastodon").length == len("service-public.fr")


def test_mastodon_limit_is_configurable_per_instance() -> None:
    text = "x" * 600
    assert not measure(text, "mastodon").valid
    assert measure(text, "mastodon", limit=1000) == Measurement(600, 1000, True)


def test_bluesky_counts_graphemes_and_full_urls() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    assert measure(f"{family}e\u0301", "bluesky").length == 2
    url = "https://www.info.gouv.fr/actualite/plan"
    assert measure(url, "bluesky").length == len(url)
    assert str(measure("a" * 301, "bluesky")) == "301/300"


def test_linkedin_counts_utf16_units() -> None:
    assert measure("é\U0001f600", "linkedin").length == 3
    assert measure("a" * 3000, "linkedin").valid
    assert not measure("a" * 3001, "linkedin").valid


def test_threads_counts_graphemes_and_an_emoji_as_its_utf8_bytes() -> None:
    assert measure("é́ Emploi", "threads").length == 8
    assert measure("😀", "threads").length == 4
    family = "👨‍👩‍👧"
    assert measure(family, "threads").length == len(family.encode())
    assert measure("a" * 500, "threads").valid
    assert not measure("a" * 497 + "🎉", "threads").valid


def test_unknown_platform_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="x, mastodon, bluesky, linkedin"):
        measure("texte", "myspace")


def test_find_urls_spans_point_at_the_urls() -> None:
    text = (
        "Dossier : https://www.ecologie.gouv.fr/presse/plan-vélo (PDF), "
        "voir aussi service-public.fr/particuliers. Et (https://fr.wikipedia.org/wiki/Loi_(droit))."
    )
    urls = find_urls(text)
    assert [url for _, _, url in urls] == [
        "https://www.ecologie.gouv.fr/presse/plan-vélo",
        "service-public.fr/particuliers",
        "https://fr.wikipedia.org/wiki/Loi_(droit)",
    ]
    assert all(text[start:end] == url for start, end, url in urls)


def test_find_urls_ignores_emails_and_unknown_tlds() -> None:
    assert find_urls("Écrire à contact@culture.gouv.fr ou lire fichier.notatld") == []


def test_bluesky_facets_use_utf8_byte_offsets() -> None:
    text = "Énergie : « près de 900 000 » foyers https://www.info.gouv.fr/plan. #Écologie"
    facets = bluesky_link_facets(text)
    encoded = text.encode("utf-8")
    link, tag = facets
    link_bytes = encoded[link["index"]["byteStart"] : link["index"]["byteEnd"]]
    assert link_bytes.decode("utf-8") == "https://www.info.gouv.fr/plan"
    assert link["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": "https://www.info.gouv.fr/plan"}]
    assert encoded[tag["index"]["byteStart"] : tag["index"]["byteEnd"]].decode() == "#Écologie"
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "Écologie"}]


def test_bluesky_facets_link_bare_domains_with_https() -> None:
    (facet,) = bluesky_link_facets("Infos sur info.gouv.fr/plan")
    assert facet["features"][0]["uri"] == "https://info.gouv.fr/plan"
