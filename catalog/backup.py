"""Online backups of a deployment's two databases (catalog and consent registry), and their restore.

SQLite through its online backup API (a consistent copy while the server writes), PostgreSQL through
``pg_dump`` (one snapshot) and ``pg_restore``. The keys (pseudonyms, checkpoint signing) are never put
in a backup: whoever holds a backup and its key could re-identify people, so they are kept apart by
design. This module copies databases; it does not verify them (the restore command runs ``verify``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

MANIFEST = "fairgate-backup.json"
FORMAT = "fairgate-backup/1"
KEYS_NOTE = (
    "the pseudonym key and the checkpoint signing key are not in this backup, by design: "
    "back them up separately (and keep them apart from it); a restored registry needs both"
)


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says what to do."""


@dataclass(frozen=True)
class Copied:
    role: str  # "catalog" or "consent"
    kind: str  # "sqlite" or "pg_dump"
    file: str
    sha256: str
    bytes: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (no ``+driver``)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url}: an in-memory database cannot be backed up or restored")
    return Path(database)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools (apt-get install postgresql-client)")
    return found


def backup_database(url: str, role: str, folder: Path) -> Copied:
    """Copy the database at ``url`` into ``folder`` while it may be in use; one consistent snapshot."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        source_path = _sqlite_path(url)
        if not source_path.exists():
            raise BackupError(f"{source_path}: no {role} database there; check FAIRGATE_DATA_DIR or the URL")
        target = folder / f"{role}.db"
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=60)
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)  # one step: a read snapshot, writers in WAL mode carry on
        finally:
            destination.close()
            source.close()
        kind = "sqlite"
    elif backend == "postgresql":
        target = folder / f"{role}.pgdump"
        run = subprocess.run(
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), libpq_url(url)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise BackupError(f"pg_dump of the {role} database failed: {run.stderr.strip()}")
        kind = "pg_dump"
    else:
        raise BackupError(f"{role} database: cannot back up a {backend} database (SQLite or PostgreSQL only)")
    return Copied(role, kind, target.name, _sha256(target), target.stat().st_size)


def backup(urls: dict[str, str], folder: Path, now: datetime | None = None) -> list[Copied]:
    """Back up every database of ``urls`` (role -> URL) into ``folder``, which must be empty or new."""
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty; give a new folder for each backup")
    folder.mkdir(parents=True, exist_ok=True)
    copied = [backup_database(url, role, folder) for role, url in urls.items()]
    manifest = {
        "format": FORMAT,
        "created_at": (now or datetime.now(UTC)).isoformat(),
        "databases": [c.__dict__ for c in copied],
        "keys_included": False,
        "keys": KEYS_NOTE,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return copied


def read_manifest(folder: Path) -> list[Copied]:
    """The databases a backup folder holds, each file's checksum checked."""
    path = folder / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(
            f"{path}: cannot read the backup manifest ({exc}); give a folder `fairgate backup` made"
        ) from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a fairgate backup (format {manifest.get('format')!r})")
    copied = [Copied(**entry) for entry in manifest["databases"]]
    for c in copied:
        file = folder / c.file
        if not file.exists() or _sha256(file) != c.sha256:
            raise BackupError(f"{file}: missing or changed since the backup was made (checksum differs)")
    return copied


def holds_data(url: str) -> bool:
    """Whether the database at ``url`` exists and has any table (a live registry or catalog)."""
    if make_url(url).get_backend_name() == "sqlite" and not _sqlite_path(url).exists():
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def restore_database(copied: Copied, folder: Path, url: str) -> None:
    """Put the copy ``copied`` of ``folder`` in place of the database at ``url`` (whatever it holds)."""
    source = folder / copied.file
    backend = make_url(url).get_backend_name()
    if copied.kind == "sqlite":
        if backend != "sqlite":
            raise BackupError(f"the {copied.role} backup is a SQLite file; restore it to a sqlite:/// URL")
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target_path, timeout=60)
        try:
            src.backup(dst)  # page by page under the target's own locks: its WAL stays consistent
        finally:
            dst.close()
            src.close()
        return
    if backend != "postgresql":
        raise BackupError(f"the {copied.role} backup is a pg_dump archive; restore it to a postgresql:// URL")
    run = subprocess.run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--dbname",
            libpq_url(url),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise BackupError(f"pg_restore of the {copied.role} database failed: {run.stderr.strip()}")
