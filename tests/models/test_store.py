"""The AI-model store on SQLite and PostgreSQL: GUIDs, revisions, lineage, unknown datasets refused,
text search in both languages and the sharing-class facet."""

from __future__ import annotations

import pytest

from catalog.changes import Conflict
from catalog.models.store import ModelStore, UnknownDatasets
from catalog.store import Store
from schemas import AIModel
from tests.models.conftest import a_dataset, model_json


@pytest.fixture
def models(store: Store) -> ModelStore:
    return ModelStore(store.engine, store.guid_prefix)


def test_a_model_round_trips_with_its_guid_revisions_and_lineage(store: Store, models: ModelStore) -> None:
    lung = a_dataset(store)
    fig = {"metric": "AUROC", "value": 0.91, "dataset_guid": lung}
    model = AIModel.model_validate(model_json(training=[lung], performance=[fig]))
    first = models.save(model, actor="steward", reason="new")
    assert first.status == "created" and first.guid.startswith(f"{store.guid_prefix}/")
    assert models.get(first.guid).model == model.model_copy(update={"guid": first.guid})
    assert models.save(model.model_copy(update={"guid": first.guid}), actor="steward").status == "unchanged"
    edited = model.model_copy(update={"guid": first.guid, "version": "1.1"})
    assert models.save(edited, actor="steward", expected_revision=1).revision == 2
    assert [(r.number, r.model.version, r.reason) for r in models.revisions(first.guid)] == [
        (1, "1.0", "new"),
        (2, "1.1", None),
    ]
    assert [m.guid for m in models.trained_on(lung)] == [first.guid]


def test_a_stale_edit_is_refused(store: Store, models: ModelStore) -> None:
    guid = models.save(AIModel.model_validate(model_json()), actor="s").guid
    models.save(AIModel.model_validate(model_json(version="2", guid=guid)), actor="s")
    with pytest.raises(Conflict):
        models.save(AIModel.model_validate(model_json(version="3", guid=guid)), actor="s", expected_revision=1)


def test_an_unknown_training_dataset_is_refused_and_nothing_is_written(store: Store, models: ModelStore) -> None:
    missing = f"{store.guid_prefix}/00000000-0000-4000-8000-000000000000"
    with pytest.raises(UnknownDatasets) as caught:
        models.save(AIModel.model_validate(model_json(training=[a_dataset(store), missing])), actor="s")
    assert caught.value.missing == [missing] and missing in str(caught.value)
    assert models.count() == 0


def test_retraining_moves_the_lineage(store: Store, models: ModelStore) -> None:
    a, b = a_dataset(store, "A"), a_dataset(store, "B")
    guid = models.save(AIModel.model_validate(model_json(training=[a])), actor="s").guid
    models.save(AIModel.model_validate(model_json(training=[b], guid=guid)), actor="s")
    assert models.trained_on(a) == [] and [m.guid for m in models.trained_on(b)] == [guid]


def test_search_finds_either_language_and_labels_and_counts_each_class(store: Store, models: ModelStore) -> None:
    models.save(AIModel.model_validate(model_json("base_tool")), actor="s")
    heart = model_json(
        "application_model", name={"zh-Hant": "冠狀動脈狹窄", "en": "Coronary stenosis"}, modalities=["XA"]
    )
    models.save(AIModel.model_validate(heart), actor="s")
    assert [m.model.name["en"] for m in models.search(text="冠狀動脈")] == ["Coronary stenosis"]
    assert [m.model.name["en"] for m in models.search(text="LUNG nodule")] == ["Lung nodule detector"]
    assert len(models.search(text="聯邦學習")) == 1  # a channel's label, in Chinese
    assert [m.model.sharing_class for m in models.search(sharing_class="base_tool")] == ["base_tool"]
    assert models.class_counts() == {"base_tool": 1, "application_model": 1, "validated_software": 0}
    assert models.class_counts(text="coronary")["application_model"] == 1
    assert models.search(text="50%_") == []
