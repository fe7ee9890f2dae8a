"""Documents uploaded with an application (IRB approvals, proof of a processing person's role): checked,
stored under ``<data_dir>/access/documents/<application>/`` and named by their SHA-256.

The id put in the application's events is ``sha256:<hex>``, so the history records exactly which bytes
were attached. Files only: no table of their own (the events are the record).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

#: The largest document accepted (a scanned approval is a few MB).
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
_ID = re.compile(r"sha256:([0-9a-f]{64})")
_APPLICATION_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class DocumentError(ValueError):
    """The upload is refused; ``code`` names the reason for the page's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Document:
    id: str  # sha256:<hex>
    filename: str
    size: int
    kind: str  # irb | role_proof
    uploaded_by: str
    uploaded_at: str


def _folder(data_dir: Path | str, application_id: str) -> Path:
    if not _APPLICATION_ID.fullmatch(application_id):
        raise DocumentError("not_found", f"no application {application_id!r}")
    return Path(data_dir) / "access" / "documents" / application_id


def check_pdf(data: bytes, filename: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
    """Refuse what is empty, too large or not a PDF (by its first bytes, not by its name alone)."""
    if not data:
        raise DocumentError("empty", f"{filename or 'the file'} is empty")
    if len(data) > max_bytes:
        raise DocumentError("too_large", f"{filename} is larger than {max_bytes // (1024 * 1024)} MB")
    if not filename.lower().endswith(".pdf") or not data.startswith(b"%PDF-"):
        raise DocumentError("not_pdf", f"{filename} is not a PDF document")


def store(data_dir: Path | str, application_id: str, data: bytes, filename: str, kind: str, who: str) -> Document:
    """Check and keep one uploaded PDF; the same bytes uploaded twice are kept once."""
    check_pdf(data, filename)
    digest = hashlib.sha256(data).hexdigest()
    folder = _folder(data_dir, application_id)
    folder.mkdir(parents=True, exist_ok=True)
    doc = Document(
        id=f"sha256:{digest}",
        filename=Path(filename).name[:200],
        size=len(data),
        kind=kind,
        uploaded_by=who,
        uploaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    path = folder / f"{digest}.pdf"
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        (folder / f"{digest}.json").write_text(json.dumps(asdict(doc)), encoding="utf-8")
    return doc


def find(data_dir: Path | str, application_id: str, document_id: str) -> tuple[Document, Path]:
    """The stored document ``document_id`` of the application, with its file; DocumentError if none."""
    found = _ID.fullmatch(document_id)
    folder = _folder(data_dir, application_id)
    if found is None or not (folder / f"{found.group(1)}.pdf").is_file():
        raise DocumentError("not_found", f"no document {document_id!r} on application {application_id}")
    digest = found.group(1)
    meta = json.loads((folder / f"{digest}.json").read_text(encoding="utf-8"))
    return Document(**meta), folder / f"{digest}.pdf"


def digest_of(document_id: str) -> str:
    """The hex SHA-256 inside a document id (for URLs)."""
    found = _ID.fullmatch(document_id)
    return found.group(1) if found else ""
