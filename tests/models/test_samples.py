"""The sample catalog of `make run` holds one AI model of each sharing class, trained on sample datasets."""

from __future__ import annotations

from catalog.commands.core import ensure_sample
from catalog.context import Context
from catalog.models.samples import load_sample_models
from catalog.models.store import models_of


def test_the_sample_has_a_model_of_each_class_linked_to_sample_datasets(ctx: Context) -> None:
    ensure_sample(ctx)
    models = models_of(ctx)
    assert models.class_counts() == {"base_tool": 1, "application_model": 1, "validated_software": 1}
    for stored in models.search():
        assert stored.model.training_datasets
        assert len(ctx.store.get_many(stored.model.training_datasets)) == len(stored.model.training_datasets)
    assert {r.status for r in load_sample_models(models)} == {"unchanged"}  # stable GUIDs: a reload changes nothing
