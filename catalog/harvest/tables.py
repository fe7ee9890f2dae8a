"""Tables of the harvest bookkeeping: sources, runs, record errors, per-record digests, locks, duplicates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base


class HarvestSourceRow(Base):
    """A registered upstream catalog; its GUID is the namespace of its records' GUIDs."""

    __tablename__ = "harvest_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guid: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Start time of the last run that completed; incremental runs ask for changes since then.
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HarvestRunRow(Base):
    """One run of one source, with its outcome and counts."""

    __tablename__ = "harvest_runs"
    __table_args__ = (Index("ix_harvest_runs_source", "source_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("harvest_sources.id", ondelete="CASCADE"), nullable=False)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)  # full | incremental
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # running | succeeded | failed
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    added: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reason: Mapped[str | None] = mapped_column(Text)


class HarvestErrorRow(Base):
    """A record that failed in a run: which one, at which stage, and why."""

    __tablename__ = "harvest_errors"
    __table_args__ = (Index("ix_harvest_errors_run", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("harvest_runs.id", ondelete="CASCADE"), nullable=False)
    upstream_id: Mapped[str] = mapped_column(String(500), nullable=False)
    stage: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)


class HarvestRecordRow(Base):
    """What the last good harvest of one upstream record looked like (for cheap unchanged checks).

    ``identifier`` and ``landing_page`` are kept here so that duplicates across sources can be
    found with an indexed look-up instead of scanning dataset JSON.
    """

    __tablename__ = "harvest_records"
    __table_args__ = (
        UniqueConstraint("source_id", "upstream_id", name="uq_harvest_record"),
        Index("ix_harvest_records_identifier", "identifier"),
        Index("ix_harvest_records_landing_page", "landing_page"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("harvest_sources.id", ondelete="CASCADE"), nullable=False)
    upstream_id: Mapped[str] = mapped_column(String(500), nullable=False)
    guid: Mapped[str] = mapped_column(String(200), nullable=False)
    digest: Mapped[str | None] = mapped_column(String(64))
    identifier: Mapped[str | None] = mapped_column(String(500))
    landing_page: Mapped[str | None] = mapped_column(String(1000))


class HarvestLockRow(Base):
    """Present while a source is being run; older than the stale timeout means its run died."""

    __tablename__ = "harvest_locks"

    source_id: Mapped[int] = mapped_column(ForeignKey("harvest_sources.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    locked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DuplicateLinkRow(Base):
    """Two records (from different sources) that describe the same upstream dataset; shown, not merged."""

    __tablename__ = "harvest_duplicates"
    __table_args__ = (UniqueConstraint("guid", "other_guid", "basis", name="uq_harvest_duplicate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guid: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    other_guid: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    basis: Mapped[str] = mapped_column(String(20), nullable=False)  # identifier | landing_page
    value: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
