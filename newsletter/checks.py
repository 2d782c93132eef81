"""`newsletter check`: everything that can be verified without sending anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from newsletter.compose.social import compose_posts
from newsletter.config import Config, missing_secrets
from newsletter.digests import check_templates
from newsletter.errors import NewsletterError
from newsletter.models import Announcement, Figure, Quote


@dataclass
class CheckReport:
    """Problems (one line each), missing secrets by env-var name, and a one-line summary."""

    problems: list[str] = field(default_factory=list)
    missing_secrets: list[str] = field(default_factory=list)
    summary: str = ""


def sample_announcement() -> Announcement:
    """A complete announcement used to render every template once."""
    return Announcement(
        identity="check:sample",
        source="check",
        id="check-sample",
        title="Exemple d'annonce",
        url="https://example.org/annonce",
        published=date(2025, 3, 24),
        lede="Un paragraphe d'introduction.",
        quotes=[Quote("Une citation complète.", "Prénom Nom", "ministre")],
        figures=[Figure("900 000", 900000, kind="count", qualifier="près de", about="nouveaux contrats")],
        key_quote=0,
        key_figures=[0],
    )


def check_config(config: Config) -> CheckReport:
    """Compile every digest and post template against a sample announcement and list missing secrets."""
    report = CheckReport(missing_secrets=missing_secrets(config))
    report.problems.extend(check_templates(config))
    sample = sample_announcement()
    for index, channel in enumerate(config.channels):
        try:
            compose_posts(sample, channel, config)
        except NewsletterError as error:
            report.problems.append(f"channels[{index}] ({channel.name}): {error}")
    report.summary = (
        f"{len(config.sources)} source(s), {len(config.digests)} digest(s), {len(config.channels)} channel(s)"
    )
    return report
