"""Bounce reports read from mail: the recipient from VERP or the report, hard vs soft by status."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.core.models import BounceKind
from newsletter.publish.email.bounce_reports import NotAReport, read_report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
OURS = ["lettre@example.org"]


def report(name: str, return_paths: list[str] = OURS) -> list[tuple[BounceKind, str, str]]:
    events = read_report((FIXTURES / name).read_bytes(), return_paths)
    return [(e.kind, e.recipient, e.diagnostic) for e in events]


def test_a_5_1_1_dsn_is_a_hard_bounce_of_the_verp_recipient() -> None:
    [(kind, recipient, diagnostic)] = report("hard-5.1.1.eml")
    assert (kind, recipient) == (BounceKind.HARD, "jeanne@example.org")
    assert diagnostic.startswith("5.1.1 smtp; 550 5.1.1 <jeanne@example.org>: Recipient address rejected")


def test_a_4_2_2_delay_is_a_soft_bounce_of_the_final_recipient() -> None:
    assert report("soft-4.2.2.eml") == [(BounceKind.SOFT, "paul@example.org", "4.2.2 smtp; 452 4.2.2 Mailbox full")]


def test_an_exchange_report_is_read_by_flufl_bounce() -> None:
    assert report("exchange.eml", ["other@example.net"]) == [(BounceKind.HARD, "marc@example.org", "")]


def test_a_complaint_names_the_verp_recipient_else_the_original_rcpt_to() -> None:
    assert report("complaint-arf.eml") == [(BounceKind.COMPLAINT, "sophie@example.org", "feedback-type: abuse")]
    assert report("complaint-arf.eml", ["other@example.net"])[0][1] == "sophie@example.org"


def test_mail_that_is_no_report_is_refused_with_its_subject_and_sender() -> None:
    with pytest.raises(NotAReport, match=r"'Re: La lettre du ministere' from lucie@example.org: no failed"):
        report("not-a-report.eml")


def test_each_report_has_an_event_id_of_its_own_message_id() -> None:
    (event,) = read_report((FIXTURES / "hard-5.1.1.eml").read_bytes(), OURS)
    assert event.event_id == "imap:<20260302080112.4F1A2B3C4D@mx.example.org>:jeanne@example.org"
