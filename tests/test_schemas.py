"""The canonical model refuses bad records with every problem named, and exports JSON Schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import Dataset, Distribution, ImagingInfo, vocabulary
from schemas.jsonschema import export_json_schemas


def _problems(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}


def test_a_dataset_without_title_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        Dataset.model_validate({"title": {}})
    assert "title" in _problems(info.value)


def test_every_problem_of_a_bad_record_is_listed_with_its_path() -> None:
    with pytest.raises(ValidationError) as info:
        Dataset.model_validate(
            {
                "title": {"en": "x"},
                "access_rights": "SECRET",
                "imaging": {"modalities": ["XRAY"], "shared": {"image_only": -1}},
                "landing_page": "not a url",
            }
        )
    problems = _problems(info.value)
    assert "access_rights" in problems
    assert "imaging.modalities" in problems
    assert "imaging.shared.image_only" in problems
    assert "landing_page" in problems


def test_unknown_vocabulary_value_lists_the_allowed_values() -> None:
    with pytest.raises(ValidationError) as info:
        ImagingInfo(modalities=["XRAY"])
    message = str(info.value)
    assert "CT" in message and "MR" in message and "modality" in message


def test_vocabulary_codes_are_normalised_from_case_and_iri() -> None:
    info = ImagingInfo(modalities=["ct", "http://dicom.nema.org/resources/ontology/DCM/MR"])
    assert info.modalities == ["CT", "MR"]
    assert Dataset(title={"en": "x"}, access_rights="non-public").access_rights == "NON_PUBLIC"


def test_distribution_format_accepts_eu_codes_and_free_iris_but_not_free_text() -> None:
    assert Distribution(format="csv").format == "CSV"
    iri_format = Distribution(format="https://www.iana.org/assignments/media-types/text/csv").format
    assert iri_format is not None and iri_format.startswith("https")
    with pytest.raises(ValidationError):
        Distribution(format="my own format")


def test_language_tags_must_be_bcp47() -> None:
    with pytest.raises(ValidationError):
        Dataset(title={"chinese traditional": "肺"})


def test_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Dataset.model_validate({"title": {"en": "x"}, "temporal": [{"start": "2020-01-01", "end": "2019-01-01"}]})
    assert "temporal.0" in _problems(info.value)


def test_every_model_exports_a_json_schema() -> None:
    schemas = export_json_schemas()
    assert {"Dataset", "Distribution", "Agent", "Catalog"} <= set(schemas)
    assert "title" in schemas["Dataset"]["properties"]


def test_vocabularies_have_bilingual_labels() -> None:
    for name in ("modality", "body_site", "access_rights", "access_route", "access_channel"):
        vocab = vocabulary(name)
        for code in vocab.codes():
            assert vocab.label(code, "zh-Hant") and vocab.label(code, "en"), (name, code)
