"""Every rule of the access route as a plain function over an application's folded history.

A check returns ``None`` when the rule holds, else the rule in plain words with the fact that breaks it
(the message the applicant or committee sees). Time-based rules take the day to judge ``as of``; none
reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

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


def check_period(months: int | None, imaging: bool, pilot: bool = True) -> str | None:
    if months is None:
        return "choose a use period"
    if imaging:
        if months not in PERIODS_IMAGING:
            return f"imaging data is granted for 3, 6 or 12 months, not {months}"
        if pilot and months > PILOT_MAX_MONTHS:
            return f"during the pilot imaging data is granted for at most {PILOT_MAX_MONTHS} months, not {months}"
    elif not 1 <= months <= OTHER_MAX_MONTHS:
        return f"data other than imaging is granted for 1 to {OTHER_MAX_MONTHS} months, not {months}"
    return None


def check_personnel(people: Sequence[Person], applicant_institution: str) -> str | None:
    for person in people:
        if person.institution.strip().casefold() != applicant_institution.strip().casefold() and not person.role_proof:
            return (
                f"{person.name} belongs to {person.institution}, not the applicant's {applicant_institution}: "
                "upload proof of their role in the project"
            )
    return None


def form_problems(form: ApplicationForm, on: date, pilot: bool = True) -> dict[str, str]:
    """What keeps ``form`` from being submitted on ``on``: field name -> the rule in plain words."""
    problems: dict[str, str] = {}
    if not form.title.strip():
        problems["title"] = "give the project a title"
    if form.purpose not in ALLOWED_PURPOSES:
        problems["purpose"] = (
            "data is released only for public health or medical care and research: choose DUO:0000006 "
            "(health or medical research), DUO:0000007 (disease-specific research) or DUO:0000043 (clinical care)"
        )
    if form.applicant_type is None:
        problems["applicant_type"] = (
            "say whether you apply as a government agency or a research institution (industry applies through one)"
        )
    if not form.institution.strip():
        problems["institution"] = "name your institution"
    if form.irb is None and not form.irb_exempt:
        problems["irb"] = "an IRB approval is needed (unless the study is in the officially exempt category)"
    elif form.irb is not None:
        if form.irb.expires_on <= form.irb.approved_on:
            problems["irb"] = "the IRB approval must expire after the day it was approved"
        elif form.irb.expires_on < on:
            problems["irb"] = f"the IRB approval expired on {form.irb.expires_on}: attach a current one"
        elif not form.irb.document:
            problems["irb"] = "upload the IRB approval document (PDF)"
    if not form.fields:
        problems["fields"] = "name the fields you need (data minimisation: only the fields the study uses)"
    if not form.selection_criteria.strip():
        problems["selection_criteria"] = "describe the selection criteria of the cases you need"
    period = check_period(form.period_months, form.imaging, pilot)
    if period:
        problems["period_months"] = period
    if form.channel is None:
        problems["channel"] = "choose an access channel: on-site, VPN or download"
    if not form.personnel:
        problems["personnel"] = "name the people who will process the data"
    elif len(form.personnel) > PERSONNEL_MAX_PEOPLE:
        problems["personnel"] = f"at most {PERSONNEL_MAX_PEOPLE} people may process the data, not {len(form.personnel)}"
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


def check_concurrency(others: Iterable[Application], on: date) -> str | None:
    """At most 3 concurrent applications per applicant; a 4th waits as a draft until one ends."""
    running = sorted(a.id for a in others if status_as_of(a, on) in CONCURRENT_STATUSES)
    if len(running) >= MAX_CONCURRENT:
        return (
            f"an applicant may have at most {MAX_CONCURRENT} applications running at once; yours are "
            f"{', '.join(running)}: this one stays a draft and can be submitted when one of them ends"
        )
    return None


# --- review and decision -------------------------------------------------------------------------


def check_scores(scores: Mapping[Criterion, int]) -> str | None:
    missing = [c.value for c in Criterion if c not in scores]
    if missing:
        return f"score all five criteria; missing: {', '.join(missing)}"
    low, high = SCORE_RANGE
    for criterion, score in scores.items():
        if not low <= score <= high:
            return f"scores run from {low} to {high}; {criterion.value} was given {score}"
    return None


def check_reviewable(app: Application, on: date) -> str | None:
    status = status_as_of(app, on)
    if status is not Status.SUBMITTED:
        return f"only a submitted application can be reviewed or decided; this one is {status.value}"
    return None


def check_decision(app: Application, decision: Decision, reason: str, on: date) -> str | None:
    blocked = check_reviewable(app, on)
    if blocked:
        return blocked
    if decision is Decision.REJECT and not reason.strip():
        return "a refusal must state its reasons"
    if decision is Decision.RETURN and not reason.strip():
        return "say what must be corrected"
    if decision is Decision.APPROVE and not app.reviews:
        return "the committee decides after at least one review is scored"
    return None


# --- after approval -------------------------------------------------------------------------------


def check_release(app: Application, on: date) -> str | None:
    if app.status not in (Status.APPROVED, Status.ACTIVE):
        return f"only an approved application is released; this one is {status_as_of(app, on).value}"
    if status_as_of(app, on) is Status.EXPIRED:
        return f"access ended on {app.ends_on}; nothing more is released"
    if app.agreement is None:
        return "record the signed data-use agreement first"
    missing = [p.name for p in app.form.personnel if p.name not in app.agreement.pledges]
    if missing:
        return f"every person must sign a confidentiality pledge; missing: {', '.join(missing)}"
    if not app.agreement.fee_paid:
        return "the fee is not paid yet"
    return None


def end_date(starts_on: date, months: int) -> date:
    """Access runs from first use for ``months``; the end date is the first day without access."""
    return add_months(starts_on, months)


def _check_running(app: Application, on: date) -> str | None:
    status = status_as_of(app, on)
    if status is not Status.ACTIVE:
        return f"changes are made while the project runs; this application is {status.value}"
    return None


def check_change(
    app: Application, kind: ChangeKind, on: date, people: Sequence[Person] = (), count: int = 0
) -> str | None:
    """Personnel once per 6 months and at most 6 people; fields added at most 4 times; files once."""
    running = _check_running(app, on)
    if running:
        return running
    earlier = [c for c in app.changes if c.kind is kind]
    if kind is ChangeKind.PERSONNEL:
        if len(people) > PERSONNEL_MAX_PEOPLE:
            return f"a personnel change names at most {PERSONNEL_MAX_PEOPLE} people, not {len(people)}"
        if not people:
            return "name the people who will process the data after the change"
        if earlier:
            last = earlier[-1].at.date()
            if on < add_months(last, PERSONNEL_CHANGE_MONTHS):
                return (
                    f"personnel may change once every {PERSONNEL_CHANGE_MONTHS} months; the last change was on "
                    f"{last}, so the next may be asked from {add_months(last, PERSONNEL_CHANGE_MONTHS)}"
                )
        return check_personnel(people, app.form.institution)
    if count < 1:
        return f"name the {kind.value} to add"
    if kind is ChangeKind.FIELDS and len(earlier) >= FIELD_ADDITIONS_MAX:
        return (
            f"fields may be added at most {FIELD_ADDITIONS_MAX} times; this application has added fields "
            f"{len(earlier)} times"
        )
    if kind is ChangeKind.FILES and len(earlier) >= FILE_ADDITIONS_MAX:
        return f"files may be added once; they were added on {earlier[0].at.date()}"
    return None


def check_extension(app: Application, on: date) -> str | None:
    if app.ends_on is not None and on >= app.ends_on:
        return f"an extension must be asked before the period ends; it ended on {app.ends_on}"
    return _check_running(app, on)


def check_publication(acknowledges_source: bool) -> str | None:
    if not acknowledges_source:
        return "every publication must acknowledge the data source; add the acknowledgement and register it then"
    return None


def check_destruction(app: Application, on: date) -> str | None:
    status = status_as_of(app, on)
    if status is not Status.EXPIRED:
        return f"destruction is confirmed after access ends ({app.ends_on}); this application is {status.value}"
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
    message: str


def obligations(app: Application, on: date, open_notices: Iterable[str] = ()) -> list[Obligation]:
    """What the applicant owes on ``on``; ``open_notices`` are the consent registry's withdrawal notices
    for this application's releases."""
    found = [
        Obligation(app.id, "report_overdue", f"{app.id}: the usage report due on {due} has not been filed")
        for due in reports_overdue(app, on)
    ]
    found += [
        Obligation(
            app.id,
            "deposit_late",
            f"{app.id}: '{pub.title}' (published {pub.published_on}) was to be deposited by {deposit_due(pub)}",
        )
        for pub in publications_late(app, on)
    ]
    found += [
        Obligation(app.id, "withdrawal_unacknowledged", f"{app.id}: withdrawal notice {n} is not acknowledged")
        for n in open_notices
        if n not in app.acknowledged_notices
    ]
    if status_as_of(app, on) is Status.EXPIRED:
        found.append(
            Obligation(
                app.id,
                "destruction_missing",
                f"{app.id}: access ended on {app.ends_on} and destruction of the data is not confirmed",
            )
        )
    return found


def blocking_reasons(
    applications: Iterable[Application], on: date, notices: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Why the applicant's next application is refused on ``on`` (empty: nothing blocks it)."""
    notices = notices or {}
    return [o.message for a in applications for o in obligations(a, on, notices.get(a.id, ()))]
