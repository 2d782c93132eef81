"""Composing posts: templates per platform, fitting rules, cards."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from newsletter.compose.length import measure
from newsletter.compose.social import PostComposer, compose_posts, sentences, shorten_quote, split_to_fit
from newsletter.config import Config
from newsletter.core.models import Announcement, Figure, Quote
from newsletter.publish.bluesky import BlueskyPublisher
from newsletter.publish.mastodon import MastodonPublisher
from newsletter.publish.x import XPublisher

LONG_QUOTE = (
    "Nous allons accompagner près de 900 000 jeunes vers l'emploi. M. Dupont l'a rappelé hier. "
    "C'est une priorité absolue pour le gouvernement, et nous y consacrerons tous les moyens nécessaires, "
    "sans exception, dans chaque territoire de la République, de l'Hexagone aux Outre-mer."
)


def announcement(quote: str = LONG_QUOTE, title: str = "Plan jeunes : 900 000 accompagnements") -> Announcement:
    return Announcement(
        "doc", "src", title, lede="Le gouvernement lance un plan.", url="https://www.travail.gouv.fr/plan-jeunes",
        quotes=[Quote(quote, "Marie Martin", "ministre du Travail")], key_quote=0,
        figures=[Figure("près de 900 000", 900000, qualifier="près de", about="jeunes accompagnés")],
        key_figures=[0], id="abc", published=None,
    )


def test_sentences_do_not_split_after_abbreviations_or_inside_urls():
    text = "Voir https://a.fr/x.html. M. Dupont l'a dit. Le 1. 000 ? Non."
    assert sentences(text) == ["Voir https://a.fr/x.html.", "M. Dupont l'a dit.", "Le 1. 000 ?", "Non."]
    assert shorten_quote(LONG_QUOTE, 2).endswith("M. Dupont l'a rappelé hier. […]")


def test_every_variant_fits_with_locale_figures_url_and_hashtags(tmp_path):
    channel = XPublisher.Config(name="x", hashtags=["Emploi", "#Jeunes"], variants=["quote", "figure", "link"])
    posts = compose_posts(announcement(), channel, Config(), cards_dir=tmp_path)
    assert [p.variant for p in posts] == ["quote", "figure", "link"]
    for post in posts:
        assert measure(post.text, "x").valid and post.length <= 280
        assert "https://www.travail.gouv.fr/plan-jeunes #Emploi #Jeunes" in post.text
    assert "près de 900\u202f000 jeunes accompagnés" in posts[1].text
    assert "M. Dupont l'a rappelé hier. […]" in posts[0].text  # the third sentence does not fit on X
    card = posts[0].media[0]
    assert Image.open(card.path).size == (1200, 675)
    assert card.alt_text.startswith("Nous allons")
    assert "— Marie Martin, ministre du Travail (" in card.alt_text
    assert posts[2].media == []


def test_posts_carry_the_announcements_language():
    channel = MastodonPublisher.Config(name="m", base_url="http://127.0.0.1:9", variants=["quote", "figure", "link"])
    french = compose_posts(announcement(), channel, Config())
    assert [p.language for p in french] == ["fr", "fr", "fr"]
    english = announcement(quote="We will support nearly 900,000 young people.")
    english.language = "en"
    assert [p.language for p in compose_posts(english, channel, Config())] == ["en", "en", "en"]


def test_a_long_quote_is_cut_at_a_sentence_boundary_with_a_mark(tmp_path):
    channel = BlueskyPublisher.Config(name="b", handle="h", variants=["quote"], limit=220, thread=False)
    (post,) = compose_posts(announcement(), channel, Config())
    assert "M. Dupont l'a rappelé hier. […]" in post.text and "Outre-mer" not in post.text
    assert post.length <= 220 and "https://www.travail.gouv.fr/plan-jeunes" in post.text


def test_a_quote_that_cannot_fit_falls_back_to_the_figure_post():
    single = "Une phrase unique et très longue " + "qui ne finit pas " * 12 + "avant la limite."
    channel = BlueskyPublisher.Config(name="b", handle="h", variants=["quote"], limit=150, thread=False)
    (post,) = compose_posts(announcement(single), channel, Config())
    assert post.variant == "figure" and "près de 900" in post.text and post.length <= 150


def test_thread_when_allowed_each_part_within_the_limit():
    single = "Une phrase unique et très longue " + "qui ne finit pas " * 12 + "avant la limite."
    channel = MastodonPublisher.Config(name="m", base_url="http://127.0.0.1", variants=["quote", "figure"],
                                       limit=150, thread=True)
    posts = {p.variant: p for p in compose_posts(announcement(single), channel, Config())}
    thread = posts["quote"]
    assert thread.thread
    assert all(measure(part, "mastodon", 150).valid for part in [thread.text, *thread.thread])
    joined = " ".join([thread.text, *thread.thread])
    assert "https://www.travail.gouv.fr/plan-jeunes" in joined and "qui ne finit pas" in joined


def test_optional_parts_are_dropped_in_order_and_nothing_goes_over():
    channel = XPublisher.Config(name="x", hashtags=["Emploi", "Jeunes", "Formation"], variants=["link"], limit=60,
                                thread=False)
    (post,) = compose_posts(announcement(title="Plan jeunes"), channel, Config())
    assert post.length <= 60
    assert "#Emploi" in post.text and "#Formation" not in post.text  # last hashtags go first
    tiny = XPublisher.Config(name="x", variants=["quote"], limit=20, thread=False)
    assert compose_posts(announcement(), tiny, Config()) == []


def test_split_to_fit_never_breaks_a_url():
    text = "Début. " + "mot " * 30 + "https://www.travail.gouv.fr/un/chemin/assez/long"
    parts = split_to_fit(text, lambda t: len(t) <= 60)
    assert parts and all(len(p) <= 60 for p in parts)
    assert any(p.endswith("https://www.travail.gouv.fr/un/chemin/assez/long") for p in parts)


def test_templates_come_from_the_override_folder(tmp_path: Path):
    (tmp_path / "social").mkdir()
    (tmp_path / "social" / "x.txt.j2").write_text("{{ title }} — {{ url }}")
    config = Config(templates_dir=tmp_path)
    (post,) = compose_posts(announcement(), XPublisher.Config(name="x", variants=["link"]), config)
    assert post.text == "Plan jeunes\u00a0: 900 000 accompagnements — https://www.travail.gouv.fr/plan-jeunes"


def _parts(post) -> list[str]:
    return [post.text, *post.thread]


def test_a_thread_opens_with_a_part_that_stands_alone_and_replies_carry_the_rest():
    channel = XPublisher.Config(name="x", hashtags=["Emploi", "Jeunes"], variants=["quote"], limit=140)
    (post,) = compose_posts(announcement(), channel, Config())
    first, *replies = _parts(post)
    assert replies, "a quote three times the limit is threaded"
    assert "Nous allons accompagner" in first and "— Marie Martin" in first
    assert "https://www.travail.gouv.fr/plan-jeunes" in first
    assert all(measure(part, "x", 140).valid for part in _parts(post))
    joined = " ".join(replies)
    assert "Outre-mer" in joined and "[…]" in replies[0]
    for reply in replies:
        words = [w for w in reply.split() if not w.startswith("#") and "://" not in w]
        assert words, f"a reply holds only hashtags or a link: {reply!r}"


def test_a_figure_thread_opens_with_the_figure_and_its_phrase():
    many = announcement()
    many.figures = [Figure("près de 900 000", 900000, qualifier="près de", about="jeunes accompagnés"),
                    Figure("12 000", 12000, about="conseillers formés"), Figure("350", 350, about="missions locales")]
    many.key_figures = [0, 1, 2]
    channel = BlueskyPublisher.Config(name="b", handle="h", variants=["figure"], limit=110)
    (post,) = compose_posts(many, channel, Config())
    first, *replies = _parts(post)
    assert "900\u202f000 jeunes accompagnés" in first or "900 000 jeunes accompagnés" in first
    assert "https://www.travail.gouv.fr/plan-jeunes" in first
    assert any("missions locales" in reply for reply in replies)


def test_a_title_with_line_breaks_stays_on_one_line_and_an_iri_is_encoded():
    item = announcement(title="Jobs d'été :\r\nles inscriptions\r\nsont ouvertes")
    item.url = "https://www.travail.gouv.fr/jobs-d-été?r=1"
    channel = XPublisher.Config(name="x", variants=["link"])
    (post,) = compose_posts(item, channel, Config())
    assert post.text.splitlines()[0] == "Jobs d'été\u00a0: les inscriptions sont ouvertes"
    assert "https://www.travail.gouv.fr/jobs-d-%C3%A9t%C3%A9?r=1" in post.text
    assert measure(post.text, "x").valid


def test_a_variant_that_cannot_fit_says_why():
    channel = XPublisher.Config(name="x", variants=["quote"], limit=20, thread=False)
    composer = PostComposer(Config(), channel)
    assert composer.compose(announcement(), "quote") is None
    reason = composer.unfit_reason(announcement(), "quote")
    assert "over the limit of 20" in reason and "thread: false" in reason


def test_french_posts_get_french_typography_and_english_ones_do_not():
    channel = MastodonPublisher.Config(name="m", base_url="http://127.0.0.1:9", variants=["quote", "link"])
    french = announcement(quote="C'est « Mission Jeunes » : un pas de plus !", title="Plan jeunes : 900 000 places")
    quote_post, link_post = compose_posts(french, channel, Config())
    assert "Plan jeunes\u00a0: 900 000 places" in link_post.text
    assert "«\u00a0Mission Jeunes\u00a0»\u00a0: un pas de plus\u202f!" in quote_post.text
    assert "https://www.travail.gouv.fr/plan-jeunes" in link_post.text  # a URL's colon is left alone
    english = announcement(quote="It works: really!", title="Youth plan: 900,000 places")
    english.language = "en"
    assert "Youth plan: 900,000 places" in compose_posts(english, channel, Config())[1].text
