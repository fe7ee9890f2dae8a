"""The steward's consent workbench pages: upload a consent file (preview, then confirm), record a paper
form for one person, read the notice report and the ledger's verify status.

Thin views over :mod:`consent.workbench` and the registry (the same calls as ``fairgate consent …``).
Every page needs a signed-in steward (or admin); every form carries the session's CSRF token; every
action is audited in the catalog's audit log (who, what, from where), beside the registry's own audit.
A national id typed into the paper form is pseudonymised at once and never re-displayed.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from catalog.api.auth import STEWARD_ROLES, audit, csrf_ok, csrf_token, page_form, page_steward
from catalog.context import Context
from catalog.store import Store
from catalog.web.errors import error_page, stale_form_page
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render
from catalog.web.report_chart import SERIES, chart_of
from consent import workbench as wb
from consent.api import registry_for
from consent.audit import Actor
from consent.errors import BulkValidationError, ConsentError, NotFound
from consent.registry import ConsentRegistry
from schemas.accounts import Principal

router = APIRouter(prefix="/steward/consent", include_in_schema=False)

#: At most this many bad rows are listed on the page; all of them are in the rejects download.
SHOWN_PROBLEMS = 500
_CHUNK = 1024 * 1024
#: Room for the multipart envelope and the other fields around the file.
_ENVELOPE = 64 * 1024


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _registry(request: Request) -> ConsentRegistry:
    return registry_for(_ctx(request).settings)


def _actor(request: Request, who: Principal) -> Actor:
    return Actor(who.actor)


def _uploads(request: Request) -> Any:
    return wb.uploads_folder(_ctx(request).settings.data_dir)


class _CatalogDatasets:
    """The catalog's live datasets, looked up as the file names them (a file names few)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: dict[str, bool] = {}

    def __contains__(self, guid: object) -> bool:
        if not isinstance(guid, str):
            return False
        if guid not in self.seen:
            found = self.store.find(guid)
            self.seen[guid] = found is not None and found.status == "active"
        return self.seen[guid]


def _page(request: Request, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
    return render(request, template, {**values, "csrf": csrf_token(request)}, status_code=status_code)


def _kinds() -> list[dict[str, Any]]:
    return [{"value": k.value, "columns": wb.SPECS[k].columns} for k in wb.UploadKind]


# --- upload, preview, confirm -----------------------------------------------------------------------


@router.get("")
def consent_home(request: Request) -> Response:
    page_steward(request)
    return RedirectResponse("/steward/consent/upload", status_code=303)


def _upload_page(request: Request, error: str | None = None, kind: str = "", status_code: int = 200) -> Response:
    values = {"kinds": _kinds(), "error": error, "chosen": kind, "max_bytes": _ctx(request).settings.max_upload_bytes}
    return _page(request, "steward_consent_upload.html", values, status_code)


@router.get("/upload")
def upload_page(request: Request) -> Response:
    page_steward(request)
    return _upload_page(request)


@router.post("/upload")
async def upload(request: Request) -> Response:
    # The body is read only after the role is checked and the declared size is within the limit.
    who = page_steward(request)
    lang = request_language(request)
    limit = _ctx(request).settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _ENVELOPE:
        audit(request, who, "consent.upload.refused", detail={"reason": "too_large"})
        return _upload_page(request, t("cwb_refused_too_large", lang, limit=f"{limit:,}"), status_code=413)
    form = await request.form(max_files=1, max_fields=4)
    try:
        if not csrf_ok(request, str(form.get("csrf", ""))):
            return stale_form_page(request)
        kind_text = str(form.get("kind", ""))
        file = form.get("file")
        if kind_text not in {k.value for k in wb.UploadKind}:
            return _upload_page(request, t("cwb_choose_kind", lang), kind_text, status_code=400)
        if not isinstance(file, UploadFile) or not file.filename:
            return _upload_page(request, t("cwb_choose_file", lang), kind_text, status_code=400)
        kind = wb.UploadKind(kind_text)

        def chunks() -> Any:
            while block := file.file.read(_CHUNK):
                yield block

        try:
            stored = await run_in_threadpool(
                wb.store_upload, _uploads(request), kind, file.filename, file.content_type, chunks(), limit, who.actor
            )
        except wb.UploadRefused as exc:
            audit(request, who, "consent.upload.refused", kind.value, detail={"reason": exc.code})
            message = t(f"cwb_refused_{exc.code}", lang, limit=f"{limit:,}")
            return _upload_page(request, message, kind_text, status_code=413 if exc.code == "too_large" else 400)
    finally:
        await form.close()
    audit(request, who, "consent.upload", stored.upload_id, detail={"kind": kind.value, "file": stored.filename})
    return RedirectResponse(f"/steward/consent/upload/{stored.upload_id}", status_code=303)


def _open(request: Request, who: Principal, upload_id: str) -> wb.Upload:
    return wb.open_upload(_uploads(request), upload_id, who.actor)


def _gone(request: Request, exc: ConsentError) -> Response:
    lang = request_language(request)
    return error_page(request, 404, t("cwb_upload_gone", lang) if isinstance(exc, NotFound) else str(exc))


def _preview_page(request: Request, upload: wb.Upload, found: wb.Preview, status_code: int = 200) -> Response:
    values = {
        "upload": upload,
        "preview": found,
        "problems": found.problems[:SHOWN_PROBLEMS],
        "more_problems": max(0, len(found.problems) - SHOWN_PROBLEMS),
        "columns": wb.SPECS[upload.kind].columns,
    }
    return _page(request, "steward_consent_preview.html", values, status_code)


@router.get("/upload/{upload_id}")
async def preview_page(request: Request, upload_id: str) -> Response:
    who = page_steward(request)
    try:
        upload = _open(request, who, upload_id)
    except NotFound as exc:
        return _gone(request, exc)
    datasets = _CatalogDatasets(_ctx(request).store)
    found = await run_in_threadpool(wb.preview, _registry(request), upload, datasets)
    audit(
        request,
        who,
        "consent.upload.preview",
        upload_id,
        detail={"kind": upload.kind.value, "rows": found.rows, "bad_rows": found.bad_rows, **found.counts},
    )
    return _preview_page(request, upload, found)


@router.get("/upload/{upload_id}/rejects.csv")
async def rejects(request: Request, upload_id: str) -> Response:
    who = page_steward(request)
    try:
        upload = _open(request, who, upload_id)
    except NotFound as exc:
        return _gone(request, exc)
    data = await run_in_threadpool(wb.rejects_csv, _registry(request), upload, _CatalogDatasets(_ctx(request).store))
    audit(request, who, "consent.upload.rejects", upload_id)
    name = upload.filename.removesuffix(".csv") + ".rejects.csv"
    return Response(
        data, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post("/upload/{upload_id}/commit")
async def commit(request: Request, upload_id: str, csrf: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    try:
        upload = _open(request, who, upload_id)
    except NotFound as exc:
        return _gone(request, exc)
    registry = _registry(request)
    datasets = _CatalogDatasets(_ctx(request).store)
    try:
        done = await run_in_threadpool(wb.commit, registry, upload, who.actor, datasets)
    except BulkValidationError:
        # The registry moved since the preview (or the file did not pass): nothing was written; show why.
        found = await run_in_threadpool(wb.preview, registry, upload, datasets)
        audit(request, who, "consent.upload.commit.refused", upload_id, detail={"bad_rows": found.bad_rows})
        return _preview_page(request, upload, found, status_code=409)
    except NotFound as exc:
        return _gone(request, exc)
    except ConsentError as exc:
        return error_page(request, 400, str(exc))
    if not done.letters:
        wb.discard(upload)
    audit(request, who, "consent.upload.commit", upload_id, detail={**asdict(done), "kind": done.kind.value})
    return _page(request, "steward_consent_done.html", {"upload": upload, "done": done})


@router.post("/upload/{upload_id}/cancel")
def cancel(request: Request, upload_id: str, csrf: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    try:
        upload = _open(request, who, upload_id)
    except NotFound as exc:
        return _gone(request, exc)
    wb.discard(upload)
    audit(request, who, "consent.upload.cancel", upload_id)
    return RedirectResponse("/steward/consent/upload", status_code=303)


@router.post("/upload/{upload_id}/letters")
def letters(request: Request, upload_id: str, csrf: str = Form("")) -> Response:
    """The letter merge with access codes: a POST (it is taken once, then deleted)."""
    who = page_form(request, csrf, *STEWARD_ROLES)
    try:
        upload = _open(request, who, upload_id)
        data = wb.take_letters(upload)
    except NotFound as exc:
        return error_page(
            request, 404, t("cwb_letters_gone", request_language(request)) if "letter" in str(exc) else str(exc)
        )
    audit(request, who, "consent.letters.download", upload_id)
    name = upload.filename.removesuffix(".csv") + ".merge.csv"
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# --- a paper form for one person --------------------------------------------------------------------


def _record_page(request: Request, form: dict[str, str], errors: dict[str, str], status_code: int = 200) -> Response:
    lang = request_language(request)
    values = {
        # The national id is never sent back to the browser, even when the form is shown again.
        "form": {k: v for k, v in form.items() if k != "national_id"},
        "errors": {k: t(f"cwb_err_{code}", lang) for k, code in errors.items()},
        "choices": [k.value for k in wb.PAPER_CHOICES],
    }
    return _page(request, "steward_consent_record.html", values, status_code)


@router.get("/record")
def record_page(request: Request) -> Response:
    page_steward(request)
    return _record_page(request, {}, {})


@router.post("/record")
def record(
    request: Request,
    csrf: str = Form(""),
    national_id: str = Form(""),
    dataset: str = Form(""),
    choice: str = Form(""),
    signed_on: str = Form(""),
    evidence: str = Form(""),
) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    registry = _registry(request)
    typed = wb.PaperForm(national_id, dataset, choice, signed_on, evidence)
    wanted, errors = wb.paper_request(registry, typed, who.actor)
    shown = {"dataset": dataset, "choice": choice, "signed_on": signed_on, "evidence": evidence}
    if wanted is None:
        audit(request, who, "consent.paper.refused", detail={"fields": sorted(errors)})
        return _record_page(request, shown, errors, status_code=400)
    try:
        (stored,) = registry.append([wanted])
    except ConsentError:
        audit(request, who, "consent.paper.refused", detail={"fields": ["choice"]})
        return _record_page(request, shown, {"choice": "refused"}, status_code=400)
    audit(
        request,
        who,
        "consent.paper.record",
        stored.event_id,
        subject=stored.subject,
        detail={"kind": stored.kind.value, "dataset": stored.scope_dataset, "evidence": stored.evidence},
    )
    return RedirectResponse(f"/steward/consent/record/{stored.event_id}", status_code=303)


@router.get("/record/{event_id}")
def recorded(request: Request, event_id: str) -> Response:
    who = page_steward(request)
    event = _registry(request).event(event_id[:64], _actor(request, who))
    if event is None:
        return error_page(request, 404, t("cwb_event_unknown", request_language(request)))
    audit(request, who, "consent.event.view", event.event_id, subject=event.subject)
    return _page(request, "steward_consent_recorded.html", {"event": event})


# --- the notice report and the ledger's status --------------------------------------------------------


@router.get("/report")
def report_page(request: Request) -> Response:
    who = page_steward(request)
    registry = _registry(request)
    rows = registry.report(_actor(request, who))
    status = wb.ledger_status(registry)
    audit(request, who, "consent.report.view")
    values = {"rows": rows, "chart": chart_of(rows), "series": SERIES, "ledger": status}
    return _page(request, "steward_consent_report.html", values)


@router.get("/report.csv")
def report_csv(request: Request) -> Response:
    who = page_steward(request)
    rows = _registry(request).report(_actor(request, who))
    audit(request, who, "consent.report.download")
    return Response(
        wb.report_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="notice-report.csv"'},
    )


@router.post("/verify")
async def verify(request: Request, csrf: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    found = await run_in_threadpool(wb.verify_now, _registry(request), _actor(request, who))
    audit(request, who, "consent.ledger.verify", detail={"ok": found.ok, "events": found.events})
    return RedirectResponse("/steward/consent/report#ledger", status_code=303)
