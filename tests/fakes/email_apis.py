"""Loopback HTTP servers standing in for Amazon SES v2 and Brevo's transactional email API.

`FakeSes` recomputes every request's SigV4 signature from its own copy of the secret (written
here from the SigV4 specification, independently of botocore) and refuses a wrong one as AWS
does (403 InvalidSignatureException); it decodes each raw message it accepts. `FakeBrevo`
checks the `api-key` header, validates the fields and honours `idempotencyKey`. Both record
what they accepted and fail on demand: throttling, rejected addresses, 5xx, late answers.
`Provider` gives tests one face over these and the SMTP fake (`tests/fakes/smtp.py`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config, load_config
from tests.fakes.smtp import SmtpServer, write_mail_config
from tests.fakes.social_apis import Answer, FakeService, Recorded, serve

SES_SEND = "/v2/email/outbound-emails"
SES_ACCOUNT = "/v2/email/account"
SES_KEY_ID_ENV = "NEWSLETTER_TEST_SES_KEY_ID"
SES_SECRET_ENV = "NEWSLETTER_TEST_SES_SECRET"
BREVO_KEY_ENV = "NEWSLETTER_TEST_BREVO_KEY"
MAX_CLOCK_SKEW = 300


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_signature(secret: str, request: Recorded, amz_date: str, scope: str, signed_headers: list[str]) -> str:
    """The SigV4 signature of `request` (canonical request, string to sign, derived key)."""
    canonical_headers = "".join(f"{name}:{' '.join(request.headers.get(name, '').split())}\n"
                                for name in signed_headers)
    query = "&".join(sorted(f"{k}={v}" for k, values in request.query.items() for v in values))
    canonical = "\n".join([request.method, request.path, query, canonical_headers, ";".join(signed_headers),
                           hashlib.sha256(request.body).hexdigest()])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    date, region, service, terminal = scope.split("/")
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), terminal)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class SesMessage:
    """One message SES accepted."""

    recipient: str
    from_address: str
    raw: bytes

    def message(self) -> EmailMessage:
        """The parsed raw message."""
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class FakeSes(FakeService):
    """SES v2: GetAccount and SendEmail (raw content), SigV4 verified against `secret_access_key`."""

    access_key_id: str = "AKIAFAKE0000EXAMPLE"
    secret_access_key: str = "fake/SES+secret0000000000000000000EXAMPLE"
    region: str = "eu-west-3"
    max_send_rate: float = 500.0
    reject: set[str] = field(default_factory=set)
    sent: list[SesMessage] = field(default_factory=list)
    refused_signatures: int = 0
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def handle(self, request: Recorded) -> Answer:
        problem = self.verify(request)
        if problem is not None:
            self.refused_signatures += 1
            code, message = problem
            return 403, {"x-amzn-ErrorType": code}, {"message": message}
        if request.path == SES_ACCOUNT and request.method == "GET":
            return 200, {}, {"SendingEnabled": True, "ProductionAccessEnabled": True,
                             "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": self.max_send_rate,
                                           "SentLast24Hours": float(len(self.sent))}}
        if request.path == SES_SEND and request.method == "POST":
            return self._send(request.json())
        return 404, {"x-amzn-ErrorType": "NotFoundException"}, {"message": f"{request.path} not found"}

    def verify(self, request: Recorded) -> tuple[str, str] | None:
        """None when the SigV4 signature is right, else the AWS error code and message."""
        fields = dict(part.strip().split("=", 1) for part in
                      request.headers.get("authorization", "").removeprefix("AWS4-HMAC-SHA256 ").split(",")
                      if "=" in part)
        if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
            return "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders, Signature"
        key_id, _, scope = fields["Credential"].partition("/")
        if key_id != self.access_key_id:
            return "UnrecognizedClientException", "The security token included in the request is invalid."
        amz_date = request.headers.get("x-amz-date", "")
        signed = fields["SignedHeaders"].split(";")
        if scope.split("/")[1:] != [self.region, "ses", "aws4_request"] or not {"host", "x-amz-date"} <= set(signed):
            return "IncompleteSignatureException", f"credential scope {scope} is not valid here"
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "IncompleteSignatureException", "X-Amz-Date is missing or malformed"
        if abs((datetime.now(UTC) - when).total_seconds()) > MAX_CLOCK_SKEW:
            return "InvalidSignatureException", "Signature expired"
        expected = sigv4_signature(self.secret_access_key, request, amz_date, scope, signed)
        if not hmac.compare_digest(expected, fields["Signature"]):
            return "InvalidSignatureException", ("The request signature we calculated does not match the "
                                                 "signature you provided.")
        return None

    def _send(self, body: dict[str, Any]) -> Answer:
        recipients = body.get("Destination", {}).get("ToAddresses", [])
        raw = base64.b64decode(body["Content"]["Raw"]["Data"], validate=True)
        [recipient] = recipients
        if recipient.lower() in self.reject:
            return 400, {"x-amzn-ErrorType": "MessageRejected"}, {
                "message": f"Email address is not verified. The following identities failed the check in region "
                           f"{self.region.upper()}: {recipient}"}
        with self.lock:
            self.sent.append(SesMessage(recipient, body.get("FromEmailAddress", ""), raw))
            number = next(self.message_ids)
        return 200, {}, {"MessageId": f"0107{number:012d}-fake-ses-000000"}

    def throttle(self, times: int, *, smtp_style: bool = False) -> None:
        """The next `times` sends are throttled: 429 TooManyRequests, or SES's 454 message."""
        if smtp_style:
            self.fail(SES_SEND, 400, headers={"x-amzn-ErrorType": "Throttling"},
                      body={"message": "454 Throttling failure: Maximum sending rate exceeded."}, times=times)
        else:
            self.fail(SES_SEND, 429, headers={"x-amzn-ErrorType": "TooManyRequestsException"},
                      body={"message": "Too Many Requests"}, times=times)

    def copies(self) -> Counter[str]:
        """How many accepted copies each recipient got."""
        with self.lock:
            return Counter(m.recipient.lower() for m in self.sent)


@dataclass
class FakeBrevo(FakeService):
    """Brevo's /v3/account and /v3/smtp/email, keyed by `api_key`, honouring `idempotencyKey`."""

    api_key: str = "xkeysib-fake0000000000000000000000000000000000000000000000000000-TEST"
    invalid: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    idempotent: dict[str, str] = field(default_factory=dict)
    late: int = 0
    late_seconds: float = 0.0
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def handle(self, request: Recorded) -> Answer:
        if request.headers.get("api-key") != self.api_key:
            return 401, {}, {"code": "unauthorized", "message": "Key not found"}
        if request.path == "/v3/account" and request.method == "GET":
            return 200, {}, {"email": "comm@ministere.example.org", "companyName": "Ministère des Essais",
                             "plan": [{"type": "free", "credits": 300, "creditsType": "sendLimit"}]}
        if request.path == "/v3/smtp/email" and request.method == "POST":
            return self._send(request.json())
        return 404, {}, {"code": "not_found", "message": "Invalid route"}

    def _send(self, body: dict[str, Any]) -> Answer:
        missing = [name for name in ("sender", "to", "subject") if not body.get(name)]
        if missing or not (body.get("htmlContent") or body.get("textContent")):
            return 400, {}, {"code": "missing_parameter", "message": f"{(missing or ['htmlContent'])[0]} is missing"}
        if any(r["email"].lower() in self.invalid for r in body["to"]):
            return 400, {}, {"code": "invalid_parameter", "message": "email is not valid in to"}
        key = (body.get("headers") or {}).get("idempotencyKey")
        with self.lock:
            if key and key in self.idempotent:
                return 201, {}, {"messageId": self.idempotent[key]}
            message_id = f"<20250324080000.{next(self.message_ids):06d}@smtp-relay.mailin.fr>"
            self.sent.append(body)
            if key:
                self.idempotent[key] = message_id
            late = self.late > 0
            self.late -= int(late)
        if late:
            time.sleep(self.late_seconds)  # accepted, but answers after the client gave up
        return 201, {}, {"messageId": message_id}

    def throttle(self, times: int, *, reset: str = "1") -> None:
        """The next `times` sends get 429 with Brevo's rate-limit headers."""
        self.fail("/v3/smtp/email", 429, headers={"x-sib-ratelimit-limit": "1000", "x-sib-ratelimit-remaining": "0",
                                                  "x-sib-ratelimit-reset": reset},
                  body={"code": "too_many_requests", "message": "The expected rate limit is exceeded."}, times=times)

    def copies(self) -> Counter[str]:
        """How many accepted copies each recipient got."""
        with self.lock:
            return Counter(r["email"].lower() for body in self.sent for r in body["to"])


@pytest.fixture
def fake_ses() -> Iterator[FakeSes]:
    """A loopback SES v2 endpoint."""
    yield from serve(FakeSes("ses"))  # type: ignore[misc]


@pytest.fixture
def fake_brevo() -> Iterator[FakeBrevo]:
    """A loopback Brevo API."""
    yield from serve(FakeBrevo("brevo"))  # type: ignore[misc]


@dataclass
class Delivered:
    """What a recipient would see, however the provider carried it."""

    subject: str
    sender: str
    list_unsubscribe: str
    text: str
    html: str


@dataclass
class Provider:
    """One transport's fake behind one face: config keys, faults, what arrived."""

    name: str
    fake: FakeSes | FakeBrevo | SmtpServer
    secret_env: str

    def config(self, folder: Path, **smtp: object) -> Config:
        """A sending config (see `write_mail_config`) through this provider."""
        settings: dict[str, object] = {"type": self.name}
        if isinstance(self.fake, FakeSes):
            settings["ses"] = {"region": self.fake.region, "endpoint": self.fake.url,
                               "access_key_id_env": SES_KEY_ID_ENV, "secret_access_key_env": SES_SECRET_ENV}
        elif isinstance(self.fake, FakeBrevo):
            settings["brevo"] = {"endpoint": f"{self.fake.url}/v3", "api_key_env": BREVO_KEY_ENV}
        server = self.fake if isinstance(self.fake, SmtpServer) else None
        return load_config(write_mail_config(folder, server, **settings, **smtp))

    def copies(self) -> Counter[str]:
        """Accepted copies per recipient."""
        if isinstance(self.fake, SmtpServer):
            return self.fake.handler.copies()
        return self.fake.copies()

    def reject(self, address: str) -> None:
        """Refuse this address for good."""
        if isinstance(self.fake, SmtpServer):
            self.fake.handler.reject_rcpt.add(address.lower())
        elif isinstance(self.fake, FakeSes):
            self.fake.reject.add(address.lower())
        else:
            self.fake.invalid.add(address.lower())

    def defer_next(self, address: str) -> None:
        """Defer the next message to `address` (SMTP 451) or the next request (HTTP 503)."""
        if isinstance(self.fake, SmtpServer):
            self.fake.handler.defer_rcpt[address.lower()] = 1
        else:
            self.fake.fail("/", 503, body={"message": "Service Unavailable"})

    def delivered(self) -> dict[str, Delivered]:
        """Each recipient's copy as they would read it."""
        if isinstance(self.fake, FakeBrevo):
            return {body["to"][0]["email"]: Delivered(
                body["subject"], body["sender"]["email"], body["headers"]["List-Unsubscribe"],
                body["textContent"], body["htmlContent"]) for body in self.fake.sent}
        parsed = ([(m.recipient, m.message()) for m in self.fake.sent] if isinstance(self.fake, FakeSes)
                  else [(m.rcpt_tos[0], m.message()) for m in self.fake.handler.received])
        return {recipient: Delivered(
            str(message["Subject"]), message["From"].addresses[0].addr_spec, str(message["List-Unsubscribe"]),
            message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())
            for recipient, message in parsed}


def make_provider(name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Provider:
    """The fake for `name` (`smtp`, `ses` or `brevo`) started, and its keys in the environment."""
    if name == "ses":
        ses: FakeSes = request.getfixturevalue("fake_ses")
        monkeypatch.setenv(SES_KEY_ID_ENV, ses.access_key_id)
        monkeypatch.setenv(SES_SECRET_ENV, ses.secret_access_key)
        return Provider(name, ses, SES_SECRET_ENV)
    if name == "brevo":
        brevo: FakeBrevo = request.getfixturevalue("fake_brevo")
        monkeypatch.setenv(BREVO_KEY_ENV, brevo.api_key)
        return Provider(name, brevo, BREVO_KEY_ENV)
    return Provider(name, request.getfixturevalue("smtp_server"), "NEWSLETTER_TEST_SMTP_PASSWORD")


@pytest.fixture
def provider(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Provider:
    """The provider named by the test's parameter (indirect: `smtp`, `ses` or `brevo`)."""
    return make_provider(request.param, request, monkeypatch)


@pytest.fixture
def provider_ses(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Provider:
    """SES through its fake (`fake_ses`), keys in the environment."""
    return make_provider("ses", request, monkeypatch)


@pytest.fixture
def provider_brevo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Provider:
    """Brevo through its fake (`fake_brevo`), key in the environment."""
    return make_provider("brevo", request, monkeypatch)
