"""The data-subject portal's pages under ``/portal`` and the steward's page that re-issues a letter code.

Thin views over :class:`consent.portal.PortalService`. Data subjects are not user accounts: their portal
session is a token in the signed session cookie pointing at a row of the consent database, beside (never
instead of) a user's session, with the same CSRF token. The portal keeps its language in that session
(Traditional Chinese until the person switches). The national id typed is never echoed back.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from access.store import EventStore
from access.store import NotFound as NoApplication
from catalog.api.auth import (
    STEWARD_ROLES,
    PageRefusal,
    audit,
    client_address,
    csrf_ok,
    csrf_token,
    page_form,
    page_steward,
)
from catalog.web.errors import stale_form_page
from catalog.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, t
from catalog.web.rendering import render
from consent.api import registry_for
from consent.audit import Actor
from consent.errors import ConsentError, NotFound
from consent.interchange import consent_receipt, fhir_consents
from consent.portal import PURPOSE_CHOICES, Change, Direction, PortalPolicy, PortalService, PortalSession
from consent.pseudonyms import IdentifierError
from schemas.access import PublicationRegistered

router = APIRouter(include_in_schema=False)

_TOKEN = "portal"
_LANG = "portal_lang"


def portal_of(request: Request) -> PortalService:
    ctx = request.app.state.ctx
    service = ctx.extensions.get("portal")
    if not isinstance(service, PortalService):
        service = PortalService(registry_for(ctx.settings), PortalPolicy.from_settings(ctx.settings))
        ctx.extensions["portal"] = service
    return service


def portal_language(request: Request) -> str:
    lang = request.session.get(_LANG)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def _page(request: Request, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
    lang = portal_language(request)
    settings = request.app.state.ctx.settings
    response = render(
        request,
        template,
        {
            "csrf": csrf_token(request),
            "site_title": settings.catalog_title_zh if lang == "zh-Hant" else settings.catalog_title_en,
            "portal_signed_in": bool(request.session.get(_TOKEN)),
            **values,
        },
        status_code=status_code,
        lang=lang,
    )
    response.headers["Cache-Control"] = "no-store"  # a person's data stays out of shared caches
    return response


def _current(request: Request) -> PortalSession | None:
    token = request.session.get(_TOKEN)
    if not isinstance(token, str):
        return None
    found = portal_of(request).session(token)
    if found is None:
        request.session.pop(_TOKEN, None)
    return found


def _signed_in(request: Request, allow_without_password: bool = False) -> PortalSession:
    found = _current(request)
    if found is None:
        raise PageRefusal(RedirectResponse("/portal?expired=1", status_code=303))
    if found.needs_password and not allow_without_password:
        raise PageRefusal(RedirectResponse("/portal/password", status_code=303))
    return found


# --- signing in and out -------------------------------------------------------------------------------


@router.get("/portal")
def portal_home(request: Request, expired: str = "") -> Response:
    if _current(request) is not None:
        return RedirectResponse("/portal/my-data", status_code=303)
    message = t("portal_session_ended", portal_language(request)) if expired else None
    return _page(request, "portal_sign_in.html", {"message": message})


@router.get("/portal/sign-in")
def portal_sign_in_again() -> Response:
    """Where the language switch of a refused sign-in leads: the form afresh."""
    return RedirectResponse("/portal", status_code=303)


@router.post("/portal/sign-in")
def portal_sign_in(
    request: Request, csrf: str = Form(""), national_id: str = Form(""), secret: str = Form("")
) -> Response:
    if not csrf_ok(request, csrf):
        return stale_form_page(request)
    lang = portal_language(request)
    service = portal_of(request)
    result = service.sign_in(national_id, secret, client_address(request))
    if result.outcome == "locked":
        return _page(request, "portal_sign_in.html", {"message": t("portal_sign_in_locked", lang)}, 429)
    if result.outcome != "ok" or result.subject is None:
        return _page(request, "portal_sign_in.html", {"message": t("portal_sign_in_failed", lang)}, 401)
    old = request.session.get(_TOKEN)
    if isinstance(old, str):
        service.end_session(old, client_address(request))
    request.session[_TOKEN] = service.open_session(result.subject, client_address(request), result.by_code)
    request.session["csrf"] = secrets.token_urlsafe(24)  # a new token after signing in: no fixation
    return RedirectResponse("/portal/password" if result.by_code else "/portal/my-data", status_code=303)


@router.get("/portal/password")
def password_form(request: Request) -> Response:
    _signed_in(request, allow_without_password=True)
    return _page(request, "portal_password.html", {"errors": {}})


@router.post("/portal/password")
def set_password(
    request: Request, csrf: str = Form(""), password: str = Form(""), password_again: str = Form("")
) -> Response:
    who = _signed_in(request, allow_without_password=True)
    if not csrf_ok(request, csrf):
        return stale_form_page(request)
    lang = portal_language(request)
    errors: dict[str, str] = {}
    if password != password_again:
        errors["password_again"] = t("portal_passwords_differ", lang)
    else:
        try:
            portal_of(request).set_password(who.subject, password, client_address(request))
        except ConsentError as exc:
            errors["password"] = t(str(exc), lang)
    if errors:
        return _page(request, "portal_password.html", {"errors": errors}, 400)
    return RedirectResponse("/portal/my-data?password=1", status_code=303)


@router.post("/portal/sign-out")
def portal_sign_out(request: Request, csrf: str = Form("")) -> Response:
    token = request.session.get(_TOKEN)
    if isinstance(token, str) and csrf_ok(request, csrf):
        portal_of(request).end_session(token, client_address(request))
        request.session.pop(_TOKEN, None)
    return RedirectResponse("/portal?signed_out=1", status_code=303)


@router.get("/portal/language")
def portal_switch_language(request: Request, to: str = DEFAULT_LANGUAGE, next: str = "/portal") -> Response:
    if to in LANGUAGES:
        request.session[_LANG] = to
    target = next if next.startswith("/portal") and "//" not in next and "\\" not in next else "/portal"
    return RedirectResponse(target, status_code=303)


# --- what the person sees -----------------------------------------------------------------------------


def _titles(request: Request, guids: list[str]) -> dict[str, dict[str, str]]:
    """Dataset titles from the catalog (the registry knows datasets by GUID only)."""
    store = request.app.state.ctx.store
    return {d.guid: d.dataset.title for d in store.get_many(sorted(set(guids)))}


def _publications(request: Request, applications: list[str]) -> dict[str, list[PublicationRegistered]]:
    """Publications the projects registered, from the access events in the catalog database (the registry
    knows a release's application by id only; a release made outside the access route has none)."""
    events = EventStore(request.app.state.ctx.store.engine)
    found: dict[str, list[PublicationRegistered]] = {}
    for application in sorted(set(applications)):
        try:
            found[application] = events.get(application).publications
        except NoApplication:
            continue
    return found


@router.get("/portal/my-data")
def my_data(request: Request, password: str = "") -> Response:
    who = _signed_in(request)
    mine = portal_of(request).my_data(who.subject, client_address(request))
    guids = [d.dataset for d in mine.datasets] + [u.dataset for u in mine.releases]
    values = {
        "mine": mine,
        "titles": _titles(request, guids),
        "publications": _publications(request, [u.application for u in mine.releases]),
        "purpose_choices": PURPOSE_CHOICES,
        "password_saved": bool(password),
    }
    return _page(request, "portal_my_data.html", values)


@router.get("/portal/history")
def history(request: Request) -> Response:
    who = _signed_in(request)
    events = portal_of(request).history(who.subject, client_address(request))
    return _page(
        request,
        "portal_history.html",
        {"events": events, "titles": _titles(request, [e.scope_dataset for e in events if e.scope_dataset])},
    )


# --- changing a choice ------------------------------------------------------------------------------


def _change(direction: str, dataset: str, purpose: str) -> Change:
    return Change(Direction(direction), dataset or None, purpose or None)


@router.get("/portal/change")
def confirm_change(request: Request, direction: str = "out", dataset: str = "", purpose: str = "") -> Response:
    who = _signed_in(request)
    lang = portal_language(request)
    try:
        plan = portal_of(request).plan(who.subject, _change(direction, dataset, purpose), client_address(request))
    except (ValueError, ConsentError, NotFound):
        return _page(request, "portal_message.html", {"message": t("portal_change_unknown", lang)}, 404)
    values = {"plan": plan, "titles": _titles(request, plan.datasets), "key": secrets.token_urlsafe(16)}
    return _page(request, "portal_confirm.html", values)


@router.post("/portal/change")
def commit_change(
    request: Request,
    csrf: str = Form(""),
    direction: str = Form("out"),
    dataset: str = Form(""),
    purpose: str = Form(""),
    key: str = Form(""),
) -> Response:
    who = _signed_in(request)
    if not csrf_ok(request, csrf) or not key:
        return stale_form_page(request)
    service = portal_of(request)
    try:
        plan = service.plan(who.subject, _change(direction, dataset, purpose), client_address(request))
    except (ValueError, ConsentError, NotFound):
        return _page(
            request, "portal_message.html", {"message": t("portal_change_unknown", portal_language(request))}, 404
        )
    event = service.commit(who.subject, plan, client_address(request), key[:64])
    return RedirectResponse(f"/portal/receipt/{event.event_id}", status_code=303)


@router.get("/portal/receipt/{event_id}")
def receipt(request: Request, event_id: str) -> Response:
    who = _signed_in(request)
    service = portal_of(request)
    json_wanted = event_id.endswith(".json")
    try:
        event = service.own_event(who.subject, event_id.removesuffix(".json"), client_address(request))
    except NotFound:
        return _page(request, "portal_message.html", {"message": t("portal_no_receipt", portal_language(request))}, 404)
    if json_wanted:
        body = consent_receipt(
            event, request.app.state.ctx.settings, service.registry.covering_checkpoint(event.event_id)
        )
        return Response(
            json.dumps(body, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="consent-receipt-{event.event_id}.json"',
                "Cache-Control": "no-store",
            },
        )
    titles = _titles(request, [event.scope_dataset] if event.scope_dataset else [])
    return _page(request, "portal_receipt.html", {"event": event, "titles": titles})


@router.get("/portal/record.fhir.json")
def fhir_record(request: Request) -> Response:
    who = _signed_in(request)
    registry = portal_of(request).registry
    events, enrolments = registry.subject_record(
        who.subject, Actor("portal", client=client_address(request)), action="portal.fhir"
    )
    body = fhir_consents(who.subject, events, enrolments, request.app.state.ctx.settings)
    return Response(
        json.dumps(body, ensure_ascii=False, indent=2),
        media_type="application/fhir+json",
        headers={"Content-Disposition": 'attachment; filename="my-consent.fhir.json"', "Cache-Control": "no-store"},
    )


# --- the steward re-issues a lost code ------------------------------------------------------------------


@router.get("/steward/portal-code")
def reissue_form(request: Request) -> Response:
    page_steward(request)
    return render(request, "steward_portal_code.html", {"csrf": csrf_token(request), "code": None, "error": None})


@router.post("/steward/portal-code")
def reissue(request: Request, csrf: str = Form(""), national_id: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    service = portal_of(request)
    try:
        code = service.reissue_code(national_id, Actor(who.actor, client=client_address(request)))
    except (IdentifierError, NotFound) as exc:
        values = {"csrf": csrf_token(request), "code": None, "error": str(exc)}
        return render(request, "steward_portal_code.html", values, status_code=400)
    audit(request, who, "portal.code_reissue")
    # Shown once, on this response only, for the letter; never in a URL.
    response = render(request, "steward_portal_code.html", {"csrf": csrf_token(request), "code": code, "error": None})
    response.headers["Cache-Control"] = "no-store"
    return response


__all__ = ["portal_language", "portal_of", "router"]
