"""Fixed announcements and config for digest tests, golden files and the render benchmark.

Built from the domain dataclasses (not from the extractor) so the rendered digests only change
when the composer or the templates do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from newsletter.config import Config, DigestConfig
from newsletter.core.models import Announcement, Figure, Quote

FIXED_NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
HOSTILE_TITLE = 'Titre <script>alert(1)</script> & "{{ 7*7 }}" %%NL_UNSUBSCRIBE_URL%%\r\nBcc: victim@example.org'


def sample_config(tmp_dir: Path | None = None, **overrides: Any) -> Config:
    """A config with full branding, a digest `hebdo` (fr) and a digest `weekly` (en)."""
    data: dict[str, Any] = {
        "public_base_url": "https://lettre.example.org",
        "branding": {
            "organisation": "Ministère du Travail et de l'Emploi",
            "name": "La lettre de l'emploi des jeunes",
            "logo_url": "https://lettre.example.org/static/logo.png",
            "logo_alt": "Logo du ministère du Travail",
            "postal_address": "127 rue de Grenelle, 75007 Paris",
            "contact_line": "Service de presse : presse@ministere.example.org",
            "website_url": "https://ministere.example.org",
        },
        "digests": [
            {
                "name": "hebdo",
                "schedule": "0 9 * * MON",
                "list": "abonnes",
                "intro": "Voici les dernières annonces du ministère pour l'emploi des jeunes.",
                "utm": {"source": "newsletter", "medium": "email"},
            },
            {
                "name": "weekly",
                "schedule": "0 9 * * MON",
                "list": "subscribers",
                "locale": "en",
                "subject": "{{ newsletter }}: {{ count | plural('new announcement', 'new announcements') }}",
                "intro": "The ministry's latest announcements on youth employment.",
            },
        ],
    }
    if tmp_dir is not None:
        data["data_dir"] = str(tmp_dir / "data")
        data["base_dir"] = tmp_dir
    data.update(overrides)
    return Config.model_validate(data)


def digest_config(config: Config, name: str = "hebdo") -> DigestConfig:
    """One of the sample config's digests."""
    return config.digest(name)


def apprentissage() -> Announcement:
    """A full French announcement: lede, quote with speaker and role, three key figures."""
    return Announcement(
        id="fr-apprentissage",
        identity="apprentissage",
        source="communiques",
        title="Apprentissage : près de 900 000 contrats signés en 2024",
        url="https://ministere.example.org/communiques/apprentissage-2024?ref=home",
        published=date(2025, 3, 24),
        lede="Le nombre de contrats d'apprentissage a atteint un niveau record l'an dernier, "
        "porté par les entreprises de moins de 50 salariés.",
        quotes=[
            Quote(
                "L'apprentissage est devenu une voie d'excellence pour notre jeunesse",
                "Astrid Panosyan-Bouvet",
                "ministre du Travail et de l'Emploi",
            )
        ],
        key_quote=0,
        figures=[
            Figure("près de 900 000", 900000, qualifier="près de", about="contrats signés"),
            Figure("7,4 %", 7.4, kind="percent", about="de hausse sur un an"),
            Figure("2,5 milliards d'euros", 2.5e9, unit="€", kind="money", about="d'aides aux employeurs"),
        ],
        key_figures=[0, 1, 2],
        tags=["emploi", "jeunes"],
    )


def premier_emploi() -> Announcement:
    """A French announcement with a quote and one figure."""
    return Announcement(
        id="fr-premier-emploi",
        identity="premier-emploi",
        source="communiques",
        title="« 1 jeune, 1 solution » : 15 000 places de plus pour le premier emploi",
        url="https://ministere.example.org/communiques/premier-emploi",
        published=date(2025, 3, 21),
        lede="Le plan est prolongé jusqu'à la fin de l'année et étendu aux territoires ruraux.",
        quotes=[Quote("Aucun jeune ne doit rester sans solution", "Jean Martin", "délégué interministériel")],
        key_quote=0,
        figures=[Figure("15 000", 15000, about="places supplémentaires")],
        key_figures=[0],
        tags=["jeunes"],
    )


def hostile() -> Announcement:
    """Untrusted text at its worst: markup, template syntax, a placeholder, header injection."""
    return Announcement(
        id="fr-hostile",
        identity="hostile",
        source="communiques",
        title=HOSTILE_TITLE,
        url="javascript:alert(1)",
        published=date(2025, 3, 20),
        lede="Un paragraphe avec <b>balises</b>, {% raw %} et une URL très longue "
        "https://ministere.example.org/un/chemin/extremement/long/sans/espace/aucun/qui/pourrait/deborder",
        quotes=[Quote("{{ config }} <img src=x onerror=alert(1)>", "Pirate <i>", "%%NL_NAME%%")],
        key_quote=0,
    )


def bare() -> Announcement:
    """The least an announcement can have: a title."""
    return Announcement(id="fr-bare", identity="bare", source="communiques", title="Avis de consultation")


def english() -> Announcement:
    """An English announcement with a quote and figures."""
    return Announcement(
        id="en-apprenticeships",
        identity="apprenticeships",
        source="releases",
        title="Apprenticeships: nearly 900,000 contracts signed in 2024",
        url="https://ministere.example.org/en/apprenticeships-2024",
        published=date(2025, 3, 24),
        language="en",
        lede="Apprenticeship contracts reached a record high last year.",
        quotes=[
            Quote("Apprenticeships have become a path to excellence", "Astrid Panosyan-Bouvet", "Minister of Labour")
        ],
        key_quote=0,
        figures=[
            Figure("nearly 900,000", 900000, qualifier="nearly", about="contracts signed"),
            Figure("7.4%", 7.4, kind="percent", about="rise in a year"),
        ],
        key_figures=[0, 1],
    )


def french_announcements() -> list[Announcement]:
    """The fixed French set rendered by the golden test."""
    return [apprentissage(), premier_emploi(), hostile(), bare()]


def many_announcements(count: int = 10) -> list[Announcement]:
    """`count` full announcements with distinct ids and titles (size and speed checks)."""
    items = []
    for index in range(count):
        item = apprentissage() if index % 2 == 0 else premier_emploi()
        item.id = f"{item.id}-{index}"
        item.title = f"{item.title} ({index + 1})"
        item.url = f"{item.url}&n={index}" if "?" in (item.url or "") else f"{item.url}?n={index}"
        items.append(item)
    return items
