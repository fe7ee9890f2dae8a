"""Tables of the AI-model entries: current state, append-only revisions, training datasets (migration 0005)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base


class ModelRow(Base):
    """The current state of one model entry; ``content`` is :class:`schemas.AIModel` as JSON."""

    __tablename__ = "ai_models"
    __table_args__ = (Index("ix_ai_models_sharing_class", "sharing_class"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guid: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    sharing_class: Mapped[str] = mapped_column(String(40), nullable=False)
    #: Lower-cased text of both languages plus vocabulary labels: what the model list's text search reads.
    search_text: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ModelRevisionRow(Base):
    """One immutable revision of a model entry."""

    __tablename__ = "ai_model_revisions"
    __table_args__ = (
        UniqueConstraint("model_guid", "number", name="uq_ai_model_revision_number"),
        Index("ix_ai_model_revisions_guid", "model_guid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_guid: Mapped[str] = mapped_column(
        String(200), ForeignKey("ai_models.guid", ondelete="RESTRICT"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    activity: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class TrainingRow(Base):
    """A model was trained on a dataset of this catalog (both GUIDs; the dataset must exist)."""

    __tablename__ = "ai_model_training"
    __table_args__ = (
        PrimaryKeyConstraint("model_guid", "dataset_guid", name="pk_ai_model_training"),
        Index("ix_ai_model_training_dataset", "dataset_guid"),
    )

    model_guid: Mapped[str] = mapped_column(String(200), ForeignKey("ai_models.guid", ondelete="CASCADE"))
    dataset_guid: Mapped[str] = mapped_column(String(200), ForeignKey("datasets.guid", ondelete="RESTRICT"))
