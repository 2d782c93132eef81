"""Amazon SNS messages posted to the SES webhook, verified before anything is believed.

A message is accepted only from a configured topic, signed (SignatureVersion 1: RSA with SHA1,
2: RSA with SHA256) over the string AWS defines for its type, with the key of an X.509
certificate fetched from `SigningCertURL`, whose host must match `bounces.sns.certificate_hosts`
(https, verified against the system's CAs; plain http only from a loopback address). Fetched
certificates are kept, so a burst of notifications costs one download. A subscription is
confirmed by fetching its `SubscribeURL`, under the same host rule.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from newsletter.config import SNS_HOST_LABEL, SnsWebhookConfig, is_loopback
from newsletter.core.errors import NewsletterError

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
OPTIONAL_FIELDS = {"Subject"}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED_CERTIFICATES = 32


class SnsMalformed(NewsletterError):
    """The body is not an SNS message (not JSON, a field missing, an unknown type)."""


class SnsRejected(NewsletterError):
    """The message is not from SNS for an accepted topic: wrong topic, certificate host or signature."""


class SnsUnreachable(NewsletterError):
    """The signing certificate or the confirmation URL could not be fetched (SNS will retry)."""


@dataclass(frozen=True)
class SnsMessage:
    """One SNS message as posted: its type, topic, id, body (`message`) and signed fields."""

    type: str
    topic_arn: str
    message_id: str
    message: str
    fields: dict[str, str]

    @classmethod
    def parse(cls, body: bytes) -> SnsMessage:
        """The message in a POST body; SnsMalformed when it is not one."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SnsMalformed(f"the body is not JSON ({error})") from None
        if not isinstance(data, dict):
            raise SnsMalformed("the body is not a JSON object")
        kind = data.get("Type")
        if kind not in SIGNED_FIELDS:
            raise SnsMalformed(f"unknown SNS message type {kind!r}")
        required = [*SIGNED_FIELDS[kind], "SignatureVersion", "Signature", "SigningCertURL"]
        missing = [name for name in required if name not in OPTIONAL_FIELDS and not isinstance(data.get(name), str)]
        if missing:
            raise SnsMalformed(f"{kind} without {', '.join(missing)}")
        fields = {name: value for name, value in data.items() if isinstance(value, str)}
        return cls(kind, fields["TopicArn"], fields["MessageId"], fields["Message"], fields)

    def string_to_sign(self) -> bytes:
        """What SNS signed: each signed field present, as its name and value on lines of their own."""
        lines = []
        for name in SIGNED_FIELDS[self.type]:
            if name in self.fields:
                lines += [name, self.fields[name]]
        return "".join(f"{line}\n" for line in lines).encode("utf-8")


def host_allowed(url: str, patterns: list[str]) -> bool:
    """Whether `url` is https (or http to loopback) on a host matching one of `patterns`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        return False
    return any(_host_matches(host, pattern) for pattern in patterns)


def _host_matches(host: str, pattern: str) -> bool:
    labels, wanted = host.split("."), pattern.split(".")
    return len(labels) == len(wanted) and all(
        label == expected or (expected == SNS_HOST_LABEL and label.isascii() and label.replace("-", "").isalnum())
        for label, expected in zip(labels, wanted, strict=True)
    )


class CertificateCache:
    """SNS signing certificates by URL, fetched once (a bounded number kept), shared by requests."""

    def __init__(self) -> None:
        self._certificates: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def public_key(self, url: str, settings: SnsWebhookConfig, now: datetime) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at `url` (which must be an allowed host), valid at `now`."""
        if not host_allowed(url, settings.certificate_hosts):
            raise SnsRejected(f"signing certificate URL {url!r} is not on an allowed host "
                              "(bounces.sns.certificate_hosts)")
        with self._lock:
            certificate = self._certificates.get(url)
        if certificate is None:
            certificate = _fetch_certificate(url, settings.timeout)
            with self._lock:
                if len(self._certificates) >= CACHED_CERTIFICATES:
                    self._certificates.pop(next(iter(self._certificates)))
                self._certificates[url] = certificate
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise SnsRejected(f"signing certificate {url!r} is not valid at {now:%Y-%m-%d %H:%M} UTC")
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsRejected(f"signing certificate {url!r} has no RSA key")
        return key


def _fetch_certificate(url: str, timeout: float) -> x509.Certificate:
    """Download and parse a PEM certificate (no redirects, at most `MAX_CERTIFICATE_BYTES`)."""
    body = _get(url, timeout, MAX_CERTIFICATE_BYTES)
    try:
        return x509.load_pem_x509_certificate(body)
    except ValueError:
        raise SnsRejected(f"{url!r} does not hold a PEM certificate") from None


def _get(url: str, timeout: float, limit: int) -> bytes:
    """GET `url` (redirects not followed), its body up to `limit` bytes; SnsUnreachable on failure."""
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
            if response.status_code != 200:
                raise SnsUnreachable(f"{urlsplit(url).hostname} answered HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise SnsUnreachable(f"{urlsplit(url).hostname} sent more than {limit} bytes")
            return body
    except httpx.HTTPError as error:
        raise SnsUnreachable(f"cannot fetch from {urlsplit(url).hostname}: {type(error).__name__}") from None


def verify(message: SnsMessage, settings: SnsWebhookConfig, certificates: CertificateCache, now: datetime) -> None:
    """Raise SnsRejected unless the message is from an accepted topic and its signature holds."""
    if message.topic_arn not in settings.topic_arns:
        raise SnsRejected(f"topic {message.topic_arn!r} is not in bounces.sns.topic_arns")
    algorithm = HASHES.get(message.fields["SignatureVersion"])
    if algorithm is None:
        raise SnsRejected(f"unknown SignatureVersion {message.fields['SignatureVersion']!r}")
    key = certificates.public_key(message.fields["SigningCertURL"], settings, now)
    try:
        signature = base64.b64decode(message.fields["Signature"], validate=True)
        key.verify(signature, message.string_to_sign(), padding.PKCS1v15(), algorithm())
    except (InvalidSignature, binascii.Error, ValueError):
        raise SnsRejected(f"the signature of SNS message {message.message_id} does not verify") from None


def confirm_subscription(message: SnsMessage, settings: SnsWebhookConfig) -> None:
    """Confirm a (verified) subscription by fetching its SubscribeURL, on an allowed host only."""
    url = message.fields["SubscribeURL"]
    if not host_allowed(url, settings.certificate_hosts):
        raise SnsRejected(f"SubscribeURL {url!r} is not on an allowed host (bounces.sns.certificate_hosts)")
    _get(url, settings.timeout, MAX_CERTIFICATE_BYTES)


def notification_json(message: SnsMessage) -> Any:
    """The notification's body (an SES event) as JSON; SnsMalformed when it is not JSON."""
    try:
        return json.loads(message.message)
    except json.JSONDecodeError as error:
        raise SnsMalformed(f"SNS message {message.message_id}: its Message is not JSON ({error})") from None
