"""The steward's consent workbench, as plain functions: uploads kept between preview and confirm, the
preview of a consent file (every bad row, what to do, the counts that would be written), its all-or-nothing
commit, the paper form for one person, the report as CSV and the ledger's verify status.

The web pages call these; they never parse files or talk to the ledger themselves. An uploaded file holds
national ids: it lives only in its own 0600 file under the data dir between preview and confirm, and is
deleted when committed, cancelled or stale. No function here returns, logs or raises an identifier.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import secrets
import shutil
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import func, select

from consent import audit
from consent import tables as t
from consent.audit import Actor
from consent.checkpoints import Checkpoint
from consent.errors import BulkValidationError, ConsentError, NotFound, RowError
from consent.imports import (
    GUID_PATTERN,
    ID_COLUMNS,
    Parsed,
    parse_enrolments,
    parse_events,
    write_rejects,
)
from consent.pseudonyms import IdentifierError
from consent.registry import ConsentRegistry, EnrolmentInput, VerifyResult, now_utc
from schemas.consent import Channel, EventKind, EventRequest, InstitutionReport, format_instant, parse_instant

# --- the four files --------------------------------------------------------------------------------


class UploadKind(StrEnum):
    ENROLMENTS = "enrolments"
    NOTICES_SENT = "notices-sent"
    NOTICES_RETURNED = "notices-returned"
    DEATHS = "deaths"


@dataclass(frozen=True)
class KindSpec:
    """What a file of one kind holds: its columns (as the CLI's help says) and the event it records."""

    columns: tuple[str, ...]
    event: EventKind | None = None
    date_column: str | None = None


SPECS: dict[UploadKind, KindSpec] = {
    UploadKind.ENROLMENTS: KindSpec(("national_id", "institution", "dataset", "category", "case_ids", "enrolled_on")),
    UploadKind.NOTICES_SENT: KindSpec(
        ("national_id", "institution", "sent_on", "dataset"), EventKind.NOTICE_SENT, "sent_on"
    ),
    UploadKind.NOTICES_RETURNED: KindSpec(
        ("national_id", "institution", "returned_on"), EventKind.NOTICE_UNDELIVERED, "returned_on"
    ),
    UploadKind.DEATHS: KindSpec(("national_id", "institution", "died_on"), EventKind.DECEASED, "died_on"),
}


# --- uploads kept between preview and confirm -------------------------------------------------------

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
#: An upload not confirmed within this time is deleted (it holds national ids).
UPLOAD_MAX_AGE = timedelta(hours=24)
#: Content types browsers send for a .csv file (Excel on Windows says vnd.ms-excel).
CSV_TYPES = frozenset(
    {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream", ""}
)
_HEAD = 64 * 1024


class UploadRefused(ConsentError):
    """An upload refused before any row is read: too large, not a CSV file, gone. ``code`` names why."""


@dataclass(frozen=True)
class Upload:
    upload_id: str
    kind: UploadKind
    filename: str
    owner: str
    created_at: datetime
    folder: Path

    @property
    def path(self) -> Path:
        """The uploaded file, named as the steward's file (so evidence reads '<file> line <n>')."""
        return self.folder / self.filename

    @property
    def letters(self) -> Path:
        return self.folder / "letters.csv"


def uploads_folder(data_dir: Path) -> Path:
    return data_dir / "uploads" / "consent"


def safe_filename(name: str | None) -> str:
    """The base name of the steward's file reduced to safe characters, ending in .csv."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "").name).strip("._") or "upload"
    base = base[:100]
    return base if base.lower().endswith(".csv") else base + ".csv"


def check_type(filename: str | None, content_type: str | None, head: bytes) -> None:
    """Refuse what is not a UTF-8 CSV text file, judged by its name, declared type and first bytes."""
    if not filename or not filename.lower().endswith(".csv"):
        raise UploadRefused("the file name must end in .csv", code="not_csv")
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared not in CSV_TYPES:
        raise UploadRefused(f"a CSV file was expected, the browser sent {declared}", code="not_csv")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UploadRefused("this is a spreadsheet workbook, not CSV", code="spreadsheet")
    if b"\x00" in head:
        raise UploadRefused("the file holds binary data, not CSV text", code="not_text")
    try:
        # The head may end inside a character: decode incrementally, without the final flush.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise UploadRefused("the file is not UTF-8 text", code="not_utf8") from None
    if not head.strip():
        raise UploadRefused("the file is empty", code="empty")


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def store_upload(
    root: Path,
    kind: UploadKind,
    filename: str | None,
    content_type: str | None,
    chunks: Iterable[bytes],
    max_bytes: int,
    owner: str,
    now: datetime | None = None,
) -> Upload:
    """Keep an uploaded file under ``root/<random id>/`` (0600), refusing it whole when it is larger than
    ``max_bytes`` or not a CSV file. Stale uploads are removed on the way."""
    moment = now or now_utc()
    purge_stale(root, moment)
    iterator = iter(chunks)
    head = b""
    pending: list[bytes] = []
    for chunk in iterator:
        pending.append(chunk)
        head += chunk
        if len(head) >= _HEAD:
            break
    check_type(filename, content_type, head[:_HEAD])
    upload_id = secrets.token_hex(16)
    upload = Upload(upload_id, kind, safe_filename(filename), owner, moment, root / upload_id)
    _private_dir(root)
    _private_dir(upload.folder)
    size = 0
    try:
        fd = os.open(upload.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in _chain(pending, iterator):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(f"the file is larger than {max_bytes:,} bytes", code="too_large")
                out.write(chunk)
        meta = {
            "kind": kind.value,
            "filename": upload.filename,
            "owner": owner,
            "created_at": format_instant(moment),
            "bytes": size,
        }
        (upload.folder / "upload.json").write_text(json.dumps(meta), encoding="utf-8")
    except BaseException:
        shutil.rmtree(upload.folder, ignore_errors=True)
        raise
    return upload


def _chain(first: list[bytes], rest: Iterable[bytes]) -> Iterable[bytes]:
    yield from first
    yield from rest


def open_upload(root: Path, upload_id: str, owner: str) -> Upload:
    """An upload of ``owner``'s, still waiting; another person's upload is as unknown as a made-up id."""
    gone = NotFound("this upload is not waiting any more (confirmed, cancelled or expired): upload the file again")
    if not UPLOAD_ID.fullmatch(upload_id):
        raise gone
    folder = root / upload_id
    try:
        meta = json.loads((folder / "upload.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise gone from None
    if meta.get("owner") != owner:
        raise gone
    return Upload(
        upload_id, UploadKind(meta["kind"]), meta["filename"], owner, parse_instant(meta["created_at"]), folder
    )


def discard(upload: Upload) -> None:
    shutil.rmtree(upload.folder, ignore_errors=True)


def purge_stale(root: Path, now: datetime | None = None) -> int:
    """Delete uploads older than :data:`UPLOAD_MAX_AGE`; returns how many."""
    moment = now or now_utc()
    removed = 0
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        if not UPLOAD_ID.fullmatch(folder.name):
            continue
        try:
            made = parse_instant(json.loads((folder / "upload.json").read_text(encoding="utf-8"))["created_at"])
        except (OSError, ValueError, KeyError):
            made = datetime.fromtimestamp(folder.stat().st_mtime, tz=UTC)
        if moment - made > UPLOAD_MAX_AGE:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


# --- preview -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One bad row: where (line of the file, the header being line 1; column), why, and what to do (a code
    the pages turn into a sentence in the reader's language)."""

    line: int
    column: str
    reason: str
    advice: str


_DATE_COLUMNS = frozenset({"enrolled_on", "sent_on", "returned_on", "died_on"})


def advice_for(error: RowError) -> str:
    """What the steward should do about ``error``: a short stable code."""
    reason = error.reason.lower()
    if error.line == 0:
        return "save_as_utf8_csv"
    if error.line == 1 and "header" in reason:
        return "fix_header"
    if "not enrolled in any dataset" in reason:
        return "enrol_first"
    if "not enrolled in dataset" in reason:
        return "check_dataset_for_person"
    if error.column in ID_COLUMNS:
        return "fix_identifier"
    if error.column == "institution":
        return "fill_institution"
    if error.column == "dataset":
        return "use_catalog_dataset" if "unknown dataset" in reason else "use_dataset_guid"
    if error.column == "category":
        return "use_category"
    if error.column == "case_ids":
        return "list_case_once"
    if "in the future" in reason:
        return "date_not_future"
    if "before the subject's enrolment" in reason:
        return "date_after_enrolment"
    if error.column in _DATE_COLUMNS:
        return "use_date_format" if "not a date" in reason else "fill_date"
    if "category" in reason:
        return "category_conflict"
    if "case" in reason:
        return "case_conflict"
    return "fix_row"


@dataclass
class Preview:
    """What committing the upload would do: its bad rows (none: it may be committed) and the counts."""

    kind: UploadKind
    rows: int
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    by_institution: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.rows > 0

    @property
    def bad_rows(self) -> int:
        return len({p.line for p in self.problems})


def _parse(
    registry: ConsentRegistry, upload: Upload, known_datasets: Container[str] | None
) -> Parsed[EnrolmentInput] | Parsed[EventRequest]:
    spec = SPECS[upload.kind]
    try:
        if spec.event is None:
            return parse_enrolments(registry, upload.path, known_datasets)
        assert spec.date_column is not None
        return parse_events(registry, upload.path, spec.event, spec.date_column)
    except BulkValidationError as exc:  # not readable as CSV at all
        failed: Parsed[EventRequest] = Parsed()
        failed.errors.extend(exc.errors)
        return failed


def _counts(kind: UploadKind, parsed: Parsed[EnrolmentInput] | Parsed[EventRequest]) -> dict[str, int]:
    if kind is UploadKind.ENROLMENTS:
        enrolments = [e for _, e in parsed.good if isinstance(e, EnrolmentInput)]
        return {
            "enrolments": len(enrolments),
            "subjects": len({e.subject for e in enrolments}),
            "cases": sum(len(e.case_ids) for e in enrolments),
            "datasets": len({e.dataset for e in enrolments}),
        }
    events = [r for _, r in parsed.good if isinstance(r, EventRequest)]
    return {"events": len(events), "subjects": len({r.subject for r in events})}


def preview(registry: ConsentRegistry, upload: Upload, known_datasets: Container[str] | None = None) -> Preview:
    """Validate the whole upload against the file rules and the registry as it stands; write nothing."""
    parsed = _parse(registry, upload, known_datasets)
    problems = sorted(
        (Problem(e.line, e.column, e.reason, advice_for(e)) for e in parsed.errors), key=lambda p: (p.line, p.column)
    )
    result = Preview(upload.kind, len(parsed.rows), problems, _counts(upload.kind, parsed))
    if upload.kind is not UploadKind.ENROLMENTS:
        tally: dict[str, int] = {}
        for _, r in parsed.good:
            name = getattr(r, "institution", None) or "(none)"
            tally[name] = tally.get(name, 0) + 1
        result.by_institution = sorted(tally.items())
    return result


def rejects_csv(registry: ConsentRegistry, upload: Upload, known_datasets: Container[str] | None = None) -> bytes:
    """The bad rows with their line and reasons, identifier columns blanked (as the CLI's rejects file)."""
    parsed = _parse(registry, upload, known_datasets)
    target = upload.folder / "rejects.csv"
    try:
        write_rejects(parsed, target)  # type: ignore[arg-type]
        return target.read_bytes()
    finally:
        target.unlink(missing_ok=True)


# --- commit --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Committed:
    kind: UploadKind
    written: int
    subjects: int
    letters: bool  # a letter-merge file with access codes waits for its one download


def commit(
    registry: ConsentRegistry, upload: Upload, actor: str, known_datasets: Container[str] | None = None
) -> Committed:
    """Validate again (the registry may have moved since the preview) and write every row in one
    transaction, or nothing. The file with the national ids is deleted once written; for notices sent, the
    letter merge (no identifiers, one access code per letter) is kept for one download."""
    claimed = upload.path.with_name(upload.path.name + ".committing")
    try:
        upload.path.rename(claimed)  # one confirm wins; a second click finds nothing to commit
    except FileNotFoundError:
        raise NotFound("this upload was already committed; upload the file again to import it again") from None
    working = Upload(upload.upload_id, upload.kind, claimed.name, upload.owner, upload.created_at, upload.folder)
    written = False
    try:
        parsed = _parse(registry, working, known_datasets)
        if parsed.errors:
            raise BulkValidationError(parsed.errors)
        if not parsed.good:
            raise ConsentError("the file has no rows to import", code="empty")
        letters = False
        if upload.kind is UploadKind.ENROLMENTS:
            rows = [e for _, e in parsed.good if isinstance(e, EnrolmentInput)]
            registry.enrol(rows)
            subjects = len({e.subject for e in rows})
        else:
            # Evidence names the steward's file, as the CLI's does; the actor is the signed-in person.
            good = [
                (line, r.model_copy(update={"actor": actor, "evidence": f"{upload.filename} line {line}"}))
                for line, r in parsed.good
                if isinstance(r, EventRequest)
            ]
            requests = [r for _, r in good]
            subjects = len({r.subject for r in requests})
            if upload.kind is UploadKind.NOTICES_SENT:
                _, codes = registry.append_with_access_codes(requests)
                written = True
                _write_letters(parsed, good, codes, upload.letters)
                letters = True
            else:
                registry.append(requests)
    except BaseException:
        if not written:  # nothing reached the ledger: the upload may be confirmed again
            claimed.rename(upload.path)
        raise
    claimed.unlink(missing_ok=True)
    return Committed(upload.kind, len(parsed.good), subjects, letters)


def _write_letters(
    parsed: Parsed[EnrolmentInput] | Parsed[EventRequest],
    good: Sequence[tuple[int, EventRequest]],
    codes: Sequence[str],
    out: Path,
) -> None:
    """The mail-merge CSV: every input column but the identifiers, plus the one-time access code."""
    kept = [c for c in parsed.columns if c not in ID_COLUMNS]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", *kept, "access_code"])
        for (line, _), code in zip(good, codes, strict=True):
            writer.writerow([line, *(parsed.rows[line].get(c, "") for c in kept), code])


def take_letters(upload: Upload) -> bytes:
    """The letter merge, once: read and then deleted with the rest of the upload."""
    try:
        data = upload.letters.read_bytes()
    except FileNotFoundError:
        raise NotFound("the letter merge was already downloaded; it is shown once") from None
    discard(upload)
    return data


# --- the paper form for one person -----------------------------------------------------------------------

PAPER_CHOICES: tuple[EventKind, ...] = (
    EventKind.CONSENT_GIVEN,
    EventKind.CONSENT_DECLINED,
    EventKind.WITHDRAWN,
    EventKind.OPTED_OUT,
    EventKind.RECONSENTED,
)


@dataclass(frozen=True)
class PaperForm:
    """What the steward typed from the form. ``national_id`` is used once, to make the pseudonym."""

    national_id: str
    dataset: str
    choice: str
    signed_on: str
    evidence: str


def paper_request(
    registry: ConsentRegistry, form: PaperForm, actor: str, today: date | None = None
) -> tuple[EventRequest | None, dict[str, str]]:
    """The event a paper form asks for, or the fields that are wrong (field -> code; never the id)."""
    errors: dict[str, str] = {}
    subject = ""
    try:
        subject = registry.pseudonymiser.subject(form.national_id.strip() or None)
    except IdentifierError:
        errors["national_id"] = "identifier_missing" if not form.national_id.strip() else "identifier_invalid"
    dataset = form.dataset.strip() or None
    if dataset is not None and not GUID_PATTERN.match(dataset):
        errors["dataset"] = "dataset_not_guid"
    kinds = {k.value: k for k in PAPER_CHOICES}
    if form.choice not in kinds:
        errors["choice"] = "choice_missing"
    signed: datetime | None = None
    try:
        day = date.fromisoformat(form.signed_on.strip())
        if day > (today or now_utc().date()):
            errors["signed_on"] = "date_future"
        signed = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    except ValueError:
        errors["signed_on"] = "date_missing" if not form.signed_on.strip() else "date_format"
    evidence = form.evidence.strip()
    if not evidence:
        errors["evidence"] = "evidence_missing"
    elif len(evidence) > 200:
        errors["evidence"] = "evidence_long"
    if errors:
        return None, errors
    request = EventRequest(
        subject=subject,
        kind=kinds[form.choice],
        scope_dataset=dataset,
        effective_at=signed,
        channel=Channel.PAPER,
        actor=actor,
        evidence=evidence,
    )
    (problem,) = registry.check_requests([request])
    if problem:
        if "not enrolled in any dataset" in problem:
            errors["national_id"] = "not_enrolled"
        elif "not enrolled in dataset" in problem:
            errors["dataset"] = "not_enrolled_in_dataset"
        elif "before the subject's enrolment" in problem:
            errors["signed_on"] = "before_enrolment"
        elif "in the future" in problem:
            errors["signed_on"] = "date_future"
        else:
            errors["choice"] = "refused"
        return None, errors
    return request, {}


# --- the report and the ledger's status ----------------------------------------------------------------

REPORT_COLUMNS = ("institution", "sent", "undelivered", "opted_out", "deceased", "opt_out_rate_percent")


def report_csv(rows: Sequence[InstitutionReport]) -> str:
    """The seed's Table 7 as CSV: one row per institution and ALL."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for r in rows:
        writer.writerow([getattr(r, c) for c in REPORT_COLUMNS])
    return out.getvalue()


VERIFY_RESULT = "ledger.verify.result"


@dataclass(frozen=True)
class Verification:
    at: datetime
    actor: str
    ok: bool
    events: int
    chains: int
    checkpoints: int
    problem: str | None


def verify_now(registry: ConsentRegistry, who: Actor) -> Verification:
    """Verify the whole ledger and keep the outcome in the audit log (so the status page can show it)."""
    return record_verification(registry, who, registry.verify(who))


def record_verification(registry: ConsentRegistry, who: Actor, result: VerifyResult) -> Verification:
    """Keep the outcome of a verification (``ledger.verify.result`` in the consent audit log)."""
    problem = result.first_break.describe() if result.first_break else "; ".join(result.checkpoint_problems) or None
    found = Verification(
        now_utc(), who.name, result.ok, result.events_checked, result.chains, result.checkpoints, problem
    )
    detail = {
        "ok": found.ok,
        "events": found.events,
        "chains": found.chains,
        "checkpoints": found.checkpoints,
        "problem": problem,
    }
    with registry.engine.begin() as conn:
        audit.record(conn, who, VERIFY_RESULT, found.at, detail=json.dumps(detail))
    return found


@dataclass(frozen=True)
class LedgerStatus:
    events: int
    chains: int
    last_checkpoint: Checkpoint | None
    events_since_checkpoint: int
    last_verification: Verification | None
    recent_heads: list[tuple[str, int, str]]  # (pseudonym, seq, hash) of the chains that moved last


def ledger_status(registry: ConsentRegistry, heads: int = 5) -> LedgerStatus:
    """Counts, the last checkpoint, the last verification and the newest chain heads (read only)."""
    with registry.engine.connect() as conn:
        events = int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())
        max_id = int(conn.execute(select(func.coalesce(func.max(t.events.c.id), 0))).scalar_one())
        chains = int(conn.execute(select(func.count()).select_from(t.chain_heads)).scalar_one())
        row = conn.execute(
            select(t.audit_log).where(t.audit_log.c.action == VERIFY_RESULT).order_by(t.audit_log.c.id.desc()).limit(1)
        ).first()
        newest = conn.execute(
            select(t.events.c.subject, t.events.c.seq, t.events.c.hash).order_by(t.events.c.id.desc()).limit(heads * 4)
        ).all()
    last = registry.latest_checkpoint()
    verification = None
    if row is not None:
        try:
            d = json.loads(row.detail or "{}")
        except ValueError:
            d = {}
        verification = Verification(
            parse_instant(row.at),
            row.actor,
            bool(d.get("ok")),
            int(d.get("events", 0)),
            int(d.get("chains", 0)),
            int(d.get("checkpoints", 0)),
            d.get("problem"),
        )
    recent: list[tuple[str, int, str]] = []
    for subject, seq, digest in newest:
        if all(s != subject for s, _, _ in recent):
            recent.append((str(subject), int(seq), str(digest)))
        if len(recent) == heads:
            break
    return LedgerStatus(events, chains, last, max_id - (last.max_event_id if last else 0), verification, recent)
