"""`newsletter users …`: the review workspace's accounts (add, list, remove, passwd, role, email, token)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from newsletter.cli.app import app
from newsletter.cli.common import ActorOption, ConfigOption, actor_name, console, load, open_store, reports_errors
from newsletter.core.roles import Role

group = typer.Typer(help="Manage who may sign in to the review pages, and with which role.", no_args_is_help=True)
app.add_typer(group, name="users")

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts).")
]


def _password(from_stdin: bool) -> str:
    """The new password, typed twice without echo, or the first line of stdin; never an argument."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@group.command("add")
@reports_errors
def add(
    name: Annotated[str, typer.Argument(help="The user name they sign in with (shown in the action log).")],
    role: Annotated[Role, typer.Option(help="editor: edit posts, pick the key quote; approver: also approve, "
                                            "send or post now, skip; admin: also users, channels and lists.")]
    = Role.EDITOR,
    email: Annotated[str | None, typer.Option(help="Where approvers and admins are told that something "
                                                   "awaits their approval.")] = None,
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Create a review user (the password is stored as an argon2 hash)."""
    from newsletter.pipeline import accounts
    from newsletter.store import utcnow

    cfg = load(config)
    password = _password(password_stdin)
    with open_store(cfg) as store:
        user = accounts.add_user(store, name, password, role, utcnow(), email=email)
        store.audit.record_action(actor_name(actor), "user.add", user.name, {"role": str(role)})
    typer.echo(f"user {user.name} added ({user.role})")


@group.command("list")
@reports_errors
def list_users(config: ConfigOption = None) -> None:
    """Every user with their role, last sign-in and whether they are locked out."""
    from rich.table import Table

    from newsletter.store import utcnow

    cfg = load(config)
    with open_store(cfg) as store:
        users = store.users.list_users()
    now = utcnow()
    table = Table("name", "role", "email", "created", "last sign-in", "locked until")
    for user in users:
        locked = user.locked_until.astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M") if user.locked(now) else ""
        last = user.last_login_at.astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        created = user.created_at.astimezone(cfg.tz).strftime("%Y-%m-%d")
        table.add_row(user.name, str(user.role), user.email or "", created, last, locked)
    console().print(table if users else "no users yet: add one with `newsletter users add NAME --role admin`")


@group.command("remove")
@reports_errors
def remove(
    name: Annotated[str, typer.Argument(help="The user to remove (their sessions and API tokens end).")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Remove a user: their open sessions and API tokens stop working at once."""
    from newsletter.pipeline import accounts

    cfg = load(config)
    with open_store(cfg) as store:
        accounts.remove_user(store, name)
        store.audit.record_action(actor_name(actor), "user.remove", name, {})
    typer.echo(f"user {name} removed")


@group.command("passwd")
@reports_errors
def passwd(
    name: Annotated[str, typer.Argument(help="The user whose password changes.")],
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Set a user's password: their open sessions end and a lockout is lifted."""
    from newsletter.pipeline import accounts

    cfg = load(config)
    password = _password(password_stdin)
    with open_store(cfg) as store:
        accounts.change_password(store, name, password)
        store.audit.record_action(actor_name(actor), "user.passwd", name, {})
    typer.echo(f"password of {name} changed; their sessions have ended")


@group.command("role")
@reports_errors
def set_role(
    name: Annotated[str, typer.Argument(help="The user whose role changes.")],
    role: Annotated[Role, typer.Argument(help="editor, approver or admin.")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Give a user another role (it applies to their next request)."""
    from newsletter.pipeline import accounts

    cfg = load(config)
    with open_store(cfg) as store:
        accounts.set_role(store, name, role)
        store.audit.record_action(actor_name(actor), "user.role", name, {"role": str(role)})
    typer.echo(f"user {name} is now {role}")


@group.command("email")
@reports_errors
def set_email(
    name: Annotated[str, typer.Argument(help="The user whose address changes.")],
    address: Annotated[str, typer.Argument(help="Their email address (\"\" for none).")],
    config: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Set where a user is told that a digest issue or a post awaits their approval (approvers and admins)."""
    from newsletter.pipeline import accounts

    cfg = load(config)
    with open_store(cfg) as store:
        stored = accounts.set_email(store, name, address)
        store.audit.record_action(actor_name(actor), "user.email", name, {})
    typer.echo(f"user {name}: notifications go to {stored}" if stored else f"user {name}: no notifications")


@group.command("token")
@reports_errors
def token(
    name: Annotated[str, typer.Argument(help="The user the token acts as (with their role).")],
    label: Annotated[str, typer.Option(help="What the token is for, to recognise it later.")] = "api",
    config: ConfigOption = None,
) -> None:
    """Create an API token for `Authorization: Bearer`; it is printed once and only its hash is kept."""
    from newsletter.pipeline import accounts
    from newsletter.store import utcnow

    cfg = load(config)
    with open_store(cfg) as store:
        value = accounts.create_api_token(store, name, label, utcnow())
    typer.echo(value)
