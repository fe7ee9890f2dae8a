"""REST API for access applications (``/api/applications``): a thin layer over ``access.commands``.

Each route authenticates with a role guard, folds the application from its events, runs one command
and appends what it emits. Researchers act on their own applications; reviewers score; the chair decides;
stewards record the agreement and release through the consent registry. Every read of an application
and every download is audited. No rule lives here: a refusal is answered with the rule's English words
(``message``; a form's, per field, in ``problems``) and its code and facts (``refusal``, ``problem_refusals``),
as ``access.rules`` gave them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from access import commands, output_check, rules
from access.commands import Refused
from access.store import Conflict, NotFound
from access.workdays import CalendarGap
from catalog.api.auth import STEWARD, audit, require
from catalog.applications import output_reports
from catalog.applications.service import (
    ACCESS_ERRORS,
    DECIDERS,
    OUTPUT_CHECKERS,
    SCORERS,
    ApplicationService,
    Filters,
    NotPermitted,
    identity,
    now,
    service_of,
)
from consent.errors import ConsentError
from schemas.access import (
    Application,
    ApplicationForm,
    ChangeKind,
    Criterion,
    Decision,
    Event,
    Person,
    Status,
)
from schemas.accounts import Principal, Role

router = APIRouter(prefix="/api/applications", tags=["applications"])

RESEARCHER = require(Role.RESEARCHER)
REVIEWER = require(*SCORERS)
CHAIR = require(*DECIDERS)
CHECKER = require(*OUTPUT_CHECKERS)
ANYONE = require()  # any signed-in principal; what they see is narrowed below
Researcher = Annotated[Principal, Depends(RESEARCHER)]
Reviewer = Annotated[Principal, Depends(REVIEWER)]
Chair = Annotated[Principal, Depends(CHAIR)]
Checker = Annotated[Principal, Depends(CHECKER)]
Steward = Annotated[Principal, Depends(STEWARD)]
Anyone = Annotated[Principal, Depends(ANYONE)]


def _service(request: Request) -> ApplicationService:
    return service_of(request.app.state.ctx)


def _refusal(exc: Exception) -> HTTPException:
    if isinstance(exc, NotPermitted):
        return HTTPException(403, detail={"code": "forbidden", "message": str(exc)})
    if isinstance(exc, NotFound):
        return HTTPException(404, detail={"code": "not_found", "message": str(exc)})
    if isinstance(exc, Conflict):
        return HTTPException(409, detail={"code": "conflict", "message": str(exc)})
    if isinstance(exc, Refused):
        detail = {
            "code": "rule",
            "message": exc.message,
            "refusal": exc.refusal.as_json(),
            "problems": {name: r.message for name, r in exc.problems.items()},
            "problem_refusals": {name: r.as_json() for name, r in exc.problems.items()},
        }
        return HTTPException(409, detail=detail)
    if isinstance(exc, CalendarGap):
        return HTTPException(503, detail={"code": "calendar_gap", "message": str(exc)})
    if isinstance(exc, ConsentError):
        return HTTPException(422, detail={"code": exc.code, "message": str(exc)})
    raise exc


def view(app: Application, on: date, notices: list[str] | None = None) -> dict[str, Any]:
    """The API shape of an application: its folded state, its status today, deadlines and obligations."""
    return {
        **app.model_dump(mode="json", exclude={"reviews"}),
        "reviews": [r.model_dump(mode="json") for r in app.reviews],
        "status_today": rules.status_as_of(app, on).value,
        "correction_deadline": str(d) if (d := rules.correction_deadline(app)) else None,
        "reports_due": [str(d) for d in rules.reports_due(app, on)],
        "withdrawal_notices": notices or [],
        "obligations": [o.message for o in rules.obligations(app, on, notices or [])],
        "links": {"self": f"/api/applications/{app.id}", "events": f"/api/applications/{app.id}/events"},
    }


def _act(
    request: Request, who: Principal, application_id: str, action: str, command: Callable[[Application], list[Event]]
) -> dict[str, Any]:
    try:
        app = _service(request).act(application_id, command)
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, f"application.{action}", application_id)
    return view(app, now().date())


def _done(
    request: Request,
    who: Principal,
    application_id: str,
    action: str,
    step: Callable[[ApplicationService], Application],
) -> dict[str, Any]:
    """One service step (the service checks the committee role), audited, answered as the view."""
    try:
        app = step(_service(request))
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, f"application.{action}", application_id)
    return view(app, now().date())


# --- reading ---------------------------------------------------------------------------------------


@router.get("")
def list_applications(
    request: Request,
    who: Anyone,
    state: Status | None = None,
    dataset: str | None = None,
    institution: str | None = None,
    overdue: bool = False,
) -> list[dict[str, Any]]:
    """Your applications; reviewers and stewards see every one, filtered by state, dataset, institution,
    or (``overdue=true``) those with an unmet obligation today."""
    on = now().date()
    apps = _service(request).listed(who, Filters(state, dataset or "", institution or "", overdue))
    audit(request, who, "application.list", "")
    return [view(a, on) for a in apps]


@router.get("/{application_id}")
def get_application(application_id: str, request: Request, who: Anyone) -> dict[str, Any]:
    service = _service(request)
    try:
        app = service.get(application_id, who)
    except NotFound as exc:
        raise _refusal(exc) from None
    audit(request, who, "application.read", application_id)
    return view(app, now().date(), service.notices(app, who))


@router.get("/{application_id}/events")
def get_events(application_id: str, request: Request, who: Anyone) -> list[dict[str, Any]]:
    """The whole history, oldest first: every step, who took it and when."""
    try:
        history = _service(request).history(application_id, who)
    except NotFound as exc:
        raise _refusal(exc) from None
    audit(request, who, "application.history", application_id)
    return [e.model_dump(mode="json") for e in history]


# --- the researcher --------------------------------------------------------------------------------


class NewApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    datasets: list[str] = Field(min_length=1)
    form: ApplicationForm | None = None


@router.post("", status_code=201)
def create(body: NewApplication, request: Request, who: Researcher) -> dict[str, Any]:
    """Open a draft application for one or more datasets (refused while earlier projects owe something)."""
    try:
        app = _service(request).create(who, body.datasets, body.form)
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, "application.create", app.id)
    return view(app, now().date())


@router.put("/{application_id}/draft")
def save_draft(application_id: str, form: ApplicationForm, request: Request, who: Researcher) -> dict[str, Any]:
    me = identity(who)
    return _act(request, who, application_id, "draft", lambda a: commands.save_draft(a, me, form, now()))


@router.post("/{application_id}/submit")
def submit(application_id: str, request: Request, who: Researcher) -> dict[str, Any]:
    """Submit; refused with the reason while 3 of your applications run or an obligation is unmet."""
    try:
        app = _service(request).submit(who, application_id)
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, "application.submit", application_id)
    return view(app, now().date())


@router.post("/{application_id}/resubmit")
def resubmit(application_id: str, form: ApplicationForm, request: Request, who: Researcher) -> dict[str, Any]:
    me = identity(who)
    return _act(request, who, application_id, "resubmit", lambda a: commands.resubmit(a, me, form, now()))


class ChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ChangeKind
    personnel: list[Person] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    reason: str = ""


@router.post("/{application_id}/changes")
def request_change(application_id: str, body: ChangeBody, request: Request, who: Researcher) -> dict[str, Any]:
    me = identity(who)
    return _act(
        request,
        who,
        application_id,
        "change",
        lambda a: commands.request_change(
            a, me, body.kind, now(), body.personnel, body.fields, body.files, body.reason
        ),
    )


class ExtensionBody(BaseModel):
    months: int


@router.post("/{application_id}/extension")
def extend(application_id: str, body: ExtensionBody, request: Request, who: Researcher) -> dict[str, Any]:
    me = identity(who)
    return _act(request, who, application_id, "extend", lambda a: commands.extend(a, me, body.months, now()))


class ReportBody(BaseModel):
    text: str


@router.post("/{application_id}/reports")
def file_report(application_id: str, body: ReportBody, request: Request, who: Researcher) -> dict[str, Any]:
    me = identity(who)
    return _act(request, who, application_id, "report", lambda a: commands.file_report(a, me, body.text, now()))


class PublicationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    published_on: date
    acknowledges_source: bool
    reference: str = ""
    deposited_on: date | None = None


@router.post("/{application_id}/publications")
def register_publication(
    application_id: str, body: PublicationBody, request: Request, who: Researcher
) -> dict[str, Any]:
    me = identity(who)
    return _act(
        request,
        who,
        application_id,
        "publication",
        lambda a: commands.register_publication(
            a, me, now(), body.title, body.published_on, body.acknowledges_source, body.reference, body.deposited_on
        ),
    )


@router.post("/{application_id}/withdrawals/{notice_id}/acknowledge")
def acknowledge_withdrawal(application_id: str, notice_id: str, request: Request, who: Researcher) -> dict[str, Any]:
    try:
        app = _service(request).acknowledge(who, application_id, notice_id)
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, "application.withdrawal.acknowledge", application_id)
    return view(app, now().date())


class DestructionBody(BaseModel):
    statement: str = ""


@router.post("/{application_id}/destruction")
def confirm_destruction(
    application_id: str, body: DestructionBody, request: Request, who: Researcher
) -> dict[str, Any]:
    me = identity(who)
    return _act(
        request,
        who,
        application_id,
        "destruction",
        lambda a: commands.confirm_destruction(a, me, now(), body.statement),
    )


@router.get("/{application_id}/releases/{number}/{part}")
def download(application_id: str, number: int, part: str, request: Request, who: Researcher) -> FileResponse:
    """The released case list (``cases``) or its manifest (``manifest``); every download is audited."""
    try:
        app, path = _service(request).release_file(who, application_id, number, part)
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, f"application.download.{part}", application_id, detail=app.releases[number - 1].release_id)
    return FileResponse(path, filename=f"{application_id}-{number}-{path.name}")


# --- the review committee --------------------------------------------------------------------------


class ReturnBody(BaseModel):
    reason: str


@router.post("/{application_id}/return")
def return_for_correction(application_id: str, body: ReturnBody, request: Request, who: Chair) -> dict[str, Any]:
    """The chair returns it for correction; the applicant has 7 working days, then it lapses."""
    return _done(
        request, who, application_id, "return", lambda s: s.return_for_correction(who, application_id, body.reason)
    )


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: dict[Criterion, int]
    comment: str = ""


@router.post("/{application_id}/reviews")
def review(application_id: str, body: ReviewBody, request: Request, who: Reviewer) -> dict[str, Any]:
    """One committee member's scores of the five criteria; same institution as the applicant is flagged."""
    return _done(
        request, who, application_id, "review", lambda s: s.review(who, application_id, body.scores, body.comment)
    )


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    conditions: list[str] = Field(default_factory=list)
    reason: str = ""
    output_reports: list[str] = Field(
        default_factory=list, description="ids (sha256:…) of output-check reports run for this application, to attach"
    )


@router.post("/{application_id}/decision")
def decide(application_id: str, body: DecisionBody, request: Request, who: Chair) -> dict[str, Any]:
    """The chair's decision: approve (with conditions) or reject (a reason is required)."""
    return _done(
        request,
        who,
        application_id,
        "decide",
        lambda s: s.decide(who, application_id, body.decision, body.conditions, body.reason, body.output_reports),
    )


class OutputCheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("table.csv", max_length=200)
    csv: str = Field(
        max_length=output_reports.MAX_TABLE_BYTES, description="the aggregate table: a header row, row labels first"
    )
    threshold: int = Field(output_check.DEFAULT_THRESHOLD, ge=0)


@router.post("/{application_id}/output-checks", status_code=201)
def check_output(application_id: str, body: OutputCheckBody, request: Request, who: Checker) -> dict[str, Any]:
    """Run the output check of a table for this application; the report is kept with it (its ``id`` is
    what the chair's decision attaches, ``output_reports``)."""
    try:
        table = output_check.read_table(body.csv, body.name)
    except output_check.TableError as exc:
        raise HTTPException(422, detail={"code": "table", "message": str(exc)}) from None
    try:
        stored = _service(request).check_output(who, application_id, table, body.threshold)
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, "outputs.check", application_id, detail={"report": stored.id, "ok": stored.ok})
    return output_reports.as_dict(stored)


@router.get("/{application_id}/output-checks")
def list_output_checks(application_id: str, request: Request, who: Checker) -> list[dict[str, Any]]:
    """Every output-check report run for this application, oldest first."""
    service = _service(request)
    try:
        app = service.get(application_id, who)
    except NotFound as exc:
        raise _refusal(exc) from None
    audit(request, who, "outputs.list", application_id)
    return [output_reports.as_dict(r) for r in service.output_reports(app)]


# --- the steward -----------------------------------------------------------------------------------


class AgreementBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signed_on: date
    pledges: list[str]
    fee_paid: bool


@router.post("/{application_id}/agreement")
def record_agreement(application_id: str, body: AgreementBody, request: Request, who: Steward) -> dict[str, Any]:
    return _act(
        request,
        who,
        application_id,
        "agreement",
        lambda a: commands.record_agreement(a, who.actor, body.signed_on, body.pledges, body.fee_paid, now()),
    )


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    case_ids: list[str] = Field(min_length=1, description="the cases the selection criteria found")


@router.post("/{application_id}/releases", status_code=201)
def release(application_id: str, body: ReleaseBody, request: Request, who: Steward) -> dict[str, Any]:
    """Release through the consent registry (filtered by consent now); the application's title,
    institution, purpose and period go into the release manifest."""
    try:
        app, release_id = _service(request).release(who, application_id, body.dataset, body.case_ids)
    except ACCESS_ERRORS as exc:
        raise _refusal(exc) from None
    audit(request, who, "application.release", application_id, detail=release_id)
    return view(app, now().date())


@router.post("/expire")
def expire_due(request: Request, who: Steward) -> dict[str, Any]:
    """Record expiry for every application whose end date has come (the scheduler's job; the status read
    as of any day is right without it)."""
    expired = _service(request).expire_due()
    audit(request, who, "application.expire", ",".join(expired))
    return {"expired": expired}


@router.get("/obligations/overdue")
def overdue(request: Request, who: Steward) -> list[dict[str, Any]]:
    """Every unmet obligation today (overdue reports, late deposits, unacknowledged withdrawal notices,
    missing destruction confirmations): each blocks its applicant's next application."""
    found = [
        {
            "application": o.application_id,
            "applicant": app.applicant,
            "kind": o.kind,
            "message": o.message,
            "refusal": o.refusal.as_json(),
        }
        for app, o in _service(request).overdue(who)
    ]
    audit(request, who, "application.obligations", "")
    return found


@router.get("/figures/programme")
def programme_figures(request: Request, who: Steward) -> dict[str, Any]:
    """Applications per state, the median review time in days and the approval rate, as of today."""
    result = _service(request).figures()
    audit(request, who, "application.figures", "")
    return {
        "per_state": result.per_state,
        "median_review_days": result.median_review_days,
        "approval_rate": result.approval_rate,
        "decided": result.decided,
    }
