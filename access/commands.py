"""Commands on an application (REMS style): each checks the command against the folded state and the
rules, then returns the events to append; nothing here stores or reads the clock.

A refused command raises :class:`Refused` carrying a :class:`~access.refusals.Refusal` (a code, the facts,
and the rule in plain English; for a form, one per field). ``who`` is the acting user's identity
(``user:<id>``): researcher commands must come from the applicant; the caller (API or page) has already
checked the role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from access import rules
from access.refusals import Refusal
from access.workdays import add_months
from schemas.access import (
    AgreementRecorded,
    Application,
    ApplicationForm,
    ChangeKind,
    ChangeRequested,
    Created,
    Criterion,
    Decided,
    Decision,
    DestructionConfirmed,
    DraftSaved,
    Event,
    Expired,
    Extended,
    OutputCheckRef,
    Person,
    PublicationRegistered,
    Released,
    ReportFiled,
    Resubmitted,
    Returned,
    Reviewed,
    Status,
    Submitted,
    WithdrawalAcknowledged,
)

SYSTEM = "system"  # the actor of time-based events (the background job)


class Refused(Exception):
    """The command breaks a rule: ``refusal`` says which (``message`` in English), ``problems`` name form
    fields."""

    def __init__(self, refusal: Refusal, problems: Mapping[str, Refusal] | None = None) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.problems = dict(problems or {})

    @property
    def message(self) -> str:
        return self.refusal.message


def _refuse_if(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise Refused(refusal)


def _own(app: Application, who: str) -> None:
    if who != app.applicant:
        raise Refused(Refusal("not_applicant", {"applicant": app.applicant, "application": app.id}))


def _status(app: Application, at: datetime, *allowed: Status) -> Status:
    status = rules.status_as_of(app, at.date())
    if status not in allowed:
        facts = {"application": app.id, "status": status.value, "allowed": tuple(s.value for s in allowed)}
        raise Refused(Refusal("wrong_status", facts))
    return status


# --- the applicant ---------------------------------------------------------------------------------


def create(
    application_id: str,
    who: str,
    institution: str,
    datasets: Sequence[str],
    at: datetime,
    blocking: Sequence[Refusal] = (),
) -> list[Event]:
    """Open a draft; refused while the applicant's earlier projects owe something (``blocking``)."""
    if not datasets:
        raise Refused(Refusal("datasets_required"))
    if blocking:
        raise Refused(Refusal("blocked", parts=tuple(blocking)))
    return [
        Created(
            application_id=application_id,
            at=at,
            actor=who,
            applicant=who,
            applicant_institution=institution,
            datasets=list(datasets),
        )
    ]


def save_draft(app: Application, who: str, form: ApplicationForm, at: datetime) -> list[Event]:
    _own(app, who)
    _status(app, at, Status.DRAFT, Status.RETURNED)
    return [DraftSaved(application_id=app.id, at=at, actor=who, form=form)]


def _form_ok(form: ApplicationForm, on: date, pilot: bool) -> None:
    problems = rules.form_problems(form, on, pilot)
    if problems:
        raise Refused(Refusal("form_incomplete", parts=tuple(problems.values())), problems)


def submit(
    app: Application,
    who: str,
    at: datetime,
    others: Iterable[Application] = (),
    blocking: Sequence[Refusal] = (),
    pilot: bool = True,
) -> list[Event]:
    """Submit a draft; ``others`` are the applicant's other applications (at most 3 may run at once)."""
    _own(app, who)
    _status(app, at, Status.DRAFT)
    _form_ok(app.form, at.date(), pilot)
    if blocking:
        raise Refused(Refusal("blocked", parts=tuple(blocking)))
    _refuse_if(rules.check_concurrency([o for o in others if o.id != app.id], at.date()))
    return [Submitted(application_id=app.id, at=at, actor=who)]


def resubmit(app: Application, who: str, form: ApplicationForm, at: datetime, pilot: bool = True) -> list[Event]:
    """Answer a return for correction, within 7 working days of it."""
    _own(app, who)
    if rules.status_as_of(app, at.date()) is Status.LAPSED:
        deadline = rules.correction_deadline(app)
        facts = {"deadline": deadline or "—", "days": rules.CORRECTION_WORKING_DAYS}
        raise Refused(Refusal("lapsed", facts))
    _status(app, at, Status.RETURNED)
    _form_ok(form, at.date(), pilot)
    return [Resubmitted(application_id=app.id, at=at, actor=who, form=form)]


def request_change(
    app: Application,
    who: str,
    kind: ChangeKind,
    at: datetime,
    personnel: Sequence[Person] = (),
    fields: Sequence[str] = (),
    files: Sequence[str] = (),
    reason: str = "",
) -> list[Event]:
    _own(app, who)
    count = len(fields) if kind is ChangeKind.FIELDS else len(files)
    _refuse_if(rules.check_change(app, kind, at.date(), personnel, count))
    return [
        ChangeRequested(
            application_id=app.id,
            at=at,
            actor=who,
            kind=kind,
            personnel=list(personnel),
            fields=list(fields),
            files=list(files),
            reason=reason,
        )
    ]


def extend(app: Application, who: str, months: int, at: datetime, pilot: bool = True) -> list[Event]:
    _own(app, who)
    _refuse_if(rules.check_extension(app, at.date()))
    _refuse_if(rules.check_period(months, app.form.imaging, pilot))
    assert app.ends_on is not None  # an active application has an end date
    return [Extended(application_id=app.id, at=at, actor=who, months=months, ends_on=add_months(app.ends_on, months))]


def file_report(app: Application, who: str, text: str, at: datetime) -> list[Event]:
    _own(app, who)
    _status(app, at, Status.ACTIVE, Status.EXPIRED)
    if not text.strip():
        raise Refused(Refusal("report_text_required"))
    return [ReportFiled(application_id=app.id, at=at, actor=who, text=text)]


def register_publication(
    app: Application,
    who: str,
    at: datetime,
    title: str,
    published_on: date,
    acknowledges_source: bool,
    reference: str = "",
    deposited_on: date | None = None,
) -> list[Event]:
    _own(app, who)
    _status(app, at, Status.ACTIVE, Status.EXPIRED, Status.CLOSED)
    if not title.strip():
        raise Refused(Refusal("publication_title_required"))
    _refuse_if(rules.check_publication(acknowledges_source))
    return [
        PublicationRegistered(
            application_id=app.id,
            at=at,
            actor=who,
            title=title,
            reference=reference,
            published_on=published_on,
            deposited_on=deposited_on,
            acknowledges_source=acknowledges_source,
        )
    ]


def acknowledge_withdrawal(
    app: Application, who: str, notice_id: str, open_notices: Iterable[str], at: datetime
) -> list[Event]:
    """Acknowledge a consent-registry withdrawal notice of one of this application's releases."""
    _own(app, who)
    if notice_id not in set(open_notices):
        raise Refused(Refusal("notice_unknown", {"notice": notice_id}))
    if notice_id in app.acknowledged_notices:
        raise Refused(Refusal("notice_acknowledged", {"notice": notice_id}))
    return [WithdrawalAcknowledged(application_id=app.id, at=at, actor=who, notice_id=notice_id)]


def confirm_destruction(app: Application, who: str, at: datetime, statement: str = "") -> list[Event]:
    _own(app, who)
    _refuse_if(rules.check_destruction(app, at.date()))
    return [DestructionConfirmed(application_id=app.id, at=at, actor=who, statement=statement)]


# --- the review committee --------------------------------------------------------------------------


def return_for_correction(app: Application, who: str, reason: str, at: datetime) -> list[Event]:
    _status(app, at, Status.SUBMITTED)
    if not reason.strip():
        raise Refused(Refusal("return_needs_reason"))
    return [Returned(application_id=app.id, at=at, actor=who, reason=reason)]


def review(
    app: Application,
    who: str,
    scores: Mapping[Criterion, int],
    at: datetime,
    comment: str = "",
    reviewer_institution: str = "",
) -> list[Event]:
    """One member's scores; a member of the applicant's institution is flagged as a conflict of interest."""
    _refuse_if(rules.check_reviewable(app, at.date()))
    if who == app.applicant:
        raise Refused(Refusal("self_review"))
    if any(r.actor == who for r in app.reviews):
        raise Refused(Refusal("already_scored"))
    _refuse_if(rules.check_scores(scores))
    conflict = bool(reviewer_institution.strip()) and (
        reviewer_institution.strip().casefold() == app.applicant_institution.strip().casefold()
    )
    return [
        Reviewed(
            application_id=app.id,
            at=at,
            actor=who,
            scores=dict(scores),
            comment=comment,
            conflict_of_interest=conflict,
        )
    ]


def decide(
    app: Application,
    who: str,
    decision: Decision,
    at: datetime,
    conditions: Sequence[str] = (),
    reason: str = "",
    output_checks: Sequence[OutputCheckRef] = (),
) -> list[Event]:
    """The chair's decision: approve (with conditions), reject (reason required) or return for correction,
    with the output-check reports the chair attaches (the caller found them stored with this application)."""
    _refuse_if(rules.check_decision(app, decision, reason, at.date()))
    return [
        Decided(
            application_id=app.id,
            at=at,
            actor=who,
            decision=decision,
            conditions=[c for c in conditions if c.strip()],
            reason=reason,
            output_checks=list({r.id: r for r in output_checks}.values()),
        )
    ]


# --- the steward -----------------------------------------------------------------------------------


def record_agreement(
    app: Application, who: str, signed_on: date, pledges: Sequence[str], fee_paid: bool, at: datetime
) -> list[Event]:
    _status(app, at, Status.APPROVED)
    return [
        AgreementRecorded(
            application_id=app.id, at=at, actor=who, signed_on=signed_on, pledges=list(pledges), fee_paid=fee_paid
        )
    ]


def check_release(app: Application, at: datetime) -> None:
    """Raise unless ``app`` may be released now (called before the registry is asked)."""
    _refuse_if(rules.check_release(app, at.date()))


def released(app: Application, who: str, release_id: str, dataset: str, cases_out: int, at: datetime) -> list[Event]:
    """Record a release made by the consent registry; the first one starts the period."""
    check_release(app, at)
    if dataset not in app.datasets:
        raise Refused(dataset_not_applied(app, dataset))
    starts_on, ends_on = release_period(app, at.date())
    return [
        Released(
            application_id=app.id,
            at=at,
            actor=who,
            release_id=release_id,
            dataset=dataset,
            starts_on=starts_on,
            ends_on=ends_on,
            cases_out=cases_out,
        )
    ]


def dataset_not_applied(app: Application, dataset: str) -> Refusal:
    return Refusal("dataset_not_applied", {"application": app.id, "datasets": tuple(app.datasets), "dataset": dataset})


def release_period(app: Application, on: date) -> tuple[date, date]:
    """The period a release on ``on`` runs for: from first use for the period applied for."""
    if app.starts_on is not None and app.ends_on is not None:
        return app.starts_on, app.ends_on
    months = app.form.period_months or rules.PILOT_MAX_MONTHS
    return on, rules.end_date(on, months)


def expire(app: Application, at: datetime) -> list[Event]:
    """The background job's event when the end date has come (``status_as_of`` already says so)."""
    if app.status is Status.ACTIVE and rules.status_as_of(app, at.date()) is Status.EXPIRED:
        return [Expired(application_id=app.id, at=at, actor=SYSTEM)]
    return []
