"""Who is asking, and may they: the one place that authenticates requests and checks roles.

- API routes (``/api/…``) take ``Authorization: Bearer <token>``: a personal API token (``fgt_…``) acts
  as its user with that user's roles; the settings' steward token is a bootstrap credential that acts as
  a built-in steward. API routes never read the session cookie, so no page elsewhere can make a
  signed-in browser call them (no CSRF surface on the API).
- Pages take the session cookie (Starlette's ``SessionMiddleware``: signed with itsdangerous, HttpOnly,
  SameSite=Lax, re-issued on each response, so it expires after ``session_idle_minutes`` of inactivity);
  the cookie holds a session id and the CSRF token; the session itself lives in the database, so signing
  out, disabling an account or changing a password ends it on every worker.
- With neither an account nor a steward token configured, every guarded route answers 503: off, never open.

Each guarded route declares its roles with :func:`require` (API) or :func:`page_user` (pages).
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response

from catalog.accounts.audit import AuditLog
from catalog.accounts.service import AccountService
from catalog.context import Context
from catalog.settings import Settings
from schemas.accounts import BOOTSTRAP_STEWARD, Principal, Role

SESSION_COOKIE = "fairgate_session"
STEWARD_ROLES = (Role.STEWARD, Role.ADMIN)
_STEWARDS = frozenset(STEWARD_ROLES)


# --- the room's services on the app's context ------------------------------------------------------


def accounts_of(ctx: Context) -> AccountService:
    service = ctx.extensions.get("accounts")
    if not isinstance(service, AccountService):
        service = AccountService(ctx.store.engine, idle=timedelta(minutes=ctx.settings.session_idle_minutes))
        ctx.extensions["accounts"] = service
    return service


def audit_of(ctx: Context) -> AuditLog:
    log = ctx.extensions.get("audit")
    if not isinstance(log, AuditLog):
        log = ctx.extensions["audit"] = AuditLog(ctx.store.engine)
    return log


def accounts(request: Request) -> AccountService:
    return accounts_of(request.app.state.ctx)


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def audit(request: Request, who: Principal | None, action: str, target: str = "", **fields: Any) -> None:
    """Write one audit record for this request (actor, action, target, client address)."""
    audit_of(request.app.state.ctx).record(
        who.actor if who else "anonymous", action, target, client=client_address(request), **fields
    )


# --- sessions ----------------------------------------------------------------------------------------


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: ``FAIRGATE_SESSION_SECRET``, else a file made 0600 on first use."""
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.resolved_session_key_file())
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def install_sessions(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_idle_minutes * 60,
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )


def _session(request: Request) -> dict[str, Any]:
    # SessionMiddleware is installed by the app; a bare router under test may lack it.
    return request.session if "session" in request.scope else {}


def sign_in_session(request: Request, user_id: int) -> None:
    """Start a session for ``user_id`` in this browser, with a fresh id and CSRF token (no fixation)."""
    session = _session(request)
    old = session.get("sid")
    if isinstance(old, str):
        accounts(request).close_session(old)
    session.clear()
    session["sid"] = accounts(request).open_session(user_id, client_address(request))
    session["csrf"] = secrets.token_urlsafe(24)


def sign_out_session(request: Request) -> None:
    session = _session(request)
    sid = session.get("sid")
    if isinstance(sid, str):
        accounts(request).close_session(sid)
    session.clear()


def csrf_token(request: Request) -> str:
    """The CSRF token every form of this browser carries (made on first use, kept in the session)."""
    session = _session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok(request: Request, given: str) -> bool:
    token = _session(request).get("csrf")
    return isinstance(token, str) and hmac.compare_digest(token.encode(), given.encode())


# --- who is asking -------------------------------------------------------------------------------------


def bearer_principal(ctx: Context, token: str) -> Principal | None:
    """The principal a bearer token acts as: the bootstrap steward token, or a live personal token."""
    configured = ctx.settings.steward_token
    if configured and hmac.compare_digest(token.strip().encode(), configured.encode()):
        return BOOTSTRAP_STEWARD
    return accounts_of(ctx).token_principal(token.strip())


def closed(ctx: Context) -> bool:
    """True when nobody could ever authenticate: no steward token and no account."""
    return not ctx.settings.steward_token and accounts_of(ctx).count() == 0


def session_principal(request: Request) -> Principal | None:
    """The signed-in user of this browser, or None (cached on the request)."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    sid = _session(request).get("sid")
    principal = accounts(request).session_principal(sid) if isinstance(sid, str) else None
    request.state.principal = principal
    return principal


_CLOSED_MESSAGE = (
    "this route is closed: no account and no steward token are configured. Create the first admin with "
    "`fairgate user add EMAIL --role admin`, or set FAIRGATE_STEWARD_TOKEN for scripts"
)


class RoleGuard:
    """FastAPI dependency for API routes: the bearer token's principal, which must hold one of ``roles``
    (an empty set: any signed-in principal)."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    def __call__(self, request: Request) -> Principal:
        ctx: Context = request.app.state.ctx
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        principal = bearer_principal(ctx, given) if scheme.lower() == "bearer" and given else None
        if principal is None:
            if closed(ctx):
                raise HTTPException(503, detail={"code": "auth_not_configured", "message": _CLOSED_MESSAGE})
            raise HTTPException(
                401,
                detail={
                    "code": "unauthorized",
                    "message": "send a personal API token (create one on your account page or with "
                    "`fairgate token create`) as 'Authorization: Bearer <token>'",
                },
                headers={"WWW-Authenticate": 'Bearer realm="fairgate"'},
            )
        if self.roles and not principal.has_any(self.roles):
            raise HTTPException(403, detail={"code": "forbidden", "message": role_message(self.roles)})
        request.state.principal = principal
        return principal


def role_message(roles: frozenset[Role]) -> str:
    names = " or ".join(sorted(r.value for r in roles))
    return f"this needs the {names} role; ask an admin of this fairgate to grant it"


def require(*roles: Role) -> RoleGuard:
    return RoleGuard(frozenset(roles))


STEWARD = RoleGuard(_STEWARDS)
ADMIN = RoleGuard(frozenset({Role.ADMIN}))
Steward = Annotated[Principal, Depends(STEWARD)]
Admin = Annotated[Principal, Depends(ADMIN)]


# --- pages ----------------------------------------------------------------------------------------------


class PageRefusal(Exception):
    """Raised by :func:`page_user`; the app turns it into ``response``."""

    def __init__(self, response: Response) -> None:
        self.response = response


def page_user(request: Request, *roles: Role) -> Principal:
    """The signed-in user of a page that needs one of ``roles`` (none: any signed-in user).

    Not signed in: redirect to ``/sign-in`` and back. Signed in without the role: 403 page.
    """
    principal = session_principal(request)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise PageRefusal(RedirectResponse("/sign-in?next=" + quote(target, safe=""), status_code=303))
    if roles and not principal.has_any(frozenset(roles)):
        from catalog.web.errors import forbidden_page

        raise PageRefusal(forbidden_page(request, frozenset(roles)))
    return principal


def page_steward(request: Request) -> Principal:
    return page_user(request, Role.STEWARD, Role.ADMIN)


def page_form(request: Request, csrf: str, *roles: Role) -> Principal:
    """As :func:`page_user`, for a form post: the form must also carry this browser's CSRF token."""
    principal = page_user(request, *roles)
    if not csrf_ok(request, csrf):
        from catalog.web.errors import stale_form_page

        raise PageRefusal(stale_form_page(request))
    return principal


def page_guard(*roles: Role) -> Callable[[Request], Principal]:
    """``page_user`` for these roles, as a dependency that the route walk test can read (``.roles``)."""

    def guard(request: Request) -> Principal:
        return page_user(request, *roles)

    guard.roles = frozenset(roles)  # type: ignore[attr-defined]
    return guard


def install_page_refusals(app: FastAPI) -> None:
    @app.exception_handler(PageRefusal)
    async def _refused(_: Request, exc: PageRefusal) -> Response:
        return exc.response
