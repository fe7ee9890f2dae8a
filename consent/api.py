"""Steward REST routes of the consent registry (``router``, mounted by the app under ``/api/consent``).

Every route needs a steward's bearer token: a personal API token or the settings' bootstrap token
(503 when nothing is configured, 401 when missing or wrong, 403 without the steward role).
Thin: each route calls :class:`consent.registry.ConsentRegistry` like the CLI does. ``POST /events`` is the
hot path (many clients appending at once): it checks the token itself and parses and answers JSON in one
step each, instead of going through FastAPI's dependency and model machinery per request.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from consent.audit import Actor, accepted_request_id
from consent.errors import ConsentError, IdempotencyConflict, NotFound
from consent.group_commit import GroupCommitter
from consent.interchange import consent_receipt, fhir_consents
from consent.registry import ConsentRegistry
from consent.release import create_release, manifest_of
from consent.settings import ConsentSettings
from schemas.accounts import BOOTSTRAP_STEWARD, Principal, Role
from schemas.consent import (
    AuditEntry,
    ConsentEvent,
    Decision,
    Enrolment,
    EventRequest,
    InstitutionReport,
    ReleaseManifest,
    ReleaseRequest,
    WithdrawalNotice,
    purposes,
)

Pseudonym = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$", description="subject pseudonym (64 hex)")]


async def get_consent_settings(request: Request) -> ConsentSettings:
    """Settings of the registry: those an app gave :func:`use_settings`, else read from the environment.
    (A dependency override works too, but FastAPI re-inspects an override's signature on every request.)
    The dependencies here are ``async``: cheap, and a plain ``def`` would cost a thread hop per request."""
    settings: ConsentSettings | None = getattr(request.app.state, "consent_settings", None)
    return settings if settings is not None else ConsentSettings()


def use_settings(app: FastAPI, settings: ConsentSettings) -> None:
    """Serve the consent routes of ``app`` with ``settings`` (read once, shared by every request)."""
    app.state.consent_settings = settings


_registries: dict[tuple[str, str], ConsentRegistry] = {}
_lock = threading.Lock()
_last: tuple[ConsentSettings, ConsentRegistry] | None = None


def registry_for(settings: ConsentSettings) -> ConsentRegistry:
    """One registry (one engine and pool) per database and key file, shared by all requests. The settings
    object last seen is remembered, so an app's one settings object costs an identity check per request."""
    global _last
    last = _last
    if last is not None and last[0] is settings:
        return last[1]
    key = (settings.resolved_consent_database_url(), str(settings.resolved_pseudonym_key_file()))
    with _lock:
        if key not in _registries:
            _registries[key] = ConsentRegistry.from_settings(settings)
        registry = _registries[key]
    _last = (settings, registry)
    return registry


async def get_registry(settings: Annotated[ConsentSettings, Depends(get_consent_settings)]) -> ConsentRegistry:
    return registry_for(settings)


# The loop is kept beside its committer: a loop that is still referenced cannot lend its id to a new one.
_committers: dict[tuple[int, int], tuple[asyncio.AbstractEventLoop, GroupCommitter]] = {}


def committer_for(registry: ConsentRegistry) -> GroupCommitter:
    """The group committer of this registry on this event loop (a worker's appends share transactions)."""
    loop = asyncio.get_running_loop()
    key = (id(registry), id(loop))
    found = _committers.get(key)
    if found is None or found[1].registry is not registry:
        found = _committers[key] = (loop, GroupCommitter(registry))
    return found[1]


def _error(status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code, detail={"code": code, "message": message}, headers=headers)


_STEWARD_ROLES = frozenset({Role.STEWARD, Role.ADMIN})
BearerLookup = Callable[[str], Principal | None]


def check_steward(request: Request, settings: ConsentSettings) -> Principal:
    """The caller's principal, who must be a steward (or admin). An app that serves these routes gives
    ``app.state.bearer_principal`` (personal tokens and the bootstrap token) and ``app.state.auth_closed``;
    served alone, the settings' token is the only credential. Nothing configured: closed (503), never open."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    lookup: BearerLookup | None = getattr(request.app.state, "bearer_principal", None)
    principal: Principal | None = None
    if lookup is None:
        if not settings.steward_token:
            raise _error(
                503,
                "auth_not_configured",
                "consent routes are closed: no steward token is configured; set FAIRGATE_STEWARD_TOKEN",
            )
        if token and secrets.compare_digest(token.encode(), settings.steward_token.encode()):
            principal = BOOTSTRAP_STEWARD
    elif token:
        principal = lookup(token)
    if principal is None:
        closed: Callable[[], bool] | None = getattr(request.app.state, "auth_closed", None)
        if lookup is not None and closed is not None and closed():
            raise _error(
                503,
                "auth_not_configured",
                "consent routes are closed: no account and no steward token are configured. Create the first "
                "admin with `fairgate user add EMAIL --role admin`, or set FAIRGATE_STEWARD_TOKEN for scripts",
            )
        raise _error(
            status.HTTP_401_UNAUTHORIZED,
            "unauthorised",
            "send a steward's personal API token (or the bootstrap steward token) as 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": "Bearer"},
        )
    if not principal.has_any(_STEWARD_ROLES):
        raise _error(403, "forbidden", "consent routes need the steward or admin role; ask an admin to grant it")
    return principal


class _StewardGuard:
    """The check as a dependency (``.roles`` tells the route walk test what it needs). Every route but
    ``POST /events`` (which calls :func:`check_steward` itself) has it."""

    roles = _STEWARD_ROLES

    def __call__(
        self, request: Request, settings: Annotated[ConsentSettings, Depends(get_consent_settings)]
    ) -> Principal:
        principal = check_steward(request, settings)
        request.state.consent_principal = principal
        return principal


require_steward = _StewardGuard()


async def acting_steward(
    request: Request, response: Response, x_request_id: Annotated[str | None, Header()] = None
) -> Actor:
    """The audited identity of a request: the principal's actor (``user:…``, ``token:…`` or
    ``steward-token``), with the client's correlation id when it is a UUID or long hex (else one of ours);
    echoed back as ``X-Request-ID``."""
    request_id = accepted_request_id(x_request_id)
    response.headers["X-Request-ID"] = request_id
    principal: Principal | None = getattr(request.state, "consent_principal", None)
    return Actor(principal.actor if principal is not None else "steward", request_id)


router = APIRouter(tags=["consent"])
# Every other route is declared on this one, included at the end: the token check is its dependency.
guarded = APIRouter(tags=["consent"], dependencies=[Depends(require_steward)])
Registry = Annotated[ConsentRegistry, Depends(get_registry)]
Settings = Annotated[ConsentSettings, Depends(get_consent_settings)]
Steward = Annotated[Actor, Depends(acting_steward)]


def _refusal(exc: ConsentError) -> HTTPException:
    if isinstance(exc, NotFound):
        return _error(404, exc.code, str(exc))
    if isinstance(exc, IdempotencyConflict):
        return _error(409, exc.code, str(exc))
    return _error(422, exc.code, str(exc))


class RecordedEvent(BaseModel):
    event: ConsentEvent
    receipt: dict[str, Any]


_IDEMPOTENCY_KEY_MAX = 200


def _event_request_schema() -> dict[str, Any]:
    """EventRequest's JSON schema for the OpenAPI document; its enums refer to the document's components
    (ConsentEvent, answered by other routes here, puts them there)."""
    schema = EventRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


# POST /events reads its body and headers itself; this documents them as FastAPI would have.
_EVENTS_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "idempotency-key",
            "in": "header",
            "required": False,
            "description": "a retry with the same key returns the original event",
            "schema": {"type": "string", "maxLength": _IDEMPOTENCY_KEY_MAX},
        },
        {"name": "authorization", "in": "header", "required": True, "schema": {"type": "string"}},
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": _event_request_schema()}}},
}


def _invalid(errors: list[Any]) -> RequestValidationError:
    """FastAPI's own 422 for a bad request (the app's handler shapes it). Callers leave the inputs out of
    the errors: a subject field may hold what a pseudonym should have replaced (a national id)."""
    return RequestValidationError(errors)


@router.post("/events", status_code=201, response_model=RecordedEvent, openapi_extra=_EVENTS_OPENAPI)
async def record_event(request: Request, settings: Settings) -> Response:
    """Append one event; a retry with the same ``Idempotency-Key`` returns the original event. Answered
    after the commit (shared with concurrent requests: group commit)."""
    check_steward(request, settings)
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > _IDEMPOTENCY_KEY_MAX:
        raise _invalid(
            [
                {
                    "type": "string_too_long",
                    "loc": ("header", "idempotency-key"),
                    "msg": f"String should have at most {_IDEMPOTENCY_KEY_MAX} characters",
                    "ctx": {"max_length": _IDEMPOTENCY_KEY_MAX},
                }
            ]
        )
    try:
        event_request = EventRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise _invalid([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    try:
        event = await committer_for(registry_for(settings)).append(event_request, key)
    except ConsentError as exc:
        raise _refusal(exc) from None
    # Serialised once by the model itself; returning the model would have FastAPI validate it again.
    body = RecordedEvent(event=event, receipt=consent_receipt(event, settings)).model_dump_json()
    return Response(body, status_code=201, media_type="application/json")


@guarded.get("/events/{event_id}/receipt")
def event_receipt(event_id: str, registry: Registry, settings: Settings, who: Steward) -> dict[str, Any]:
    event = registry.event(event_id, who)
    if event is None:
        raise _error(404, "not_found", f"no event {event_id}")
    return consent_receipt(event, settings, registry.covering_checkpoint(event_id))


@guarded.get("/subjects/{pseudonym}/enrolments")
def subject_enrolments(pseudonym: Pseudonym, registry: Registry, who: Steward) -> list[Enrolment]:
    return registry.enrolments_of(pseudonym, who)


@guarded.get("/subjects/{pseudonym}/events")
def subject_events(pseudonym: Pseudonym, registry: Registry, who: Steward) -> list[ConsentEvent]:
    return registry.events_of(pseudonym, who)


@guarded.get("/subjects/{pseudonym}/decisions")
def subject_decisions(
    pseudonym: Pseudonym,
    registry: Registry,
    who: Steward,
    purpose: str = "DUO:0000042",
    modifier: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Decision]:
    """Today's decision per enrolled dataset for ``purpose`` (default GRU)."""
    try:
        mods = frozenset(purposes().normalise(m) for m in modifier or [])
        return registry.current_decisions(pseudonym, purpose, mods, who)
    except ValueError as exc:
        raise _error(422, "invalid_purpose", str(exc)) from None


@guarded.get("/subjects/{pseudonym}/fhir")
def subject_fhir(pseudonym: Pseudonym, registry: Registry, settings: Settings, who: Steward) -> dict[str, Any]:
    """The subject's choices as a FHIR R5 Bundle of Consent resources."""
    events, enrolments = registry.subject_record(pseudonym, who, "subject.fhir")
    return fhir_consents(pseudonym, events, enrolments, settings)


@guarded.get("/report")
def report(registry: Registry, who: Steward) -> list[InstitutionReport]:
    return registry.report(who)


class VerifyReport(BaseModel):
    ok: bool
    events_checked: int
    chains: int
    first_broken_event: str | None
    problems: list[str]


@guarded.post("/verify")
def verify(registry: Registry, who: Steward) -> VerifyReport:
    result = registry.verify(who)
    problems = [result.first_break.describe()] if result.first_break else []
    return VerifyReport(
        ok=result.ok,
        events_checked=result.events_checked,
        chains=result.chains,
        first_broken_event=result.first_break.event_id if result.first_break else None,
        problems=problems + result.checkpoint_problems,
    )


@guarded.post("/releases", status_code=201)
def create(request: ReleaseRequest, registry: Registry, settings: Settings, who: Steward) -> ReleaseManifest:
    """Filter the case list by consent now; files go under ``<data_dir>/releases/``."""
    out = Path(settings.data_dir) / "releases" / str(uuid.uuid4())
    try:
        return create_release(
            registry,
            request.application,
            request.dataset,
            request.purpose,
            pa.table({"case_id": pa.array(request.case_ids, pa.string())}),
            out,
            request.active_until,
            request.modifiers,
            settings.guid_prefix,
            who,
        )
    except ConsentError as exc:
        raise _refusal(exc) from None


@guarded.get("/releases/{release_id:path}/manifest")
def release_manifest(release_id: str, registry: Registry, who: Steward) -> ReleaseManifest:
    try:
        return manifest_of(registry, release_id, who)
    except ConsentError as exc:
        raise _refusal(exc) from None


@guarded.get("/withdrawal-notices")
def withdrawal_notices(
    registry: Registry, who: Steward, release: str | None = None, pending: bool = False
) -> list[WithdrawalNotice]:
    return registry.withdrawal_notices(release, pending, who)


class Acknowledgement(BaseModel):
    by: str


@guarded.post("/withdrawal-notices/{notice_id}/acknowledge")
def acknowledge(notice_id: str, body: Acknowledgement, registry: Registry, who: Steward) -> WithdrawalNotice:
    try:
        return registry.acknowledge(notice_id, body.by, who=who)
    except ConsentError as exc:
        raise _refusal(exc) from None


@guarded.get("/audit")
def audit_log(
    registry: Registry,
    who: Steward,
    subject: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$", description="subject pseudonym")] = None,
    since: datetime | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[AuditEntry]:
    """Who looked up which person or release, and when (oldest first). Reading it is audited too."""
    return registry.audit_log(subject, since, action, limit, who)


router.include_router(guarded)

__all__ = ["check_steward", "get_consent_settings", "get_registry", "require_steward", "router", "use_settings"]
