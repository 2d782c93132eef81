"""Every key the product writes, built and parsed here only.

Ledger idempotency keys (`email:<issue>:<subscriber>`, `post:<announcement>:<variant>:<channel>`,
`confirmation:<request>`), revision-suffixed post variants (`quote~r2`) and job ids
(`ingest:<source>`, `digest:<name>`, `post:<channel>`, `mail:confirmations`). Other modules
never format or split these strings themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

REVISION_MARK = "~r"
RUNNER_LEASE = "runner"  # the lease the scheduler process holds
CONFIRMATIONS = "confirmations"  # the name of the job sending queued subscribe confirmations
NOTIFICATIONS = "notifications"  # the name of the job telling approvers what awaits them


class JobKind(StrEnum):
    """The kinds of scheduled job, as the prefix of their ids (`mail` sends queued one-off mails)."""

    INGEST = "ingest"
    DIGEST = "digest"
    POST = "post"
    BOUNCES = "bounces"
    MAIL = "mail"


@dataclass(frozen=True)
class JobId:
    """A job of the daemon: its kind and the config name it runs (source, digest or channel)."""

    kind: JobKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def job_id(kind: JobKind, name: str) -> str:
    """The fixed id of the job of `kind` for the source, digest, channel or mail queue called `name`."""
    return str(JobId(kind, name))


def parse_job_id(text: str) -> JobId | None:
    """The job a job id names, or None when it is not `<kind>:<name>` with a known kind."""
    kind, separator, name = text.partition(":")
    if not separator or not name or kind not in JobKind.__members__.values():
        return None
    return JobId(JobKind(kind), name)


def job_kind(text: str) -> JobKind | None:
    """The kind of job a job id names, or None when it names none."""
    parsed = parse_job_id(text)
    return parsed.kind if parsed else None


def list_names(digest_list: str) -> list[str]:
    """The list(s) a digest's `list` names (`a, b` names several)."""
    return [name.strip() for name in digest_list.split(",") if name.strip()]


def email_key(issue_id: str, subscriber_id: int) -> str:
    """The ledger key of one digest message: one per issue and subscriber, whatever lists they are on."""
    return f"email:{issue_id}:{subscriber_id}"


def confirmation_key(request_id: str) -> str:
    """The ledger key of one subscribe confirmation mail: one per accepted subscribe request."""
    return f"confirmation:{request_id}"


def notification_key(item: str, user: str) -> str:
    """The ledger key of one approval notification: one per awaiting item (issue id or post key) and user."""
    return f"notify:{item}:{user}"


@dataclass(frozen=True)
class PostKey:
    """The parts of a post's ledger key."""

    announcement_id: str
    variant: str
    channel: str

    def __str__(self) -> str:
        return f"post:{self.announcement_id}:{self.variant}:{self.channel}"


def post_key(announcement_id: str, variant: str, channel: str) -> str:
    """The ledger key of one post: one per announcement, variant key and channel."""
    return str(PostKey(announcement_id, variant, channel))


def parse_post_key(key: str) -> PostKey | None:
    """The parts of a post key, or None when `key` is not one (channel names hold no colon)."""
    prefix, _, rest = key.partition(":")
    announcement_id, _, tail = rest.partition(":")
    variant, _, channel = tail.rpartition(":")
    if prefix != "post" or not (announcement_id and variant and channel):
        return None
    return PostKey(announcement_id, variant, channel)


def variant_key(variant: str, revision: int) -> str:
    """The variant as written in a post's key: plain as first announced, with a revision suffix
    (`quote~r2`) for a re-announced update."""
    return variant if revision == 0 else f"{variant}{REVISION_MARK}{revision}"


def base_variant(variant: str) -> str:
    """The variant a (possibly revision-suffixed) variant key was composed as."""
    return variant.split(REVISION_MARK, 1)[0]
