"""Who may use the review pages, and with which role.

Every review page needs a user signed in with their password (`newsletter users add`), or an
`Authorization: Bearer <API token>` header of a user, unless `review.open` is set, which is only
allowed when the app and its public URL are on loopback. The session cookie names the user and
their password's version, so a password change or removal ends their sessions at once; it is
signed with the key in `review.session_secret_env` (a random key per process without it).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from starlette.requests import Request

from newsletter.config import Config, open_review_problem
from newsletter.core.errors import ConfigError
from newsletter.core.roles import Role
from newsletter.pipeline.accounts import api_token_user, session_user
from newsletter.store import Store, User, utcnow

SESSION_USER_ID = "uid"
SESSION_VERSION = "uv"
OPEN_ACTOR = "web"
REVIEWER_STATE = "reviewer"


@dataclass(frozen=True)
class Reviewer:
    """Who is asking: the name the audit log records and the role that decides what they may do."""

    name: str
    role: Role

    def may(self, required: Role | str) -> bool:
        """Whether this reviewer's role allows what `required` may do."""
        return self.role.allows(Role(required))


class NotSignedIn(Exception):
    """A review page was asked for without a valid login."""


class Forbidden(Exception):
    """The signed-in user's role does not allow this action."""

    def __init__(self, required: Role):
        super().__init__(f"this needs the {required} role")
        self.required = required


def check_can_serve(config: Config, host: str) -> None:
    """Refuse to serve open review pages anywhere but loopback."""
    problem = open_review_problem(config, host)
    if problem is not None:
        raise ConfigError([problem])


def session_secret(config: Config) -> str:
    """The session signing key: from `review.session_secret_env`, else random for this process."""
    return os.environ.get(config.review.session_secret_env) or secrets.token_urlsafe(32)


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _as_reviewer(user: User | None) -> Reviewer | None:
    return Reviewer(user.name, user.role) if user is not None else None


def _resolve(request: Request, config: Config, store: Store) -> Reviewer | None:
    given = bearer(request)
    if given is not None:
        return _as_reviewer(api_token_user(store, given, utcnow()))
    if SESSION_USER_ID in request.session:
        found = _as_reviewer(session_user(store, request.session.get(SESSION_USER_ID),
                                          request.session.get(SESSION_VERSION)))
        if found is None:
            request.session.clear()
        return found
    return Reviewer(OPEN_ACTOR, Role.ADMIN) if config.review.open else None


def current_reviewer(request: Request, config: Config, store: Store) -> Reviewer | None:
    """The signed-in user (session or API token), the open workspace's actor, or None (kept per request)."""
    if REVIEWER_STATE not in request.scope.setdefault("state", {}):
        request.scope["state"][REVIEWER_STATE] = _resolve(request, config, store)
    found: Reviewer | None = request.scope["state"][REVIEWER_STATE]
    return found


def require_role(request: Request, config: Config, store: Store, required: Role) -> Reviewer:
    """The reviewer when their role allows `required`; NotSignedIn or Forbidden otherwise."""
    found = current_reviewer(request, config, store)
    if found is None:
        raise NotSignedIn()
    if not found.may(required):
        raise Forbidden(required)
    return found


def start_session(request: Request, user: User) -> None:
    """Sign `user` in on this browser (a fresh session: no fixation)."""
    request.session.clear()
    request.session[SESSION_USER_ID] = user.id
    request.session[SESSION_VERSION] = user.session_version
    request.scope.setdefault("state", {})[REVIEWER_STATE] = Reviewer(user.name, user.role)
