"""REST API for datasets: list, read, create, update, tombstone, revisions (``/api/datasets``).

A thin layer over :class:`catalog.store.Store`: it validates input, checks the steward
token and preconditions, and never writes anything the store would not write in one transaction.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from catalog.api.auth import Steward, audit
from catalog.api.visibility import visible
from catalog.context import Context
from catalog.store import Revision, StoredDataset
from schemas import Dataset

router = APIRouter(prefix="/api/datasets", tags=["datasets"])



def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def guid_path(guid: str) -> str:
    """A GUID as it appears in our URLs: the slash stays a slash, anything odd is escaped."""
    return quote(guid, safe="/")


def record_json(stored: StoredDataset) -> dict[str, Any]:
    """The API shape of a stored dataset: bookkeeping, links, and the canonical model."""
    path = guid_path(stored.guid)
    return {
        "guid": stored.guid,
        "revision": stored.revision,
        "status": stored.status,
        "created_at": stored.created_at.isoformat(),
        "updated_at": stored.updated_at.isoformat(),
        "tombstone_reason": stored.tombstone_reason,
        "tombstoned_at": stored.tombstoned_at.isoformat() if stored.tombstoned_at else None,
        "source_guid": stored.source_guid,
        "upstream_id": stored.upstream_id,
        "links": {
            "self": f"/api/datasets/{path}",
            "page": f"/dataset/{path}",
            "resolver": f"/guid/{path}",
            "revisions": f"/api/datasets/{path}/revisions",
        },
        "dataset": stored.dataset.model_dump(mode="json", exclude_defaults=True),
    }


def _revision_json(rev: Revision, *, with_dataset: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": rev.number,
        "content_hash": rev.content_hash,
        "activity": rev.activity,
        "actor": rev.actor,
        "reason": rev.reason,
        "created_at": rev.created_at.isoformat(),
    }
    if with_dataset:
        out["dataset"] = rev.dataset.model_dump(mode="json", exclude_defaults=True)
    return out


def etag(revision: int) -> str:
    return f'"{revision}"'


def _record_response(stored: StoredDataset, status: int = 200, **headers: str) -> JSONResponse:
    if stored.is_tombstone and status == 200:
        status = 410  # a withdrawn GUID still answers, with its last metadata and the reason
    return JSONResponse(record_json(stored), status_code=status, headers={"ETag": etag(stored.revision), **headers})


def _invalid(field: str, reason: str) -> HTTPException:
    return HTTPException(
        422,
        detail={
            "code": "invalid",
            "message": "the record is not valid; fix every listed field",
            "problems": [{"field": field, "reason": reason}],
        },
    )


def _expected_revision(if_match: str | None, expected_revision: int | None) -> int | None:
    """The revision an edit was based on, from ``If-Match`` or ``?expected_revision``."""
    if expected_revision is not None:
        return expected_revision
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip()
    value = value.removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError:
        raise HTTPException(
            400,
            detail={
                "code": "bad_if_match",
                "message": f"If-Match {if_match!r} is not a revision ETag; send the ETag of your last GET, "
                'for example If-Match: "3"',
            },
        ) from None


@router.get("", summary="List datasets, a page at a time")
def list_datasets(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="datasets per page")] = 50,
    cursor: Annotated[str | None, Query(description="the next_cursor of the previous page")] = None,
    include_tombstones: bool = False,
) -> JSONResponse:
    store = _ctx(request).store
    page = store.page(limit=limit, cursor=cursor, include_tombstones=include_tombstones)
    next_url = None
    headers: dict[str, str] = {}
    if page.next_cursor:
        params: dict[str, Any] = {"limit": limit, "cursor": page.next_cursor}
        if include_tombstones:
            params["include_tombstones"] = "true"
        next_url = f"/api/datasets?{urlencode(params)}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    body = {
        "items": [record_json(s) for s in page.items],
        "next_cursor": page.next_cursor,
        "next": next_url,
        "total": store.count(include_tombstones=include_tombstones),
    }
    return JSONResponse(body, headers=headers)


@router.get("/{guid:path}/revisions/{number}", summary="One revision of a dataset, with its content then")
def get_revision(
    request: Request,
    guid: str,
    # Bounded: a number beyond any database integer reached the driver and answered 500 (found by schemathesis).
    number: Annotated[int, PathParam(ge=1, le=2**31 - 1, description="revision number, from 1")],
) -> dict[str, Any]:
    rev = _ctx(request).store.revision(guid, number)
    return {"guid": guid, **_revision_json(rev, with_dataset=True)}


@router.get("/{guid:path}/revisions", summary="The revision history of a dataset (who, what, when, why)")
def list_revisions(request: Request, guid: str) -> dict[str, Any]:
    revs = _ctx(request).store.revisions(guid)
    return {"guid": guid, "revisions": [_revision_json(r, with_dataset=False) for r in revs]}


@router.get("/{guid:path}", summary="One dataset (410 with its last metadata when tombstoned)")
def get_dataset(request: Request, guid: str) -> JSONResponse:
    return _record_response(visible(request, _ctx(request).store.get(guid)))


@router.post("", status_code=201, summary="Create a dataset (steward role required)")
def create_dataset(
    request: Request,
    dataset: Dataset,
    who: Steward,
    reason: Annotated[str | None, Query(description="why, kept in the revision history")] = None,
) -> JSONResponse:
    if dataset.guid:
        raise _invalid("guid", "the store assigns GUIDs on create; leave guid out, or PUT to update that GUID")
    store = _ctx(request).store
    result = store.save(dataset, actor=who.actor, activity="create", reason=reason)
    audit(request, who, "dataset.create", result.guid)
    stored = store.get(result.guid)
    return _record_response(stored, 201, Location=f"/api/datasets/{guid_path(result.guid)}")


@router.put("/{guid:path}", summary="Replace a dataset's metadata; send If-Match or expected_revision")
def update_dataset(
    request: Request,
    guid: str,
    dataset: Dataset,
    who: Steward,
    if_match: Annotated[str | None, Header(description='ETag of the revision you edited, e.g. "3"')] = None,
    expected_revision: Annotated[int | None, Query(ge=1)] = None,
    reason: Annotated[str | None, Query(description="why, kept in the revision history")] = None,
) -> JSONResponse:
    if dataset.guid and dataset.guid != guid:
        raise _invalid("guid", f"the body names {dataset.guid!r} but the URL names {guid!r}; they must agree")
    expected = _expected_revision(if_match, expected_revision)
    if expected is None and if_match is None:
        raise HTTPException(
            428,
            detail={
                "code": "precondition_required",
                "message": "say which revision you edited: send If-Match with the ETag of your GET "
                '(e.g. If-Match: "3") or ?expected_revision=3, so concurrent edits are not lost',
            },
        )
    store = _ctx(request).store
    store.get(guid)  # 404 before anything else: PUT never creates
    result = store.save(
        dataset.model_copy(update={"guid": guid}),
        actor=who.actor,
        activity="edit",
        reason=reason,
        expected_revision=expected,
    )
    audit(request, who, "dataset.edit", guid, detail={"status": result.status})
    stored = store.get(guid)
    response = _record_response(stored, 200)
    response.headers["X-Fairgate-Save-Status"] = result.status
    return response


@router.delete("/{guid:path}", summary="Tombstone a dataset: it keeps resolving (410) with the reason")
def delete_dataset(
    request: Request,
    guid: str,
    who: Steward,
    reason: Annotated[str, Query(min_length=1, description="why it is withdrawn; shown to everyone")],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    store = _ctx(request).store
    current = store.get(guid)
    expected = _expected_revision(if_match, None)
    if expected is not None and expected != current.revision:
        raise HTTPException(
            409,
            detail={
                "code": "stale_revision",
                "message": f"dataset {guid} is at revision {current.revision}, not {expected}: "
                "reload it and decide again",
            },
        )
    store.tombstone(guid, reason=reason, actor=who.actor)
    audit(request, who, "dataset.tombstone", guid, detail={"reason": reason})
    stored = store.get(guid)
    return JSONResponse(record_json(stored), status_code=200, headers={"ETag": etag(stored.revision)})
