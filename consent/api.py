"""Steward REST routes of the consent registry (``router``, mounted by the app under ``/api/consent``).

Every route needs the steward bearer token from settings (503 when none is configured, 401 when wrong).
Thin: each route calls :class:`consent.registry.ConsentRegistry` like the CLI does.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from pydantic import BaseModel

from consent.audit import Actor, accepted_request_id
from consent.errors import ConsentError, IdempotencyConflict, NotFound
from consent.group_commit import GroupCommitter
from consent.interchange import consent_receipt, fhir_consents
from consent.registry import ConsentRegistry
from consent.release import create_release, manifest_of
from consent.settings import ConsentSettings
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


async def get_registry(settings: Annotated[ConsentSettings, Depends(get_consent_settings)]) -> ConsentRegistry:
    """One registry (one engine and pool) per database and key file, shared by all requests."""
    key = (settings.resolved_consent_database_url(), str(settings.resolved_pseudonym_key_file()))
    with _lock:
        if key not in _registries:
            _registries[key] = ConsentRegistry.from_settings(settings)
        return _registries[key]


_committers: dict[tuple[int, int], GroupCommitter] = {}


async def get_committer(registry: Annotated[ConsentRegistry, Depends(get_registry)]) -> GroupCommitter:
    """The group committer of this registry on this event loop (a worker's appends share transactions)."""
    key = (id(registry), id(asyncio.get_running_loop()))
    committer = _committers.get(key)
    if committer is None or committer.registry is not registry:
        committer = _committers[key] = GroupCommitter(registry)
    return committer


def _error(status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code, detail={"code": code, "message": message}, headers=headers)


async def require_steward(
    settings: Annotated[ConsentSettings, Depends(get_consent_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Bearer token check; with no token configured the routes stay closed (503), never open."""
    if not settings.steward_token:
        raise _error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "steward_token_not_configured",
            "consent routes are closed: no steward token is configured. Set FAIRGATE_STEWARD_TOKEN "
            "(user accounts arrive with the portal).",
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), settings.steward_token.encode()):
        raise _error(
            status.HTTP_401_UNAUTHORIZED,
            "unauthorised",
            "send the steward token as 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": "Bearer"},
        )


async def acting_steward(response: Response, x_request_id: Annotated[str | None, Header()] = None) -> Actor:
    """The audited identity of a request: the steward token, with the client's correlation id when it is
    a UUID or long hex (else one of ours); echoed back as ``X-Request-ID``."""
    request_id = accepted_request_id(x_request_id)
    response.headers["X-Request-ID"] = request_id
    return Actor("steward", request_id)


router = APIRouter(tags=["consent"], dependencies=[Depends(require_steward)])
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


@router.post("/events", status_code=201, response_model=RecordedEvent)
async def record_event(
    request: EventRequest,
    committer: Annotated[GroupCommitter, Depends(get_committer)],
    settings: Settings,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Append one event; a retry with the same ``Idempotency-Key`` returns the original event. Answered
    after the commit (shared with concurrent requests: group commit)."""
    try:
        event = await committer.append(request, idempotency_key)
    except ConsentError as exc:
        raise _refusal(exc) from None
    # Serialised once by the model itself; returning the model would have FastAPI validate it again.
    body = RecordedEvent(event=event, receipt=consent_receipt(event, settings)).model_dump_json()
    return Response(body, status_code=201, media_type="application/json")


@router.get("/events/{event_id}/receipt")
def event_receipt(event_id: str, registry: Registry, settings: Settings, who: Steward) -> dict[str, Any]:
    event = registry.event(event_id, who)
    if event is None:
        raise _error(404, "not_found", f"no event {event_id}")
    return consent_receipt(event, settings)


@router.get("/subjects/{pseudonym}/enrolments")
def subject_enrolments(pseudonym: Pseudonym, registry: Registry, who: Steward) -> list[Enrolment]:
    return registry.enrolments_of(pseudonym, who)


@router.get("/subjects/{pseudonym}/events")
def subject_events(pseudonym: Pseudonym, registry: Registry, who: Steward) -> list[ConsentEvent]:
    return registry.events_of(pseudonym, who)


@router.get("/subjects/{pseudonym}/decisions")
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


@router.get("/subjects/{pseudonym}/fhir")
def subject_fhir(pseudonym: Pseudonym, registry: Registry, settings: Settings, who: Steward) -> dict[str, Any]:
    """The subject's choices as a FHIR R5 Bundle of Consent resources."""
    events, enrolments = registry.subject_record(pseudonym, who, "subject.fhir")
    return fhir_consents(pseudonym, events, enrolments, settings)


@router.get("/report")
def report(registry: Registry, who: Steward) -> list[InstitutionReport]:
    return registry.report(who)


class VerifyReport(BaseModel):
    ok: bool
    events_checked: int
    chains: int
    first_broken_event: str | None
    problems: list[str]


@router.post("/verify")
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


@router.post("/releases", status_code=201)
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


@router.get("/releases/{release_id:path}/manifest")
def release_manifest(release_id: str, registry: Registry, who: Steward) -> ReleaseManifest:
    try:
        return manifest_of(registry, release_id, who)
    except ConsentError as exc:
        raise _refusal(exc) from None


@router.get("/withdrawal-notices")
def withdrawal_notices(
    registry: Registry, who: Steward, release: str | None = None, pending: bool = False
) -> list[WithdrawalNotice]:
    return registry.withdrawal_notices(release, pending, who)


class Acknowledgement(BaseModel):
    by: str


@router.post("/withdrawal-notices/{notice_id}/acknowledge")
def acknowledge(notice_id: str, body: Acknowledgement, registry: Registry, who: Steward) -> WithdrawalNotice:
    try:
        return registry.acknowledge(notice_id, body.by, who=who)
    except ConsentError as exc:
        raise _refusal(exc) from None


@router.get("/audit")
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


__all__ = ["get_consent_settings", "get_registry", "require_steward", "router", "use_settings"]
