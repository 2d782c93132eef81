"""Composing for Threads and LinkedIn: their own templates and length rules, LinkedIn never threaded."""

from __future__ import annotations

from newsletter.compose.length import measure
from newsletter.compose.social import compose_posts
from newsletter.config import Config
from newsletter.publish.settings import LinkedInConfig, ThreadsConfig
from tests.compose.test_social import announcement


def test_threads_posts_fit_500_and_carry_one_hashtag_as_the_topic(tmp_path):
    channel = ThreadsConfig(name="threads", hashtags=["#Emploi", "#Jeunes"], variants=["quote", "figure"],
                            image_base_url="https://cards.example.org")
    posts = compose_posts(announcement(), channel, Config(), cards_dir=tmp_path)
    assert [p.variant for p in posts] == ["quote", "figure"]
    for post in posts:
        assert post.platform == "threads" and post.limit == 500 and measure(post.text, "threads").valid
        assert post.text.endswith("https://www.travail.gouv.fr/plan-jeunes\n\n#Emploi")
        assert "#Jeunes" not in post.text
    assert posts[0].media and posts[0].media[0].path.startswith(str(tmp_path / "threads"))


def test_threads_splits_a_long_post_into_a_thread_when_allowed():
    single = "Une phrase unique et très longue " + "qui ne finit pas " * 12 + "avant la limite."
    channel = ThreadsConfig(name="threads", thread=True, card=False, limit=150, variants=["quote", "figure"])
    post = compose_posts(announcement(single), channel, Config())[0]
    assert post.variant == "quote" and post.thread
    assert all(measure(part, "threads", 150).valid for part in [post.text, *post.thread])


def test_linkedin_posts_the_whole_quote_in_one_part():
    channel = LinkedInConfig(name="li", organization_id="1", card=False, hashtags=["#Emploi"])
    post = compose_posts(announcement(), channel, Config())[0]
    assert post.platform == "linkedin" and post.limit == 3000 and post.thread == []
    assert "de l'Hexagone aux Outre-mer." in post.text and post.text.endswith("#Emploi")
