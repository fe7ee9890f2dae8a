"""The steward's upload import: a file of dataset descriptions is parsed and previewed (what it would
create or change, the SHACL report), and written only when the steward confirms.

Thin: parsing and keeping the upload is ``catalog.upload_import``; writing is one ``Store.save_many``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from catalog.api.auth import STEWARD_ROLES, audit, csrf_token, page_form, page_steward
from catalog.context import Context
from catalog.store import NewRecord, content_hash
from catalog.upload_import import (
    MAX_UPLOAD_BYTES,
    UploadError,
    discard,
    keep,
    parse_upload,
    read,
    upload_source_guid,
)
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render
from schemas import Dataset

router = APIRouter(prefix="/steward/import", include_in_schema=False)


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _folder(request: Request) -> Path:
    return Path(_ctx(request).settings.data_dir) / "imports"


def _page(request: Request, values: dict[str, Any], status_code: int = 200) -> Response:
    return render(
        request, "steward_import.html", {"error": None, "preview": None, **values, "csrf": csrf_token(request)},
        status_code=status_code,
    )  # fmt: skip


def _plan(request: Request, datasets: dict[str, Dataset]) -> list[dict[str, Any]]:
    """For each uploaded dataset: the GUID it gets and whether it would be created, changed or unchanged."""
    store = _ctx(request).store
    rows = []
    for upstream_id, ds in datasets.items():
        guid = store.derive_guid(upload_source_guid(store.guid_prefix), upstream_id)
        found = store.find(guid)
        if found is None:
            what = "create"
        elif found.content_hash == content_hash(ds.content()) and found.status == "active":
            what = "unchanged"
        else:
            what = "change"
        rows.append({"id": upstream_id, "guid": guid, "title": ds.title, "what": what})
    return rows


@router.get("")
def import_form(request: Request) -> Response:
    page_steward(request)
    return _page(request, {})


@router.post("")
async def preview(request: Request, csrf: str = Form(""), file: UploadFile | None = File(None)) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    lang = request_language(request)
    if file is None or not file.filename:
        return _page(request, {"error": t("wb_import_no_file", lang)}, status_code=400)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    try:
        parsed = parse_upload(file.filename, data)
    except UploadError as exc:
        return _page(request, {"error": str(exc)}, status_code=400)
    token = keep(_folder(request), parsed)
    audit(request, who, "dataset.import.preview", parsed.filename, detail={"datasets": len(parsed.datasets)})
    values = {"preview": {"token": token, "parsed": parsed, "plan": _plan(request, parsed.datasets)}}
    return _page(request, values)


@router.post("/confirm")
def confirm(request: Request, csrf: str = Form(""), token: str = Form(""), cancel: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    lang = request_language(request)
    folder = _folder(request)
    kept = read(folder, token)
    if kept is None:
        return _page(request, {"error": t("wb_import_gone", lang)}, status_code=404)
    filename, datasets = kept
    if cancel:
        discard(folder, token)
        return RedirectResponse("/steward/import", status_code=303)
    store = _ctx(request).store
    source = upload_source_guid(store.guid_prefix)
    records = [
        NewRecord(ds.model_copy(update={"guid": store.derive_guid(source, upstream_id)}), upstream_id)
        for upstream_id, ds in datasets.items()
    ]
    results = store.save_many(records, actor=who.actor, activity="import", reason=f"upload {filename}")
    discard(folder, token)
    counts = {s: sum(r.status == s for r in results) for s in ("created", "updated", "unchanged", "restored")}
    audit(request, who, "dataset.import", filename, detail=counts)
    return RedirectResponse(f"/steward/datasets?imported={sum(counts.values())}", status_code=303)
