"""A read-only CKAN action API under ``/api/action/`` and ``/api/3/action/`` (ckanapi calls the
first), so CKAN clients and harvesters read fairgate as if it were a CKAN 2.10 site.

Searches go to the same search index as ``/api/search``; a plain listing (no words, no
filters, the order CKAN harvesters ask for) reads the store in insertion order, so paging
by ``start`` through the whole catalog stays cheap. Packages are made by
:mod:`catalog.ckan.package`. Nothing here writes: every other action answers CKAN's
"Bad request - Action name not known".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from catalog.ckan.package import CKAN_VERSION, group, license_id, organization, package_name, slug, to_package
from catalog.ckan.query import CKAN_FIELDS, CkanQuery, CkanQueryError, parse_params
from catalog.context import Context
from catalog.search.attach import search_index
from catalog.search.query import FACETS, MAX_LIMIT, Facet, QueryError, SearchQuery, Sort
from catalog.store import NotFound, StoredDataset

router = APIRouter(tags=["ckan"])

Action = Callable[[Context, dict[str, Any]], Any]
_ACTIONS: dict[str, Action] = {}
_BIG_FACET = 200  # the search contract's most values per facet


class _Missing(Exception):
    """package_show / organization_show of something that is not here: CKAN's "Not Found Error"."""


class _Invalid(Exception):
    """A missing or malformed parameter: CKAN's "Validation Error" (409)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        _ACTIONS[name] = fn
        return fn

    return register


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _flag(params: dict[str, Any], key: str, default: bool = False) -> bool:
    value = params.get(key, default)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _int(params: dict[str, Any], key: str, default: int | None) -> int | None:
    value = params.get(key, default)
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise _Invalid(key, f"{key}: {value!r} is not a whole number") from None
    if n < 0:
        raise _Invalid(key, f"{key}: {n} must not be negative")
    return n


def _stored_package(ctx: Context, stored: StoredDataset) -> dict[str, Any]:
    return to_package(stored, ctx.settings.base_url)


def _find(ctx: Context, ident: str) -> StoredDataset:
    """A dataset by CKAN ``id`` (its GUID) or ``name`` (the uuid part of its GUID)."""
    ident = ident.strip()
    candidates = [ident] if "/" in ident else [f"{ctx.store.guid_prefix}/{ident}", ident]
    for guid in candidates:
        found = ctx.store.find(guid)
        if found is not None and not found.is_unpublished:  # unpublished: not in any public feed
            return found
    raise _Missing(f"no dataset with id or name {ident!r}")


# --- facets: publishers are organisations, modalities are groups --------------------------


def _facet(ctx: Context, name: str, filters: dict[str, list[str]] | None = None) -> Facet:
    results = search_index(ctx).search(
        SearchQuery(filters=filters or {}, limit=1, facet_limit=_BIG_FACET)
    )
    return next((f for f in results.facets if f.name == name), Facet(name=name, label={}, values=[]))


def _organisations(ctx: Context) -> dict[str, dict[str, Any]]:
    """Organisation name -> CKAN organisation, one per publisher the catalog lists."""
    out: dict[str, dict[str, Any]] = {}
    for v in _facet(ctx, "publisher").values:
        org = organization(v.value, v.label or {"en": v.value}, v.count)
        out[org["name"]] = org
    return out


def _groups(ctx: Context) -> dict[str, dict[str, Any]]:
    return {slug(v.value): group(v.value, v.count) for v in _facet(ctx, "modality").values}


def _facet_value_name(field: str, value: str) -> str:
    if field == "organization":
        return slug(value)
    if field == "groups":
        return slug(value)
    if field == "license_id":
        return license_id(value)
    return value


def _translate_filters(ctx: Context, filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """CKAN names of organisations and groups back to the search facets' values."""
    out = dict(filters)
    if "publisher" in out:
        orgs = _organisations(ctx)
        out["publisher"] = [orgs[v]["title"] if v in orgs else v for v in out["publisher"]]
    if "modality" in out:
        out["modality"] = [v.upper() for v in out["modality"]]
    return out


# --- package_search ---------------------------------------------------------------------------


def _search_facets(query: CkanQuery, facets: list[Facet]) -> tuple[dict[str, Any], dict[str, Any]]:
    by_name = {f.name: f for f in facets}
    search_facets: dict[str, Any] = {}
    legacy: dict[str, Any] = {}
    limit = _BIG_FACET if query.facet_limit < 0 else query.facet_limit
    for field in query.facet_fields:
        facet = by_name.get(CKAN_FIELDS.get(field, field))
        values = (facet.values if facet else [])[:limit]
        items = [
            {
                "name": _facet_value_name(field, v.value),
                "display_name": (v.label or {}).get("en") or v.value,
                "display_name_translated": v.label,
                "count": v.count,
            }
            for v in values
            if v.count > 0
        ]
        search_facets[field] = {"title": field, "items": items}
        legacy[field] = {i["name"]: i["count"] for i in items}
    return search_facets, legacy


def _listing(ctx: Context, query: CkanQuery) -> tuple[int, list[StoredDataset]]:
    store = ctx.store
    low, high = query.modified_from, query.modified_before
    total = store.count_listing(modified_from=low, modified_before=high)
    if not query.rows:
        return total, []
    rows = store.listing(offset=query.start, limit=query.rows, modified_from=low, modified_before=high)
    return total, [s for _, s in rows]


def _searched(ctx: Context, query: CkanQuery, filters: dict[str, list[str]]) -> tuple[int, list[str], list[Facet]]:
    """Total, the GUIDs of rows ``start`` .. ``start + rows`` and the facets, from the search index."""
    index = search_index(ctx)
    wanted = query.start + query.rows
    guids: list[str] = []
    cursor: str | None = None
    seen = 0
    sort: Sort = "relevance" if query.sort == "created" else query.sort
    facet_limit = _BIG_FACET if query.facet_limit < 0 else min(query.facet_limit, _BIG_FACET)
    if not query.facet_fields:
        facet_limit = 0  # counting facets nobody asked for is most of a search's cost
    first = None
    while True:
        page = index.search(
            SearchQuery(
                q=query.q,
                filters=filters,
                sort=sort,
                cursor=cursor,
                limit=max(1, min(MAX_LIMIT, wanted - seen)),
                facet_limit=facet_limit if first is None else 0,
            )
        )
        first = first or page
        for hit in page.hits:
            if query.start <= seen < wanted:
                guids.append(hit.guid)
            seen += 1
        if seen >= wanted or page.next_cursor is None or not page.hits:
            break
        cursor = page.next_cursor
    return first.total, guids, first.facets


@action("package_search")
def package_search(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Search packages. q: words (zh-Hant or English); fq: field:value terms, all of which must
    match (tags, organization, groups, res_format, license_id, metadata_modified:[low TO high]
    and fairgate's facet names); rows (at most 1000), start; sort: score desc,
    metadata_modified desc, title_string asc or metadata_created asc; facet.field: a JSON list
    of fields to count; facet.limit."""
    query = parse_params(params, set(FACETS))
    filters = _translate_filters(ctx, query.filters)
    plain = not query.q and not filters
    bounded = query.modified_from is not None or query.modified_before is not None
    if bounded and not plain:
        raise CkanQueryError(
            "fq: a metadata_modified range combines only with an empty q and no other fq term here; "
            "ask for the range alone, or the words and filters alone"
        )
    if query.sort == "created" and not plain:
        raise CkanQueryError(
            "sort: metadata_created order is for listing the whole catalog (no q, no fq); "
            "sort searches by score desc, metadata_modified desc or title_string asc"
        )
    facets: list[Facet] = []
    if plain and query.sort in ("created", "relevance"):
        total, stored = _listing(ctx, query)
        if query.facet_fields:
            facets = search_index(ctx).search(SearchQuery(limit=1, facet_limit=_BIG_FACET)).facets
        packages = [_stored_package(ctx, s) for s in stored]
    else:
        total, guids, facets = _searched(ctx, query, filters)
        packages = [_stored_package(ctx, s) for s in ctx.store.get_many(guids) if s.status == "active"]
    search_facets, legacy = _search_facets(query, facets)
    return {
        "count": total,
        "results": packages,
        "sort": params.get("sort") or "score desc, metadata_modified desc",
        "facets": legacy,
        "search_facets": search_facets,
    }


# --- the other read actions --------------------------------------------------------------------


@action("package_show")
def package_show(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ident = params.get("id") or params.get("name_or_id")
    if not ident:
        raise _Invalid("id", "Missing value")
    return _stored_package(ctx, _find(ctx, str(ident)))


@action("package_list")
def package_list(ctx: Context, params: dict[str, Any]) -> list[str]:
    limit = _int(params, "limit", None)
    offset = _int(params, "offset", 0) or 0
    rows = ctx.store.listing(offset=offset, limit=limit if limit is not None else 5000)
    names = [package_name(s.guid) for _, s in rows]
    while limit is None and len(rows) == 5000:  # no limit: every name, in pages
        rows = ctx.store.listing(after_id=rows[-1][0], limit=5000)
        names.extend(package_name(s.guid) for _, s in rows)
    return names


def _listed(items: dict[str, dict[str, Any]], params: dict[str, Any], kind: str) -> list[Any]:
    wanted = params.get(kind) or []
    if isinstance(wanted, str):
        wanted = json.loads(wanted) if wanted.startswith("[") else [wanted]
    values = [v for k, v in items.items() if not wanted or k in wanted]
    sort = str(params.get("sort") or "name asc").lower()
    if sort.startswith("package_count"):
        values.sort(key=lambda o: (-o.get("package_count", 0), o["name"]))
    elif sort.startswith("title"):
        values.sort(key=lambda o: o["title"].casefold())
    else:
        values.sort(key=lambda o: o["name"])
    if sort.endswith(" desc") and not sort.startswith("package_count"):
        values.reverse()
    offset = _int(params, "offset", 0) or 0
    limit = _int(params, "limit", None)
    values = values[offset : None if limit is None else offset + limit]
    if _flag(params, "all_fields"):
        return values
    return [v["name"] for v in values]


@action("organization_list")
def organization_list(ctx: Context, params: dict[str, Any]) -> list[Any]:
    return _listed(_organisations(ctx), params, "organizations")


@action("group_list")
def group_list(ctx: Context, params: dict[str, Any]) -> list[Any]:
    return _listed(_groups(ctx), params, "groups")


def _show(ctx: Context, items: dict[str, dict[str, Any]], params: dict[str, Any], facet: str) -> dict[str, Any]:
    ident = str(params.get("id") or "").strip()
    if not ident:
        raise _Invalid("id", "Missing value")
    found = items.get(ident) or items.get(slug(ident))
    if found is None:
        raise _Missing(f"no {'organization' if facet == 'publisher' else 'group'} named {ident!r}")
    out = dict(found)
    if _flag(params, "include_datasets"):
        value = found["title"] if facet == "publisher" else ident.upper()
        query = CkanQuery(rows=min(_int(params, "rows", 10) or 10, 1000), sort="title")
        _, guids, _ = _searched(ctx, query, {facet: [value]})
        out["packages"] = [_stored_package(ctx, s) for s in ctx.store.get_many(guids) if s.status == "active"]
    return out


@action("organization_show")
def organization_show(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _show(ctx, _organisations(ctx), params, "publisher")


@action("group_show")
def group_show(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _show(ctx, _groups(ctx), params, "modality")


@action("tag_list")
def tag_list(ctx: Context, params: dict[str, Any]) -> list[Any]:
    words = str(params.get("query") or "").casefold()
    tags = [v.value for v in _facet(ctx, "keyword").values if words in v.value.casefold()]
    tags.sort(key=str.casefold)
    if _flag(params, "all_fields"):
        return [{"id": t, "name": t, "vocabulary_id": None} for t in tags]
    return tags


@action("status_show")
def status_show(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    s = ctx.settings
    return {
        "site_title": s.catalog_title_en,
        "site_title_translated": {"en": s.catalog_title_en, "zh-Hant": s.catalog_title_zh},
        "site_description": "FAIR catalog of health datasets (fairgate, read-only CKAN action API)",
        "site_url": s.base_url,
        "ckan_version": CKAN_VERSION,
        "error_emails_to": None,
        "locale_default": "zh_Hant_TW",
        "extensions": ["dcat", "scheming_datasets", "fluent"],
    }


@action("help_show")
def help_show(ctx: Context, params: dict[str, Any]) -> str:
    name = str(params.get("name") or "")
    fn = _ACTIONS.get(name)
    if fn is None:
        raise _Missing(f"no action named {name!r}; this API answers: {', '.join(sorted(_ACTIONS))}")
    return (fn.__doc__ or f"{name}: as CKAN 2.10's action of that name (read-only)").strip()


# --- HTTP ------------------------------------------------------------------------------------------


def _envelope(request: Request, name: str, body: dict[str, Any], status: int = 200) -> JSONResponse:
    help_url = f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={name}"
    return JSONResponse({"help": help_url, **body}, status_code=status)


def _error(request: Request, name: str, status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    return _envelope(request, name, {"success": False, "error": {"__type": kind, "message": message, **extra}}, status)


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "")
        if "json" in kind:
            body = await request.body()
            if body.strip():
                data = json.loads(body)
                if not isinstance(data, dict):
                    raise ValueError("the JSON body must be an object of parameters")
                params.update(data)
        elif "form" in kind:
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


async def call(request: Request, name: str) -> Response:
    fn = _ACTIONS.get(name)
    if fn is None:
        known = ", ".join(sorted(_ACTIONS))
        return _error(
            request, name, 400, "Bad request", f"Bad request - Action name not known: {name}. This read-only API "
            f"answers: {known}",
        )
    try:
        params = await _params(request)
    except ValueError as exc:
        return _error(request, name, 400, "Bad request", f"could not read the parameters: {exc}; send JSON or a form")
    try:
        result = fn(_ctx(request), params)
    except (CkanQueryError, QueryError) as exc:
        return _error(request, name, 409, "Search Query Error", f"Search Query Error: {exc}")
    except _Invalid as exc:
        return _error(request, name, 409, "Validation Error", str(exc), **{exc.field: [str(exc)]})
    except (_Missing, NotFound) as exc:
        return _error(request, name, 404, "Not Found Error", f"Not found: {exc}")
    return _envelope(request, name, {"success": True, "result": result})


for _prefix in ("/api/action", "/api/3/action"):
    for _method in ("GET", "POST"):
        router.add_api_route(
            f"{_prefix}/{{name}}",
            call,
            methods=[_method],
            summary="CKAN action API (read-only): package_search, package_show, package_list, …",
            operation_id=f"ckan_action_{_method.lower()}",
            include_in_schema=_prefix == "/api/3/action",
            response_class=Response,
        )


@router.get("/dataset/{name}", include_in_schema=False)
def dataset_by_ckan_name(request: Request, name: str) -> Response:
    """CKAN's dataset page address (``/dataset/<name>``) goes to the dataset's own page."""
    ctx = _ctx(request)
    try:
        stored = _find(ctx, name)
    except _Missing as exc:
        raise NotFound(f"{exc}; dataset pages are at /dataset/<GUID>") from exc
    return RedirectResponse(f"/dataset/{stored.guid}", status_code=301)
