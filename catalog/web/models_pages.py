"""Pages of the AI-model entries: the public list (``/models``, text search in both languages and the
sharing-class facet) and model page (``/model/{guid}``), and the steward's form to record and edit one
(``/steward/models/new``, ``/steward/models/{guid}/edit``; steward role, CSRF, audited).

Thin: the form's mapping is :mod:`catalog.web.model_form`, the writes :class:`catalog.models.store.ModelStore`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from catalog.api.auth import STEWARD_ROLES, audit, csrf_token, page_form, page_steward
from catalog.api.visibility import sees_unpublished
from catalog.context import Context
from catalog.models.store import ModelStore, StoredModel, UnknownDatasets, models_of
from catalog.revision_diff import diff
from catalog.store import Conflict, NotFound
from catalog.web import model_form as mf
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render
from schemas.model import CHANNELS, CLASS_CHANNELS, SHARING_CLASSES, TASKS
from schemas.vocabularies import vocabulary

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 256 * 1024


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _models(request: Request) -> ModelStore:
    return models_of(_ctx(request))


def model_link(guid: str, tail: str = "") -> str:
    return f"/model/{quote(guid, safe='/')}{tail}"


def _edit_link(guid: str) -> str:
    return f"/steward/models/{quote(guid, safe='/')}/edit"


def _not_found(request: Request, message: str) -> Response:
    return render(request, "error.html", {"status": 404, "message": message}, status_code=404)


# --- public -------------------------------------------------------------------------------------------


@router.get("/models")
def model_list(request: Request, q: str = "", sharing_class: str = "") -> Response:
    klass = sharing_class if sharing_class in SHARING_CLASSES else None
    models = _models(request)
    items = models.search(text=q, sharing_class=klass)
    counts = models.class_counts(text=q)
    return render(
        request,
        "models.html",
        {
            "items": items,
            "q": q,
            "chosen": klass,
            "counts": counts,
            "classes": SHARING_CLASSES,
            "total": sum(counts.values()),
        },
    )


def _training(ctx: Context, stored: StoredModel) -> list[dict[str, Any]]:
    found = {s.guid: s for s in ctx.store.get_many(stored.model.training_datasets)}
    rows = []
    for guid in stored.model.training_datasets:
        ds = found.get(guid)
        shown = ds is not None and not ds.is_unpublished
        rows.append({"guid": guid, "title": ds.dataset.title if shown and ds else None})
    return rows


@router.get("/model/{guid:path}")
def model_page(request: Request, guid: str) -> Response:
    ctx = _ctx(request)
    stored = _models(request).find(guid)
    if stored is None:
        return _not_found(request, t("md_none", request_language(request)) + f" ({guid})")
    figures = []
    titles = {
        s.guid: s.dataset.title
        for s in ctx.store.get_many([p.dataset_guid for p in stored.model.performance if p.dataset_guid])
    }
    for fig in stored.model.performance:
        figures.append({"fig": fig, "title": titles.get(fig.dataset_guid or "")})
    return render(
        request,
        "model.html",
        {
            "stored": stored,
            "m": stored.model,
            "training": _training(ctx, stored),
            "figures": figures,
            "cite_as": f"{ctx.settings.base_url}/guid/{stored.guid}",
            "steward": sees_unpublished(request),
            "edit_link": _edit_link(stored.guid),
        },
        headers={"Link": f'<{ctx.settings.base_url}/guid/{stored.guid}>; rel="cite-as"'},
    )


# --- steward form ---------------------------------------------------------------------------------------


def _choices(lang: str) -> dict[str, list[tuple[str, str]]]:
    def of(name: str, codes: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
        v = vocabulary(name)
        return [(c, v.label(c, lang)) for c in codes]

    return {
        "sharing_class": of("model_sharing_class", SHARING_CLASSES),
        "channels": of("model_channel", CHANNELS),
        "task": of("model_task", TASKS),
        "modalities": of("modality", vocabulary("modality").codes()),
        "licence": of("licence", vocabulary("licence").codes()),
    }


def _form_page(
    request: Request,
    *,
    stored: StoredModel | None,
    values: mf.Values,
    errors: dict[str, str] | None = None,
    base_revision: int | None = None,
    reason: str = "",
    conflict: StoredModel | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    lang = request_language(request)
    shown = {name: t(msg, lang) if msg.startswith("md_err_") else msg for name, msg in (errors or {}).items()}
    view = {
        "stored": stored,
        "values": values,
        "errors": shown,
        "base_revision": base_revision,
        "reason": reason,
        "conflict": conflict,
        "saved": saved,
        "choices": _choices(lang),
        "class_channels": CLASS_CHANNELS,
        "langs": mf.FORM_LANGS,
        "figure_rows": mf.figure_rows(values),
        "action": _edit_link(stored.guid) if stored else "/steward/models/new",
        "csrf": csrf_token(request),
    }
    return render(request, "steward_model_form.html", view, status_code=status_code)


async def _posted(request: Request) -> tuple[list[tuple[str, str]], Response | None]:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        return [], render(request, "error.html", {"status": 413, "message": "413"}, status_code=413)
    form = await request.form(max_files=0, max_fields=2000)
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return items, None


def _unknown_errors(missing: list[str], values: mf.Values, lang: str) -> dict[str, str]:
    """The unknown GUIDs beside the fields that named them: the training list, or a figure's dataset."""
    errors: dict[str, str] = {}
    training = set(mf.model_data(values)[0]["training_datasets"])
    listed = [g for g in missing if g in training]
    if listed:
        errors["training_datasets"] = t("md_err_unknown_dataset", lang, guids=", ".join(listed))
    for i in range(mf.figure_rows(values)):
        named = str(values.get(f"perf-{i}-dataset") or "").strip()
        if named in missing:
            errors[f"perf-{i}-dataset"] = t("md_err_unknown_dataset", lang, guids=named)
    return errors


def _checked(request: Request, values: mf.Values) -> tuple[Any, dict[str, str]]:
    """The entry the form describes, or every message: pydantic's, and each unknown dataset GUID beside
    the field that named it (asked of the store even when other fields are wrong, so all show at once)."""
    model, errors = mf.parse(values)
    unknown = _models(request).unknown_guids([g for g in mf.named_datasets(values) if mf.looks_like_guid(g)])
    if unknown:
        errors = {**errors, **_unknown_errors(unknown, values, request_language(request))}
        model = None
    return model, errors


@router.get("/steward/models/new")
def new_form(request: Request) -> Response:
    page_steward(request)
    return _form_page(request, stored=None, values={"channels": [], "modalities": []})


@router.post("/steward/models/new")
async def create(request: Request) -> Response:
    page_steward(request)
    items, refused = await _posted(request)
    if refused is not None:
        return refused
    posted = dict(items)
    who = page_form(request, posted.get("csrf", ""), *STEWARD_ROLES)
    values = mf.values_of_form(items)
    reason = posted.get("reason", "").strip()
    if "add_figure" in posted:
        return _form_page(request, stored=None, values=values, reason=reason)
    model, errors = _checked(request, values)
    if model is None:
        return _form_page(request, stored=None, values=values, errors=errors, reason=reason, status_code=400)
    try:
        result = _models(request).save(model, actor=who.actor, reason=reason or None)
    except UnknownDatasets as exc:
        errors = _unknown_errors(exc.missing, values, request_language(request))
        return _form_page(request, stored=None, values=values, errors=errors, reason=reason, status_code=400)
    audit(request, who, "model.create", result.guid, detail={"revision": result.revision})
    return RedirectResponse(_edit_link(result.guid) + "?saved=1", status_code=303)


@router.get("/steward/models/{guid:path}/edit")
def edit_form(request: Request, guid: str, saved: int = 0) -> Response:
    page_steward(request)
    stored = _models(request).find(guid)
    if stored is None:
        return _not_found(request, t("md_none", request_language(request)) + f" ({guid})")
    values = mf.values_of_model(stored.model)
    return _form_page(request, stored=stored, values=values, base_revision=stored.revision, saved=bool(saved))


@router.post("/steward/models/{guid:path}/edit")
async def save_edit(request: Request, guid: str) -> Response:
    page_steward(request)
    items, refused = await _posted(request)
    if refused is not None:
        return refused
    posted = dict(items)
    who = page_form(request, posted.get("csrf", ""), *STEWARD_ROLES)
    models = _models(request)
    stored = models.find(guid)
    if stored is None:
        return _not_found(request, t("md_none", request_language(request)) + f" ({guid})")
    values = mf.values_of_form(items)
    reason = posted.get("reason", "").strip()
    base_text = posted.get("base_revision", "")
    base_revision = int(base_text) if base_text.isdigit() else stored.revision
    keep: dict[str, Any] = {"stored": stored, "values": values, "base_revision": base_revision, "reason": reason}
    if "add_figure" in posted:
        return _form_page(request, **keep)
    model, errors = _checked(request, values)
    if model is None:
        return _form_page(request, **keep, errors=errors, status_code=400)
    try:
        result = models.save(
            model.model_copy(update={"guid": guid}), actor=who.actor, reason=reason or None,
            expected_revision=base_revision,
        )  # fmt: skip
    except UnknownDatasets as exc:
        return _form_page(
            request, **keep, errors=_unknown_errors(exc.missing, values, request_language(request)), status_code=400
        )
    except Conflict:
        current = models.get(guid)
        audit(request, who, "model.edit.conflict", guid, detail={"base": base_revision, "current": current.revision})
        # The steward's text stays in the form; saving again now overwrites the newer revision knowingly.
        return _form_page(
            request, stored=current, values=values, base_revision=current.revision, reason=reason, conflict=current,
            status_code=409,
        )  # fmt: skip
    except NotFound:
        return _not_found(request, guid)
    audit(request, who, "model.edit", guid, detail={"revision": result.revision, "status": result.status})
    return RedirectResponse(_edit_link(guid) + "?saved=1", status_code=303)


@router.get("/steward/models/{guid:path}/history")
def history(request: Request, guid: str) -> Response:
    page_steward(request)
    models = _models(request)
    if models.find(guid) is None:
        return _not_found(request, t("md_none", request_language(request)) + f" ({guid})")
    revisions = models.revisions(guid)
    rows = []
    previous: dict[str, Any] = {}
    for rev in revisions:
        content = rev.model.content()
        rows.append({"rev": rev, "changes": diff(previous, content) if previous else []})
        previous = content
    return render(request, "steward_model_history.html", {"stored": models.get(guid), "rows": rows[::-1]})
