"""Small builders of application histories for the rule tests (events, not a server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from access.fold import fold
from schemas.access import (
    AgreementRecorded,
    ApplicantType,
    Application,
    ApplicationForm,
    Channel,
    Created,
    Criterion,
    Decided,
    Decision,
    DraftSaved,
    Event,
    Irb,
    IrbRole,
    Person,
    Released,
    Reviewed,
    Submitted,
)

APP = "app-1"
RESEARCHER = "user:7"


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(9, 0), tzinfo=UTC)


def good_form(**changes: object) -> ApplicationForm:
    form = ApplicationForm(
        title="Lung nodules in low-dose CT",
        purpose="DUO:0000006",
        applicant_type=ApplicantType.ACADEMIC,
        institution="NTU Hospital",
        irb=Irb(
            board="NTUH REC",
            number="202601001RINA",
            approved_on=date(2026, 1, 5),
            expires_on=date(2027, 1, 4),
            applicant_role=IrbRole.PI,
            document="doc-1",
        ),
        fields=["age", "sex", "nodule_size"],
        selection_criteria="adults with a nodule over 6 mm",
        period_months=6,
        channel=Channel.VPN,
        personnel=[Person(name="Lin", institution="NTU Hospital"), Person(name="Chen", institution="NTU Hospital")],
    )
    return form.model_copy(update=changes)


def submitted(app_id: str = APP, day: str = "2026-03-02", applicant: str = RESEARCHER) -> list[Event]:
    return [
        Created(
            application_id=app_id,
            at=at(day),
            actor=applicant,
            applicant=applicant,
            applicant_institution="NTU Hospital",
            datasets=["ds-1"],
        ),
        DraftSaved(application_id=app_id, at=at(day), actor=applicant, form=good_form()),
        Submitted(application_id=app_id, at=at(day), actor=applicant),
    ]


def released(app_id: str = APP, start: str = "2026-04-01", ends: str = "2026-10-01") -> list[Event]:
    return [
        *submitted(app_id),
        Reviewed(
            application_id=app_id,
            at=at("2026-03-10"),
            actor="user:2",
            scores={c: 4 for c in Criterion},
        ),
        Decided(application_id=app_id, at=at("2026-03-12"), actor="user:2", decision=Decision.APPROVE),
        AgreementRecorded(
            application_id=app_id,
            at=at("2026-03-20"),
            actor="user:3",
            signed_on=date(2026, 3, 20),
            pledges=["Lin", "Chen"],
            fee_paid=True,
        ),
        Released(
            application_id=app_id,
            at=at(start),
            actor="user:3",
            release_id="dg.TW01/r1",
            dataset="ds-1",
            starts_on=date.fromisoformat(start),
            ends_on=date.fromisoformat(ends),
            cases_out=10,
        ),
    ]


def state(events: list[Event]) -> Application:
    return fold(events)
