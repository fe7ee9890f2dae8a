"""The steward's dataset workbench: list every dataset, create and edit one in a form built from the
canonical model, read its history with a field-by-field diff, publish, unpublish, tombstone, restore.

Thin: the form's mapping is ``catalog.web.dataset_form``, the diff ``catalog.revision_diff``, the
writes ``catalog.store``. Every route needs the steward (or admin) role, every form the session's
CSRF token, and every change is audited.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from catalog.api.auth import STEWARD_ROLES, audit, csrf_ok, csrf_token, page_steward, page_user
from catalog.context import Context
from catalog.revision_diff import diff
from catalog.store import Conflict, NotFound, StoredDataset, StoreError
from catalog.web import dataset_form as df
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render
from schemas.vocabularies import vocabulary

router = APIRouter(prefix="/steward/datasets", include_in_schema=False)

STATES = ("active", "unpublished", "tombstoned")
#: The largest form a browser may post here (a dataset form is a few kilobytes).
MAX_FORM_BYTES = 512 * 1024


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _page(request: Request, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
    return render(request, template, {**values, "csrf": csrf_token(request)}, status_code=status_code)


def _not_found(request: Request, message: str) -> Response:
    return render(request, "error.html", {"status": 404, "message": message}, status_code=404)


def _link(guid: str, tail: str = "") -> str:
    return f"/steward/datasets/{quote(guid, safe='/')}{tail}"


async def _posted(request: Request) -> tuple[list[tuple[str, str]], Response | None]:
    """The posted fields, or a refusal page when the body is too large or the CSRF token wrong."""
    page_user(request, *STEWARD_ROLES)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        return [], render(
            request, "error.html", {"status": 413, "message": t("wb_too_large", request_language(request))},
            status_code=413,
        )  # fmt: skip
    form = await request.form(max_files=0, max_fields=5000)
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    if not csrf_ok(request, dict(items).get("csrf", "")):
        from catalog.web.errors import stale_form_page

        return items, stale_form_page(request)
    return items, None


def _vocabs(lang: str) -> dict[str, list[tuple[str, str]]]:
    """Every picker's choices as ``(code, label)`` in the page's language."""
    out: dict[str, list[tuple[str, str]]] = {}
    for form_name, (vocab_name, _, _) in df.VOCAB_FIELDS.items():
        v = vocabulary(vocab_name)
        out[form_name] = [(c, v.label(c, lang)) for c in v.codes()]
    for form_name, vocab_name in df.SELECT_FIELDS.items():
        v = vocabulary(vocab_name)
        out[form_name] = [(c, v.label(c, lang)) for c in v.codes()]
    out["format"] = [(c, c) for c in vocabulary("file_type").codes()]
    return out


def _form_page(
    request: Request,
    *,
    stored: StoredDataset | None,
    values: df.Values,
    errors: dict[str, str] | None = None,
    base_revision: int | None = None,
    reason: str = "",
    conflict: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    lang = request_language(request)
    view = {
        "stored": stored,
        "values": values,
        "errors": errors or {},
        "base_revision": base_revision,
        "reason": reason,
        "conflict": conflict,
        "vocabs": _vocabs(lang),
        "langs": df.FORM_LANGS,
        "text_fields": list(df.TEXT_FIELDS),
        "long_text": df.LONG_TEXT,
        "vocab_fields": list(df.VOCAB_FIELDS),
        "dist_rows": df.row_count(values, "dist"),
        "contact_rows": df.row_count(values, "contact"),
        "portions": df.PORTIONS,
        "statuses": df.STATUSES,
        "action": _link(stored.guid, "/edit") if stored else "/steward/datasets/new",
        "states": STATES,
    }
    return _page(request, "steward_dataset_form.html", view, status_code)


# --- list -------------------------------------------------------------------------------------------


@router.get("")
def dataset_list(request: Request, q: str = "", state: str = "") -> Response:
    page_steward(request)
    chosen = state if state in STATES else ""
    items = _ctx(request).store.curation_list(text=q[:200], status=chosen or None)
    return _page(request, "steward_datasets.html", {"items": items, "q": q, "state": chosen, "states": STATES})


# --- create ---------------------------------------------------------------------------------------


@router.get("/new")
def new_form(request: Request) -> Response:
    page_steward(request)
    return _form_page(request, stored=None, values=df.values_from_dataset(None))


@router.post("/new")
async def create(request: Request) -> Response:
    items, refused = await _posted(request)
    if refused is not None:
        return refused
    who = page_steward(request)
    posted = dict(items)
    values = df.values_from_post(items)
    reason = posted.get("reason", "").strip()
    if posted.get("add") in df.BLOCKS:
        return _form_page(request, stored=None, values=df.add_row(values, posted["add"]), reason=reason)
    result = df.dataset_from_values(values)
    if result.dataset is None:
        return _form_page(request, stored=None, values=values, errors=result.errors, reason=reason, status_code=400)
    try:
        saved = _ctx(request).store.save(result.dataset, actor=who.actor, activity="create", reason=reason or None)
    except StoreError as exc:
        errors = {"title__zh-Hant": str(exc)}
        return _form_page(request, stored=None, values=values, errors=errors, reason=reason, status_code=400)
    audit(request, who, "dataset.create", saved.guid, detail={"revision": saved.revision})
    return RedirectResponse(_link(saved.guid, "/edit?saved=1"), status_code=303)


# --- edit -----------------------------------------------------------------------------------------


@router.get("/{guid:path}/edit")
def edit_form(request: Request, guid: str) -> Response:
    page_steward(request)
    stored = _ctx(request).store.find(guid)
    if stored is None:
        return _not_found(request, t("wb_no_dataset", request_language(request), guid=guid))
    return _form_page(
        request, stored=stored, values=df.values_from_dataset(stored.dataset), base_revision=stored.revision
    )


@router.post("/{guid:path}/edit")
async def save_edit(request: Request, guid: str) -> Response:
    items, refused = await _posted(request)
    if refused is not None:
        return refused
    who = page_steward(request)
    store = _ctx(request).store
    stored = store.find(guid)
    if stored is None:
        return _not_found(request, t("wb_no_dataset", request_language(request), guid=guid))
    posted = dict(items)
    values = df.values_from_post(items)
    reason = posted.get("reason", "").strip()
    base_text = posted.get("base_revision", "")
    base_revision = int(base_text) if base_text.isdigit() else stored.revision
    if posted.get("add") in df.BLOCKS:
        return _form_page(
            request, stored=stored, values=df.add_row(values, posted["add"]), base_revision=base_revision, reason=reason
        )
    try:
        base = store.revision(guid, base_revision).dataset
    except NotFound:
        base = stored.dataset
    result = df.dataset_from_values(values, base)
    if result.dataset is None:
        return _form_page(
            request, stored=stored, values=values, errors=result.errors, base_revision=base_revision,
            reason=reason, status_code=400,
        )  # fmt: skip
    mine = result.dataset.model_copy(update={"guid": guid})
    try:
        saved = store.save(
            mine, actor=who.actor, activity="edit", reason=reason or None, expected_revision=base_revision
        )
    except Conflict:
        current = store.get(guid)
        conflict = {
            "theirs": current,
            "changes": diff(current.dataset.content(), mine.content()),
        }
        audit(request, who, "dataset.edit.conflict", guid, detail={"base": base_revision, "current": current.revision})
        # The steward's text stays in the form; saving again now overwrites the newer revision knowingly.
        return _form_page(
            request, stored=current, values=values, base_revision=current.revision, reason=reason,
            conflict=conflict, status_code=409,
        )  # fmt: skip
    except StoreError as exc:
        return _form_page(
            request, stored=stored, values=values, errors={"title__zh-Hant": str(exc)}, base_revision=base_revision,
            reason=reason, status_code=400,
        )  # fmt: skip
    audit(request, who, "dataset.edit", guid, detail={"revision": saved.revision, "status": saved.status})
    return RedirectResponse(_link(guid, "/edit?saved=1"), status_code=303)


# --- history ----------------------------------------------------------------------------------------


@router.get("/{guid:path}/history")
def history(request: Request, guid: str, a: int | None = None, b: int | None = None) -> Response:
    page_steward(request)
    store = _ctx(request).store
    stored = store.find(guid)
    if stored is None:
        return _not_found(request, t("wb_no_dataset", request_language(request), guid=guid))
    revisions = store.revisions(guid)
    numbers = [r.number for r in revisions]
    newest = numbers[-1]
    right = b if b in numbers else newest
    left = a if a in numbers else max(1, right - 1)
    by_number = {r.number: r for r in revisions}
    changes = diff(by_number[left].dataset.content(), by_number[right].dataset.content()) if left != right else []
    values = {
        "stored": stored,
        "revisions": revisions[::-1],
        "left": left,
        "right": right,
        "changes": changes,
        "numbers": numbers,
    }
    return _page(request, "steward_dataset_history.html", values)


# --- publication state --------------------------------------------------------------------------------


@router.post("/{guid:path}/state")
async def change_state(request: Request, guid: str) -> Response:
    items, refused = await _posted(request)
    if refused is not None:
        return refused
    who = page_steward(request)
    store = _ctx(request).store
    stored = store.find(guid)
    lang = request_language(request)
    if stored is None:
        return _not_found(request, t("wb_no_dataset", lang, guid=guid))
    posted = dict(items)
    action = posted.get("action", "")
    reason = posted.get("reason", "").strip()[:2000]
    if action == "tombstone" and not reason:
        values = df.values_from_dataset(stored.dataset)
        return _form_page(
            request, stored=stored, values=values, base_revision=stored.revision,
            errors={"state_reason": t("wb_reason_needed", lang)}, status_code=400,
        )  # fmt: skip
    try:
        if action == "publish":
            store.publish(guid, actor=who.actor, reason=reason or None)
        elif action == "unpublish":
            store.unpublish(guid, actor=who.actor, reason=reason or None)
        elif action == "tombstone":
            store.tombstone(guid, reason=reason, actor=who.actor)
        elif action == "restore":
            store.restore(guid, actor=who.actor, reason=reason or None)
        else:
            return render(request, "error.html", {"status": 400, "message": t("wb_bad_action", lang)}, status_code=400)
    except StoreError as exc:
        return render(request, "error.html", {"status": 409, "message": str(exc)}, status_code=409)
    audit(request, who, f"dataset.{action}", guid, detail={"reason": reason or None})
    return RedirectResponse(_link(guid, "/edit?state=1"), status_code=303)
