"""`newsletter check`: everything that can be verified without sending anything."""

from __future__ import annotations

from dataclasses import dataclass, field

from newsletter.compose.social import compose_posts
from newsletter.config import Config, missing_secrets, open_review_problem
from newsletter.core.errors import ConfigError, NewsletterError
from newsletter.pipeline.digests import check_templates, sample_announcements
from newsletter.pipeline.unsubscribe import secret_from_env
from newsletter.pipeline.webhooks import webhook_problems


@dataclass
class CheckReport:
    """Problems (one line each), missing secrets by env-var name, and a one-line summary."""

    problems: list[str] = field(default_factory=list)
    missing_secrets: list[str] = field(default_factory=list)
    summary: str = ""


def check_config(config: Config) -> CheckReport:
    """Compile every digest and post template against the sample announcements (posts: the complete
    one) and list missing secrets."""
    report = CheckReport(missing_secrets=missing_secrets(config))
    report.problems.extend(check_templates(config))
    if (open_problem := open_review_problem(config)) is not None:
        report.problems.append(open_problem)
    if config.unsubscribe.secret_env not in report.missing_secrets:
        try:
            secret_from_env(config)
        except ConfigError as error:
            report.problems.extend(error.problems)
    report.problems.extend(webhook_problems(config))
    sample = sample_announcements()[0]
    for index, channel in enumerate(config.channels):
        try:
            compose_posts(sample, channel, config)
        except NewsletterError as error:
            report.problems.append(f"channels[{index}] ({channel.name}): {error}")
    report.summary = (
        f"{len(config.sources)} source(s), {len(config.digests)} digest(s), {len(config.channels)} channel(s)"
    )
    return report
