"""Amazon SES v2 transport (`smtp.type: ses`): the raw MIME message through `SendEmail`.

Each message is POSTed to /v2/email/outbound-emails as `Content.Raw.Data` with the recipient as
its only `Destination`, SigV4-signed by botocore (the `ses` extra) with the keys from the env
vars `smtp.ses` names. The message goes byte for byte as composed (DKIM-signed first when
`smtp.dkim_*` is set; SES adds its own signature). `check` reads the account (GetAccount): it
proves the keys and, without `smtp.rate_per_second`, adopts the account's maximum send rate.
Throttling (429, `Throttling`, "454 … Maximum sending rate exceeded") pauses every session and
is transient; `MessageRejected` is permanent; account-wide refusals stop the run (ConfigError).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
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
from newsletter.publish.email.smtp import DkimSigner, RateLimiter

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
THROTTLING = {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}
ACCOUNT_REFUSALS = {
    "AccountSuspendedException", "SendingPausedException", "MailFromDomainNotVerifiedException", "NotFoundException",
}
CREDENTIAL_REFUSALS = {
    "UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch", "AccessDeniedException",
    "IncompleteSignatureException", "ExpiredTokenException", "InvalidClientTokenId",
}


@dataclass(frozen=True)
class SesSettings:
    """Region, endpoint and the names of the env vars holding the keys."""

    region: str
    endpoint: str
    access_key_id_env: str
    secret_access_key_env: str
    session_token_env: str | None = None
    configuration_set: str | None = None

    @classmethod
    def from_config(cls, config: Config) -> SesSettings:
        """Settings from `smtp.ses`; the endpoint defaults to the region's SES endpoint."""
        ses = config.smtp.ses
        if not ses.region:
            raise ConfigError(["smtp.ses.region: required when smtp.type is ses (e.g. eu-west-3)"])
        endpoint = api_endpoint("smtp.ses.endpoint", ses.endpoint or f"https://email.{ses.region}.amazonaws.com")
        return cls(ses.region, endpoint, ses.access_key_id_env, ses.secret_access_key_env, ses.session_token_env,
                   ses.configuration_set)

    def key_names(self) -> str:
        """The env vars holding the keys, for error messages."""
        return " / ".join(n for n in (self.access_key_id_env, self.secret_access_key_env, self.session_token_env) if n)


class SigV4Signer:
    """Signs SES requests with botocore's SigV4Auth; the keys are read once from their env vars."""

    def __init__(self, settings: SesSettings):
        try:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
        except ImportError:
            raise ConfigError(["smtp.type: ses needs botocore: pip install 'newsletter[ses]'"]) from None
        token = env_secret("smtp.ses.session_token_env", settings.session_token_env,
                           "the AWS session token") if settings.session_token_env else None
        credentials = Credentials(
            env_secret("smtp.ses.access_key_id_env", settings.access_key_id_env, "the AWS access key id"),
            env_secret("smtp.ses.secret_access_key_env", settings.secret_access_key_env, "the AWS secret access key"),
            token,
        )
        self.auth = SigV4Auth(credentials, "ses", settings.region)
        self.request_class = AWSRequest

    def request(self, method: str, url: str, body: bytes = b"") -> httpx.Request:
        """An httpx request carrying the SigV4 headers for `method url body`."""
        headers = {"Content-Type": "application/json"} if body else {}
        signed = self.request_class(method=method, url=url, data=body, headers=headers)
        self.auth.add_auth(signed)
        return httpx.Request(method, url, content=body, headers=dict(signed.headers.items()))


def error_type(response: httpx.Response, body: dict[str, Any]) -> str:
    """The AWS error code of an answer (`x-amzn-ErrorType`, else the body's `__type` or `code`)."""
    raw = response.headers.get("x-amzn-errortype") or str(body.get("__type") or body.get("code") or "")
    return raw.split(":", 1)[0].rsplit("#", 1)[-1]


def error_message(body: dict[str, Any]) -> str:
    """The human part of an AWS error answer."""
    return reply_text(body.get("message") or body.get("Message") or "")


class SesTransport:
    """The `ses` transport: one signer, rate limit and throttle shared by its sessions."""

    type_name: ClassVar[str] = "ses"

    def __init__(self, settings: SesSettings, signer: SigV4Signer, *, timeout: float = 30.0,
                 rate: RateLimiter | None = None, dkim: DkimSigner | None = None, adopt_account_rate: bool = False):
        self.settings = settings
        self.signer = signer
        self.timeout = timeout
        self.rate = rate or RateLimiter(None, None)
        self.rate_per_hour = self.rate.per_hour
        self.throttle = Throttle()
        self.dkim = dkim
        self.adopt_account_rate = adopt_account_rate

    @classmethod
    def from_config(cls, config: Config, local_hostname: str) -> SesTransport:
        """The transport `smtp.ses` describes (`local_hostname` is not used: SES names itself)."""
        smtp = config.smtp
        if smtp.verp:
            raise ConfigError(["smtp.verp: SES chooses the envelope sender itself; remove verp"])
        settings = SesSettings.from_config(config)
        return cls(settings, SigV4Signer(settings), timeout=smtp.timeout,
                   rate=RateLimiter(smtp.rate_per_second, smtp.rate_per_hour),
                   dkim=DkimSigner.from_config(smtp, config.resolve),
                   adopt_account_rate=smtp.rate_per_second is None)

    def check(self) -> None:
        """Read the account (GetAccount): refused keys or paused sending are a ConfigError."""
        request = self.signer.request("GET", self.settings.endpoint + ACCOUNT_PATH)
        response = probe(self.type_name, self.timeout, request)
        body = answer_json(response)
        if response.status_code != 200:
            self._refuse_account(response, body)
        if body.get("SendingEnabled") is False:
            raise ConfigError([f"ses: sending is disabled on the account in {self.settings.region}"])
        max_rate = (body.get("SendQuota") or {}).get("MaxSendRate")
        if self.adopt_account_rate and isinstance(max_rate, int | float) and max_rate > 0:
            self.rate = RateLimiter(float(max_rate), self.rate_per_hour)

    def session(self) -> ApiSession:
        """A session with an httpx client of its own."""
        return ApiSession(self)

    def describe(self) -> str:
        """The endpoint and region; the keys are never shown."""
        return f"ses {self.settings.endpoint} ({self.settings.region})"

    def send_request(self, envelope_from: str, recipient: str, message: bytes) -> httpx.Request:
        """A signed SendEmail request carrying the (DKIM-signed) raw message to `recipient` alone."""
        raw = message if self.dkim is None else self.dkim.sign(message)
        payload: dict[str, Any] = {
            "FromEmailAddress": envelope_from,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": base64.b64encode(raw).decode("ascii")}},
        }
        if self.settings.configuration_set:
            payload["ConfigurationSetName"] = self.settings.configuration_set
        body = json.dumps(payload).encode()
        return self.signer.request("POST", self.settings.endpoint + SEND_PATH, body)

    def send_result(self, response: httpx.Response, recipient: str) -> SendResult:
        """Sent with SES's MessageId; throttling and 5xx transient; a rejection permanent."""
        body = answer_json(response)
        status = response.status_code
        if status == 200:
            return SendResult(Outcome.SENT, f"ses: 200 MessageId={body.get('MessageId', '')}")
        code, text = error_type(response, body), error_message(body)
        reply = f"ses: {recipient}: {status} {code} {text}".rstrip()
        if status == 429 or code in THROTTLING or "454" in text or "Maximum sending rate exceeded" in text:
            self.throttle.hold(seconds_header(response, "retry-after"))
            return SendResult(Outcome.TRANSIENT, reply)
        if status >= 500:
            return SendResult(Outcome.TRANSIENT, reply)
        if status in (401, 403) or code in CREDENTIAL_REFUSALS or code in ACCOUNT_REFUSALS:
            self._refuse_account(response, body)
        refused = code == "MessageRejected" and (recipient.lower() in text.lower() or "illegal address" in text.lower())
        return SendResult(Outcome.PERMANENT, reply, recipient_refused=refused)

    def _refuse_account(self, response: httpx.Response, body: dict[str, Any]) -> NoReturn:
        code, text = error_type(response, body), error_message(body)
        if response.status_code in (401, 403) or code in CREDENTIAL_REFUSALS:
            raise ConfigError([f"ses: {self.describe()} refused the credentials in {self.settings.key_names()} "
                               f"({response.status_code} {code})"])
        raise ConfigError([f"ses: {self.describe()} refused to send: {response.status_code} {code} {text}".rstrip()])
