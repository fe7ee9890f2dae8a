"""REST API and RDF of the AI-model entries: ``/api/models`` (list with the sharing-class facet, read:
public; create, replace: steward), ``/model/{guid}.ttl|.jsonld|.rdf`` (MLDCAT-AP) and ``/models.ttl|…``
(the model catalog). Thin over :class:`catalog.models.store.ModelStore` and :mod:`catalog.dcat.mldcat`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from catalog.api.auth import Steward, audit
from catalog.api.datasets import _expected_revision, guid_path
from catalog.context import Context
from catalog.dcat import MEDIA_TYPES, SUFFIXES
from catalog.dcat.mldcat import model_graph, models_catalog_graph, serialise_model_graph
from catalog.models.store import ModelRevision, ModelStore, StoredModel, UnknownDatasets, models_of
from schemas.model import SHARING_CLASSES, AIModel

router = APIRouter(tags=["models"])


def _models(request: Request) -> ModelStore:
    ctx: Context = request.app.state.ctx
    return models_of(ctx)


def model_json(stored: StoredModel) -> dict[str, Any]:
    path = guid_path(stored.guid)
    return {
        "guid": stored.guid,
        "revision": stored.revision,
        "created_at": stored.created_at.isoformat(),
        "updated_at": stored.updated_at.isoformat(),
        "terms": stored.model.terms,
        "links": {
            "self": f"/api/models/{path}",
            "page": f"/model/{path}",
            "resolver": f"/guid/{path}",
            "turtle": f"/model/{path}.ttl",
            "revisions": f"/api/models/{path}/revisions",
            "training_datasets": [f"/dataset/{guid_path(g)}" for g in stored.model.training_datasets],
        },
        "model": stored.model.model_dump(mode="json", exclude_defaults=True, exclude={"guid"}),
    }


def _revision_json(rev: ModelRevision) -> dict[str, Any]:
    return {
        "number": rev.number,
        "activity": rev.activity,
        "actor": rev.actor,
        "reason": rev.reason,
        "created_at": rev.created_at.isoformat(),
        "model": rev.model.model_dump(mode="json", exclude_defaults=True, exclude={"guid"}),
    }


def _unknown(exc: UnknownDatasets) -> HTTPException:
    return HTTPException(422, detail={"code": exc.code, "message": str(exc), "missing": exc.missing})


def _response(stored: StoredModel, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(model_json(stored), status_code=status, headers={"ETag": f'"{stored.revision}"', **headers})


@router.get("/api/models", summary="AI models, newest first; text search in both languages, faceted by sharing class")
def list_models(
    request: Request,
    q: Annotated[str, Query(description="words that must all appear (either language, any label)")] = "",
    sharing_class: Annotated[str | None, Query(description=f"one of {', '.join(SHARING_CLASSES)}")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    if sharing_class and sharing_class not in SHARING_CLASSES:
        raise HTTPException(
            422,
            detail={"code": "invalid_request", "message": f"sharing_class must be one of {', '.join(SHARING_CLASSES)}"},
        )
    models = _models(request)
    items = models.search(text=q, sharing_class=sharing_class, limit=limit)
    return {
        "count": len(items),
        "items": [model_json(m) for m in items],
        "facets": {"sharing_class": models.class_counts(text=q)},
    }


@router.get("/api/models/{guid:path}/revisions", summary="The revision history of an AI model entry")
def model_revisions(request: Request, guid: str) -> dict[str, Any]:
    return {"guid": guid, "revisions": [_revision_json(r) for r in _models(request).revisions(guid)]}


@router.get("/api/models/{guid:path}", summary="One AI model entry")
def get_model(request: Request, guid: str) -> JSONResponse:
    return _response(_models(request).get(guid))


@router.post("/api/models", status_code=201, summary="Record an AI model (steward role required)")
def create_model(
    request: Request,
    model: AIModel,
    who: Steward,
    reason: Annotated[str | None, Query(description="why, kept in the revision history")] = None,
) -> JSONResponse:
    if model.guid:
        raise HTTPException(
            422, detail={"code": "invalid", "message": "the store assigns GUIDs on create; leave guid out, or PUT"}
        )
    models = _models(request)
    try:
        result = models.save(model, actor=who.actor, reason=reason)
    except UnknownDatasets as exc:
        raise _unknown(exc) from exc
    audit(request, who, "model.create", result.guid)
    return _response(models.get(result.guid), 201, Location=f"/api/models/{guid_path(result.guid)}")


@router.put("/api/models/{guid:path}", summary="Replace an AI model entry; send If-Match (steward role required)")
def update_model(
    request: Request,
    guid: str,
    model: AIModel,
    who: Steward,
    if_match: Annotated[str | None, Header(description='ETag of the revision you edited, e.g. "3"')] = None,
    reason: Annotated[str | None, Query(description="why, kept in the revision history")] = None,
) -> JSONResponse:
    if model.guid and model.guid != guid:
        raise HTTPException(
            422, detail={"code": "invalid", "message": f"the body names {model.guid!r} but the URL names {guid!r}"}
        )
    models = _models(request)
    models.get(guid)  # 404 first: PUT never creates
    try:
        result = models.save(
            model.model_copy(update={"guid": guid}),
            actor=who.actor,
            reason=reason,
            expected_revision=_expected_revision(if_match, None),
        )
    except UnknownDatasets as exc:
        raise _unknown(exc) from exc
    audit(request, who, "model.edit", guid, detail={"status": result.status})
    response = _response(models.get(guid))
    response.headers["X-Fairgate-Save-Status"] = result.status
    return response


def model_rdf_response(request: Request, stored: StoredModel, fmt: str) -> Response:
    base = request.app.state.ctx.settings.base_url
    graph = model_graph(stored.model, stored.guid, base, created=stored.created_at, modified=stored.updated_at)
    return Response(
        serialise_model_graph(graph, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "ETag": f'"{stored.revision}"',
            "Link": f'<{base}/guid/{guid_path(stored.guid)}>; rel="cite-as", <{base}/model/{guid_path(stored.guid)}>; '
            'rel="describes"',
        },
    )


def _model_route(suffix: str, fmt: str) -> None:
    def serve(request: Request, guid: str) -> Response:
        return model_rdf_response(request, _models(request).get(guid), fmt)

    serve.__name__ = f"model_as_{suffix}"
    router.add_api_route(
        f"/model/{{guid:path}}.{suffix}",
        serve,
        methods=["GET"],
        summary=f"One AI model as MLDCAT-AP, {MEDIA_TYPES[fmt]}",
        response_class=Response,
    )


def _catalog_route(suffix: str, fmt: str) -> None:
    def serve(request: Request) -> Response:
        ctx: Context = request.app.state.ctx
        base = ctx.settings.base_url
        titles = {
            "zh-Hant": f"{ctx.settings.catalog_title_zh}：AI 模型",
            "en": f"{ctx.settings.catalog_title_en}: AI models",
        }
        items = _models(request).search(limit=1000)
        graph = models_catalog_graph(f"{base}/models", titles, ((m.guid, m.model) for m in items), base)
        return Response(serialise_model_graph(graph, fmt), media_type=MEDIA_TYPES[fmt])

    serve.__name__ = f"models_as_{suffix}"
    router.add_api_route(
        f"/models.{suffix}",
        serve,
        methods=["GET"],
        summary=f"Every AI model as an MLDCAT-AP catalog, {MEDIA_TYPES[fmt]}",
        response_class=Response,
    )


for _suffix, _fmt in SUFFIXES.items():
    _model_route(_suffix, _fmt)
    _catalog_route(_suffix, _fmt)
