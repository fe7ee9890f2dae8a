"""What the API routes and the pages both do with an application: fold it from the event store, run one
``access.commands`` command with what it needs from around it (the applicant's other applications, the
consent registry's withdrawal notices, the release), and append what it emits.

No HTTP here and no rule: callers map the exceptions below to their own answers (JSON or a page).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from access import commands, output_check, rules
from access.commands import Refused
from access.figures import Figures, figures
from access.refusals import Refusal
from access.store import Conflict, EventStore, NotFound
from access.workdays import CalendarGap
from catalog.applications import output_reports
from catalog.applications.output_reports import StoredReport
from catalog.context import Context
from consent.api import registry_for
from consent.audit import Actor
from consent.errors import ConsentError
from consent.release import create_release
from schemas.access import Application, ApplicationForm, Criterion, Decision, Event, Status
from schemas.accounts import Principal, Role
from schemas.consent import ReleaseProject


class NotPermitted(Exception):
    """The caller's roles do not allow this step (the API answers 403, a page its forbidden page)."""


#: What a command on an application may fail with; each caller says it in its own way.
ACCESS_ERRORS = (NotFound, Conflict, Refused, ConsentError, CalendarGap, NotPermitted)
#: Roles that see every application (the applicant sees their own).
OVERSEERS = frozenset({Role.REVIEWER, Role.CHAIR, Role.STEWARD, Role.ADMIN})
#: Who scores the five criteria, and who decides (approve, reject or return for correction).
SCORERS = frozenset({Role.REVIEWER})
DECIDERS = frozenset({Role.CHAIR})
#: Who runs the output check of a table for an application (the committee, or a steward for it).
OUTPUT_CHECKERS = frozenset({Role.REVIEWER, Role.CHAIR, Role.STEWARD, Role.ADMIN})
#: The files of a release, by the name a download asks for.
RELEASE_FILES = {"cases": "released_cases.csv", "manifest": "manifest.json"}


def identity(who: Principal) -> str:
    """The applicant identity of a principal: its user (a token acts as its user)."""
    return f"user:{who.user_id}" if who.user_id is not None else who.actor


def now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Filters:
    state: Status | None = None
    dataset: str = ""
    institution: str = ""
    overdue: bool = False


class ApplicationService:
    """Applications of one catalog (its ``Context``): the event store plus the consent registry."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.events = EventStore(ctx.store.engine)

    # --- reading -----------------------------------------------------------------------------------

    def notices(self, app: Application, who: Principal) -> list[str]:
        """The consent registry's withdrawal notices for this application's releases."""
        if not app.releases:
            return []
        registry = registry_for(self.ctx.settings)
        actor = Actor(who.actor)
        return [n.notice_id for r in app.releases for n in registry.withdrawal_notices(r.release_id, False, actor)]

    def visible(self, app: Application, who: Principal) -> bool:
        return who.has_any(OVERSEERS) or app.applicant == identity(who)

    def get(self, application_id: str, who: Principal) -> Application:
        """The application if ``who`` may see it; otherwise it does not exist for them."""
        app = self.events.get(application_id)
        if not self.visible(app, who):
            raise NotFound(f"no application {application_id!r}; list yours at /api/applications")
        return app

    def history(self, application_id: str, who: Principal) -> list[Event]:
        history = self.events.history(application_id)
        if not history or not self.visible(self.events.get(application_id), who):
            raise NotFound(f"no application {application_id!r}; list yours at /api/applications")
        return history

    def listed(self, who: Principal, filters: Filters = Filters()) -> list[Application]:
        """Your applications; reviewers and stewards see every one, narrowed by ``filters``."""
        on = now().date()
        apps = self.events.applications() if who.has_any(OVERSEERS) else self.events.applications(identity(who))
        if filters.state is not None:
            apps = [a for a in apps if rules.status_as_of(a, on) is filters.state]
        if filters.dataset:
            apps = [a for a in apps if filters.dataset in a.datasets]
        if filters.institution:
            apps = [a for a in apps if filters.institution.casefold() in a.form.institution.casefold()]
        if filters.overdue:
            apps = [a for a in apps if rules.obligations(a, on, self.notices(a, who))]
        return apps

    def blocking(self, who: Principal, applicant: str) -> list[Refusal]:
        """What the applicant's earlier projects owe, each blocking a new application."""
        apps = self.events.applications(applicant)
        return rules.blocking_reasons(apps, now().date(), {a.id: self.notices(a, who) for a in apps})

    def overdue(self, who: Principal) -> list[tuple[Application, rules.Obligation]]:
        on = now().date()
        return [(a, o) for a in self.events.applications() for o in rules.obligations(a, on, self.notices(a, who))]

    def figures(self) -> Figures:
        return figures(self.events.applications(), now().date())

    # --- acting ------------------------------------------------------------------------------------

    def act(self, application_id: str, command: Callable[[Application], list[Event]]) -> Application:
        return self.events.act(application_id, command)

    def create(self, who: Principal, datasets: Sequence[str], form: ApplicationForm | None = None) -> Application:
        """Open a draft (refused while earlier projects owe something), with ``form`` saved if given."""
        me = identity(who)
        at = now()
        app_id = f"A-{uuid.uuid4().hex[:12]}"
        events = commands.create(app_id, me, who.institution, datasets, at, self.blocking(who, me))
        app = self.events.create(events)
        if form is not None:
            app = self.events.act(app_id, lambda a: commands.save_draft(a, me, form, at))
        return app

    def submit(self, who: Principal, application_id: str) -> Application:
        """Submit; refused with the reason while 3 of the applicant's applications run or one owes something."""
        me = identity(who)
        others = self.events.applications(me)
        blocking = self.blocking(who, me)
        return self.act(application_id, lambda a: commands.submit(a, me, now(), others, blocking))

    def acknowledge(self, who: Principal, application_id: str, notice_id: str) -> Application:
        me = identity(who)
        return self.act(
            application_id,
            lambda a: commands.acknowledge_withdrawal(a, me, notice_id, self.notices(a, who), now()),
        )

    def review(
        self, who: Principal, application_id: str, scores: Mapping[Criterion, int], comment: str = ""
    ) -> Application:
        """One committee member's scores (reviewers score; the chair decides)."""
        _allowed(who, SCORERS, "score applications")
        me = identity(who)
        return self.act(application_id, lambda a: commands.review(a, me, scores, now(), comment, who.institution))

    def return_for_correction(self, who: Principal, application_id: str, reason: str) -> Application:
        """The chair returns it; the applicant has 7 working days to resubmit."""
        _allowed(who, DECIDERS, "return an application for correction")
        me = identity(who)
        return self.act(application_id, lambda a: commands.return_for_correction(a, me, reason, now()))

    def decide(
        self,
        who: Principal,
        application_id: str,
        decision: Decision,
        conditions: Sequence[str] = (),
        reason: str = "",
        reports: Sequence[str] = (),
    ) -> Application:
        """The chair's decision: approve (with conditions) or reject (with a reason), attaching the
        output-check reports ``reports`` (ids of reports run for this application)."""
        _allowed(who, DECIDERS, "decide on an application")
        me = identity(who)
        refs = [self.output_report(application_id, r).ref() for r in reports]
        return self.act(application_id, lambda a: commands.decide(a, me, decision, now(), conditions, reason, refs))

    # --- output checks -----------------------------------------------------------------------------

    def check_output(
        self,
        who: Principal,
        application_id: str,
        table: output_check.Table,
        threshold: int = output_check.DEFAULT_THRESHOLD,
        others: Sequence[output_check.Table] = (),
    ) -> StoredReport:
        """Check ``table`` (against ``others``) and keep the report with the application."""
        _allowed(who, OUTPUT_CHECKERS, "run an output check for an application")
        app = self.get(application_id, who)
        report = output_check.check(table, threshold, list(others) or None)
        return output_reports.store(self.ctx.settings.data_dir, app.id, report, who.actor, [o.name for o in others])

    def output_reports(self, app: Application) -> list[StoredReport]:
        return output_reports.listed(self.ctx.settings.data_dir, app.id)

    def output_report(self, application_id: str, report_id: str) -> StoredReport:
        """A report run for the application; refused (with its code) if it was not."""
        try:
            return output_reports.find(self.ctx.settings.data_dir, application_id, report_id)
        except output_reports.ReportNotFound:
            raise Refused(
                Refusal("output_report_unknown", {"report": report_id, "application": application_id})
            ) from None

    def release_dir(self, app: Application, index: int) -> Path:
        return Path(self.ctx.settings.data_dir) / "releases" / "applications" / app.id / str(index)

    def release(
        self, who: Principal, application_id: str, dataset: str, case_ids: Sequence[str]
    ) -> tuple[Application, str]:
        """Release through the consent registry (filtered by consent now), with the application's title,
        institution, purpose and period in the manifest; returns the new state and the release id."""
        app = self.events.get(application_id)
        at = now()
        commands.check_release(app, at)
        if dataset not in app.datasets:
            raise Refused(commands.dataset_not_applied(app, dataset))
        starts_on, ends_on = commands.release_period(app, at.date())
        settings = self.ctx.settings
        manifest = create_release(
            registry_for(settings),
            app.id,
            dataset,
            app.form.purpose,
            pa.table({"case_id": pa.array(list(case_ids), pa.string())}),
            self.release_dir(app, len(app.releases) + 1),
            ends_on,
            app.form.modifiers,
            settings.guid_prefix,
            Actor(who.actor),
            project=ReleaseProject(
                title=app.form.title,
                institution=app.form.institution,
                purpose_text=app.form.purpose_text,
                starts_on=starts_on,
                ends_on=ends_on,
            ),
        )
        self.events.append(
            app.applicant,
            app.events,
            commands.released(app, who.actor, manifest.release_id, dataset, manifest.cases_out, at),
        )
        return self.events.get(application_id), manifest.release_id

    def release_file(self, who: Principal, application_id: str, number: int, part: str) -> tuple[Application, Path]:
        """A file of the applicant's own release while the project runs (the caller audits the download)."""
        app = self.events.get(application_id)
        if app.applicant != identity(who) or part not in RELEASE_FILES or not 1 <= number <= len(app.releases):
            raise NotFound(f"no release {number} ({part}) on application {application_id}")
        if rules.status_as_of(app, now().date()) is not Status.ACTIVE:
            raise Refused(Refusal("download_ended", {"ended_on": app.ends_on or "—"}))
        return app, self.release_dir(app, number) / RELEASE_FILES[part]

    def expire_due(self, at: datetime | None = None) -> list[str]:
        """Record expiry for every application whose end date has come; the ids expired."""
        at = at or now()
        expired = []
        for app in self.events.applications():
            events = commands.expire(app, at)
            if events:
                try:
                    self.events.append(app.applicant, app.events, events)
                except Conflict:
                    continue  # another worker recorded it (or the applicant acted) first: next round
                expired.append(app.id)
        return expired


def _allowed(who: Principal, roles: frozenset[Role], what: str) -> None:
    if not who.has_any(roles):
        names = " or ".join(sorted(r.value for r in roles))
        raise NotPermitted(f"only a committee {names} may {what}")


def service_of(ctx: Context) -> ApplicationService:
    found = ctx.extensions.get("applications")
    if not isinstance(found, ApplicationService):
        found = ctx.extensions["applications"] = ApplicationService(ctx)
    return found
