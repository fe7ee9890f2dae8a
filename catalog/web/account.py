"""Account pages: sign in and out, self-registration of researchers, one's own profile and API tokens,
and the admin's users-and-roles and audit-log pages.

Thin views over :class:`catalog.accounts.service.AccountService`; every form carries the session's CSRF
token, and every change is audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from catalog.accounts.service import AccountError, SignInLocked, now_utc
from catalog.api.auth import (
    accounts,
    audit,
    audit_of,
    csrf_ok,
    csrf_token,
    page_form,
    page_guard,
    page_user,
    session_principal,
    sign_in_session,
    sign_out_session,
)
from catalog.web.errors import stale_form_page
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render
from consent.audit import Actor
from schemas.accounts import ROLES, Role

router = APIRouter(include_in_schema=False)


def safe_next(target: str) -> str:
    """Only a path of this site: never send a signed-in browser elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return "/account"


def _page(request: Request, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
    return render(
        request, template, {"csrf": csrf_token(request), "errors": {}, "form": {}, **values}, status_code=status_code
    )


# --- signing in and out ------------------------------------------------------------------------------


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/account") -> Response:
    values = {
        "next": safe_next(next),
        "message": None,
        "registration_open": request.app.state.ctx.settings.allow_registration,
    }
    return _page(request, "sign_in.html", values)


@router.post("/sign-in")
def sign_in(
    request: Request,
    csrf: str = Form(""),
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/account"),
) -> Response:
    lang = request_language(request)
    values: dict[str, Any] = {
        "next": safe_next(next),
        "form": {"email": email},
        "registration_open": request.app.state.ctx.settings.allow_registration,
    }
    if not csrf_ok(request, csrf):
        return stale_form_page(request)
    try:
        account = accounts(request).authenticate(email, password, client=_client(request))
    except SignInLocked:
        audit(request, None, "sign_in.locked", detail={"email_given": bool(email)})
        return _page(request, "sign_in.html", {**values, "message": t("sign_in_locked", lang)}, status_code=429)
    if account is None:
        audit(request, None, "sign_in.failed")
        return _page(request, "sign_in.html", {**values, "message": t("sign_in_failed", lang)}, status_code=401)
    sign_in_session(request, account.id)
    audit(request, account.principal(), "sign_in")
    return RedirectResponse(safe_next(next), status_code=303)


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/sign-out")
def sign_out(request: Request, csrf: str = Form("")) -> Response:
    who = session_principal(request)
    if who is not None and csrf_ok(request, csrf):
        audit(request, who, "sign_out")
        sign_out_session(request)
    return RedirectResponse("/", status_code=303)


@router.get("/register")
def register_form(request: Request) -> Response:
    if not request.app.state.ctx.settings.allow_registration:
        return render(
            request,
            "error.html",
            {"status": 403, "message": t("registration_closed", request_language(request))},
            status_code=403,
        )
    return _page(request, "register.html", {})


@router.post("/register")
def register(
    request: Request,
    csrf: str = Form(""),
    email: str = Form(""),
    display_name: str = Form(""),
    institution: str = Form(""),
    password: str = Form(""),
    password_again: str = Form(""),
) -> Response:
    lang = request_language(request)
    if not request.app.state.ctx.settings.allow_registration:
        return render(
            request, "error.html", {"status": 403, "message": t("registration_closed", lang)}, status_code=403
        )
    if not csrf_ok(request, csrf):
        return stale_form_page(request)
    form = {"email": email, "display_name": display_name, "institution": institution}
    errors: dict[str, str] = {}
    for name, value in form.items():
        if not value.strip():
            errors[name] = t("field_required", lang)
    if not password:
        errors["password"] = t("field_required", lang)
    elif password != password_again:
        errors["password_again"] = t("passwords_differ", lang)
    if not errors:
        try:
            account = accounts(request).add_user(
                email, display_name, [Role.RESEARCHER], password=password, institution=institution
            )
        except AccountError as exc:
            errors[exc.field or "email"] = str(exc)
        else:
            sign_in_session(request, account.id)
            audit(request, account.principal(), "user.register", account.email)
            return RedirectResponse("/account?registered=1", status_code=303)
    return _page(request, "register.html", {"form": form, "errors": errors}, status_code=400)


# --- one's own account ------------------------------------------------------------------------------


def _account_page(request: Request, extra: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    who = page_user(request)
    assert who.user_id is not None
    account = accounts(request).user(who.user_id)
    values = {"account": account, "tokens": accounts(request).tokens_of(who.user_id), "now": now_utc(), **(extra or {})}
    return _page(request, "account.html", values, status_code=status_code)


@router.get("/account", dependencies=[])
def account_page(request: Request) -> Response:
    return _account_page(request)


@router.post("/account/tokens")
def create_token(request: Request, csrf: str = Form(""), name: str = Form(""), days: str = Form("90")) -> Response:
    who = page_form(request, csrf)
    assert who.user_id is not None
    lang = request_language(request)
    form = {"name": name, "days": days}
    try:
        n = int(days)
    except ValueError:
        return _account_page(request, {"form": form, "errors": {"days": t("token_days_invalid", lang)}}, 400)
    try:
        info, secret = accounts(request).create_token(who.user_id, name, n)
    except AccountError as exc:
        return _account_page(request, {"form": form, "errors": {exc.field or "name": str(exc)}}, 400)
    audit(
        request,
        who,
        "token.create",
        f"token:{info.id}",
        detail={"name": info.name, "expires": info.expires_at.isoformat()},
    )
    # Shown once, on this response only; never put in a URL or the session.
    return _account_page(request, {"new_secret": secret}, 201)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, csrf: str = Form("")) -> Response:
    who = page_form(request, csrf)
    try:
        accounts(request).revoke_token(token_id, user_id=who.user_id)
    except AccountError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    audit(request, who, "token.revoke", f"token:{token_id}")
    return RedirectResponse("/account", status_code=303)


# --- admin: users and roles -------------------------------------------------------------------------

_admin = page_guard(Role.ADMIN)


def _users_page(request: Request, extra: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    return _page(
        request, "admin_users.html", {"users": accounts(request).users(), "roles": ROLES, **(extra or {})}, status_code
    )


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    _admin(request)
    return _users_page(request)


@router.post("/admin/users")
async def add_user(request: Request) -> Response:
    form = await request.form()
    who = page_form(request, str(form.get("csrf", "")), Role.ADMIN)
    lang = request_language(request)
    values = {k: str(form.get(k, "")) for k in ("email", "display_name", "institution")}
    roles = [str(r) for r in form.getlist("roles")]
    errors: dict[str, str] = {k: t("field_required", lang) for k in ("email", "display_name") if not values[k].strip()}
    if not str(form.get("password", "")):
        errors["password"] = t("field_required", lang)
    if not errors:
        try:
            account = accounts(request).add_user(
                values["email"],
                values["display_name"],
                roles or [Role.RESEARCHER],
                password=str(form.get("password", "")),
                institution=values["institution"],
            )
        except AccountError as exc:
            errors[exc.field or "email"] = str(exc)
        else:
            audit(
                request, who, "user.add", f"user:{account.id}", detail={"roles": sorted(r.value for r in account.roles)}
            )
            return _users_page(request, {"saved": t("user_added", lang, email=account.email)}, 201)
    return _users_page(request, {"form": {**values, "roles": roles}, "errors": errors}, 400)


@router.post("/admin/users/{user_id}/roles")
async def set_roles(request: Request, user_id: int) -> Response:
    form = await request.form()
    who = page_form(request, str(form.get("csrf", "")), Role.ADMIN)
    lang = request_language(request)
    try:
        account = accounts(request).set_roles(user_id, [str(r) for r in form.getlist("roles")])
    except AccountError as exc:
        return render(request, "error.html", {"status": 400, "message": str(exc)}, status_code=400)
    audit(request, who, "user.roles", f"user:{user_id}", detail={"roles": sorted(r.value for r in account.roles)})
    return _users_page(request, {"saved": t("roles_saved", lang, email=account.email)})


@router.post("/admin/users/{user_id}/{change}")
def set_disabled(request: Request, user_id: int, change: str, csrf: str = Form("")) -> Response:
    who = page_form(request, csrf, Role.ADMIN)
    lang = request_language(request)
    if change not in ("disable", "enable"):
        return render(request, "error.html", {"status": 404, "message": t("not_found_title", lang)}, status_code=404)
    if change == "disable" and who.user_id == user_id:
        return render(
            request, "error.html", {"status": 400, "message": t("cannot_disable_self", lang)}, status_code=400
        )
    try:
        accounts(request).set_disabled(user_id, change == "disable")
    except AccountError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    audit(request, who, f"user.{change}", f"user:{user_id}")
    return RedirectResponse("/admin/users", status_code=303)


# --- admin: the audit log ---------------------------------------------------------------------------


def _day(value: str | None) -> datetime | None:
    return datetime.combine(date.fromisoformat(value), time(), UTC) if value else None


@router.get("/admin/audit")
def audit_page(
    request: Request,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    who = _admin(request)
    filters = {"actor": actor, "action": action, "subject": subject, "since": since, "until": until}
    try:
        start, end = _day(since or None), _day(until or None)
        if subject and (len(subject) != 64 or any(c not in "0123456789abcdef" for c in subject)):
            raise ValueError(subject)
    except ValueError:
        return _page(
            request,
            "admin_audit.html",
            {"entries": [], "filters": filters, "error": t("audit_bad_filter", request_language(request))},
            400,
        )
    end = end + timedelta(days=1) if end else None
    entries: list[dict[str, Any]] = [
        {
            "log": "catalog",
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "subject": e.subject,
            "client": e.client,
        }
        for e in audit_of(request.app.state.ctx).entries(
            actor=actor or None, action=action or None, subject=subject or None, since=start, until=end
        )
    ]
    entries += _consent_entries(request, who.actor, actor, action, subject, start, end)
    entries.sort(key=lambda e: e["at"], reverse=True)
    audit(request, who, "audit.read", detail={k: v for k, v in filters.items() if v})
    return _page(request, "admin_audit.html", {"entries": entries[:500], "filters": filters, "error": None})


def _consent_entries(
    request: Request,
    reader: str,
    actor: str | None,
    action: str | None,
    subject: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[dict[str, Any]]:
    """The consent registry's own audit log (look-ups of people and releases), filtered alike."""
    from consent.api import registry_for

    registry = registry_for(request.app.state.ctx.settings)
    found = []
    for e in registry.audit_log(subject or None, start, action or None, 500, Actor(reader)):
        at = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)
        if (end and at >= end) or (actor and e.actor != actor):
            continue
        found.append(
            {
                "log": "consent",
                "at": at,
                "actor": e.actor,
                "action": e.action,
                "target": e.release_id or e.dataset or "",
                "subject": e.subject,
                "client": "",
            }
        )
    return found
