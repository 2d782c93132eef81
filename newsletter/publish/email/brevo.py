"""Brevo transport (`smtp.type: brevo`): the transactional email API, POST /v3/smtp/email.

Brevo takes a message as fields, not raw MIME, so each composed message is read back and mapped:
From → `sender`, the recipient (with the To display name) → `to`, Reply-To → `replyTo`,
Subject, the text/plain and text/html parts → `textContent` / `htmlContent`, parts with a file
name → `attachment`, and List-Id, List-Unsubscribe, List-Unsubscribe-Post and any other
non-standard header → `headers`. Lost on the way: our Message-ID and Date (Brevo sets its own),
the MIME layout and transfer encodings, our DKIM signature and VERP sender (Brevo signs and
takes bounces itself), so `smtp.dkim_*` and `smtp.verp` are refused. The Message-ID (the same
for every copy of an issue to one recipient) and the recipient make the `idempotencyKey`, so a
retry after a timeout is not sent twice. `check` reads the account (GET /v3/account) to prove the API key.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, ClassVar, NoReturn

import httpx

from newsletter.config import Config
from newsletter.core.errors import ConfigError
from newsletter.publish.email.base import Outcome, SendResult
from newsletter.publish.email.http_api import (
    ApiSession,
    Throttle,
    answer_json,
    api_endpoint,
    env_secret,
    probe,
    reply_text,
    seconds_header,
)
from newsletter.publish.email.smtp import RateLimiter

FIELD_HEADERS = {
    "from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "mime-version", "content-type",
    "content-transfer-encoding", "dkim-signature", "return-path",
}
SENDER_FIELD = re.compile(r"\bsender\b", re.IGNORECASE)
RECIPIENT_FIELD = re.compile(r"\bin to\b|\bto\[|\brecipient", re.IGNORECASE)


class UnmappableMessage(ValueError):
    """The MIME message has a part Brevo's fields cannot carry."""


def _address(value: Any) -> dict[str, str] | None:
    """Brevo's `{email, name}` for the first address of a header, or None."""
    addresses: tuple[Address, ...] = getattr(value, "addresses", ()) if value is not None else ()
    if not addresses:
        return None
    first = addresses[0]
    return {"email": first.addr_spec, "name": first.display_name} if first.display_name else {"email": first.addr_spec}


def _recipient(message: EmailMessage, recipient: str) -> dict[str, str]:
    """The recipient, with the To header's display name when it names the same address."""
    to = _address(message["To"])
    if to is not None and to["email"].lower() == recipient.lower() and "name" in to:
        return {"email": recipient, "name": to["name"]}
    return {"email": recipient}


def _body_fields(message: EmailMessage) -> dict[str, Any]:
    """textContent, htmlContent and attachment from the message's parts."""
    fields: dict[str, Any] = {}
    attachments: list[dict[str, str]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        content_type = part.get_content_type()
        if filename:
            data = part.get_payload(decode=True) or b""
            assert isinstance(data, bytes)
            attachments.append({"name": filename, "content": base64.b64encode(data).decode("ascii")})
        elif content_type in ("text/plain", "text/html"):
            key = "textContent" if content_type == "text/plain" else "htmlContent"
            if key in fields:
                raise UnmappableMessage(f"a second {content_type} part")
            fields[key] = part.get_content()
        else:
            raise UnmappableMessage(f"a {content_type} part without a file name")
    if attachments:
        fields["attachment"] = attachments
    return fields


def _extra_headers(message: EmailMessage, recipient: str) -> dict[str, str]:
    """Headers without a Brevo field of their own (List-*, X-*…), unfolded, and an idempotency key
    made from the Message-ID and the recipient."""
    headers = {name: " ".join(str(value).split()) for name, value in message.items()
               if name.lower() not in FIELD_HEADERS}
    message_id = message["Message-ID"]
    if message_id:
        name = f"{str(message_id).strip()}\0{recipient.lower()}"
        headers["idempotencyKey"] = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    return headers


def brevo_payload(recipient: str, message: bytes) -> dict[str, Any]:
    """The /v3/smtp/email fields carrying a composed MIME message to `recipient`."""
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    sender = _address(parsed["From"])
    if sender is None:
        raise UnmappableMessage("no From address")
    payload: dict[str, Any] = {
        "sender": sender,
        "to": [_recipient(parsed, recipient)],
        "subject": str(parsed["Subject"] or ""),
        **_body_fields(parsed),
    }
    reply_to = _address(parsed["Reply-To"])
    if reply_to is not None:
        payload["replyTo"] = reply_to
    headers = _extra_headers(parsed, recipient)
    if headers:
        payload["headers"] = headers
    return payload


class BrevoTransport:
    """The `brevo` transport: the API key, rate limit and throttle shared by its sessions."""

    type_name: ClassVar[str] = "brevo"

    def __init__(self, endpoint: str, api_key_env: str, api_key: str, *, timeout: float = 30.0,
                 rate: RateLimiter | None = None):
        self.endpoint = endpoint
        self.api_key_env = api_key_env
        self.api_key = api_key
        self.timeout = timeout
        self.rate = rate or RateLimiter(None, None)
        self.throttle = Throttle()

    @classmethod
    def from_config(cls, config: Config, local_hostname: str) -> BrevoTransport:
        """The transport `smtp.brevo` describes; the key comes from `smtp.brevo.api_key_env`."""
        smtp = config.smtp
        if smtp.dkim_selector:
            raise ConfigError(["smtp.dkim_selector: Brevo signs messages itself (set up DKIM in Brevo); remove it"])
        if smtp.verp:
            raise ConfigError(["smtp.verp: Brevo chooses the envelope sender itself; remove verp"])
        brevo = smtp.brevo
        endpoint = api_endpoint("smtp.brevo.endpoint", brevo.endpoint)
        key = env_secret("smtp.brevo.api_key_env", brevo.api_key_env, "the Brevo API key")
        return cls(endpoint, brevo.api_key_env, key, timeout=smtp.timeout,
                   rate=RateLimiter(smtp.rate_per_second, smtp.rate_per_hour))

    def check(self) -> None:
        """Read the account with the key: a refused key is a ConfigError naming its env var."""
        response = probe(self.type_name, self.timeout, self._request("GET", "/account"))
        if response.status_code != 200:
            self._refuse(response)

    def session(self) -> ApiSession:
        """A session with an httpx client of its own."""
        return ApiSession(self)

    def describe(self) -> str:
        """The endpoint and where the key comes from, never the key."""
        return f"brevo {self.endpoint} (key from {self.api_key_env})"

    def send_request(self, envelope_from: str, recipient: str, message: bytes) -> httpx.Request:
        """The /smtp/email request for one recipient (the envelope sender is Brevo's own);
        UnmappableMessage when a part has no field to go in."""
        payload = brevo_payload(recipient, message)
        return self._request("POST", "/smtp/email", json.dumps(payload).encode())

    def send_result(self, response: httpx.Response, recipient: str) -> SendResult:
        """Sent with Brevo's messageId; 429 and 5xx transient; a 400 about the address permanent."""
        body = answer_json(response)
        status = response.status_code
        if status in (200, 201, 202):
            return SendResult(Outcome.SENT, f"brevo: {status} messageId={body.get('messageId', '')}")
        text = reply_text(body.get("message") or "")
        reply = f"brevo: {recipient}: {status} {body.get('code', '')} {text}".rstrip()
        if status == 429:
            self.throttle.hold(seconds_header(response, "retry-after", "x-sib-ratelimit-reset"))
            return SendResult(Outcome.TRANSIENT, reply)
        if status >= 500:
            return SendResult(Outcome.TRANSIENT, reply)
        if status in (401, 403) or SENDER_FIELD.search(text):
            self._refuse(response)
        refused = bool(RECIPIENT_FIELD.search(text)) or recipient.lower() in text.lower()
        return SendResult(Outcome.PERMANENT, reply, recipient_refused=refused)

    def _request(self, method: str, path: str, body: bytes = b"") -> httpx.Request:
        headers = {"api-key": self.api_key, "accept": "application/json"}
        if body:
            headers["content-type"] = "application/json"
        return httpx.Request(method, self.endpoint + path, content=body, headers=headers)

    def _refuse(self, response: httpx.Response) -> NoReturn:
        body = answer_json(response)
        detail = f"{response.status_code} {body.get('code', '')} {reply_text(body.get('message') or '')}".strip()
        if response.status_code in (401, 403):
            raise ConfigError([f"brevo: {self.endpoint} refused the API key in {self.api_key_env} ({detail})"])
        raise ConfigError([f"brevo: {self.endpoint} refused to send for this account ({detail})"])
