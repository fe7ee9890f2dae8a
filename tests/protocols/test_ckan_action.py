"""The CKAN action API, read by the real ``ckanapi`` client and by fairgate's own CKAN harvester
from a fairgate served by uvicorn."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ckanapi import RemoteCKAN
from ckanapi.errors import NotFound, SearchQueryError

from catalog.harvest import HarvestService
from catalog.store import Store
from tests.protocols.conftest import RICH, Served


def _ckan(served: Served) -> RemoteCKAN:
    return RemoteCKAN(served.url, user_agent="fairgate-tests")


def test_package_search_answers_ckan_shapes_with_fluent_bilingual_fields(served: Served) -> None:
    with _ckan(served) as ckan:
        result = ckan.action.package_search(q="chest", rows=5, **{"facet.field": '["tags", "organization"]'})
    assert result["count"] >= 1
    pkg = next(p for p in result["results"] if p["id"] == served.rich_guid)
    assert pkg["title_translated"] == RICH["title"]
    assert pkg["notes_translated"] == RICH["description"]
    assert pkg["tags_translated"] == RICH["keywords"]
    assert {t["name"] for t in pkg["tags"]} == {"chest", "X-ray", "胸部", "X光"}
    assert pkg["license_id"] == "cc-by"
    assert pkg["organization"]["title_translated"] == RICH["publisher"]["name"]
    assert pkg["resources"][0]["url"] == "https://hospital.example/files/images.zip"
    orgs = {i["name"]: i["count"] for i in result["search_facets"]["organization"]["items"]}
    assert orgs.get("test-hospital") == 1


def test_package_search_count_and_order_match_api_search_for_the_same_words(served: Served) -> None:
    ours = httpx.get(served.url + "/api/search", params={"q": "lung CT", "limit": 50}).json()
    with _ckan(served) as ckan:
        theirs = ckan.action.package_search(q="lung CT", rows=50)
    assert theirs["count"] == ours["total"]
    assert [p["id"] for p in theirs["results"]] == [h["guid"] for h in ours["hits"]]


def test_fq_on_groups_and_tags_filters_like_the_search_facets(served: Served) -> None:
    with _ckan(served) as ckan:
        ct = ckan.action.package_search(fq="groups:ct", rows=100)
        both = ckan.action.package_search(fq='groups:ct tags:"Heart"', rows=100)
        either = ckan.action.package_search(fq="groups:(ct OR mr)", rows=100)
        typed = ckan.action.package_search(fq="+dataset_type:dataset groups:ct", rows=100)  # as ckanext-harvest asks
    facet = httpx.get(served.url + "/api/search", params={"modality": "CT", "limit": 1}).json()
    assert ct["count"] == facet["total"] > 0
    assert 0 < both["count"] < ct["count"]
    assert all("CT" in [g["name"].upper() for g in p["groups"]] for p in ct["results"])
    assert either["count"] > ct["count"]
    assert typed["count"] == ct["count"]


def test_start_and_rows_page_through_every_record_exactly_once(served: Served) -> None:
    seen: list[str] = []
    with _ckan(served) as ckan:
        total = ckan.action.package_search(rows=0)["count"]
        for start in range(0, total, 7):
            page = ckan.action.package_search(rows=7, start=start, sort="metadata_created asc, id asc")
            seen.extend(p["id"] for p in page["results"])
    assert total == 26
    assert len(seen) == len(set(seen)) == total


def test_sort_by_title_orders_titles(served: Served) -> None:
    with _ckan(served) as ckan:
        page = ckan.action.package_search(q="CT", sort="title_string asc", rows=20)
    titles = [p["title"].casefold() for p in page["results"]]
    assert len(titles) > 2 and titles == sorted(titles)


def test_unknown_fq_field_is_a_search_query_error_that_names_the_usable_fields(served: Served) -> None:
    with _ckan(served) as ckan, pytest.raises(SearchQueryError) as caught:
        ckan.action.package_search(fq="colour:blue")
    assert "tags" in str(caught.value) and "colour" in str(caught.value)


def test_package_show_by_id_and_by_name_and_not_found(served: Served) -> None:
    with _ckan(served) as ckan:
        by_id = ckan.action.package_show(id=served.rich_guid)
        by_name = ckan.action.package_show(id=by_id["name"])
        with pytest.raises(NotFound):
            ckan.action.package_show(id="dg.TW01/00000000-0000-0000-0000-000000000000")
    assert by_id == by_name
    assert by_id["guid"] == served.rich_guid
    # the CKAN page address of a package leads to fairgate's page of it
    page = httpx.get(f"{served.url}/dataset/{by_id['name']}", follow_redirects=True)
    assert page.status_code == 200 and "Annotated chest X-ray set" in page.text


def test_lists_organisations_groups_tags_and_status(served: Served) -> None:
    with _ckan(served) as ckan:
        names = ckan.action.package_list()
        orgs = ckan.action.organization_list(all_fields=True)
        org = ckan.action.organization_show(id="test-hospital", include_datasets=True)
        groups = ckan.action.group_list()
        tags = ckan.action.tag_list(query="che")
        status = ckan.action.status_show()
        helped = ckan.action.help_show(name="package_search")
    assert len(names) == 26 and all("/" not in n for n in names)
    assert sum(o["package_count"] for o in orgs) == 26
    assert [p["id"] for p in org["packages"]] == [served.rich_guid]
    assert "cr" in groups and "ct" in groups
    assert tags == ["chest", "Chest"] or set(tags) >= {"chest"}
    assert status["ckan_version"].startswith("2.")
    assert "fq" in helped and "facet.field" in helped
    # the same actions answer under /api/3/action/ as CKAN 2.x does
    again = httpx.get(served.url + "/api/3/action/package_list").json()
    assert again["success"] is True and again["result"] == names


def _protocol_fields(ds: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "title",
        "description",
        "keywords",
        "license",
        "publisher",
        "creators",
        "contact_points",
        "temporal",
        "spatial",
        "access_rights",
        "language",
        "conforms_to",
        "version",
        "version_notes",
        "frequency",
        "provenance",
        "documentation",
        "relation",
        "is_referenced_by",
        "applicable_legislation",
        "health",
        "imaging",
        "identifier",
        "issued",
        "modified",
    )
    return {k: ds.get(k) for k in keys}


def _distribution(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "iri"}


def test_fairgate_harvesting_fairgate_over_ckan_loses_no_field_the_protocol_carries(
    served: Served, second: HarvestService, second_store: Store
) -> None:
    second.add_source("ckan", served.url, name="peer", options={"rows": 10, "attempts": 2, "backoff": 0.01})
    run = second.run("peer")
    assert (run.status, run.added, run.failed) == ("succeeded", 26, 0)
    arrived = {s.dataset.extras.get("guid"): s.dataset for s in second_store.iter_all()}
    assert set(arrived) == {s.guid for s in served.ctx.store.iter_all()}
    for stored in served.ctx.store.iter_all():
        original = stored.dataset.model_dump(mode="json", exclude_defaults=True)
        copy = arrived[stored.guid].model_dump(mode="json", exclude_defaults=True)
        ours, theirs = _protocol_fields(original), _protocol_fields(copy)
        if original.get("issued") is None:  # CKAN's metadata_created stands in for a missing issued date
            theirs["issued"] = None
        if original.get("modified") is None:
            theirs["modified"] = None
        assert theirs == ours, stored.guid
        assert [_distribution(d) for d in copy.get("distributions", [])] == original.get("distributions", [])
        assert set(original.get("themes", [])) <= set(copy.get("themes", []))


def test_a_withdrawn_record_is_withdrawn_in_the_harvesting_fairgate_too(
    served: Served, second: HarvestService, second_store: Store
) -> None:
    second.add_source("ckan", served.url, name="peer", options={"rows": 50, "attempts": 2, "backoff": 0.01})
    second.run("peer")
    victim = next(s for s in served.ctx.store.iter_all() if s.guid != served.rich_guid)
    served.ctx.store.tombstone(victim.guid, reason="test withdrawal", actor="test")
    try:
        run = second.run("peer")
        with _ckan(served) as ckan:
            shown = ckan.action.package_show(id=victim.guid)
    finally:
        served.ctx.store.save(victim.dataset, actor="test", activity="restore")
    assert run.withdrawn == 1
    assert shown["state"] == "deleted"
    gone = [s for s in second_store.iter_all(include_tombstones=True) if s.is_tombstone]
    assert [s.dataset.extras.get("guid") for s in gone] == [victim.guid]
