"""Alerts to the comms team: a job failure, a paused channel or send, a source failing for a day.

Alerts go by email (through the configured email transport, like every other message) and/or
a JSON POST to a webhook. Sending an alert never raises: a failed alert is logged, and the job
carries on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from newsletter.compose.mime import sender_domain
from newsletter.config import Config
from newsletter.core.errors import NewsletterError
from newsletter.core.keys import JobKind, parse_job_id
from newsletter.publish.email.base import email_transport, send_one
from newsletter.store import RunOutcome, Store

log = logging.getLogger("newsletter.runtime.alerts")


def notify(config: Config, subject: str, body: str, *, kind: str, target: str) -> None:
    """Send one alert to every configured destination."""
    log.warning("alert (%s %s): %s", kind, target, subject)
    if config.alerts.webhook_url:
        _post_webhook(config, {"kind": kind, "target": target, "subject": subject, "body": body})
    if config.alerts.email:
        _send_email(config, subject, body)


def _post_webhook(config: Config, payload: dict[str, str]) -> None:
    try:
        httpx.post(config.alerts.webhook_url or "", json=payload, timeout=10).raise_for_status()
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        log.error("alert webhook failed: %s", error)


def _send_email(config: Config, subject: str, body: str) -> None:
    sender = config.alerts.from_address
    try:
        transport = email_transport(config, sender_domain(sender))
    except NewsletterError as error:
        log.error("alert email failed: %s", error)
        return
    message = alert_message(config, subject, body)
    for recipient in config.alerts.email:
        try:
            send_one(transport, sender, recipient, message)
        except NewsletterError as error:
            log.error("alert email to %s failed: %s", recipient, error)


def alert_message(config: Config, subject: str, body: str) -> bytes:
    """The alert as MIME bytes (CRLF line breaks), addressed to the whole comms team."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = config.alerts.from_address
    message["To"] = ", ".join(config.alerts.email)
    message["Subject"] = f"[newsletter] {subject}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="newsletter.local")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message.as_bytes()


def job_failed(config: Config, store: Store, job_id: str, message: str) -> None:
    """Alert when a job starts failing, and when a source has been failing for a day."""
    runs = store.runs.last_runs(job_id, limit=2)
    previous = runs[1] if len(runs) > 1 else None
    if previous is None or previous.outcome is not RunOutcome.FAILED:
        notify(config, f"job {job_id} failed", message, kind="job_failed", target=job_id)
    job = parse_job_id(job_id)
    if job is not None and job.kind is JobKind.INGEST and runs and previous is not None:
        source = job.name
        since = (store.source_states.get_source_state(source) or {}).get("failing_since")
        threshold = timedelta(hours=config.alerts.source_failing_hours)
        if since is not None and _crossed(since, runs[0].started_at, previous.started_at, threshold):
            notify(config, f"source {source} failing since {since:%Y-%m-%d %H:%M} UTC", message,
                   kind="source_failing", target=job_id)


def _crossed(since: datetime, latest: datetime, previous: datetime, threshold: timedelta) -> bool:
    """True when the failing streak passed `threshold` with the latest run, not before."""
    return latest - since >= threshold > previous - since


def channel_paused(config: Config, channel: str, reason: str) -> None:
    """Alert that a social channel is paused and needs a person (credentials, suspension)."""
    notify(config, f"channel {channel} paused", reason, kind="channel_paused", target=channel)


def send_paused(config: Config, issue_id: str, digest: str, reason: str, errors: list[str]) -> None:
    """Alert that a send paused itself on too many errors, with the first errors seen."""
    lines = [f"Issue {issue_id} was paused automatically: {reason}.", "",
             "First errors:", *(f"  {error}" for error in errors[:10]), "",
             f"Once the cause is fixed, resume it with `newsletter send resume {digest}`."]
    notify(config, f"send of {issue_id} paused", "\n".join(lines), kind="send_paused", target=issue_id)
