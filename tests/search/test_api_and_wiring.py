"""The search index as the product uses it: kept current by store changes, served over real
HTTP by ``/api/search``, rebuilt by ``fairgate reindex``, queried by ``fairgate search``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from catalog.cli import app as cli
from catalog.commands.core import make_server
from catalog.context import Context, open_context
from catalog.samples import load_sample
from catalog.search.attach import search_index
from catalog.search.query import SearchQuery, SearchResults
from catalog.settings import Settings
from catalog.store import NewRecord
from schemas import Dataset
from tests.web.conftest import free_port, start_server


def _settings(tmp: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'var' / 'catalog.db'}", **extra)  # type: ignore[arg-type]


def _titles(ctx: Context, q: str) -> list[str]:
    return [h.title.get("en", "") for h in search_index(ctx).search(SearchQuery(q=q)).hits]


def test_store_changes_reach_the_index_on_create_update_tombstone_and_batch(tmp_path: Path) -> None:
    ctx = open_context(_settings(tmp_path))
    guid = ctx.store.save(Dataset(title={"en": "Kidney ultrasound"}), actor="t").guid
    assert _titles(ctx, "kidney") == ["Kidney ultrasound"]
    ctx.store.save(Dataset(guid=guid, title={"en": "Renal MRI"}), actor="t")
    assert _titles(ctx, "ultrasound") == []
    assert _titles(ctx, "renal") == ["Renal MRI"]
    ctx.store.tombstone(guid, reason="withdrawn by the team", actor="t")
    assert _titles(ctx, "renal") == []
    ctx.store.save_many(
        [NewRecord(Dataset(title={"en": f"Harvested {i}"}), f"u{i}") for i in range(3)],
        actor="t",
        activity="harvest",
        source_guid="dg.TW01/3f1c2a64-8f7e-4f1e-9a51-0c1a2b3c4d5e",
    )
    assert len(_titles(ctx, "harvested")) == 3


def test_an_empty_index_over_a_filled_store_is_built_on_open(tmp_path: Path) -> None:
    settings = _settings(tmp_path, search_index_path=str(tmp_path / "first"))
    load_sample(open_context(settings).store)
    reopened = open_context(settings.model_copy(update={"search_index_path": str(tmp_path / "second")}))
    assert search_index(reopened).count() == 25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("search-api")
    ctx = open_context(_settings(tmp, port=free_port()))
    load_sample(ctx.store)
    srv, thread = start_server(ctx)
    try:
        yield f"http://127.0.0.1:{ctx.settings.port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


def test_api_search_returns_ranked_highlighted_results_with_facets(server: str) -> None:
    r = httpx.get(f"{server}/api/search", params={"q": "glaucoma fundus"})
    assert r.status_code == 200
    body = r.json()
    assert body["hits"][0]["title"]["zh-Hant"] == "眼底照片 (青光眼)"
    assert "<mark>" in body["hits"][0]["highlights"]["title"]["en"]
    assert {f["name"] for f in body["facets"]} >= {"modality", "publisher", "keyword", "language"}


def test_api_search_body_is_a_valid_search_results_as_documented(server: str) -> None:
    r = httpx.get(f"{server}/api/search", params={"q": "肺部 CT", "modality": "CT"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = SearchResults.model_validate_json(r.content)
    assert body.total >= 1 and body.hits and body.facets
    schema = httpx.get(f"{server}/openapi.json").json()
    ok = schema["paths"]["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/SearchResults"}


def test_api_facet_filters_combine_or_within_and_across(server: str) -> None:
    r = httpx.get(f"{server}/api/search", params=[("modality", "CT"), ("modality", "MR"), ("body_site", "BRAIN")])
    body = r.json()
    assert r.status_code == 200 and body["total"] == 5  # the five brain MRIs; no CT is of the brain
    modality = next(f for f in body["facets"] if f["name"] == "modality")
    assert {v["value"]: v["count"] for v in modality["values"]}["MR"] == 5


def test_api_pages_with_cursor(server: str) -> None:
    first = httpx.get(f"{server}/api/search", params={"sort": "title", "limit": 20}).json()
    second = httpx.get(f"{server}/api/search", params={"sort": "title", "limit": 20, "cursor": first["next_cursor"]})
    assert second.status_code == 200
    guids = [h["guid"] for h in first["hits"] + second.json()["hits"]]
    assert len(guids) == len(set(guids)) == 25


@pytest.mark.parametrize("q", ['"unbalanced', "lung) OR (1=1", "🧠" * 50, "a" * 10_000, "title:* AND NOT"])
def test_api_never_answers_500_to_odd_queries(server: str, q: str) -> None:
    r = httpx.get(f"{server}/api/search", params={"q": q})
    assert r.status_code == 200


def test_api_explains_bad_cursor_and_bad_sort(server: str) -> None:
    r = httpx.get(f"{server}/api/search", params={"cursor": "zzz"})
    assert r.status_code == 400 and "start again" in r.json()["error"]["message"]
    assert httpx.get(f"{server}/api/search", params={"sort": "random"}).status_code == 422


def test_api_suggest_completes_titles(server: str) -> None:
    r = httpx.get(f"{server}/api/search/suggest", params={"q": "肺部"})
    assert r.status_code == 200
    assert "肺部 CT" in [s["text"] for s in r.json()["suggestions"]]


def test_cli_reindex_then_search_prints_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRGATE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("FAIRGATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("FAIRGATE_SEARCH_INDEX_PATH", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["load-sample"]).exit_code == 0
    result = runner.invoke(cli, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "indexed 25" in result.output
    result = runner.invoke(cli, ["search", "腦轉移", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "Brain MRI (brain" in result.output
    bad = runner.invoke(cli, ["search", "x", "--filter", "colour=red"])
    assert bad.exit_code != 0


_ = make_server  # the server fixture uses the same factory as `fairgate serve`
