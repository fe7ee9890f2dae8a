"""Croissant over HTTP: ``/dataset/{guid}.croissant.json``, and what ``/guid/{guid}`` answers to
``Accept: application/ld+json; profile="http://mlcommons.org/croissant/"``.

The description itself is made by :mod:`catalog.dcat.croissant`; this module picks it and
answers 410 (with the last metadata) for a tombstone, as the other representations do.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from catalog.api.visibility import visible
from catalog.context import Context
from catalog.dcat.croissant import MEDIA_TYPE, PROFILE, croissant
from catalog.store import StoredDataset

router = APIRouter(tags=["resolver"])


def wants_croissant(accept: str | None) -> bool:
    """Whether ``accept`` asks for JSON-LD in the Croissant profile (with a q above 0)."""
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() not in (MEDIA_TYPE, "application/json"):
            continue
        values = {k.strip().lower(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in params)}
        if values.get("profile", "").rstrip("/") + "/" == PROFILE and values.get("q", "1") not in ("0", "0.0"):
            return True
    return False


def croissant_response(stored: StoredDataset, base_url: str) -> Response:
    body = json.dumps(croissant(stored.dataset, stored.guid, base_url), ensure_ascii=False, indent=2)
    return Response(
        body,
        status_code=410 if stored.is_tombstone else 200,
        media_type=f'{MEDIA_TYPE}; profile="{PROFILE}"',
        headers={"ETag": f'"{stored.revision}-croissant"', "Vary": "Accept"},
    )


@router.get(
    "/dataset/{guid:path}.croissant.json",
    summary="One dataset as Croissant 1.0 (MLCommons) JSON-LD",
    response_class=Response,
)
def dataset_croissant(request: Request, guid: str) -> Response:
    ctx: Context = request.app.state.ctx
    return croissant_response(visible(request, ctx.store.get(guid)), ctx.settings.base_url)
