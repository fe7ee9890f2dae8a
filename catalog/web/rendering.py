"""Jinja2 set-up for the server-rendered pages: the environment, its language-aware helpers, ``render``.

Templates get the request's interface language as ``lang`` and pick record text with ``txt``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context as JinjaContext
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from catalog.api.auth import csrf_token, session_principal
from catalog.api.datasets import guid_path
from catalog.web.i18n import (
    HTML_LANG,
    LANG_COOKIE,
    LANGUAGE_NAMES,
    LANGUAGES,
    data_language_label,
    normalise_language,
    request_language,
    t,
)
from schemas import text_in, vocabulary

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"
_ONE_YEAR = 365 * 24 * 3600


@pass_context
def _tr(ctx: JinjaContext, key: str, **values: object) -> str:
    return t(key, ctx["lang"], **values)


@pass_context
def _txt(ctx: JinjaContext, value: dict[str, str] | None) -> str:
    return text_in(value or {}, ctx["lang"])


@pass_context
def _other_txt(ctx: JinjaContext, value: dict[str, str] | None) -> str:
    """The text in the other interface language, or '' when it says nothing new."""
    value = value or {}
    other = next(x for x in LANGUAGES if x != ctx["lang"])
    mine = text_in(value, ctx["lang"])
    theirs = value.get(other, "")
    return theirs if theirs and theirs != mine else ""


@pass_context
def _language_labels(ctx: JinjaContext, codes: list[str]) -> str:
    return ", ".join(data_language_label(c, ctx["lang"]) for c in codes)


@pass_context
def _vlabel(ctx: JinjaContext, code: str, vocab: str) -> str:
    """A vocabulary code (or an IRI of it) as a label in the page language."""
    v = vocabulary(vocab)
    if "://" in code:
        found = v.code_for_iri(code)
        if found is None:
            return code
        code = found
    return v.label(code, ctx["lang"])


def _num(value: int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _fmt_date(value: date | datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _bytes(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return str(value)  # pragma: no cover - loop always returns


def _json_script(value: Any) -> Markup:
    """JSON safe to put inside ``<script>``: no way to close the element from the data."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


@pass_context
def _url_with(ctx: JinjaContext, **params: Any) -> str:
    """The current page's URL with some query parameters replaced (``None`` drops one)."""
    request: Request = ctx["request"]
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in params]
    items += [(k, str(v)) for k, v in params.items() if v is not None]
    query = urlencode(items)
    return request.url.path + (f"?{query}" if query else "")


def _make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        tr=_tr,
        txt=_txt,
        other_txt=_other_txt,
        vlabel=_vlabel,
        language_labels=_language_labels,
        url_with=_url_with,
        guid_path=guid_path,
        LANGUAGES=LANGUAGES,
        LANGUAGE_NAMES=LANGUAGE_NAMES,
        HTML_LANG=HTML_LANG,
    )
    env.filters.update(num=_num, fmt_date=_fmt_date, bytes=_bytes, json_script=_json_script)
    return env


ENVIRONMENT = _make_environment()


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    lang: str | None = None,
) -> HTMLResponse:
    """Render template ``name`` in the request's language (or ``lang``, which a room such as the portal keeps
    itself); remember an explicit ``?lang=`` choice."""
    lang = lang or request_language(request)
    settings = request.app.state.ctx.settings
    viewer = session_principal(request)
    values = {
        "request": request,
        "lang": lang,
        "viewer": viewer,
        "viewer_csrf": csrf_token(request) if viewer is not None else "",
        "site_title": settings.catalog_title_zh if lang == "zh-Hant" else settings.catalog_title_en,
        **(context or {}),
    }
    html = ENVIRONMENT.get_template(name).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    chosen = normalise_language(request.query_params.get("lang"))
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=_ONE_YEAR, samesite="lax", httponly=True)
    return response
