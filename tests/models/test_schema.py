"""The canonical AI-model entry: seed 004's sharing classes and what each requires, plain rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import AIModel
from schemas.jsonschema import export_json_schemas
from tests.models.conftest import model_json

GUID = "dg.TW01/6f1c2a52-8f3e-4f55-9a0e-2019091500aa"


def _errors(body: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        AIModel.model_validate(body)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


def test_each_class_has_its_terms() -> None:
    terms = {
        c: AIModel.model_validate(model_json(c)).terms for c in ("base_tool", "application_model", "validated_software")
    }
    assert terms == {"base_tool": "free", "application_model": "reciprocal", "validated_software": "paid"}


def test_name_and_description_are_needed_in_both_languages() -> None:
    errors = _errors(model_json(name={"en": "Only English"}, description={"zh-Hant": "只有中文"}))
    assert "zh-Hant" in errors["name"] and "en" in errors["description"]


def test_a_class_is_shared_only_through_its_own_channels() -> None:
    errors = _errors(model_json("validated_software", channels=["open_source"]))
    assert "cloud or download" in errors["channels"]
    assert AIModel.model_validate(model_json("base_tool", channels=["api"])).channels == ["api"]


def test_an_application_model_says_what_users_give_back() -> None:
    body = model_json("application_model")
    del body["reciprocity"]
    assert "evaluation feedback" in _errors(body)["reciprocity"]


def test_clinical_use_needs_validated_software_with_a_regulatory_approval() -> None:
    assert "regulatory approval" in _errors(model_json("validated_software", clinical_use=True))["clinical_use"]
    assert "only validated software" in _errors(model_json("base_tool", clinical_use=True))["clinical_use"]
    ok = AIModel.model_validate(model_json("validated_software", clinical_use=True, regulatory_approval="TFDA 0001"))
    assert ok.clinical_use


def test_training_datasets_and_figures_name_datasets_by_guid() -> None:
    assert "not a fairgate GUID" in _errors(model_json(training=["lung-ct"]))["training_datasets"]
    fig = {"metric": "AUROC", "value": 0.9, "dataset_guid": "not-a-guid"}
    assert "performance.0.dataset_guid" in _errors(model_json(performance=[fig]))
    model = AIModel.model_validate(model_json(training=[GUID, GUID], modalities=["ct"]))
    assert model.training_datasets == [GUID] and model.modalities == ["CT"]


def test_the_model_is_exported_as_json_schema() -> None:
    schema = export_json_schemas()["AIModel"]
    assert {"name", "sharing_class", "training_datasets", "performance"} <= set(schema["properties"])
