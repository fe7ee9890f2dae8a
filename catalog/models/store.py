"""The AI-model entries' store: GUIDs, append-only revisions, the training-dataset lineage, list and facets.

Every write goes through :class:`ModelStore`. A model's training datasets (and the datasets its
performance figures were measured on) must be datasets of this catalog; an unknown GUID is refused
whole, with the GUIDs named. Models are not in the search index (see docs/ARCHITECTURE.md): the list
reads ``search_text``, lower-cased text of both languages kept beside each row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, delete, func, insert, select

from catalog import guid as guids
from catalog.changes import Conflict, NotFound, StoreError
from catalog.db import make_sessionmaker
from catalog.models.tables import ModelRevisionRow, ModelRow, TrainingRow
from catalog.store import canonical_json, content_hash
from catalog.tables import DatasetRow
from schemas.model import SHARING_CLASSES, AIModel
from schemas.vocabularies import vocabulary

if TYPE_CHECKING:
    from catalog.context import Context

ModelSaveStatus = Literal["created", "updated", "unchanged"]


class UnknownDatasets(StoreError):
    """A model names datasets this catalog does not hold (HTTP 422)."""

    code = "unknown_dataset"

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            f"no dataset in this catalog has the GUID {', '.join(self.missing)}; "
            "copy the GUID from the dataset's page (or its /guid/ link) and try again"
        )


@dataclass(frozen=True)
class StoredModel:
    model: AIModel
    guid: str
    revision: int
    content_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ModelRevision:
    guid: str
    number: int
    activity: str
    actor: str
    reason: str | None
    created_at: datetime
    model: AIModel


@dataclass(frozen=True)
class ModelSaveResult:
    guid: str
    revision: int
    status: ModelSaveStatus


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _model_of(guid: str, content: dict[str, Any]) -> AIModel:
    return AIModel.model_validate({**content, "guid": guid})


def _stored(row: ModelRow) -> StoredModel:
    return StoredModel(
        _model_of(row.guid, row.content), row.guid, row.revision, row.content_hash,
        _aware(row.created_at), _aware(row.updated_at),
    )  # fmt: skip


def search_text(model: AIModel) -> str:
    """Everything the model list's text search looks in: both languages' texts and every label."""
    labels = ("en", "zh-Hant")
    parts: list[str] = [*model.name.values(), *model.description.values(), model.version]
    parts += [vocabulary("model_task").label(model.task, lang) for lang in labels]
    parts += [vocabulary("model_sharing_class").label(model.sharing_class, lang) for lang in labels]
    parts += [vocabulary("model_channel").label(c, lang) for c in model.channels for lang in labels]
    parts += [*model.modalities, *(vocabulary("modality").label(m, lang) for m in model.modalities for lang in labels)]
    parts += [p.metric for p in model.performance]
    return "\n".join(parts).lower()


def _needle(text: str) -> str:
    return "%" + text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ModelStore:
    """AI-model entries in the catalog database (tables of migration 0005)."""

    def __init__(self, engine: Engine, guid_prefix: str) -> None:
        self.engine = engine
        self.guid_prefix = guid_prefix
        self._sessions = make_sessionmaker(engine)

    # --- reads ---------------------------------------------------------------------------------------

    def get(self, guid: str) -> StoredModel:
        with self._sessions() as s:
            row = s.scalar(select(ModelRow).where(ModelRow.guid == guid))
            if row is None:
                raise NotFound(f"no AI model with GUID {guid!r}; check the identifier or see the list at /models")
            return _stored(row)

    def find(self, guid: str) -> StoredModel | None:
        try:
            return self.get(guid)
        except NotFound:
            return None

    def count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(ModelRow)) or 0)

    def search(self, *, text: str = "", sharing_class: str | None = None, limit: int = 200) -> list[StoredModel]:
        """Models whose text (either language, any label) contains every word of ``text``, newest first."""
        q = select(ModelRow)
        for word in text.split():
            q = q.where(ModelRow.search_text.like(_needle(word), escape="\\"))
        if sharing_class:
            q = q.where(ModelRow.sharing_class == sharing_class)
        q = q.order_by(ModelRow.updated_at.desc(), ModelRow.id.desc()).limit(max(1, min(limit, 1000)))
        with self._sessions() as s:
            return [_stored(r) for r in s.scalars(q)]

    def class_counts(self, *, text: str = "") -> dict[str, int]:
        """Per sharing class, how many models match ``text`` (the facet; every class listed, zero too)."""
        q = select(ModelRow.sharing_class, func.count()).group_by(ModelRow.sharing_class)
        for word in text.split():
            q = q.where(ModelRow.search_text.like(_needle(word), escape="\\"))
        with self.engine.connect() as conn:
            found = {k: int(n) for k, n in conn.execute(q)}
        return {k: found.get(k, 0) for k in SHARING_CLASSES}

    def trained_on(self, dataset_guid: str) -> list[StoredModel]:
        """The models trained on ``dataset_guid`` (the dataset's side of the lineage)."""
        q = (
            select(ModelRow)
            .join(TrainingRow, TrainingRow.model_guid == ModelRow.guid)
            .where(TrainingRow.dataset_guid == dataset_guid)
            .order_by(ModelRow.id)
        )
        with self._sessions() as s:
            return [_stored(r) for r in s.scalars(q)]

    def revisions(self, guid: str) -> list[ModelRevision]:
        q = select(ModelRevisionRow).where(ModelRevisionRow.model_guid == guid).order_by(ModelRevisionRow.number)
        with self._sessions() as s:
            rows = list(s.scalars(q))
        if not rows:
            self.get(guid)
        return [
            ModelRevision(r.model_guid, r.number, r.activity, r.actor, r.reason, _aware(r.created_at),
                          _model_of(r.model_guid, r.content))
            for r in rows
        ]  # fmt: skip

    def unknown_datasets(self, model: AIModel) -> list[str]:
        """The dataset GUIDs ``model`` names that this catalog does not hold, in the order named."""
        named = [*model.training_datasets, *(p.dataset_guid for p in model.performance if p.dataset_guid)]
        return self.unknown_guids(named)

    def unknown_guids(self, guid_list: Sequence[str]) -> list[str]:
        """Those of ``guid_list`` that name no dataset of this catalog, once each, in order."""
        named = list(dict.fromkeys(guid_list))
        if not named:
            return []
        with self.engine.connect() as conn:
            known = set(conn.scalars(select(DatasetRow.guid).where(DatasetRow.guid.in_(named))))
        return [g for g in named if g not in known]

    # --- writes --------------------------------------------------------------------------------------

    def save(
        self,
        model: AIModel,
        *,
        actor: str,
        reason: str | None = None,
        expected_revision: int | None = None,
    ) -> ModelSaveResult:
        """Create or update one model entry; identical content writes nothing. ``expected_revision``
        makes an edit conditional (:class:`~catalog.changes.Conflict` if the entry moved on)."""
        missing = self.unknown_datasets(model)
        if missing:
            raise UnknownDatasets(missing)
        if model.guid is not None and not guids.is_guid(model.guid):
            raise StoreError(f"{model.guid!r} is not a fairgate GUID of the form <prefix>/<uuid>")
        guid = model.guid or guids.mint(self.guid_prefix)
        content = canonical_json(model.content())
        digest = content_hash(content)
        now = datetime.now(UTC)
        with self._sessions.begin() as s:
            row = s.scalar(select(ModelRow).where(ModelRow.guid == guid).with_for_update())
            if expected_revision is not None and (row is None or row.revision != expected_revision):
                current = "none" if row is None else str(row.revision)
                raise Conflict(
                    f"model {guid} is at revision {current}, not {expected_revision}: reload it, reapply your edit "
                    "and save again"
                )
            if row is not None and row.content_hash == digest:
                return ModelSaveResult(guid, row.revision, "unchanged")
            status: ModelSaveStatus = "updated" if row is not None else "created"
            if row is None:
                row = ModelRow(guid=guid, revision=1, created_at=now, status="active")
                s.add(row)
            else:
                row.revision += 1
            row.content_hash = digest
            row.content = content  # type: ignore[assignment]  # already JSON text (catalog.db.CanonicalJSON)
            row.sharing_class = model.sharing_class
            row.search_text = search_text(model)
            row.updated_at = now
            s.flush()
            s.execute(
                insert(ModelRevisionRow).values(
                    model_guid=guid, number=row.revision, content_hash=digest, content=content,
                    activity="create" if status == "created" else "edit", actor=actor, reason=reason, created_at=now,
                )
            )  # fmt: skip
            s.execute(delete(TrainingRow).where(TrainingRow.model_guid == guid))
            if model.training_datasets:
                s.execute(
                    insert(TrainingRow), [{"model_guid": guid, "dataset_guid": d} for d in model.training_datasets]
                )
            return ModelSaveResult(guid, row.revision, status)


def models_of(ctx: Context) -> ModelStore:
    """The context's one :class:`ModelStore`, on the catalog's engine (made on first use)."""
    found = ctx.extensions.get("models")
    if not isinstance(found, ModelStore):
        found = ctx.extensions["models"] = ModelStore(ctx.store.engine, ctx.store.guid_prefix)
    return found
