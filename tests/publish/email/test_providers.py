"""The EmailTransport contract for smtp, ses and brevo alike, and what the provider fakes check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from newsletter.config import load_config, missing_secrets
from newsletter.core.errors import ConfigError
from newsletter.publish.email.base import Outcome, TransportUnavailable, email_transport, transport_class
from newsletter.publish.email.brevo import BrevoTransport, UnmappableMessage, brevo_payload
from newsletter.publish.email.ses import SesSettings, SesTransport, SigV4Signer
from newsletter.publish.email.smtp import crlf
from tests.fakes.email_apis import SES_KEY_ID_ENV, SES_SECRET_ENV, FakeSes, Provider
from tests.fakes.smtp import free_port, write_mail_config

ALL = pytest.mark.parametrize("provider", ["smtp", "ses", "brevo"], indirect=True)
MESSAGE = crlf(
    b"From: =?utf-8?q?Minist=C3=A8re?= <lettre@example.org>\n"
    b"To: Ana <ana@example.org>\nSubject: essai\nMessage-ID: <m1@example.org>\n"
    b"List-Unsubscribe: <https://news.example.org/unsubscribe/t>\n"
    b"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b\"\n\n"
    b"--b\nContent-Type: text/plain; charset=utf-8\n\n.bonjour\n"
    b"--b\nContent-Type: text/html; charset=utf-8\n\n<p>bonjour</p>\n--b--\n"
)


@ALL
def test_a_session_reports_each_outcome_with_the_provider_reply(tmp_path: Path, provider: Provider) -> None:
    transport = email_transport(provider.config(tmp_path), "example.org")
    assert transport_class(provider.name) is type(transport)
    transport.check()
    provider.reject("nobody@example.org")
    session = transport.session()
    session.open()
    sent = session.send("lettre@example.org", "ana@example.org", MESSAGE)
    refused = session.send("lettre@example.org", "nobody@example.org", MESSAGE)
    provider.defer_next("later@example.org")
    deferred = session.send("lettre@example.org", "later@example.org", MESSAGE)
    again = session.send("lettre@example.org", "later@example.org", MESSAGE)
    session.close()

    assert sent.outcome is Outcome.SENT and sent.reply and not sent.recipient_refused
    assert refused.outcome is Outcome.PERMANENT and refused.recipient_refused
    assert deferred.outcome is Outcome.TRANSIENT and not deferred.recipient_refused
    assert again.outcome is Outcome.SENT
    assert provider.copies() == {"ana@example.org": 1, "later@example.org": 1}
    assert provider.delivered()["ana@example.org"].text == ".bonjour"


@ALL
def test_a_secret_missing_from_the_environment_is_a_config_error_naming_it(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(provider.secret_env, raising=False)
    login = {"username": "lettre", "password_env": provider.secret_env} if provider.name == "smtp" else {}
    with pytest.raises(ConfigError, match=rf"environment variable {provider.secret_env} is not set"):
        email_transport(provider.config(tmp_path, **login), "example.org").check()


@pytest.mark.parametrize("name", ["smtp", "ses", "brevo"])
def test_a_provider_that_cannot_be_reached_is_unavailable_for_now(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in (SES_KEY_ID_ENV, SES_SECRET_ENV, "NEWSLETTER_TEST_BREVO_KEY"):
        monkeypatch.setenv(env, "some-key")
    closed = f"http://127.0.0.1:{free_port()}"
    config = load_config(write_mail_config(
        tmp_path, None, type=name, port=free_port(),
        ses={"region": "eu-west-3", "endpoint": closed, "access_key_id_env": SES_KEY_ID_ENV,
             "secret_access_key_env": SES_SECRET_ENV},
        brevo={"endpoint": closed, "api_key_env": "NEWSLETTER_TEST_BREVO_KEY"},
    ))
    with pytest.raises(TransportUnavailable):
        email_transport(config, "example.org").check()


@pytest.mark.parametrize("provider", ["ses", "brevo"], indirect=True)
def test_describe_names_the_provider_and_never_the_key(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-" + "k" * 32
    monkeypatch.setenv(provider.secret_env, secret)
    described = email_transport(provider.config(tmp_path), "example.org").describe()
    assert described.startswith(provider.name) and "127.0.0.1" in described and secret not in described


def test_the_fake_ses_checks_the_signature_it_recomputes(
    tmp_path: Path, fake_ses: FakeSes, provider_ses: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = provider_ses.config(tmp_path)
    settings = SesSettings.from_config(config)
    url = f"{fake_ses.url}/v2/email/outbound-emails"
    body = json.dumps({"Destination": {"ToAddresses": ["ana@example.org"]},
                       "Content": {"Raw": {"Data": base64.b64encode(MESSAGE).decode()}}}).encode()
    right = SigV4Signer(settings).request("POST", url, body)
    tampered = httpx.Request("POST", url, headers=right.headers, content=body.replace(b"ana@", b"eve@"))
    monkeypatch.setenv(SES_SECRET_ENV, fake_ses.secret_access_key + "x")
    wrong = SigV4Signer(settings).request("POST", url, body)

    with httpx.Client() as client:
        answers = [client.send(request) for request in (wrong, tampered, right)]
    assert [a.status_code for a in answers] == [403, 403, 200]
    assert [a.headers.get("x-amzn-errortype") for a in answers[:2]] == ["InvalidSignatureException"] * 2
    assert fake_ses.refused_signatures == 2 and fake_ses.copies() == {"ana@example.org": 1}
    assert fake_ses.sent[0].raw == MESSAGE
    with pytest.raises(ConfigError, match=rf"refused the credentials in {SES_KEY_ID_ENV} / {SES_SECRET_ENV}"):
        SesTransport.from_config(config, "example.org").check()


def test_ses_settings_need_a_region_and_a_safe_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    cases = {
        "smtp.ses.region: required": {"ses": {}},
        "smtp.ses.endpoint: 'http://ses.example.org' must be an https:// URL": {
            "ses": {"region": "eu-west-3", "endpoint": "http://ses.example.org"}},
        "smtp.verp: SES chooses the envelope sender": {"ses": {"region": "eu-west-3"}, "verp": True},
    }
    for problem, smtp in cases.items():
        with pytest.raises(ConfigError, match=problem):
            email_transport(load_config(write_mail_config(tmp_path, None, type="ses", **smtp)), "example.org")
    default = email_transport(load_config(write_mail_config(tmp_path, None, type="ses", ses={"region": "eu-west-3"})),
                              "example.org")
    assert default.describe() == "ses https://email.eu-west-3.amazonaws.com (eu-west-3)"


def test_brevo_refuses_settings_it_cannot_honour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREVO_API_KEY", "key")
    for problem, smtp in {"smtp.dkim_selector: Brevo signs": {"dkim_selector": "news"},
                          "smtp.verp: Brevo chooses": {"verp": True}}.items():
        with pytest.raises(ConfigError, match=problem):
            BrevoTransport.from_config(load_config(write_mail_config(tmp_path, None, type="brevo", **smtp)), "h")


def test_brevo_fields_carry_attachments_and_refuse_parts_without_a_field() -> None:
    with_file = MESSAGE.replace(
        b"--b--", b"--b\r\nContent-Type: text/calendar\r\nContent-Disposition: attachment; filename=\"rdv.ics\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nQkVHSU46VkNBTEVOREFS\r\n--b--")
    payload = brevo_payload("ana@example.org", with_file)
    assert payload["attachment"] == [{"name": "rdv.ics", "content": "QkVHSU46VkNBTEVOREFS"}]
    assert payload["sender"] == {"email": "lettre@example.org", "name": "Ministère"}
    assert payload["to"] == [{"email": "ana@example.org", "name": "Ana"}] and payload["textContent"] == ".bonjour"
    image = MESSAGE.replace(b"--b--", b"--b\r\nContent-Type: image/png\r\n\r\nxx\r\n--b--")
    with pytest.raises(UnmappableMessage, match="image/png"):
        brevo_payload("ana@example.org", image)


def test_newsletter_check_asks_only_for_the_keys_of_the_chosen_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BREVO_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    wanted = {"smtp": set(), "ses": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "brevo": {"BREVO_API_KEY"}}
    for name, keys in wanted.items():
        config = load_config(write_mail_config(tmp_path, None, type=name, ses={"region": "eu-west-3"}))
        provider_keys = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BREVO_API_KEY"}
        assert provider_keys & set(missing_secrets(config)) == keys, name
