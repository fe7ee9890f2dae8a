"""Consent-filtered releases: case list in, re-keyed list + manifest out, membership stored for withdrawals.

Reads the registry's tables into Arrow, decides with :mod:`consent.release_filter`, writes files, then
stores the manifest (kept forever) and membership in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, select

from consent import audit, membership, release_stream
from consent import tables as t
from consent.arrow_scan import scan, stream
from consent.audit import Actor
from consent.database import read_arrow
from consent.errors import ConsentError, NotFound
from consent.membership import MembershipBuilder
from consent.registry import ConsentRegistry, now_utc
from consent.release_filter import (
    CASE_FACTS_SCHEMA,
    PERMIT_REASONS,
    PSEUDONYM_SCHEME,
    STATE_SCHEMA,
    filter_release,
)
from schemas.consent import REFUSALS, ReleaseManifest, ReleaseProject, format_instant, purposes, utc

UNKNOWN = "unknown_case"


@dataclass(frozen=True)
class ReleaseFiles:
    released: Path  # release_pseudonym only: what the researcher receives
    custodian_map: Path  # case_id -> release_pseudonym: for the custodian's extraction, never the researcher
    unknown: Path
    manifest: Path


_arrow = read_arrow


def load_inputs(conn: Connection, dataset: str, at: datetime | None) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Membership, enrolments and state rows of ``dataset``; ``at`` set = the events known then."""
    params = {"dataset": dataset}
    membership = _arrow(
        conn, "SELECT case_id, subject FROM consent_cases WHERE dataset = :dataset", params, ["case_id", "subject"]
    )
    enrolments = _arrow(
        conn,
        "SELECT subject, category, enrolled_at FROM consent_enrolments WHERE dataset = :dataset",
        params,
        ["subject", "category", "enrolled_at"],
    )
    names = STATE_SCHEMA.names
    if at is None:
        sql = (
            "SELECT s.subject, s.facet, s.scope_dataset, s.scope_purpose, s.kind, s.effective_at, s.seq "
            "FROM consent_state s JOIN consent_enrolments e ON e.subject = s.subject AND e.dataset = :dataset "
            "WHERE s.scope_dataset IN ('*', :dataset)"
        )
        state = _arrow(conn, sql, params, names)
    else:
        refusals_and_grants = "'consent_given','consent_declined','withdrawn','opted_out','reconsented'"
        sql = (
            "SELECT v.subject, CASE WHEN v.kind IN (" + refusals_and_grants + ") THEN 'choice' ELSE v.kind END, "
            "COALESCE(v.scope_dataset, '*'), COALESCE(v.scope_purpose, '*'), v.kind, v.effective_at, v.seq "
            "FROM consent_events v JOIN consent_enrolments e ON e.subject = v.subject AND e.dataset = :dataset "
            "WHERE (v.scope_dataset IS NULL OR v.scope_dataset = :dataset) "
            "AND v.recorded_at <= :at AND v.effective_at <= :at"
        )
        state = _arrow(conn, sql, {**params, "at": format_instant(at)}, names)
    return membership, enrolments, state.cast(STATE_SCHEMA)


def load_current(conn: Connection, dataset: str) -> tuple[pa.Table, pa.Table]:
    """The case rows of ``dataset`` with their facts, and the current choices of its subjects (a scan of
    ``consent_cases``, and the few ``consent_state`` rows of facet ``choice``)."""
    params = {"dataset": dataset}
    # The one large read of a release (every case of the dataset): Arrow-native, see consent.arrow_scan.
    members = scan(conn, "consent_cases", CASE_FACTS_SCHEMA, "dataset = :dataset", params)
    choices = _arrow(
        conn,
        "SELECT s.subject, s.facet, s.scope_dataset, s.scope_purpose, s.kind, s.effective_at, s.seq "
        "FROM consent_state s JOIN consent_enrolments e ON e.subject = s.subject AND e.dataset = :dataset "
        "WHERE s.facet = 'choice' AND s.scope_dataset IN ('*', :dataset)",
        params,
        STATE_SCHEMA.names,
    )
    # Booleans arrive as 0/1 from SQLite; empty columns as nulls of no type.
    return members.cast(CASE_FACTS_SCHEMA), choices.cast(STATE_SCHEMA)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _validate(
    registry: ConsentRegistry, application: str, dataset: str, purpose: str, modifiers: list[str], until: date
) -> tuple[str, list[str]]:
    if not application.strip():
        raise ConsentError("an approved application id is required (--application)")
    vocab = purposes()
    try:
        code = vocab.normalise(purpose)
        mods = sorted({vocab.normalise(m) for m in modifiers})
    except ValueError as exc:
        raise ConsentError(str(exc)) from None
    if vocab.is_modifier(code):
        raise ConsentError(f"{code} is a modifier; the release purpose must be a research purpose such as GRU or HMB")
    wrong = [m for m in mods if not vocab.is_modifier(m)]
    if wrong:
        raise ConsentError(f"{', '.join(wrong)} are purposes, not modifiers (modifiers: NCU, NPU)")
    if not registry.knows_dataset(dataset):
        raise ConsentError(
            f"unknown dataset {dataset}: nobody is enrolled in it in this registry; enrol its subjects first"
        )
    if until < now_utc().date():
        raise ConsentError(f"active-until date {until} is in the past")
    return code, mods


def _next_case_number(conn: Connection, dataset: str) -> int:
    q = select(t.case_numbers.c.next_case_no).where(t.case_numbers.c.dataset == dataset)
    return int(conn.execute(q).scalar_one_or_none() or 0)


def _choices(conn: Connection, dataset: str) -> pa.Table:
    """The current choices (facet ``choice``) of the dataset's subjects: the few a purpose scope may need."""
    choices = _arrow(
        conn,
        "SELECT s.subject, s.facet, s.scope_dataset, s.scope_purpose, s.kind, s.effective_at, s.seq "
        "FROM consent_state s JOIN consent_enrolments e ON e.subject = s.subject AND e.dataset = :dataset "
        "WHERE s.facet = 'choice' AND s.scope_dataset IN ('*', :dataset)",
        {"dataset": dataset},
        STATE_SCHEMA.names,
    )
    return choices.cast(STATE_SCHEMA)


def create_release(
    registry: ConsentRegistry,
    application: str,
    dataset: str,
    purpose: str,
    cases: pa.Table | Path,
    out_dir: Path,
    active_until: date,
    modifiers: list[str] | None = None,
    guid_prefix: str = "dg.TW01",
    who: Actor | None = None,
    project: ReleaseProject | None = None,
    memory_limit: str = "2GB",
    per_case_up_to: int = membership.PER_CASE_UP_TO,
) -> ReleaseManifest:
    """Filter ``cases`` (an Arrow table of ``case_id``, or a CSV or Parquet file of them) by consent now,
    write the release files and keep its manifest forever.

    ``project`` (the access application's title, institution, purpose and period) goes into the manifest.
    The cases stream through DuckDB within ``memory_limit`` (:mod:`consent.release_stream`), so a release
    of 100 million cases needs no more memory than one of a thousand. Its membership is stored a row per
    case up to ``per_case_up_to`` cases, as bitmaps beyond (:func:`consent.membership.store`).

    The audit row (``release.create``) commits in the same transaction as the manifest."""
    code, mods = _validate(registry, application, dataset, purpose, modifiers or [], active_until)
    covering = purposes().covering_scopes(code, frozenset(mods))
    release_id = f"{guid_prefix}/{uuid.uuid4()}"
    secret = registry.pseudonymiser.release_secret(release_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReleaseFiles(
        released=out_dir / "released_cases.csv",
        custodian_map=out_dir / "custodian_map.csv",
        unknown=out_dir / "unknown_cases.csv",
        manifest=out_dir / "manifest.json",
    )
    params = {"dataset": dataset}
    with registry.engine.connect() as conn:
        # Checkpoint, decision time and the start of the case scan see the same ledger: the transaction
        # (on SQLite its write lock) is held until the scan's snapshot is taken, then let go, so appends
        # wait for the start of a national release, not for all of it.
        transaction = conn.begin()
        try:
            checkpoint = registry.checkpoint(conn)
            at = now_utc()
            numbers = _next_case_number(conn, dataset)
            choices = _choices(conn, dataset)

            def opened() -> None:
                if transaction.is_active:
                    transaction.commit()

            columns, decision = release_stream.member_columns(registry.policy, at)
            members = stream(
                conn, "consent_cases", release_stream.MEMBER_SCHEMA, "dataset = :dataset",
                {**params, **decision}, columns, on_open=opened,
            )  # fmt: skip
            decided = release_stream.decide(
                members,
                lambda: stream(conn, "consent_cases", release_stream.IDS_SCHEMA, "dataset = :dataset", params),
                cases,
                choices,
                dataset,
                covering,
                secret,
                numbers,
                out_dir,
                memory_limit=memory_limit,
            )
        finally:
            if transaction.is_active:
                transaction.commit()
    outcome = release_stream.finish(decided, files.released, files.custodian_map)
    pacsv.write_csv(pa.table({"case_id": pa.array(outcome.unknown, pa.string())}), files.unknown)
    excluded = {r: n for r, n in sorted(outcome.counts.items()) if r not in PERMIT_REASONS and r != UNKNOWN}
    manifest = ReleaseManifest(
        release_id=release_id,
        application=application,
        dataset=dataset,
        purpose=code,
        modifiers=mods,
        policy=registry.policy,
        decided_at=at,
        active_until=active_until,
        ledger_checkpoint_hash=checkpoint,
        cases_in=outcome.cases_in,
        cases_out=outcome.cases_out,
        excluded=excluded,
        unknown_case_ids=outcome.unknown,
        output_file=files.released.name,
        output_sha256=outcome.released_sha256,
        pseudonym_scheme=PSEUDONYM_SCHEME,
        project=project,
    )
    files.manifest.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    _store(registry, manifest, covering, outcome.membership, at, who or Actor.process(), per_case_up_to)
    return manifest


def _store(
    registry: ConsentRegistry,
    manifest: ReleaseManifest,
    covering: frozenset[str],
    members: MembershipBuilder,
    at: datetime,
    who: Actor,
    per_case_up_to: int,
) -> None:
    with registry.engine.begin() as conn:
        per_case = membership.kept_per_case(members, per_case_up_to)
        release_no = membership.reserve_release_number(conn) if per_case else None
        conn.execute(
            t.releases.insert().values(
                release_id=manifest.release_id,
                release_no=release_no,
                application=manifest.application,
                dataset=manifest.dataset,
                purpose=manifest.purpose,
                active_until=format_instant(datetime.combine(manifest.active_until, time.max, tzinfo=UTC)),
                created_at=format_instant(at),
                manifest=json.loads(manifest.model_dump_json()),
            )
        )
        audit.record(
            conn,
            who,
            "release.create",
            now_utc(),
            release_id=manifest.release_id,
            dataset=manifest.dataset,
            purpose=manifest.purpose,
            detail=f"application {manifest.application}: {manifest.cases_out} of {manifest.cases_in} cases released",
        )
        conn.execute(
            t.release_scopes.insert(), [{"release_id": manifest.release_id, "scope_purpose": c} for c in covering]
        )
        membership.store(conn, manifest.release_id, release_no, manifest.dataset, members)
        # Refusals recorded after the decision but before this commit must still reach the holder.
        late = (
            conn.execute(
                select(t.events.c.event_id).where(
                    t.events.c.recorded_at > format_instant(at), t.events.c.kind.in_([k.value for k in REFUSALS])
                )
            )
            .scalars()
            .all()
        )
    if late:
        registry.propagate_withdrawals(list(late))


def _manifest_in(conn: Connection, release_id: str) -> ReleaseManifest:
    row = conn.execute(select(t.releases.c.manifest).where(t.releases.c.release_id == release_id)).first()
    if row is None:
        raise NotFound(f"no release {release_id}")
    data = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return ReleaseManifest.model_validate(data)


def manifest_of(registry: ConsentRegistry, release_id: str, who: Actor | None = None) -> ReleaseManifest:
    """A release's stored manifest (audited as ``release.manifest``)."""
    with registry.engine.begin() as conn:
        manifest = _manifest_in(conn, release_id)
        audit.record(
            conn,
            who or Actor.process(),
            "release.manifest",
            now_utc(),
            release_id=release_id,
            dataset=manifest.dataset,
            purpose=manifest.purpose,
        )
    return manifest


def audit_release(
    registry: ConsentRegistry, release_id: str, cases: pa.Table, who: Actor | None = None
) -> tuple[ReleaseManifest, pa.Table]:
    """Re-decide a past release from the events known at its decision time (not the current state)."""
    with registry.engine.begin() as conn:
        manifest = _manifest_in(conn, release_id)
        audit.record(
            conn,
            who or Actor.process(),
            "release.audit",
            now_utc(),
            release_id=release_id,
            dataset=manifest.dataset,
            purpose=manifest.purpose,
        )
    covering = purposes().covering_scopes(manifest.purpose, frozenset(manifest.modifiers))
    at = utc(manifest.decided_at)
    with registry.engine.connect() as conn:
        membership, enrolments, state = load_inputs(conn, manifest.dataset, at)
    secret = registry.pseudonymiser.release_secret(release_id)
    decided = filter_release(
        cases,
        membership,
        enrolments,
        state,
        manifest.dataset,
        covering,
        manifest.policy,
        at,
        secret,
        scheme=manifest.pseudonym_scheme,
    )
    return manifest, decided
