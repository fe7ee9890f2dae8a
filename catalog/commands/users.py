"""``fairgate user …`` and ``fairgate token …``: accounts from the command line (the first admin is made here)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from catalog.accounts.audit import AuditLog
from catalog.accounts.service import AccountError, AccountService
from catalog.bootstrap import open_store
from catalog.commands.core import effective_settings
from consent.audit import Actor

console = Console(stderr=True)
user_app = typer.Typer(help="User accounts: add, list, change roles, disable.", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens: create, list, revoke.", no_args_is_help=True)


def _open() -> tuple[AccountService, AuditLog]:
    store = open_store(effective_settings())
    return AccountService(store.engine), AuditLog(store.engine)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def _by_email(service: AccountService, email: str) -> int:
    account = service.by_email(email)
    if account is None:
        raise _fail(f"no account for {email}; see `fairgate user list`")
    return account.id


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


def _cli_actor() -> str:
    return Actor.cli().name


@user_app.command("add")
def add(
    email: str,
    role: Annotated[list[str], typer.Option("--role", help="researcher, steward, reviewer, chair, admin (repeatable)")],
    name: Annotated[str | None, typer.Option(help="display name (default: the part of the e-mail before @)")] = None,
    institution: Annotated[str, typer.Option(help="the person's institution")] = "",
    password_stdin: Annotated[
        bool, typer.Option(help="read the password from the first line of standard input")
    ] = False,
) -> None:
    """Add an account (asks for its password)."""
    service, log = _open()
    password = _read_password(password_stdin)
    try:
        account = service.add_user(email, name or email.split("@")[0], role, password=password, institution=institution)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    log.record(_cli_actor(), "user.add", f"user:{account.id}", detail={"roles": sorted(r.value for r in account.roles)})
    console.print(
        f"added {account.email} (user {account.id}) with roles {', '.join(sorted(r.value for r in account.roles))}"
    )


@user_app.command("list")
def list_users() -> None:
    """Every account with its roles and state."""
    service, _ = _open()
    table = Table("id", "e-mail", "name", "institution", "roles", "state", "last sign-in")
    for a in service.users():
        table.add_row(
            str(a.id),
            a.email,
            a.display_name,
            a.institution,
            ", ".join(sorted(r.value for r in a.roles)),
            "disabled" if a.disabled else "active",
            a.last_sign_in_at.isoformat(timespec="minutes") if a.last_sign_in_at else "",
        )
    Console().print(table)


@user_app.command("roles")
def roles(email: str, role: Annotated[list[str], typer.Option("--role", help="the complete new set of roles")]) -> None:
    """Replace an account's roles."""
    service, log = _open()
    try:
        account = service.set_roles(_by_email(service, email), role)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    log.record(
        _cli_actor(), "user.roles", f"user:{account.id}", detail={"roles": sorted(r.value for r in account.roles)}
    )
    console.print(f"{account.email}: {', '.join(sorted(r.value for r in account.roles)) or 'no roles'}")


@user_app.command("disable")
def disable(email: str) -> None:
    """Disable an account: its sessions end and its tokens stop working."""
    service, log = _open()
    account = service.set_disabled(_by_email(service, email), True)
    log.record(_cli_actor(), "user.disable", f"user:{account.id}")
    console.print(f"disabled {account.email}")


@user_app.command("enable")
def enable(email: str) -> None:
    """Enable a disabled account again."""
    service, log = _open()
    account = service.set_disabled(_by_email(service, email), False)
    log.record(_cli_actor(), "user.enable", f"user:{account.id}")
    console.print(f"enabled {account.email}")


@token_app.command("create")
def create(
    email: str,
    name: Annotated[str, typer.Option(help="what uses the token, e.g. 'nightly harvest'")],
    days: Annotated[int, typer.Option(help="how long it lives (1-366 days)")] = 90,
) -> None:
    """Create a personal API token for EMAIL and print it (once) on standard output."""
    service, log = _open()
    try:
        info, secret = service.create_token(_by_email(service, email), name, days)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    log.record(_cli_actor(), "token.create", f"token:{info.id}", detail={"user": email, "name": info.name})
    console.print(f"token {info.id} for {email}, expires {info.expires_at.date().isoformat()}; shown once:")
    print(secret)


@token_app.command("list")
def list_tokens(email: str) -> None:
    """The tokens of EMAIL (never their secrets)."""
    service, _ = _open()
    table = Table("id", "name", "created", "expires", "revoked", "last used")
    for tok in service.tokens_of(_by_email(service, email)):
        table.add_row(
            str(tok.id),
            tok.name,
            tok.created_at.date().isoformat(),
            tok.expires_at.date().isoformat(),
            tok.revoked_at.isoformat(timespec="minutes") if tok.revoked_at else "",
            tok.last_used_at.isoformat(timespec="minutes") if tok.last_used_at else "",
        )
    Console().print(table)


@token_app.command("revoke")
def revoke(token_id: int) -> None:
    """Revoke a token at once."""
    service, log = _open()
    try:
        service.revoke_token(token_id)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    log.record(_cli_actor(), "token.revoke", f"token:{token_id}")
    console.print(f"revoked token {token_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
