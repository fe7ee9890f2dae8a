"""Tables of the catalog store: datasets (current state) and their append-only revisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base


class DatasetRow(Base):
    """The current state of one dataset; ``content`` is the canonical model as JSON."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guid: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    tombstone_reason: Mapped[str | None] = mapped_column(Text)
    tombstoned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_guid: Mapped[str | None] = mapped_column(String(200), index=True)
    upstream_id: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RevisionRow(Base):
    """One immutable revision of a dataset: who, what, when, why, and the content then."""

    __tablename__ = "dataset_revisions"
    __table_args__ = (
        UniqueConstraint("dataset_guid", "number", name="uq_revision_number"),
        Index("ix_revision_guid", "dataset_guid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_guid: Mapped[str] = mapped_column(
        String(200), ForeignKey("datasets.guid", ondelete="RESTRICT"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    activity: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
