"""Output-check reports run for an application (``access.output_check``), kept as JSON files under
``<data_dir>/access/outputs/<application>/`` and named by the SHA-256 of their bytes, so a decision that
attaches one (``OutputCheckRef.id``) records exactly which report the committee read.

Files only, like the application's documents: the events are the record, these are what they point to.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from access.output_check import Report
from schemas.access import OutputCheckRef

#: The largest table the output check reads (aggregate tables are small).
MAX_TABLE_BYTES = 1024 * 1024
_ID = re.compile(r"sha256:([0-9a-f]{64})")
_HEX = re.compile(r"[0-9a-f]{64}")
_APPLICATION_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class ReportNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StoredReport:
    id: str  # sha256:<hex>
    application_id: str
    table: str
    threshold: int
    ok: bool
    flagged_cells: int
    findings: list[dict[str, str]]  # kind, where, message
    text: str  # the report as `fairgate outputs check` prints it
    against: list[str] = field(default_factory=list)  # tables it was compared with
    checked_by: str = ""
    checked_at: str = ""

    @property
    def digest(self) -> str:
        return self.id.removeprefix("sha256:")

    def ref(self) -> OutputCheckRef:
        """What a decision records of this report."""
        return OutputCheckRef(
            id=self.id,
            table=self.table,
            threshold=self.threshold,
            ok=self.ok,
            findings=len(self.findings),
            flagged_cells=self.flagged_cells,
        )


def _folder(data_dir: Path | str, application_id: str) -> Path:
    if not _APPLICATION_ID.fullmatch(application_id):
        raise ReportNotFound(f"no application {application_id!r}")
    return Path(data_dir) / "access" / "outputs" / application_id


def store(
    data_dir: Path | str, application_id: str, report: Report, who: str, against: list[str] | None = None
) -> StoredReport:
    """Keep ``report`` with the application; returns it with its id."""
    unnamed = StoredReport(
        id="",
        application_id=application_id,
        table=report.table,
        threshold=report.threshold,
        ok=report.ok,
        flagged_cells=report.flagged_cells,
        findings=[{"kind": f.kind, "where": f.where, "message": f.message} for f in report.findings],
        text=report.text(),
        against=list(against or []),
        checked_by=who,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    body = asdict(unnamed)
    del body["id"]
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    folder = _folder(data_dir, application_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.json"
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return replace(unnamed, id=f"sha256:{digest}")


def _read(path: Path) -> StoredReport:
    body = json.loads(path.read_text(encoding="utf-8"))
    return StoredReport(id=f"sha256:{path.stem}", **body)


def find(data_dir: Path | str, application_id: str, report_id: str) -> StoredReport:
    """The report ``report_id`` (``sha256:<hex>`` or the bare hex) run for the application."""
    found = _ID.fullmatch(report_id)
    digest = found.group(1) if found else report_id
    path = _folder(data_dir, application_id) / f"{digest}.json"
    if not _HEX.fullmatch(digest) or not path.is_file():
        raise ReportNotFound(f"no output-check report {report_id!r} on application {application_id}")
    return _read(path)


def listed(data_dir: Path | str, application_id: str) -> list[StoredReport]:
    """Every report run for the application, oldest first."""
    folder = _folder(data_dir, application_id)
    if not folder.is_dir():
        return []
    reports = [_read(p) for p in folder.glob("*.json") if _HEX.fullmatch(p.stem)]
    return sorted(reports, key=lambda r: (r.checked_at, r.id))


def as_dict(report: StoredReport) -> dict[str, object]:
    return {**asdict(report), "links": {"self": f"/api/applications/{report.application_id}/output-checks"}}
