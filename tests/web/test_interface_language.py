"""Every review page speaks the interface language: walked signed in, in English then in French,
no title, heading, button, label, table header or message carries a word only the other language's
interface uses (announcement content, names and addresses are left out of the comparison)."""

from __future__ import annotations

import re

import lxml.html

from newsletter.core.i18n import MESSAGES
from newsletter.store import DigestIssueStatus
from newsletter.store.ledger import Ledger
from tests.fakes.review_env import ReviewEnv, form_post
from tests.pipeline.test_actions import frozen_issue

WORD = re.compile(r"[^\W\d_]{4,}")
INTERFACE_PARTS = ("//title | //h1 | //h2 | //h3 | //h4 | //button | //label | //th | //legend | //summary | //dt"
                   " | //p[contains(@class, 'flash')]")
PLACEHOLDER = re.compile(r"\{\w+\}")


def _vocabulary(lang: str) -> set[str]:
    """The words of every interface sentence of `lang` (placeholders left out), in lower case."""
    return {w.lower() for text in MESSAGES[lang].values() for w in WORD.findall(PLACEHOLDER.sub(" ", text))}


def _only_in(lang: str, other: str) -> set[str]:
    """Words the interface of `lang` uses and that of `other` never does."""
    return _vocabulary(lang) - _vocabulary(other)


def _content(env: ReviewEnv) -> list[str]:
    """What the pages show that is not interface text: announcements, subjects, posts, names, addresses."""
    texts: list[str] = []
    announcements, _ = env.store.announcements.browse_announcements(limit=500, offset=0)
    for a in announcements:
        texts += [a.title, a.lede or "", a.source, *(q.text for q in a.quotes), *(q.speaker or "" for q in a.quotes),
                  *(q.role or "" for q in a.quotes), *(f.raw for f in a.figures), *(f.about or "" for f in a.figures)]
    texts += [i.digest.subject for i in env.store.issues.list_digest_issues(limit=100)]
    texts += [str(row.payload.get("text", "")) for row in Ledger(env.store).queued_posts()]
    branding = env.config.branding
    texts += [branding.name or "", branding.organisation, *(c.name for c in env.config.channels)]
    texts += [d.name for d in env.config.digests] + ["Ana", "ana@example.org", "bob@example.org"]
    texts += ["week=2025-W99", "« nothing »", "“nothing”"]  # what the visitor typed, named back to them
    return sorted((t for t in texts if t), key=len, reverse=True)


def _interface_text(page: str, content: list[str]) -> list[str]:
    """The page's titles, headings, buttons, labels and headers, with the content taken out."""
    tree = lxml.html.fromstring(page)
    found = []
    for element in tree.xpath(INTERFACE_PARTS):
        text = " ".join(element.text_content().split())
        for piece in content:
            text = text.replace(" ".join(piece.split()), " ")
        found.append(text)
    return found


def _pages(env: ReviewEnv) -> list[str]:
    """Every review page, with an issue, a subscriber and an import to show."""
    issue_id = frozen_issue(env, DigestIssueStatus.AWAITING_APPROVAL)
    subscriber = env.store.subscribers.get_subscriber("ana@example.org")
    assert subscriber is not None
    upload = env.client.post("/subscribers/import", data={"csrf_token": env.csrf("/subscribers"), "list": ""},
                             files={"file": ("a.csv", b"email\nzoe@example.org\npas-une-adresse\n", "text/csv")},
                             follow_redirects=False)
    return ["/upcoming", "/calendar", "/calendar?month=2025-03", "/digests/hebdo/edit", "/announcements",
            "/announcements/apprentissage", "/history", f"/history/issues/{issue_id}", "/subscribers",
            f"/subscribers/{subscriber.id}", f"/subscribers/{subscriber.id}/forget", upload.headers["location"],
            "/archive", "/calendar?week=2025-W99"]


def _stray(page: str, content: list[str], foreign: set[str]) -> set[str]:
    """The words of the page's interface parts that only the other language uses."""
    return {w for text in _interface_text(page, content) for w in WORD.findall(text) if w.lower() in foreign}


def _foreign_words(env: ReviewEnv, pages: list[str], lang: str, other: str) -> dict[str, set[str]]:
    """Per page of `pages` shown in `lang`, the words only `other`'s interface uses; also a refused action."""
    content, foreign = _content(env), _only_in(other, lang)
    shown = {path: env.client.get(path) for path in pages}
    assert all(r.status_code in (200, 400) for r in shown.values()), {p: r.status_code for p, r in shown.items()}
    refused = form_post(env.client, "/actions/approve", {"target": "nothing"})
    assert refused.status_code == 400
    texts = {**{path: r.text for path, r in shown.items()}, "refused approve": refused.text}
    return {path: stray for path, text in texts.items() if (stray := _stray(text, content, foreign))}


def test_every_review_page_speaks_only_the_interface_language(review_env: ReviewEnv) -> None:
    pages = _pages(review_env)
    review_env.client.get("/lang/en?next=/upcoming")
    assert "<title>Upcoming sends — " in review_env.client.get("/upcoming").text
    assert _foreign_words(review_env, pages, "en", "fr") == {}
    review_env.client.get("/lang/fr?next=/upcoming")
    assert "<title>Prochains envois — " in review_env.client.get("/upcoming").text
    assert _foreign_words(review_env, pages, "fr", "en") == {}


def test_the_check_sees_a_page_in_the_wrong_language(review_env: ReviewEnv) -> None:
    review_env.client.get("/lang/en?next=/upcoming")
    assert {"Approve", "Channel"} <= _foreign_words(review_env, ["/upcoming"], "fr", "en")["/upcoming"]


def _unlabelled_controls(page: str) -> list[str]:
    """The visible form controls of `page` that no label names: neither a `<label for>`, an enclosing
    `<label>`, an `aria-label` nor an `aria-labelledby` (a screen reader or keyboard user could not tell
    what they are for)."""
    tree = lxml.html.fromstring(page)
    labelled_ids = {label.get("for") for label in tree.xpath("//label[@for]")}
    missing = []
    for control in tree.xpath("//input[not(@type='hidden') and not(@type='submit')] | //select | //textarea"):
        named = (control.get("id") in labelled_ids or control.get("aria-label") or control.get("aria-labelledby")
                 or control.xpath("ancestor::label"))
        if not named:
            missing.append(lxml.html.tostring(control, encoding="unicode")[:120])
    return missing


def test_every_form_control_on_the_review_pages_has_a_label(review_env: ReviewEnv) -> None:
    pages = _pages(review_env)
    unlabelled = {path: found for path in pages if (found := _unlabelled_controls(review_env.client.get(path).text))}
    assert unlabelled == {}
    assert _unlabelled_controls('<form><input name="q"></form>')  # the check sees a control with no label
