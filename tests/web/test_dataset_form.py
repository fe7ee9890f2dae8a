"""The dataset form's mapping to and from the canonical model, without a server."""

from __future__ import annotations

from catalog.web import dataset_form as df
from schemas import Dataset


def _base() -> Dataset:
    return Dataset.model_validate(
        {
            "title": {"zh-Hant": "肺部 CT", "en": "Lung CT", "ja": "肺CT"},
            "creators": [{"name": {"en": "NTUH"}}],
            "distributions": [{"access_url": "https://x.example/a", "byte_size": 12}],
            "imaging": {"modalities": ["CT"], "not_shared": {"image_only": 2}},
        }
    )


def test_a_record_survives_the_form_unchanged() -> None:
    base = _base()
    assert df.dataset_from_values(df.values_from_dataset(base), base).dataset == base


def test_fields_and_languages_the_form_does_not_show_are_kept() -> None:
    base = _base()
    values = df.values_from_dataset(base)
    values["title__en"] = "Lung CT 2"
    ds = df.dataset_from_values(values, base).dataset
    assert ds is not None
    assert ds.title == {"zh-Hant": "肺部 CT", "en": "Lung CT 2", "ja": "肺CT"}
    assert ds.creators == base.creators and ds.distributions[0].byte_size == 12


def test_pickers_map_to_vocabulary_codes_and_health_categories_to_iris() -> None:
    values = {"title__en": "X", "modalities": ["MR", "CT"], "health_categories": ["EHRS"], "licence": "CC0"}
    ds = df.dataset_from_values(values).dataset
    assert ds is not None and ds.imaging is not None
    assert ds.imaging.modalities == ["MR", "CT"]
    assert ds.health.health_categories == ["http://healthdataportal.eu/ns/health/category/EHRS"]
    assert ds.license is not None and ds.license.iri.endswith("/licence/CC0")
    assert df.values_from_dataset(ds)["health_categories"] == ["EHRS"]


def test_a_code_outside_the_vocabulary_is_a_message_on_that_picker() -> None:
    result = df.dataset_from_values({"title__en": "X", "body_sites": ["ELBOW_OF_MARS"]})
    assert result.dataset is None and set(result.errors) == {"body_sites"}


def test_a_dataset_without_any_title_is_refused_on_the_first_title_field() -> None:
    result = df.dataset_from_values({"description__en": "only a description"})
    assert result.dataset is None and "title__zh-Hant" in result.errors


def test_messages_of_a_row_land_on_the_row_the_steward_typed_in_even_after_blank_rows() -> None:
    values = {"title__en": "X", "dist_rows": "3", "dist-2-access_url": "not a url", "contact-0-name__en": "Desk"}
    result = df.dataset_from_values(values)
    assert result.dataset is None
    assert set(result.errors) == {"dist-2-access_url", "contact-0-email"}


def test_case_counts_must_be_whole_numbers_and_blank_portions_are_left_out() -> None:
    bad = df.dataset_from_values({"title__en": "X", "cases-shared-image_only": "-3"})
    assert "cases-shared-image_only" in bad.errors
    ok = df.dataset_from_values({"title__en": "X", "cases-shared-fully_annotated": "7"}).dataset
    assert ok is not None and ok.imaging is not None
    assert ok.imaging.shared is not None and ok.imaging.shared.fully_annotated == 7 and ok.imaging.not_shared is None


def test_keywords_split_on_western_and_chinese_commas() -> None:
    ds = df.dataset_from_values(
        {"title__en": "X", "keywords__zh-Hant": "肺，胸腔、CT", "keywords__en": "lung, chest"}
    ).dataset
    assert ds is not None and ds.keywords == {"zh-Hant": ["肺", "胸腔", "CT"], "en": ["lung", "chest"]}


def test_add_another_gives_one_more_row_than_is_shown() -> None:
    values = {"dist_rows": "1", "dist-3-access_url": "https://x.example"}
    assert df.row_count(values, "dist") == 4
    assert df.row_count(df.add_row(values, "dist"), "dist") == 5
    assert df.row_count({}, "contact") == 1


def test_posted_pairs_make_pickers_lists_and_drop_the_csrf_token() -> None:
    values = df.values_from_post([("csrf", "t"), ("modalities", "CT"), ("modalities", "MR"), ("title__en", "X")])
    assert values["modalities"] == ["CT", "MR"] and values["body_sites"] == [] and "csrf" not in values
