"""Steward commands: ``fairgate consent …`` and ``fairgate release …`` (typer apps the catalog CLI mounts).

Thin: parse options, call :mod:`consent.registry`, :mod:`consent.imports`, :mod:`consent.bulk_enrol` and
:mod:`consent.release`,
print with rich. Errors print what is wrong and exit 1, never a traceback or an identifier.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from consent.audit import Actor
from consent.bulk_enrol import enrol_file
from consent.errors import BulkValidationError, ConsentError
from consent.imports import ImportResult, import_events, letter_merge
from consent.pseudonyms import IdentifierError
from consent.registry import ConsentRegistry
from consent.release import create_release, manifest_of
from consent.settings import ConsentSettings
from consent.workbench import record_verification
from schemas.consent import Channel, EventKind, EventRequest

consent_app = typer.Typer(help="Consent registry: enrolments, notices, choices, report, verify.", no_args_is_help=True)
notices_app = typer.Typer(help="Notice campaigns: letters sent and letters returned.", no_args_is_help=True)
release_app = typer.Typer(help="Consent-filtered releases and withdrawal notices.", no_args_is_help=True)
consent_app.add_typer(notices_app, name="notices")

console = Console()
errors = Console(stderr=True)

# The catalog CLI may point this at its own Settings (a subclass) so one object configures both.
settings_factory: Callable[[], ConsentSettings] = ConsentSettings


def open_registry() -> ConsentRegistry:
    return ConsentRegistry.from_settings(settings_factory())


@contextmanager
def steward_errors() -> Iterator[None]:
    """Turn refusals into a message and exit code 1."""
    try:
        yield
    except BulkValidationError as exc:
        errors.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(1) from None
    except (ConsentError, IdentifierError) as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


def checkpoint_if_due(registry: ConsentRegistry) -> None:
    """After a command appended events, make the checkpoint the policy says is due.

    A served registry checkpoints from its group-commit writer; a command line has no such writer,
    so without this an import of a million events would sit uncovered until the next served append.
    """
    made = registry.checkpoint_if_due()
    if made is not None:
        console.print(f"checkpoint {made.hash} covers the ledger up to event {made.max_event_id}")


def _summary(result: ImportResult, what: str) -> None:
    console.print(f"{what}: {result.written} written, {result.rejected} rejected")
    if result.rejects_file:
        console.print(f"rejected rows (identifiers blanked) in {result.rejects_file}")


SkipInvalid = Annotated[bool, typer.Option("--skip-invalid", help="write the good rows and a rejects file")]
Rejects = Annotated[Path | None, typer.Option(help="where to write rejected rows (default <file>.rejects.csv)")]


@consent_app.command()
def enrol(
    file: Annotated[Path, typer.Argument(help="CSV: national_id, institution, dataset, category, case_ids")],
    known_datasets: Annotated[
        Path | None, typer.Option(help="file of known dataset GUIDs, one per line; others are refused")
    ] = None,
    skip_invalid: SkipInvalid = False,
    rejects: Rejects = None,
) -> None:
    """Enrol subjects in datasets (category A, B or C) with their case ids."""
    with steward_errors():
        known = None
        if known_datasets is not None:
            known = {line.strip() for line in known_datasets.read_text().splitlines() if line.strip()}
        registry = open_registry()
        with console.status("validating enrolments") as status:

            def progress(stage: str, count: int) -> None:
                status.update(f"{stage}: {count:,} rows")

            result = enrol_file(registry, file, known, skip_invalid, rejects, progress=progress)
        _summary(result, "enrolments")
        checkpoint_if_due(registry)


@notices_app.command("sent")
def notices_sent(
    file: Annotated[Path, typer.Argument(help="mailing list CSV: national_id, institution, sent_on[, dataset]")],
    out: Annotated[Path | None, typer.Option(help="letter-merge CSV (default <file>.merge.csv)")] = None,
    skip_invalid: SkipInvalid = False,
    rejects: Rejects = None,
) -> None:
    """Record notices sent; write a letter-merge CSV with each person's one-time access code."""
    with steward_errors():
        registry = open_registry()
        target = out or file.with_name(file.stem + ".merge.csv")

        def merge(good: list[tuple[int, EventRequest]]) -> None:
            letter_merge(registry, file, target, good)

        with console.status("recording notices"):
            result = import_events(
                registry, file, EventKind.NOTICE_SENT, "sent_on", skip_invalid, rejects, on_written=merge
            )
        _summary(result, "notices sent")
        console.print(f"letter merge with access codes: {target}")
        checkpoint_if_due(registry)


@notices_app.command("returned")
def notices_returned(
    file: Annotated[Path, typer.Argument(help="CSV of undelivered letters: national_id, institution, returned_on")],
    skip_invalid: SkipInvalid = False,
    rejects: Rejects = None,
) -> None:
    """Record undelivered (returned) notices."""
    with steward_errors():
        registry = open_registry()
        with console.status("recording returned letters"):
            result = import_events(registry, file, EventKind.NOTICE_UNDELIVERED, "returned_on", skip_invalid, rejects)
        _summary(result, "notices returned")
        checkpoint_if_due(registry)


@consent_app.command()
def deceased(
    file: Annotated[Path, typer.Argument(help="CSV: national_id, institution, died_on")],
    skip_invalid: SkipInvalid = False,
    rejects: Rejects = None,
) -> None:
    """Record deaths (what follows is a policy setting: deceased_permits)."""
    with steward_errors():
        registry = open_registry()
        with console.status("recording deaths"):
            result = import_events(registry, file, EventKind.DECEASED, "died_on", skip_invalid, rejects)
        _summary(result, "deaths")
        checkpoint_if_due(registry)


def _subject(registry: ConsentRegistry, subject_id: str) -> str:
    """A pseudonym as given, or the pseudonym of a national id (which is never printed)."""
    if re.fullmatch(r"[0-9a-f]{64}", subject_id):
        return subject_id
    return registry.pseudonymiser.subject(subject_id)


@consent_app.command()
def record(
    subject_id: Annotated[str, typer.Option("--subject-id", help="pseudonym, or a national id to pseudonymise")],
    event: Annotated[EventKind, typer.Option(help="what happened")],
    scope: Annotated[
        list[str] | None, typer.Option(help="dataset=<GUID> and/or purpose=<DUO code>; none = everything")
    ] = None,
    channel: Annotated[Channel, typer.Option()] = Channel.STEWARD,
    evidence: Annotated[str | None, typer.Option(help="reference of the form, letter or call")] = None,
    actor: Annotated[str, typer.Option()] = "steward",
    effective: Annotated[str | None, typer.Option(help="when it took effect (YYYY-MM-DD); default now")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="repeat-safe key")] = None,
) -> None:
    """Record one event (a paper form, a phone call) for one subject."""
    with steward_errors():
        registry = open_registry()
        scopes: dict[str, str] = {}
        for item in scope or []:
            name, _, value = item.partition("=")
            if name not in ("dataset", "purpose") or not value:
                raise ConsentError(f"--scope {item!r}: use dataset=<GUID> or purpose=<DUO code>")
            scopes[name] = value
        when = None
        if effective:
            try:
                when = datetime.fromisoformat(effective)
            except ValueError:
                raise ConsentError(f"--effective {effective!r} is not a date (YYYY-MM-DD)") from None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        request = EventRequest(
            subject=_subject(registry, subject_id),
            kind=event,
            scope_dataset=scopes.get("dataset"),
            scope_purpose=scopes.get("purpose"),
            effective_at=when,
            channel=channel,
            actor=actor,
            evidence=evidence,
        )
        (stored,) = registry.append([request], [idempotency_key])
        console.print(f"recorded {stored.kind.value} as event {stored.event_id} (seq {stored.seq})")
        checkpoint_if_due(registry)


@consent_app.command()
def report(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Per institution: sent, undelivered, opted out, deceased, opt-out rate = opted out / (sent - undelivered)."""
    rows = open_registry().report(Actor.cli())
    if as_json:
        console.print_json(json.dumps([r.model_dump() for r in rows]))
        return
    table = Table(title="Notices and opt-outs")
    for column in ("institution", "sent", "undelivered", "opted out", "deceased", "opt-out rate"):
        table.add_column(column, justify="left" if column == "institution" else "right")
    for r in rows:
        rate = f"{r.opt_out_rate_percent}%" if r.opt_out_rate_percent != "n/a" else "n/a"
        table.add_row(r.institution, f"{r.sent:,}", f"{r.undelivered:,}", f"{r.opted_out:,}", f"{r.deceased:,}", rate)
    console.print(table)


@consent_app.command()
def verify(
    against: Annotated[
        list[Path] | None,
        typer.Option("--against", help="a witness file from `checkpoint --export` (repeatable)"),
    ] = None,
) -> None:
    """Check every hash chain, checkpoint and signature; with --against, that no exported checkpoint is gone."""
    with console.status("verifying hash chains"):
        registry, who = open_registry(), Actor.cli()
        result = registry.verify(who, against=against or [])
        record_verification(registry, who, result)  # the steward's report page shows the last outcome
    if result.ok:
        console.print(
            f"ledger intact: {result.events_checked} events in {result.chains} chains verified, "
            f"{result.checkpoints} checkpoints" + (f", {result.witnesses} witness checkpoints found" if against else "")
        )
        return
    if result.first_break:
        errors.print(f"[red]broken chain:[/red] {result.first_break.describe()}", highlight=False)
    for problem in result.checkpoint_problems:
        errors.print(f"[red]checkpoint:[/red] {problem}", highlight=False)
    raise typer.Exit(1)


@consent_app.command()
def audit(
    subject: Annotated[
        str | None, typer.Option(help="only this person: pseudonym, or a national id to pseudonymise")
    ] = None,
    since: Annotated[str | None, typer.Option(help="only from this date or time on (YYYY-MM-DD[THH:MM])")] = None,
    action: Annotated[str | None, typer.Option(help="only this action, e.g. release.create")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many rows")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Who looked up which person or release, and when (reading the log is audited too)."""
    with steward_errors():
        registry = open_registry()
        pseudonym = _subject(registry, subject) if subject else None
        start = None
        if since:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                raise ConsentError(f"--since {since!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM)") from None
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
        rows = registry.audit_log(pseudonym, start, action, limit, Actor.cli())
    if as_json:
        console.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table(title="Audit log")
    for column in ("when", "actor", "action", "subject", "release / dataset / purpose", "request"):
        table.add_column(column)
    for r in rows:
        target = " ".join(x for x in (r.release_id, r.dataset, r.purpose) if x)
        table.add_row(
            r.at.isoformat(timespec="seconds"),
            r.actor,
            r.action,
            f"{r.subject[:12]}…" if r.subject else "",
            target,
            r.request_id[:12],
        )
    console.print(table)


@consent_app.command()
def checkpoint(
    export: Annotated[
        Path | None,
        typer.Option("--export", help="also write the new checkpoint to this witness file, for an auditor to keep"),
    ] = None,
) -> None:
    """Make a signed checkpoint of the ledger now (they are also made automatically, see the policy settings)."""
    from consent.checkpoints import write_witness
    from consent.registry import now_utc
    from schemas.consent import format_instant

    registry = open_registry()
    digest = registry.checkpoint()
    console.print(f"checkpoint {digest}")
    if export is not None:
        made = registry.latest_checkpoint()
        assert made is not None and made.hash == digest
        write_witness(export, made, format_instant(now_utc()))
        console.print(f"witness written to {export}: keep it outside this system; check with verify --against")


@release_app.command("create")
def release_create(
    application: Annotated[str, typer.Option(help="approved application id")],
    dataset: Annotated[str, typer.Option(help="dataset GUID")],
    purpose: Annotated[str, typer.Option(help="DUO purpose code, e.g. DUO:0000006 or HMB")],
    cases: Annotated[Path, typer.Option(help="case list: CSV with case_id, or Parquet")],
    out: Annotated[Path, typer.Option(help="directory for the released list and manifest")],
    active_until: Annotated[str, typer.Option(help="end of the use period (YYYY-MM-DD)")],
    modifier: Annotated[list[str] | None, typer.Option(help="DUO modifiers the use declares, e.g. NCU")] = None,
) -> None:
    """Filter a case list by consent now; write the re-keyed list and the manifest (kept forever)."""
    with steward_errors():
        try:
            until = date.fromisoformat(active_until)
        except ValueError:
            raise ConsentError(f"--active-until {active_until!r} is not a date (YYYY-MM-DD)") from None
        registry = open_registry()
        with console.status("filtering the case list by consent"):
            manifest = create_release(
                registry,
                application,
                dataset,
                purpose,
                cases,  # read by DuckDB from the file, in a fixed memory budget
                out,
                until,
                modifier or [],
                settings_factory().guid_prefix,
                Actor.cli(),
                memory_limit=settings_factory().release_memory_limit,
            )
        console.print(f"release {manifest.release_id}: {manifest.cases_out} of {manifest.cases_in} cases released")
        for reason, n in manifest.excluded.items():
            console.print(f"  excluded ({reason}): {n}")
        if manifest.unknown_case_ids:
            console.print(
                f"  [yellow]unknown case ids: {len(manifest.unknown_case_ids)} (listed in {out / 'unknown_cases.csv'})"
            )
        console.print(f"manifest: {out / 'manifest.json'} (sha256 of output {manifest.output_sha256})")


@release_app.command("withdrawals")
def release_withdrawals(
    release: Annotated[str | None, typer.Option(help="only this release")] = None,
    pending: Annotated[bool, typer.Option(help="only unacknowledged notices")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Withdrawal notices owed to holders after later opt-outs and withdrawals."""
    notices = open_registry().withdrawal_notices(release, pending, Actor.cli())
    if as_json:
        console.print_json(json.dumps([n.model_dump(mode="json") for n in notices]))
        return
    table = Table(title="Withdrawal notices")
    for column in ("notice", "release", "created", "pseudonyms to delete", "acknowledged"):
        table.add_column(column)
    for n in notices:
        table.add_row(
            n.notice_id,
            n.release_id,
            n.created_at.isoformat(timespec="seconds"),
            "\n".join(n.release_pseudonyms),
            f"{n.acknowledged_at:%Y-%m-%d} by {n.acknowledged_by}" if n.acknowledged_at else "pending",
        )
    console.print(table)


@release_app.command("acknowledge")
def release_acknowledge(
    notice_id: Annotated[str, typer.Argument(help="withdrawal notice id")],
    by: Annotated[str, typer.Option(help="who confirms the deletion")],
) -> None:
    """Confirm that the listed pseudonyms were deleted by the holder."""
    with steward_errors():
        notice = open_registry().acknowledge(notice_id, by, who=Actor.cli())
    console.print(f"notice {notice.notice_id} acknowledged by {notice.acknowledged_by}")


@release_app.command("manifest")
def release_manifest(release_id: Annotated[str, typer.Argument()]) -> None:
    """Print a release's stored manifest."""
    with steward_errors():
        console.print_json(manifest_of(open_registry(), release_id, Actor.cli()).model_dump_json())
