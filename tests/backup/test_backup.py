"""``fairgate backup`` under load and ``fairgate restore`` into a new folder: every event acknowledged
before the backup began is restored, nothing unacknowledged appears, verify passes; a live registry is
never overwritten without --force; the keys stay out of the backup."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.backup import MANIFEST, backup
from catalog.cli import app
from catalog.settings import Settings
from consent.registry import ConsentRegistry, EnrolmentInput
from schemas.consent import Category, EventKind, EventRequest
from tests.consent.subjects import DATASET, T0, national_id

runner = CliRunner()
SUBJECTS = 40


def _env(data_dir: Path, consent_url: str | None = None, catalog_url: str | None = None) -> dict[str, str]:
    env = {"FAIRGATE_DATA_DIR": str(data_dir), "FAIRGATE_STEWARD_TOKEN": ""}
    env["FAIRGATE_CONSENT_DATABASE_URL"] = consent_url or f"sqlite:///{data_dir / 'consent.db'}"
    env["FAIRGATE_DATABASE_URL"] = catalog_url or f"sqlite:///{data_dir / 'catalog.db'}"
    return env


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        data_dir=Path(env["FAIRGATE_DATA_DIR"]),
        consent_database_url=env["FAIRGATE_CONSENT_DATABASE_URL"],
        database_url=env["FAIRGATE_DATABASE_URL"],
    )


def _under_load(
    registry: ConsentRegistry, subjects: list[str], during: Callable[[], None]
) -> tuple[set[str], set[str]]:
    """Append from four threads while ``during`` runs; the events acknowledged before it started, and all."""
    acknowledged: set[str] = set()
    before: set[str] = set()
    stop = threading.Event()
    lock = threading.Lock()

    def client(k: int) -> None:
        i = 0
        while not stop.is_set():
            subject = subjects[(k * 7 + i) % len(subjects)]
            kind = EventKind.OPTED_OUT if i % 2 else EventKind.RECONSENTED
            request = EventRequest(subject=subject, kind=kind, effective_at=T0 + timedelta(days=1 + i))
            (event,) = registry.append([request])
            with lock:
                acknowledged.add(event.event_id)
            i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    try:
        while len(acknowledged) < 50:
            stop.wait(0.01)
        with lock:
            before = set(acknowledged)
        during()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return before, acknowledged


def _restored_event_ids(env: dict[str, str]) -> set[str]:
    registry = ConsentRegistry.from_settings(_settings(env))
    try:
        with registry.engine.connect() as conn:
            return {row[0] for row in conn.exec_driver_sql("SELECT event_id FROM consent_events")}
    finally:
        registry.engine.dispose()


def _backup_restore_under_load(tmp_path: Path, live: dict[str, str], new: dict[str, str]) -> None:
    assert runner.invoke(app, ["init"], env=live).exit_code == 0
    registry = ConsentRegistry.from_settings(_settings(live))
    try:
        subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, SUBJECTS + 1)]
        registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.B, T0) for s in subjects])
        registry.checkpoint()
        folder = tmp_path / "backup"
        result: list[object] = []
        before, acknowledged = _under_load(
            registry, subjects, lambda: result.append(runner.invoke(app, ["backup", str(folder)], env=live))
        )
    finally:
        registry.engine.dispose()
    backed = result[0]
    assert backed.exit_code == 0, backed.output  # type: ignore[attr-defined]
    assert "not in this backup" in backed.output  # type: ignore[attr-defined]
    assert not [p for p in folder.rglob("*") if p.name.endswith(".key")]
    # The keys travel separately, by design: the operator restores them beside the databases.
    shutil.copytree(Path(live["FAIRGATE_DATA_DIR"]) / "keys", Path(new["FAIRGATE_DATA_DIR"]) / "keys")
    restored = runner.invoke(app, ["restore", str(folder)], env=new)
    assert restored.exit_code == 0, restored.output
    assert "verify: ok" in restored.output
    found = _restored_event_ids(new)
    assert before <= found  # every event acknowledged before the backup began
    assert found <= acknowledged  # and nothing that was never acknowledged


def test_a_sqlite_deployment_backed_up_under_load_restores_every_acknowledged_event(tmp_path: Path) -> None:
    _backup_restore_under_load(tmp_path, _env(tmp_path / "live"), _env(tmp_path / "restored"))


@pytest.mark.postgres
def test_a_postgresql_registry_backed_up_under_load_restores_every_acknowledged_event(
    tmp_path: Path, pg_database_factory: Callable[[], str]
) -> None:
    live = _env(tmp_path / "live", consent_url=pg_database_factory())
    new = _env(tmp_path / "restored", consent_url=pg_database_factory())
    _backup_restore_under_load(tmp_path, live, new)


def test_restore_refuses_to_overwrite_a_live_registry_unless_forced(tmp_path: Path) -> None:
    live = _env(tmp_path / "live")
    assert runner.invoke(app, ["init"], env=live).exit_code == 0
    settings = _settings(live)
    backup(
        {"catalog": settings.resolved_database_url(), "consent": settings.resolved_consent_database_url()},
        tmp_path / "backup",
    )
    refused = runner.invoke(app, ["restore", str(tmp_path / "backup")], env=live)
    assert refused.exit_code == 1 and "already holds data" in refused.output and "--force" in refused.output
    forced = runner.invoke(app, ["restore", str(tmp_path / "backup"), "--force"], env=live)
    assert forced.exit_code == 0, forced.output


def test_a_backup_whose_file_changed_is_refused(tmp_path: Path) -> None:
    live = _env(tmp_path / "live")
    assert runner.invoke(app, ["init"], env=live).exit_code == 0
    assert runner.invoke(app, ["backup", str(tmp_path / "backup")], env=live).exit_code == 0
    assert (tmp_path / "backup" / MANIFEST).exists()
    with (tmp_path / "backup" / "consent.db").open("ab") as handle:
        handle.write(b"x")
    result = runner.invoke(app, ["restore", str(tmp_path / "backup")], env=_env(tmp_path / "new"))
    assert result.exit_code == 1 and "checksum differs" in result.output
