"""The GUID resolver and DCAT endpoints: ``/guid/{guid}`` with content negotiation and FAIR
Signposting, ``/dataset/{guid}.ttl|.jsonld|.rdf`` and the paged ``/catalog.ttl|.jsonld|.rdf``.

Serialisation itself belongs to :mod:`catalog.dcat`; this module only chooses a representation,
adds the headers that make a GUID machine-actionable, and answers 410 for tombstones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from rdflib import Graph, Literal, URIRef

from catalog.api import croissant
from catalog.api.datasets import guid_path
from catalog.api.visibility import visible
from catalog.context import Context
from catalog.dcat import MEDIA_TYPES, SUFFIXES, Paging, catalog_graph, dataset_graph, dataset_iri, serialise_graph
from catalog.dcat.mldcat import add_dataset_lineage
from catalog.models.store import models_of
from catalog.settings import Settings
from catalog.store import NotFound, Store, StoredDataset
from schemas import Agent, Catalog
from schemas.model import AIModel
from schemas.namespaces import ADMS, OWL, RDFS, SKOS, XSD

router = APIRouter(tags=["resolver"])

HTML = "html"
_ADMS_WITHDRAWN = URIRef("http://purl.org/adms/status/Withdrawn")

# What each media range we understand selects; our own preference breaks ties in this order.
_MEDIA: dict[str, str] = {
    "text/html": HTML,
    "application/xhtml+xml": HTML,
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/rdf+xml": "xml",
}
_PREFERENCE = (HTML, "turtle", "json-ld", "xml")
_SUPPORTED = ", ".join(("text/html", *MEDIA_TYPES.values()))


def negotiate(accept: str | None) -> str | None:
    """The representation ``accept`` prefers: ``"html"``, ``"turtle"``, ``"json-ld"`` or ``"xml"``.

    None when the client accepts none of them. No header, or ``*/*``, means HTML.
    """
    if not accept or not accept.strip():
        return HTML
    # For each representation: (q, specificity, -position) of the best range that matches it.
    best: dict[str, tuple[float, int, int]] = {}
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        media = media.lower()
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media == "*/*":
            matches, specificity = list(_PREFERENCE), 0
        elif media.endswith("/*"):
            major = media[:-2]
            matches = list(dict.fromkeys(r for m, r in _MEDIA.items() if m.startswith(major + "/")))
            specificity = 1
        elif media in _MEDIA:
            matches, specificity = [_MEDIA[media]], 2
        else:
            continue
        for rep in matches:
            score = (q, specificity, -position)
            # A more specific range decides a representation's q, even if it is lower (RFC 9110 12.5.1).
            if rep not in best or score[1] > best[rep][1] or (score[1] == best[rep][1] and score > best[rep]):
                best[rep] = score
    candidates = [(s[0], s[2] if s[1] else -999, -_PREFERENCE.index(r), r) for r, s in best.items() if s[0] > 0]
    if not candidates:
        return None
    return max(candidates)[3]


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def trained_models(ctx: Context, dataset_guid: str) -> list[tuple[str, AIModel]]:
    """``(GUID, entry)`` of every AI model trained on the dataset (its side of the lineage)."""
    return [(m.guid, m.model) for m in models_of(ctx).trained_on(dataset_guid)]


def signposting(stored: StoredDataset, base_url: str) -> str:
    """FAIR Signposting ``Link`` header value for a dataset's landing page."""
    path = guid_path(stored.guid)
    links = [
        f'<{dataset_iri(path, base_url)}>; rel="cite-as"',
        *(
            f'<{base_url}/dataset/{path}.{suffix}>; rel="describedby"; type="{MEDIA_TYPES[fmt]}"'
            for suffix, fmt in SUFFIXES.items()
        ),
        f'<{base_url}/dataset/{path}.croissant.json>; rel="describedby"; type="application/ld+json"; '
        'profile="http://mlcommons.org/croissant/"',
        '<https://schema.org/Dataset>; rel="type"',
        '<https://schema.org/AboutPage>; rel="type"',
    ]
    ds = stored.dataset
    if ds.license is not None:
        links.append(f'<{ds.license.iri}>; rel="license"')
    for dist in ds.distributions:
        if dist.download_url:
            kind = f'; type="{dist.media_type}"' if dist.media_type else ""
            links.append(f'<{dist.download_url}>; rel="item"{kind}')
    return ", ".join(links)


def _tombstone_graph(stored: StoredDataset, base_url: str) -> Graph:
    graph = dataset_graph(stored.dataset, base_url)
    if stored.is_tombstone:
        node = URIRef(dataset_iri(stored.guid, base_url))
        graph.add((node, ADMS.status, _ADMS_WITHDRAWN))
        graph.add((node, OWL.deprecated, Literal(True)))
        if stored.tombstone_reason:
            graph.add((node, SKOS.changeNote, Literal(stored.tombstone_reason)))
        when = stored.tombstoned_at or datetime.now(UTC)
        graph.add((node, SKOS.historyNote, Literal(f"withdrawn {when.isoformat()}", datatype=XSD.string)))
    return graph


def rdf_response(
    stored: StoredDataset, fmt: str, settings: Settings, models: Sequence[tuple[str, AIModel]] = ()
) -> Response:
    """``stored`` as RDF in ``fmt``, with the AI models trained on it (``models``: GUID and entry);
    410 (with the last metadata) when it is a tombstone."""
    graph = _tombstone_graph(stored, settings.base_url)
    add_dataset_lineage(graph, stored.guid, models, settings.base_url)
    body = serialise_graph(graph, fmt)
    return Response(
        body,
        status_code=410 if stored.is_tombstone else 200,
        media_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8" if fmt != "json-ld" else MEDIA_TYPES[fmt],
        headers={"Link": signposting(stored, settings.base_url), "ETag": f'"{stored.revision}"'},
    )


@router.head("/guid/{guid:path}", include_in_schema=False)
@router.get("/guid/{guid:path}", summary="Resolve a GUID (content negotiation)")
def resolve(request: Request, guid: str) -> Response:
    from catalog.web import pages  # the HTML view belongs to the web package

    ctx = _ctx(request)
    if croissant.wants_croissant(request.headers.get("accept")):
        return croissant.croissant_response(visible(request, ctx.store.get(guid)), ctx.settings.base_url)
    wanted = negotiate(request.headers.get("accept"))
    if wanted is None:
        raise HTTPException(
            406,
            detail={
                "code": "not_acceptable",
                "message": f"this GUID can be had as {_SUPPORTED}; ask for one of them in the Accept header",
            },
        )
    try:
        stored = visible(request, ctx.store.get(guid))
    except NotFound as exc:
        model = models_of(ctx).find(guid)  # AI models share the GUID space and the resolver
        if model is not None:
            from catalog.api.models import model_rdf_response

            if wanted == HTML:
                return RedirectResponse(f"/model/{guid_path(guid)}", status_code=303, headers={"Vary": "Accept"})
            return model_rdf_response(request, model, wanted)
        if wanted == HTML:
            return pages.not_found_page(request, str(exc))
        raise
    if wanted == HTML:
        response = pages.dataset_page_response(request, stored)
    else:
        response = rdf_response(stored, wanted, ctx.settings, trained_models(ctx, stored.guid))
    # The page also varies by language (cookie, Accept-Language); caches must key on all of them.
    vary = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
    response.headers["Vary"] = ", ".join(["Accept", *vary])
    return response


def _also_head(path: str, endpoint: Any) -> None:
    # HEAD as its own route outside the OpenAPI document: one route with both methods gives
    # both operations the same operation id, which OpenAPI forbids.
    router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False, response_class=Response)


def _dataset_route(suffix: str, fmt: str) -> None:
    def serve(request: Request, guid: str) -> Response:
        ctx = _ctx(request)
        stored = visible(request, ctx.store.get(guid))
        return rdf_response(stored, fmt, ctx.settings, trained_models(ctx, stored.guid))

    serve.__name__ = f"dataset_as_{suffix}"
    path = f"/dataset/{{guid:path}}.{suffix}"
    router.add_api_route(
        path, serve, methods=["GET"], summary=f"One dataset as {MEDIA_TYPES[fmt]}", response_class=Response
    )
    _also_head(path, serve)


def deployment_catalog(settings: Settings) -> Catalog:
    """The dcat:Catalog this deployment publishes."""
    titles = {"zh-Hant": settings.catalog_title_zh, "en": settings.catalog_title_en}
    return Catalog(
        iri=f"{settings.base_url}/catalog",
        title=titles,
        description={
            "zh-Hant": "健康與醫學影像資料集之 FAIR 目錄，含 HealthDCAT-AP 詮釋資料。",
            "en": "A FAIR catalog of health and medical-imaging datasets with HealthDCAT-AP metadata.",
        },
        publisher=Agent(name=titles, homepage=f"{settings.base_url}/"),
        homepage=f"{settings.base_url}/",
        language=["ZHO", "ENG"],
    )


def _page_of(store: Store, page: int, per_page: int) -> list[StoredDataset]:
    # One offset query: walking keyset cursors to the n-th page read (and validated) every
    # record before it, which made a full walk of a 100,000-record catalog quadratic.
    return [stored for _, stored in store.listing(offset=(page - 1) * per_page, limit=per_page)]


def _catalog_route(suffix: str, fmt: str) -> None:
    def serve(
        request: Request,
        page: Annotated[int, Query(ge=1, description="page number, from 1")] = 1,
        per_page: Annotated[int, Query(ge=1, le=1000, description="datasets per page")] = 100,
    ) -> Response:
        ctx = _ctx(request)
        total = ctx.store.count()
        paging = Paging(
            url=f"{ctx.settings.base_url}/catalog.{suffix}?per_page={per_page}",
            page=page,
            per_page=per_page,
            total=total,
        )
        if page > paging.last_page:
            raise HTTPException(
                404,
                detail={
                    "code": "no_such_page",
                    "message": f"the catalog has {paging.last_page} page(s) of {per_page}; ask for page 1 to "
                    f"{paging.last_page}",
                },
            )
        items = _page_of(ctx.store, page, per_page)
        cat = deployment_catalog(ctx.settings)
        graph = catalog_graph(cat, (s.dataset for s in items), ctx.settings.base_url, paging)
        # The AI models are a catalog of their own (MLDCAT-AP), pointed to, not mixed into the datasets' pages.
        graph.add((URIRef(cat.iri), RDFS.seeAlso, URIRef(f"{ctx.settings.base_url}/models.{suffix}")))
        links = [f'<{paging.page_url(1)}>; rel="first"', f'<{paging.page_url(paging.last_page)}>; rel="last"']
        if page < paging.last_page:
            links.append(f'<{paging.page_url(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{paging.page_url(page - 1)}>; rel="prev"')
        return Response(
            serialise_graph(graph, fmt),
            media_type=MEDIA_TYPES[fmt],
            headers={"Link": ", ".join(links)},
        )

    serve.__name__ = f"catalog_as_{suffix}"
    router.add_api_route(
        f"/catalog.{suffix}",
        serve,
        methods=["GET"],
        summary=f"The catalog as {MEDIA_TYPES[fmt]}, paged (hydra:PartialCollectionView)",
        response_class=Response,
    )
    _also_head(f"/catalog.{suffix}", serve)


for _suffix, _fmt in SUFFIXES.items():
    _dataset_route(_suffix, _fmt)
    _catalog_route(_suffix, _fmt)
