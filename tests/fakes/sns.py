"""A fake Amazon SNS: its own RSA key and self-signed certificate, the certificate served on the
loopback HTTP server (`site`), and messages signed the way SNS signs them (SignatureVersion 1
or 2) for the SES webhook. `fake_sns.config()` is the `bounces.sns` section that trusts it.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from newsletter.publish.email.sns import SIGNED_FIELDS
from tests.fakes.http_site import Site

TOPIC = "arn:aws:sns:eu-west-3:123456789012:lettre-bounces"
CERT_PATH = "/SimpleNotificationService-fake.pem"
CONFIRM_PATH = "/confirm-subscription"
ALGORITHMS = {"1": hashes.SHA1, "2": hashes.SHA256}


@dataclass(frozen=True)
class SigningKeys:
    """SNS's key and certificate, and a stranger's key (signatures that must not verify)."""

    key: rsa.RSAPrivateKey
    certificate_pem: bytes
    stranger: rsa.RSAPrivateKey


def self_signed(key: rsa.RSAPrivateKey) -> bytes:
    """A PEM certificate for `key`, valid from a year before now to a year after."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.fake.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=3650))
        .not_valid_after(now + timedelta(days=3650)).sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def sns_keys() -> SigningKeys:
    """Made once per session (RSA key generation is the slow part)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKeys(key, self_signed(key), rsa.generate_private_key(public_exponent=65537, key_size=2048))


class FakeSns:
    """Signs SNS messages and serves the signing certificate and the confirmation URL."""

    def __init__(self, site: Site, keys: SigningKeys):
        self.site = site
        self.keys = keys
        site.serve(CERT_PATH, keys.certificate_pem, content_type="application/x-pem-file")
        site.serve(CONFIRM_PATH, "<ConfirmSubscriptionResponse/>", content_type="text/xml")

    @property
    def cert_url(self) -> str:
        """Where the signing certificate is served (on 127.0.0.1)."""
        return self.site.url(CERT_PATH)

    def config(self) -> dict[str, Any]:
        """The `bounces.sns` section accepting this fake's topic and certificate host."""
        return {"topic_arns": [TOPIC], "certificate_hosts": ["127.0.0.1"], "timeout": 5}

    def confirmations(self) -> int:
        """How many times the confirmation URL was fetched."""
        return self.site.count_requests(CONFIRM_PATH)

    def notification(self, ses_event: dict[str, Any], **options: Any) -> bytes:
        """A signed Notification carrying an SES event (see `sign` for the options)."""
        fields = {"Type": "Notification", "Message": json.dumps(ses_event), "Subject": "Amazon SES Email Event"}
        return self.sign(fields, **options)

    def subscription_confirmation(self, subscribe_url: str | None = None, **options: Any) -> bytes:
        """A signed SubscriptionConfirmation whose SubscribeURL is this fake's (or `subscribe_url`)."""
        fields = {"Type": "SubscriptionConfirmation", "Token": "2336412f37fb687f5d51e6e2425",
                  "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
                  "SubscribeURL": subscribe_url or self.site.url(CONFIRM_PATH) + "?Action=ConfirmSubscription"}
        return self.sign(fields, **options)

    def sign(self, fields: dict[str, str], *, version: str = "2", key: rsa.RSAPrivateKey | None = None,
             topic: str = TOPIC, cert_url: str | None = None, message_id: str | None = None) -> bytes:
        """The JSON body SNS would post: `fields` with an id, topic and time, signed with
        SNS's key (or `key`), the certificate at `cert_url` (default this fake's)."""
        message = {**fields, "MessageId": message_id or str(uuid.uuid4()), "TopicArn": topic,
                   "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "SignatureVersion": version,
                   "SigningCertURL": cert_url or self.cert_url}
        signed = "".join(f"{name}\n{message[name]}\n" for name in SIGNED_FIELDS[message["Type"]] if name in message)
        signature = (key or self.keys.key).sign(signed.encode(), padding.PKCS1v15(), ALGORITHMS[version]())
        return json.dumps({**message, "Signature": base64.b64encode(signature).decode()}).encode()


def ses_bounce(address: str, bounce_type: str = "Permanent", feedback_id: str = "fb-1") -> dict[str, Any]:
    """An SES Bounce notification about one recipient."""
    return {"notificationType": "Bounce", "mail": {"messageId": "ses-message-1", "destination": [address]},
            "bounce": {"bounceType": bounce_type, "bounceSubType": "General", "feedbackId": feedback_id,
                       "timestamp": "2025-03-21T09:30:00.000Z",
                       "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1",
                                              "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}}


def ses_complaint(address: str, feedback_id: str = "fb-complaint") -> dict[str, Any]:
    """An SES Complaint notification about one recipient."""
    return {"notificationType": "Complaint", "mail": {"messageId": "ses-message-2", "destination": [address]},
            "complaint": {"feedbackId": feedback_id, "timestamp": "2025-03-21T09:40:00.000Z",
                          "complaintFeedbackType": "abuse", "complainedRecipients": [{"emailAddress": address}]}}


@pytest.fixture
def fake_sns(site: Site, sns_keys: SigningKeys) -> FakeSns:
    """The fake SNS over the loopback HTTP server, certificate and confirmation URL served."""
    return FakeSns(site, sns_keys)
