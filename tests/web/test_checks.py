"""The review app shows weak extractions as « à vérifier » and the documents ingestion skipped."""

from __future__ import annotations

from datetime import date, timedelta

from newsletter.core.models import Announcement, Quote
from newsletter.sources.folder import FolderConfig
from tests.fakes.review_env import NOW, ReviewEnv


def test_a_weak_announcement_is_marked_to_check(review_env: ReviewEnv) -> None:
    weak = Announcement(
        identity="faible", source="communiques", id="faible", title="Annonce sans auteur sûr",
        url="https://ministere.example.org/faible", published=date(2025, 3, 21), content_hash="h9",
        quotes=[Quote("Nous tiendrons nos engagements envers chaque jeune.", None, score=0.5)], key_quote=0,
    )
    review_env.store.announcements.upsert_announcement(weak, announce=False, now=NOW - timedelta(hours=2))
    page = review_env.client.get("/announcements").text
    article = page[page.index('id="a-faible"'):]
    article = article[: article.index("</article>")]
    assert "à vérifier" in article and "auteur de la citation incertain" in article
    sure = page[page.index('id="a-apprentissage"'):]
    assert "à vérifier" not in sure[: sure.index("</article>")]


def test_skipped_documents_are_listed_with_their_reason(review_env: ReviewEnv) -> None:
    review_env.config.sources.append(FolderConfig(name="local", type="folder", path=review_env.folder))
    review_env.store.source_states.save_source_state(
        "local", data={"skipped": ["annonces/vide.md: skipped, empty document"]}
    )
    page = review_env.client.get("/announcements").text
    assert "Documents ignorés" in page
    assert "annonces/vide.md: skipped, empty document" in page
