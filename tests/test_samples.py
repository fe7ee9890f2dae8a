"""The sample catalog reproduces the seed's tables 5 and 6."""

from __future__ import annotations

from catalog.samples import load_sample, sample_datasets
from catalog.store import Store
from schemas import CaseCounts


def _sum(counts: list[CaseCounts | None]) -> CaseCounts:
    total = CaseCounts()
    for c in counts:
        if c is not None:
            total = total + c
    return total


def test_sample_catalog_has_the_25_datasets_of_the_programme() -> None:
    datasets = sample_datasets()
    assert len(datasets) == 25
    assert len({d.identifier for d in datasets}) == 25


def test_sample_case_counts_add_up_to_the_seed_totals() -> None:
    imaging = [d.imaging for d in sample_datasets()]
    assert all(i is not None for i in imaging)
    total = _sum([i.shared for i in imaging if i] + [i.not_shared for i in imaging if i])
    assert (total.image_only, total.partially_annotated, total.fully_annotated) == (58_486, 449_700, 12_688)
    assert total.total == 520_874
    assert sum(i.target_cases["2019-11"] for i in imaging if i) == 685_295
    assert sum(i.target_cases.get("2020-11", 0) for i in imaging if i) == 865_800


def test_split_dataset_keeps_shared_and_not_shared_portions_on_one_record() -> None:
    brain_mets = next(d for d in sample_datasets() if d.identifier == "MIAI-2019-10")
    assert brain_mets.imaging is not None
    assert brain_mets.imaging.shared == CaseCounts(fully_annotated=300)
    assert brain_mets.imaging.not_shared == CaseCounts(fully_annotated=300)
    assert brain_mets.title["zh-Hant"] == "腦部 MRI (腦轉移瘤)"


def test_unshared_dataset_is_non_public_with_route_not_shared() -> None:
    ivus = next(d for d in sample_datasets() if d.identifier == "MIAI-2019-04")
    assert ivus.access_rights == "NON_PUBLIC"
    assert ivus.imaging is not None and ivus.imaging.access_routes == ["not_shared"]
    assert ivus.imaging.shared is None


def test_every_sample_record_is_bilingual() -> None:
    for d in sample_datasets():
        assert set(d.title) >= {"zh-Hant", "en"}, d.identifier
        assert set(d.description) >= {"zh-Hant", "en"}, d.identifier


def test_loading_the_sample_twice_gives_the_same_guids_and_no_new_revisions(store: Store) -> None:
    first = load_sample(store)
    second = load_sample(store)
    assert [r.guid for r in first] == [r.guid for r in second]
    assert {r.status for r in first} == {"created"}
    assert {r.status for r in second} == {"unchanged"}
    assert store.count() == 25
