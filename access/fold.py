"""The state of an application as a pure fold of its events; no clock (``access.rules.status_as_of`` adds one)."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.access import (
    AgreementRecorded,
    Application,
    ChangeKind,
    ChangeRequested,
    Created,
    Decided,
    Decision,
    DestructionConfirmed,
    DraftSaved,
    Event,
    Expired,
    Extended,
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


class FoldError(ValueError):
    """The events cannot be an application's history (a bug or a tampered store, never user input)."""


def fold(events: Iterable[Event]) -> Application:
    """The application these events describe, in order; the first must be ``created``."""
    app: Application | None = None
    for event in events:
        if app is None:
            if not isinstance(event, Created):
                raise FoldError(f"an application's history starts with 'created', not {event.type!r}")
            app = Application(
                id=event.application_id,
                applicant=event.applicant,
                applicant_institution=event.applicant_institution,
                datasets=list(event.datasets),
                created_at=event.at,
            )
        else:
            if event.application_id != app.id:
                raise FoldError(f"event of application {event.application_id!r} in the history of {app.id!r}")
            apply(app, event)
        app.events += 1
    if app is None:
        raise FoldError("an application's history cannot be empty")
    return app


def apply(app: Application, event: Event) -> None:
    """Change ``app`` by one event (in place; the fold owns the object)."""
    match event:
        case Created():
            raise FoldError(f"application {app.id} was created twice")
        case DraftSaved(form=form):
            app.form = form
        case Submitted():
            app.status = Status.SUBMITTED
            app.submitted_at = app.submitted_at or event.at
        case Returned(reason=reason):
            app.status, app.returned_at, app.return_reason = Status.RETURNED, event.at, reason
        case Resubmitted(form=form):
            app.form, app.status, app.returned_at, app.return_reason = form, Status.SUBMITTED, None, ""
        case Reviewed():
            app.reviews.append(event)
        case Decided() if event.output_checks:
            app.output_checks.extend(event.output_checks)
            apply(app, event.model_copy(update={"output_checks": []}))
        case Decided(decision=Decision.APPROVE):
            app.status, app.decided_at, app.conditions = Status.APPROVED, event.at, list(event.conditions)
        case Decided(decision=Decision.REJECT):
            app.status, app.decided_at, app.reject_reason = Status.REJECTED, event.at, event.reason
        case Decided(decision=Decision.RETURN):
            app.status, app.returned_at, app.return_reason = Status.RETURNED, event.at, event.reason
        case AgreementRecorded():
            app.agreement = event
        case Released():
            app.releases.append(event)
            app.status = Status.ACTIVE
            app.starts_on = app.starts_on or event.starts_on
            app.ends_on = app.ends_on or event.ends_on
        case ChangeRequested():
            app.changes.append(event)
            _apply_change(app, event)
        case Extended(ends_on=ends_on):
            app.extensions.append(event)
            app.ends_on = ends_on
        case ReportFiled():
            app.reports.append(event)
        case PublicationRegistered():
            app.publications.append(event)
        case WithdrawalAcknowledged(notice_id=notice_id):
            if notice_id not in app.acknowledged_notices:
                app.acknowledged_notices.append(notice_id)
        case Expired():
            app.status = Status.EXPIRED
        case DestructionConfirmed():
            app.status, app.destruction_confirmed_at = Status.CLOSED, event.at


def _apply_change(app: Application, change: ChangeRequested) -> None:
    if change.kind is ChangeKind.PERSONNEL:
        app.form = app.form.model_copy(update={"personnel": list(change.personnel)})
    elif change.kind is ChangeKind.FIELDS:
        added = [f for f in change.fields if f not in app.form.fields]
        app.form = app.form.model_copy(update={"fields": [*app.form.fields, *added]})
