"""Search commands: ``fairgate search "query"`` (a table of results) and ``fairgate reindex``
(rebuild the search index from the store, with a progress bar)."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from catalog.bootstrap import open_store
from catalog.commands.core import effective_settings
from catalog.context import open_context
from catalog.search.attach import search_index
from catalog.search.index import open_index
from catalog.search.query import FACETS, QueryError, SearchQuery

console = Console()
_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def _marked(html_text: str) -> Text:
    """Turn our ``<mark>`` snippets into bold terminal text (the rest is escaped HTML)."""
    import html

    out = Text()
    pos = 0
    for m in _MARK.finditer(html_text):
        out.append(html.unescape(html_text[pos : m.start()]))
        out.append(html.unescape(m.group(1)), style="bold yellow")
        pos = m.end()
    out.append(html.unescape(html_text[pos:]))
    return out


def _parse_filters(values: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or name not in FACETS or not value:
            raise typer.BadParameter(
                f"{item!r} is not FACET=VALUE; facets are: {', '.join(FACETS)} (e.g. --filter modality=CT)"
            )
        filters.setdefault(name, []).append(value)
    return filters


def search_command(
    query: Annotated[str, typer.Argument(help="words in Chinese or English")] = "",
    filter: Annotated[
        list[str] | None, typer.Option("--filter", "-f", help="FACET=VALUE, repeatable (e.g. modality=CT)")
    ] = None,
    sort: Annotated[str, typer.Option(help="relevance, newest, title or cases")] = "relevance",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    lang: Annotated[str, typer.Option(help="language shown first: en or zh-Hant")] = "zh-Hant",
    facets: Annotated[bool, typer.Option(help="also print facet counts")] = False,
) -> None:
    """Search the catalog and print the results as a table."""
    if sort not in ("relevance", "newest", "title", "cases"):
        raise typer.BadParameter("--sort must be relevance, newest, title or cases")
    if lang not in ("en", "zh-Hant"):
        raise typer.BadParameter("--lang must be en or zh-Hant")
    ctx = open_context(effective_settings())
    try:
        results = search_index(ctx).search(
            SearchQuery(q=query, filters=_parse_filters(filter or []), sort=sort, limit=limit, lang=lang)
        )
    except QueryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    other = "en" if lang == "zh-Hant" else "zh-Hant"
    table = Table(title=f"{results.total} dataset(s) for {query!r}", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("title")
    table.add_column("snippet", overflow="fold")
    table.add_column("GUID", style="dim")
    for i, hit in enumerate(results.hits, 1):
        titles = hit.highlights.get("title", {})
        title = _marked(titles.get(lang) or titles.get(other) or "")
        descs = hit.highlights.get("description", {})
        table.add_row(str(i), title, _marked(descs.get(lang) or descs.get(other) or ""), hit.guid)
    console.print(table)
    if results.expanded:
        also = ", ".join(f"{e.get('en', '')} / {e.get('zh-Hant', '')}" for e in results.expanded)
        console.print(f"[dim]also searched (vocabulary): {also}[/dim]")
    if facets:
        for facet in results.facets:
            if facet.values:
                shown = ", ".join(f"{v.label.get(lang, v.value)} ({v.count})" for v in facet.values[:8])
                console.print(f"[bold]{facet.label[lang]}[/bold]: {shown}")


def reindex_command() -> None:
    """Rebuild the search index from the store; searches keep working on the old one meanwhile."""
    settings = effective_settings()
    store = open_store(settings)
    index = open_index(settings)
    total = store.count()
    with Progress(
        TextColumn("reindexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("reindex", total=total)
        written = index.rebuild(store.iter_all(), progress=lambda n: bar.update(task, completed=n))
    index.close()
    console.print(f"indexed {written} dataset(s) with the {index.backend} backend")


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)
    app.command("reindex")(reindex_command)
