"""Provider events received by webhook on the review app, applied like any bounce report
(`bounces.apply_bounce`: each event once, whatever redelivers it).

`POST /webhooks/ses` takes Amazon SNS messages (`bounces.sns`): each is verified (topic,
certificate host, signature) before anything else; a subscription confirmation is then
confirmed, a notification's SES Bounce or Complaint applied. `POST /webhooks/brevo` takes
Brevo's events (`bounces.brevo`) once the request carries the shared token. One event that
cannot be read or applied never stops the others; one that failed to apply makes the answer
an error, so the provider delivers the whole request again (what was applied is not twice).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from newsletter.config import Config, is_loopback
from newsletter.core.errors import NewsletterError
from newsletter.pipeline.bounces import ACTOR, Effect, apply_bounce
from newsletter.publish.email.provider_events import ProviderEvents, brevo_events, ses_events
from newsletter.publish.email.sns import (
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    CertificateCache,
    SnsMessage,
    confirm_subscription,
    notification_json,
    verify,
)
from newsletter.store import Store

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 24


class WebhookNotConfigured(NewsletterError):
    """This webhook is not configured (no `bounces.sns` / `bounces.brevo` section)."""


class WebhookUnavailable(NewsletterError):
    """The webhook is configured but cannot authenticate anyone (its token env var is unset)."""


class WebhookUnauthorised(NewsletterError):
    """The request does not carry the webhook's token."""


class WebhookMalformed(NewsletterError):
    """The body is not what the provider sends (not JSON)."""


@dataclass
class WebhookResult:
    """What one delivery did: events applied or already applied, ignored (not about a bounce),
    unreadable, and failed to apply (the provider should deliver again)."""

    applied: int = 0
    duplicates: int = 0
    confirmed: bool = False
    ignored: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """The JSON answer to the provider."""
        return {"applied": self.applied, "duplicates": self.duplicates, "confirmed": self.confirmed,
                "ignored": self.ignored, "unreadable": self.unreadable, "failed": self.failed}


def receive_sns(config: Config, store: Store, body: bytes, certificates: CertificateCache,
                now: datetime) -> WebhookResult:
    """Verify one SNS message and act on it: confirm a subscription, apply a notification's
    SES events. SnsMalformed, SnsRejected or SnsUnreachable when it cannot be trusted."""
    settings = config.bounces.sns
    if settings is None:
        raise WebhookNotConfigured("bounces.sns is not configured")
    message = SnsMessage.parse(body)
    verify(message, settings, certificates, now)
    result = WebhookResult()
    if message.type == SUBSCRIPTION_CONFIRMATION:
        confirm_subscription(message, settings)
        store.audit.record_action(ACTOR, "sns.subscription_confirmed", target=message.topic_arn, now=now)
        result.confirmed = True
    elif message.type == NOTIFICATION:
        _apply(config, store, ses_events(notification_json(message), message.message_id), now, result)
    else:
        result.ignored.append(f"{message.type} of {message.topic_arn}")
    return result


def receive_brevo(config: Config, store: Store, body: bytes, credential: str | None, now: datetime) -> WebhookResult:
    """Apply one delivery of Brevo's event webhook, once `credential` (the bearer token or the
    basic-auth password) matches the token in `bounces.brevo.token_env`."""
    settings = config.bounces.brevo
    if settings is None:
        raise WebhookNotConfigured("bounces.brevo is not configured")
    token = os.environ.get(settings.token_env)
    if not token:
        log.error("bounces.brevo: environment variable %s is not set, Brevo events are refused", settings.token_env)
        raise WebhookUnavailable("the webhook token is not set on this server")
    if credential is None or not hmac.compare_digest(credential.encode("utf-8"), token.encode("utf-8")):
        raise WebhookUnauthorised("the request does not carry the webhook token")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WebhookMalformed(f"the body is not JSON ({error})") from None
    result = WebhookResult()
    _apply(config, store, brevo_events(payload), now, result)
    return result


def webhook_problems(config: Config) -> list[str]:
    """What `check` reports about the webhooks: a Brevo token too short to be a secret, or one
    that would cross the network in clear (a public URL that is not https)."""
    settings = config.bounces.brevo
    if settings is None:
        return []
    problems = []
    token = os.environ.get(settings.token_env)
    if token and len(token) < MIN_TOKEN_LENGTH:
        problems.append(f"bounces.brevo.token_env: environment variable {settings.token_env} is shorter than "
                        f"{MIN_TOKEN_LENGTH} characters")
    parts = urlsplit(config.public_base_url)
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        problems.append("bounces.brevo: public_base_url is not https, so Brevo would send the webhook token in clear")
    return problems


def _apply(config: Config, store: Store, found: ProviderEvents, now: datetime, result: WebhookResult) -> None:
    """Apply each event, one failure never stopping the others."""
    result.ignored.extend(found.ignored)
    result.unreadable.extend(found.unreadable)
    for event in found.events:
        try:
            effect = apply_bounce(config, store, event, now).effect
        except Exception:  # one event that cannot be applied never stops the others
            log.exception("%s event %s could not be applied", event.source, event.event_id)
            result.failed.append(event.event_id)
            continue
        if effect is Effect.DUPLICATE:
            result.duplicates += 1
        else:
            result.applied += 1
