"""Review accounts: users (role, password hash, lockout state) and their hashed API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.core.roles import Role
from newsletter.store.tables import api_tokens, users


@dataclass(frozen=True)
class User:
    """A review user as the workspace sees them (never their password hash)."""

    id: int
    name: str
    role: Role
    session_version: int
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    email: str | None = None

    def locked(self, now: datetime) -> bool:
        """Whether sign-in is refused until `locked_until`."""
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class Credentials:
    """A user and the hash their password is checked against."""

    user: User
    password_hash: str


def _user(row: Any) -> User:
    return User(row.id, row.name, Role(row.role), row.session_version, row.failed_logins, row.locked_until,
                row.created_at, row.last_login_at, row.email)


USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]


class UserQueries:
    """`store.users`: accounts, sign-in bookkeeping and API tokens."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_user(self, name: str, role: Role, password_hash: str, now: datetime) -> User | None:
        """Create a user; None when the name is taken."""
        values = {"name": name, "role": str(role), "password_hash": password_hash, "session_version": 1,
                  "failed_logins": 0, "created_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(**values))
        except IntegrityError:
            return None
        return self.get_user(name)

    def get_user(self, name: str) -> User | None:
        """The user called `name`, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*USER_COLUMNS).where(users.c.name == name)).first()
        return _user(row) if row else None

    def get_user_by_id(self, user_id: int) -> User | None:
        """The user with this id, if it still exists."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def credentials(self, name: str) -> Credentials | None:
        """The user called `name` with their password hash, for checking a sign-in."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return Credentials(_user(row), row.password_hash) if row else None

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with self.engine.connect() as conn:
            return [_user(row) for row in conn.execute(select(*USER_COLUMNS).order_by(users.c.name))]

    def count_users(self) -> int:
        """How many users exist."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(users)) or 0)

    def remove_user(self, name: str) -> bool:
        """Delete a user and their API tokens; False when there is no such user."""
        with self.engine.begin() as conn:
            user_id = conn.scalar(select(users.c.id).where(users.c.name == name))
            if user_id is None:
                return False
            conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id))
            conn.execute(delete(users).where(users.c.id == user_id))
        return True

    def set_password_hash(self, name: str, password_hash: str) -> bool:
        """Replace a user's password hash, end their sessions and lift any lockout."""
        with self.engine.begin() as conn:
            result = conn.execute(update(users).where(users.c.name == name).values(
                password_hash=password_hash, session_version=users.c.session_version + 1,
                failed_logins=0, locked_until=None))
        return bool(result.rowcount)

    def set_email(self, name: str, email: str | None) -> bool:
        """Give a user the address approval notifications go to (None: no notifications)."""
        with self.engine.begin() as conn:
            result = conn.execute(update(users).where(users.c.name == name).values(email=email))
        return bool(result.rowcount)

    def set_role(self, name: str, role: Role) -> bool:
        """Give a user another role."""
        with self.engine.begin() as conn:
            result = conn.execute(update(users).where(users.c.name == name).values(role=str(role)))
        return bool(result.rowcount)

    def record_failed_login(self, user_id: int, now: datetime, lock_after: int, lock_for: timedelta) -> None:
        """Count a wrong password; the `lock_after`-th in a row locks the account for `lock_for`."""
        with self.engine.begin() as conn:
            failures = int(conn.scalar(select(users.c.failed_logins).where(users.c.id == user_id)) or 0) + 1
            locked = failures >= lock_after
            conn.execute(update(users).where(users.c.id == user_id).values(
                failed_logins=0 if locked else failures, locked_until=now + lock_for if locked else None))

    def record_login(self, user_id: int, now: datetime) -> None:
        """A successful sign-in: reset the failure count."""
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(
                failed_logins=0, locked_until=None, last_login_at=now))

    def add_api_token(self, user_id: int, token_hash: str, label: str, now: datetime) -> None:
        """Record a new API token of the user (only its hash)."""
        with self.engine.begin() as conn:
            conn.execute(insert(api_tokens).values(user_id=user_id, token_hash=token_hash, label=label,
                                                   created_at=now))

    def user_for_token_hash(self, token_hash: str, now: datetime) -> User | None:
        """The owner of the API token with this hash (noting its use), or None."""
        with self.engine.begin() as conn:
            user_id = conn.scalar(select(api_tokens.c.user_id).where(api_tokens.c.token_hash == token_hash))
            if user_id is None:
                return None
            conn.execute(update(api_tokens).where(api_tokens.c.token_hash == token_hash).values(last_used_at=now))
        return self.get_user_by_id(int(user_id))

    def revoke_api_tokens(self, user_id: int) -> int:
        """Delete every API token of the user; returns how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount)
