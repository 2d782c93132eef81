"""Review accounts: create, remove and re-key users, check a sign-in (argon2 hashes, lockout after
repeated failures) and issue per-user API tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from newsletter.config import ReviewConfig
from newsletter.core.errors import NewsletterError
from newsletter.core.roles import Role
from newsletter.pipeline.subscribers import SubscriberError, normalise_address
from newsletter.store import Store, User

MIN_PASSWORD_LENGTH = 12
MAX_NAME_LENGTH = 80
TOKEN_PREFIX = "nl_"
HASHER = PasswordHasher()
# Checked when the name is unknown, so a wrong name costs what a wrong password costs.
UNKNOWN_USER_HASH = HASHER.hash(secrets.token_urlsafe(16))


class AccountError(NewsletterError):
    """An account cannot be created or changed as asked."""


class SignInOutcome(StrEnum):
    """What a sign-in attempt came to."""

    SIGNED_IN = "signed_in"
    REFUSED = "refused"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in, with the user when it succeeded and the lock's end when locked."""

    outcome: SignInOutcome
    user: User | None = None
    locked_until: datetime | None = None


def clean_name(name: str) -> str:
    """A user name as stored: trimmed, inner spaces collapsed; AccountError when empty or too long."""
    clean = " ".join(name.split())
    if not clean or len(clean) > MAX_NAME_LENGTH:
        raise AccountError(f"a user name needs 1 to {MAX_NAME_LENGTH} characters, got {len(clean)}")
    return clean


def _checked_password(name: str, password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().casefold() == name.casefold():
        raise AccountError("the password must not be the user name")
    return password


def add_user(store: Store, name: str, password: str, role: Role, now: datetime, email: str | None = None) -> User:
    """Create a review user with an argon2 hash of `password` (and the address approval
    notifications go to, if given)."""
    name = clean_name(name)
    address = _checked_email(email) if email else None
    user = store.users.add_user(name, role, HASHER.hash(_checked_password(name, password)), now)
    if user is None:
        raise AccountError(f"there is already a user named {name!r}")
    if address is not None:
        store.users.set_email(name, address)
        user = replace(user, email=address)
    return user


def set_email(store: Store, name: str, email: str | None) -> str | None:
    """Give a user the address approval notifications go to (empty or None: none); the address as stored."""
    address = _checked_email(email) if email else None
    if not store.users.set_email(clean_name(name), address):
        raise AccountError(f"no user named {name!r}")
    return address


def _checked_email(email: str) -> str:
    try:
        return normalise_address(email)
    except SubscriberError as error:
        raise AccountError(f"{email.strip()!r} is not a valid address: {error}") from None


def change_password(store: Store, name: str, password: str) -> None:
    """Set a new password: the user's open sessions end and any lockout is lifted."""
    name = clean_name(name)
    if not store.users.set_password_hash(name, HASHER.hash(_checked_password(name, password))):
        raise AccountError(f"no user named {name!r}")


def remove_user(store: Store, name: str) -> None:
    """Delete a user, their sessions (checked per request) and their API tokens."""
    if not store.users.remove_user(clean_name(name)):
        raise AccountError(f"no user named {name!r}")


def set_role(store: Store, name: str, role: Role) -> None:
    """Give a user another role."""
    if not store.users.set_role(clean_name(name), role):
        raise AccountError(f"no user named {name!r}")


def sign_in(store: Store, review: ReviewConfig, name: str, password: str, now: datetime) -> SignIn:
    """Check a name and password; the `lockout_after`-th failure in a row locks the account for
    `lockout_minutes`, during which even the right password is refused."""
    found = store.users.credentials(" ".join(name.split()))
    if found is None:
        _verify(UNKNOWN_USER_HASH, password)
        return SignIn(SignInOutcome.REFUSED)
    if found.user.locked(now):
        _verify(UNKNOWN_USER_HASH, password)
        return SignIn(SignInOutcome.LOCKED, locked_until=found.user.locked_until)
    if not _verify(found.password_hash, password):
        store.users.record_failed_login(found.user.id, now, review.lockout_after,
                                        timedelta(minutes=review.lockout_minutes))
        locked = store.users.get_user_by_id(found.user.id)
        if locked is not None and locked.locked(now):
            return SignIn(SignInOutcome.LOCKED, locked_until=locked.locked_until)
        return SignIn(SignInOutcome.REFUSED)
    store.users.record_login(found.user.id, now)
    return SignIn(SignInOutcome.SIGNED_IN, user=found.user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def session_user(store: Store, user_id: object, version: object) -> User | None:
    """The user a session cookie names, if they still exist and have not changed password since."""
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    user = store.users.get_user_by_id(user_id)
    return user if user is not None and user.session_version == version else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(store: Store, name: str, label: str, now: datetime) -> str:
    """A new API token for the user (shown once: only its hash is kept)."""
    user = store.users.get_user(clean_name(name))
    if user is None:
        raise AccountError(f"no user named {name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.users.add_api_token(user.id, _token_hash(token), " ".join(label.split())[:MAX_NAME_LENGTH] or "api", now)
    return token


def api_token_user(store: Store, token: str, now: datetime) -> User | None:
    """The user an API token belongs to, or None for an unknown token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return store.users.user_for_token_hash(_token_hash(token), now)
