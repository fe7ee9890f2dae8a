"""Field-by-field differences between two revisions' content."""

from __future__ import annotations

from catalog.revision_diff import diff, flatten


def test_each_language_of_a_text_field_is_its_own_change() -> None:
    before = {"title": {"zh-Hant": "肺部", "en": "Lung"}}
    after = {"title": {"zh-Hant": "肺部 CT", "en": "Lung"}, "description": {"en": "New"}}
    changes = diff(before, after)
    assert [(c.path, c.lang, c.before, c.after, c.kind) for c in changes] == [
        ("title", "zh-Hant", "肺部", "肺部 CT", "changed"),
        ("description", "en", "", "New", "added"),
    ]


def test_vocabulary_lists_are_one_field_and_removed_fields_are_shown() -> None:
    before = {"imaging": {"modalities": ["CT"], "body_sites": ["LUNG"]}}
    after = {"imaging": {"modalities": ["CT", "MR"]}}
    changes = {(c.path, c.kind): (c.before, c.after) for c in diff(before, after)}
    assert changes == {
        ("imaging.modalities", "changed"): ("CT", "CT, MR"),
        ("imaging.body_sites", "removed"): ("LUNG", ""),
    }


def test_repeated_blocks_are_numbered_from_one() -> None:
    flat = flatten({"distributions": [{"title": {"en": "A"}, "access_url": "https://a"}]})
    assert flat == {("distributions[1].title", "en"): "A", ("distributions[1].access_url", None): "https://a"}


def test_the_same_content_has_no_changes() -> None:
    content = {"title": {"en": "X"}, "keywords": {"en": ["a", "b"]}}
    assert diff(content, dict(content)) == []
