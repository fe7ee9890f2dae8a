"""Server-rendered pages: bilingual dataset pages, the language switch, tombstones, revisions, escaping."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from catalog.context import Context
from tests.web.conftest import AUTH, minimal_dataset


def _jsonld(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match, "no JSON-LD script in the page"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_home_page_lists_every_dataset_in_the_chosen_language(client: TestClient, add: Callable[..., str]) -> None:
    add("Knee MR")
    add("Hand X-ray")
    en = client.get("/?lang=en").text
    assert "Knee MR" in en and "Hand X-ray" in en
    assert "2 datasets" in en
    zh = client.get("/?lang=zh-Hant").text
    assert "Knee MR（中文）" in zh
    assert "共 2 個資料集" in zh


def test_language_choice_is_remembered_in_a_cookie(client: TestClient, add: Callable[..., str]) -> None:
    guid = add("Heart CT")
    first = client.get(f"/dataset/{guid}?lang=en")
    assert first.cookies.get("fairgate_lang") == "en"
    later = client.get(f"/dataset/{guid}")
    assert '<html lang="en">' in later.text
    assert later.headers["content-language"] == "en"


def test_without_a_choice_the_browser_language_is_used(client: TestClient, add: Callable[..., str]) -> None:
    guid = add()
    assert '<html lang="zh-Hant-TW">' in client.get(f"/dataset/{guid}", headers={"Accept-Language": "zh-TW"}).text
    assert '<html lang="en">' in client.get(f"/dataset/{guid}", headers={"Accept-Language": "en-GB,en"}).text


def test_dataset_page_shows_both_languages_and_the_case_counts_table(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add("Coronary CTA")
    html = client.get(f"/dataset/{guid}?lang=en").text
    assert "Coronary CTA" in html
    assert "Coronary CTA（中文）" in html  # the other language is on the page too
    assert "測試用資料集" in html
    table = html[html.index('id="case-counts"') : html.index("</table>", html.index('id="case-counts"'))]
    total_row = table[table.index('data-status="total"') :]
    # shared 10+5+3 = 18, not shared 1+0+2 = 3, together 21
    assert re.findall(r'<td class="num">([\d,—]+)</td>', total_row)[:3] == ["18", "3", "21"]
    assert guid in html
    assert f"/dataset/{guid}.ttl" in html


def test_dataset_page_embeds_schema_org_json_ld_in_the_page_language(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add("Eye fundus")
    data = _jsonld(client.get(f"/dataset/{guid}?lang=en").text)
    assert data["@type"] == "Dataset"
    assert data["name"] == "Eye fundus"
    assert _jsonld(client.get(f"/dataset/{guid}?lang=zh-Hant").text)["name"] == "Eye fundus（中文）"


def test_record_text_cannot_inject_markup_or_close_the_json_ld_script(client: TestClient) -> None:
    evil = "<script>alert(1)</script>"
    created = client.post(
        "/api/datasets", json=minimal_dataset(evil, description={"en": f"x</script>{evil}"}), headers=AUTH
    )
    guid = created.json()["guid"]
    html = client.get(f"/dataset/{guid}?lang=en").text
    assert evil not in html
    assert _jsonld(html)["name"] == evil  # still the exact text, once decoded


def test_a_tombstoned_dataset_page_is_410_with_the_reason_and_last_metadata(
    client: TestClient, add: Callable[..., str], ctx: Context
) -> None:
    guid = add("Old pathology slides")
    ctx.store.tombstone(guid, reason="duplicate of another record", actor="test")
    response = client.get(f"/dataset/{guid}?lang=en")
    assert response.status_code == 410
    assert "duplicate of another record" in response.text
    assert "Old pathology slides" in response.text
    assert "This dataset has been withdrawn" in response.text


def test_revisions_page_lists_every_revision_newest_first_with_changed_fields(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add("v1")
    client.put(f"/api/datasets/{guid}?expected_revision=1&reason=retitled", json=minimal_dataset("v2"), headers=AUTH)
    html = client.get(f"/dataset/{guid}/revisions?lang=en").text
    rows = re.findall(r'<tr data-revision="(\d+)">(.*?)</tr>', html, re.S)
    assert [n for n, _ in rows] == ["2", "1"]
    assert "retitled" in rows[0][1]
    assert "title" in rows[0][1]


def test_an_unknown_dataset_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/dataset/dg.TW01/66666666-6666-6666-6666-666666666666?lang=en")
    assert response.status_code == 404
    assert "Not found" in response.text


def test_the_empty_catalog_says_how_to_load_the_sample(client: TestClient) -> None:
    assert "fairgate load-sample" in client.get("/?lang=en").text


def test_the_home_page_pages_through_a_large_catalog(client: TestClient, add: Callable[..., str]) -> None:
    for i in range(3):
        add(f"Paged {i}")
    first = client.get("/?lang=en&limit=2").text
    assert first.count('class="dataset-card"') == 2
    next_href = re.search(r'rel="next" href="([^"]+)"', first)
    assert next_href
    second = client.get(next_href.group(1).replace("&amp;", "&")).text
    assert second.count('class="dataset-card"') == 1
    assert 'rel="next"' not in second
    shown = re.findall(r"Paged \d", first + second)
    assert sorted(set(shown)) == ["Paged 0", "Paged 1", "Paged 2"]


def _imaging(modality: str, site: str) -> dict[str, object]:
    return {"modalities": [modality], "body_sites": [site], "shared": {"fully_annotated": 7}}


def test_the_search_box_narrows_the_list_and_marks_the_matching_words(
    client: TestClient, add: Callable[..., str]
) -> None:
    add("Hand MR", imaging=_imaging("MR", "HAND"))
    add("Lung CT", imaging=_imaging("CT", "LUNG"))
    html = client.get("/?q=hand&lang=en").text
    assert html.count('class="dataset-card"') == 1
    assert "<mark>Hand</mark>" in html
    assert "1 results" in html


def test_facet_checkboxes_filter_the_list_and_stay_ticked(client: TestClient, add: Callable[..., str]) -> None:
    add("Hand MR", imaging=_imaging("MR", "HAND"))
    add("Lung CT", imaging=_imaging("CT", "LUNG"))
    add("Brain MR", imaging=_imaging("MR", "BRAIN"))
    html = client.get("/?modality=MR&lang=en").text
    assert html.count('class="dataset-card"') == 2
    assert "Lung CT" not in html.split('class="results"')[1]
    assert re.search(r'name="modality" value="MR" checked', html)
    assert re.search(r'name="modality" value="CT">', html)  # still offered, not ticked


def test_a_search_cursor_from_another_search_is_a_400_page_saying_to_start_again(
    client: TestClient, add: Callable[..., str]
) -> None:
    for i in range(3):
        add(f"Item {i}")
    first = client.get("/?q=item&limit=1&lang=en").text
    cursor = re.search(r"cursor=([^&\"]+)", first)
    assert cursor
    response = client.get(f"/?q=other&limit=1&cursor={cursor.group(1)}&lang=en")
    assert response.status_code == 400
    assert "start again" in response.text
