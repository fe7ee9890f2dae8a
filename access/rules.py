"""Every rule of the access route as a plain function over an application's folded history.

A check returns ``None`` when the rule holds, else a :class:`~access.refusals.Refusal`: a stable code with
the facts that break the rule, whose English wording is the rule in plain words (pages render the code in
their own language). Time-based rules take the day to judge ``as of``; none reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from access.refusals import Param, Refusal
from access.workdays import add_months, taiwan
from schemas.access import (
    CONCURRENT_STATUSES,
    Application,
    ApplicationForm,
    ChangeKind,
    Criterion,
    Decision,
    Person,
    PublicationRegistered,
    Status,
)

PERIODS_IMAGING = (3, 6, 12)
PILOT_MAX_MONTHS = 6
OTHER_MAX_MONTHS = 12
MAX_CONCURRENT = 3
PERSONNEL_CHANGE_MONTHS = 6
PERSONNEL_MAX_PEOPLE = 6
FIELD_ADDITIONS_MAX = 4
FILE_ADDITIONS_MAX = 1
CORRECTION_WORKING_DAYS = 7
REPORT_EVERY_MONTHS = 6
DEPOSIT_WITHIN_MONTHS = 1
SCORE_RANGE = (1, 5)
# Public health or medical care/research: DUO HMB, disease-specific research, clinical care.
ALLOWED_PURPOSES = frozenset({"DUO:0000006", "DUO:0000007", "DUO:0000043"})


# --- the application form ------------------------------------------------------------------------


def check_period(months: int | None, imaging: bool, pilot: bool = True) -> Refusal | None:
    if months is None:
        return Refusal("period_required")
    if imaging:
        if months not in PERIODS_IMAGING:
            return Refusal("period_imaging", {"months": months})
        if pilot and months > PILOT_MAX_MONTHS:
            return Refusal("period_pilot", {"max": PILOT_MAX_MONTHS, "months": months})
    elif not 1 <= months <= OTHER_MAX_MONTHS:
        return Refusal("period_other", {"max": OTHER_MAX_MONTHS, "months": months})
    return None


def check_personnel(people: Sequence[Person], applicant_institution: str) -> Refusal | None:
    for person in people:
        if person.institution.strip().casefold() != applicant_institution.strip().casefold() and not person.role_proof:
            facts = {"name": person.name, "institution": person.institution}
            return Refusal("person_needs_proof", {**facts, "applicant_institution": applicant_institution})
    return None


def form_problems(form: ApplicationForm, on: date, pilot: bool = True) -> dict[str, Refusal]:
    """What keeps ``form`` from being submitted on ``on``: field name -> the rule it breaks."""
    problems: dict[str, Refusal] = {}
    if not form.title.strip():
        problems["title"] = Refusal("title_required")
    if form.purpose not in ALLOWED_PURPOSES:
        problems["purpose"] = Refusal("purpose_not_allowed")
    if form.applicant_type is None:
        problems["applicant_type"] = Refusal("applicant_type_required")
    if not form.institution.strip():
        problems["institution"] = Refusal("institution_required")
    if form.irb is None and not form.irb_exempt:
        problems["irb"] = Refusal("irb_required")
    elif form.irb is not None:
        if form.irb.expires_on <= form.irb.approved_on:
            problems["irb"] = Refusal("irb_dates")
        elif form.irb.expires_on < on:
            problems["irb"] = Refusal("irb_expired", {"expired_on": form.irb.expires_on})
        elif not form.irb.document:
            problems["irb"] = Refusal("irb_document_required")
    if not form.fields:
        problems["fields"] = Refusal("fields_required")
    if not form.selection_criteria.strip():
        problems["selection_criteria"] = Refusal("selection_required")
    period = check_period(form.period_months, form.imaging, pilot)
    if period:
        problems["period_months"] = period
    if form.channel is None:
        problems["channel"] = Refusal("channel_required")
    if not form.personnel:
        problems["personnel"] = Refusal("personnel_required")
    elif len(form.personnel) > PERSONNEL_MAX_PEOPLE:
        problems["personnel"] = Refusal(
            "personnel_too_many", {"max": PERSONNEL_MAX_PEOPLE, "count": len(form.personnel)}
        )
    else:
        people = check_personnel(form.personnel, form.institution)
        if people:
            problems["personnel"] = people
    return problems


# --- time: what the state is on a given day -------------------------------------------------------


def correction_deadline(app: Application) -> date | None:
    """The last day to answer a return for correction: 7 working days after it (Taiwan holidays)."""
    if app.returned_at is None:
        return None
    return taiwan().add_working_days(app.returned_at.date(), CORRECTION_WORKING_DAYS)


def status_as_of(app: Application, on: date) -> Status:
    """The status on ``on``: a return lapses after its deadline; access expires on its end date."""
    if app.status is Status.RETURNED:
        deadline = correction_deadline(app)
        if deadline is not None and on > deadline:
            return Status.LAPSED
    if app.status is Status.ACTIVE and app.ends_on is not None and on >= app.ends_on:
        return Status.EXPIRED
    return app.status


def check_concurrency(others: Iterable[Application], on: date) -> Refusal | None:
    """At most 3 concurrent applications per applicant; a 4th waits as a draft until one ends."""
    running = sorted(a.id for a in others if status_as_of(a, on) in CONCURRENT_STATUSES)
    if len(running) >= MAX_CONCURRENT:
        return Refusal("too_many_running", {"max": MAX_CONCURRENT, "running": tuple(running)})
    return None


# --- review and decision -------------------------------------------------------------------------


def check_scores(scores: Mapping[Criterion, int]) -> Refusal | None:
    missing = tuple(c.value for c in Criterion if c not in scores)
    if missing:
        return Refusal("scores_missing", {"criteria": missing})
    low, high = SCORE_RANGE
    for criterion, score in scores.items():
        if not low <= score <= high:
            return Refusal(
                "score_out_of_range", {"low": low, "high": high, "criterion": criterion.value, "score": score}
            )
    return None


def check_reviewable(app: Application, on: date) -> Refusal | None:
    status = status_as_of(app, on)
    if status is not Status.SUBMITTED:
        return Refusal("not_reviewable", {"status": status.value})
    return None


def check_decision(app: Application, decision: Decision, reason: str, on: date) -> Refusal | None:
    blocked = check_reviewable(app, on)
    if blocked:
        return blocked
    if decision is Decision.REJECT and not reason.strip():
        return Refusal("reject_needs_reason")
    if decision is Decision.RETURN and not reason.strip():
        return Refusal("return_needs_reason")
    if decision is Decision.APPROVE and not app.reviews:
        return Refusal("approve_needs_review")
    return None


# --- after approval -------------------------------------------------------------------------------


def check_release(app: Application, on: date) -> Refusal | None:
    if app.status not in (Status.APPROVED, Status.ACTIVE):
        return Refusal("release_not_approved", {"status": status_as_of(app, on).value})
    if status_as_of(app, on) is Status.EXPIRED:
        return Refusal("release_ended", {"ended_on": _day(app.ends_on)})
    if app.agreement is None:
        return Refusal("agreement_required")
    missing = tuple(p.name for p in app.form.personnel if p.name not in app.agreement.pledges)
    if missing:
        return Refusal("pledges_missing", {"missing": missing})
    if not app.agreement.fee_paid:
        return Refusal("fee_unpaid")
    return None


def _day(value: date | None) -> date | str:
    return value if value is not None else "—"


def end_date(starts_on: date, months: int) -> date:
    """Access runs from first use for ``months``; the end date is the first day without access."""
    return add_months(starts_on, months)


def _check_running(app: Application, on: date) -> Refusal | None:
    status = status_as_of(app, on)
    if status is not Status.ACTIVE:
        return Refusal("not_running", {"status": status.value})
    return None


def check_change(
    app: Application, kind: ChangeKind, on: date, people: Sequence[Person] = (), count: int = 0
) -> Refusal | None:
    """Personnel once per 6 months and at most 6 people; fields added at most 4 times; files once."""
    running = _check_running(app, on)
    if running:
        return running
    earlier = [c for c in app.changes if c.kind is kind]
    if kind is ChangeKind.PERSONNEL:
        if len(people) > PERSONNEL_MAX_PEOPLE:
            return Refusal("change_too_many_people", {"max": PERSONNEL_MAX_PEOPLE, "count": len(people)})
        if not people:
            return Refusal("change_people_required")
        if earlier:
            last = earlier[-1].at.date()
            following = add_months(last, PERSONNEL_CHANGE_MONTHS)
            if on < following:
                facts: dict[str, Param] = {"months": PERSONNEL_CHANGE_MONTHS, "last": last, "next": following}
                return Refusal("personnel_change_too_soon", facts)
        return check_personnel(people, app.form.institution)
    if count < 1:
        return Refusal("change_fields_required" if kind is ChangeKind.FIELDS else "change_files_required")
    if kind is ChangeKind.FIELDS and len(earlier) >= FIELD_ADDITIONS_MAX:
        return Refusal("fields_added_too_often", {"max": FIELD_ADDITIONS_MAX, "count": len(earlier)})
    if kind is ChangeKind.FILES and len(earlier) >= FILE_ADDITIONS_MAX:
        return Refusal("files_added_already", {"added_on": earlier[0].at.date()})
    return None


def check_extension(app: Application, on: date) -> Refusal | None:
    if app.ends_on is not None and on >= app.ends_on:
        return Refusal("extension_too_late", {"ended_on": app.ends_on})
    return _check_running(app, on)


def check_publication(acknowledges_source: bool) -> Refusal | None:
    if not acknowledges_source:
        return Refusal("publication_unacknowledged")
    return None


def check_destruction(app: Application, on: date) -> Refusal | None:
    status = status_as_of(app, on)
    if status is not Status.EXPIRED:
        return Refusal("destruction_too_early", {"ends_on": _day(app.ends_on), "status": status.value})
    return None


# --- obligations and what blocks the next application ---------------------------------------------


def reports_due(app: Application, on: date) -> list[date]:
    """Usage-report due dates up to ``on`` (every 6 months from the start, while access lasted)."""
    if app.starts_on is None:
        return []
    last = min(on, app.ends_on) if app.ends_on else on
    dues: list[date] = []
    k = 1
    while (due := add_months(app.starts_on, REPORT_EVERY_MONTHS * k)) <= last:
        dues.append(due)
        k += 1
    return dues


def reports_overdue(app: Application, on: date) -> list[date]:
    """Due dates on or before ``on`` not covered by a report filed by then (the n-th report covers the n-th)."""
    filed = sum(1 for r in app.reports if r.at.date() <= on)
    return [d for d in reports_due(app, on)[filed:] if d < on]


def deposit_due(publication: PublicationRegistered) -> date:
    return add_months(publication.published_on, DEPOSIT_WITHIN_MONTHS)


def publications_late(app: Application, on: date) -> list[PublicationRegistered]:
    """Publications deposited more than a month after publication, or not deposited and past that month."""
    late = []
    for pub in app.publications:
        due = deposit_due(pub)
        if (pub.deposited_on is not None and pub.deposited_on > due) or (pub.deposited_on is None and on > due):
            late.append(pub)
    return late


@dataclass(frozen=True)
class Obligation:
    application_id: str
    kind: str  # report_overdue | deposit_late | withdrawal_unacknowledged | destruction_missing
    refusal: Refusal  # code ``obligation_<kind>`` with the facts

    @property
    def message(self) -> str:
        return self.refusal.message


def obligations(app: Application, on: date, open_notices: Iterable[str] = ()) -> list[Obligation]:
    """What the applicant owes on ``on``; ``open_notices`` are the consent registry's withdrawal notices
    for this application's releases."""
    found = [
        Obligation(app.id, "report_overdue", Refusal("obligation_report_overdue", {"application": app.id, "due": due}))
        for due in reports_overdue(app, on)
    ]
    found += [
        Obligation(
            app.id,
            "deposit_late",
            Refusal(
                "obligation_deposit_late",
                {"application": app.id, "title": pub.title, "published_on": pub.published_on, "due": deposit_due(pub)},
            ),
        )
        for pub in publications_late(app, on)
    ]
    found += [
        Obligation(
            app.id,
            "withdrawal_unacknowledged",
            Refusal("obligation_withdrawal_unacknowledged", {"application": app.id, "notice": n}),
        )
        for n in open_notices
        if n not in app.acknowledged_notices
    ]
    if status_as_of(app, on) is Status.EXPIRED:
        found.append(
            Obligation(
                app.id,
                "destruction_missing",
                Refusal("obligation_destruction_missing", {"application": app.id, "ended_on": _day(app.ends_on)}),
            )
        )
    return found


def blocking_reasons(
    applications: Iterable[Application], on: date, notices: Mapping[str, Sequence[str]] | None = None
) -> list[Refusal]:
    """Why the applicant's next application is refused on ``on`` (empty: nothing blocks it)."""
    notices = notices or {}
    return [o.refusal for a in applications for o in obligations(a, on, notices.get(a.id, ()))]
