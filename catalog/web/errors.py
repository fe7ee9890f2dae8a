"""Error pages every room shares: not signed in with the right role, a stale form, bad input."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from catalog.web.i18n import request_language, t
from catalog.web.rendering import render
from schemas.accounts import Role


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def forbidden_page(request: Request, roles: frozenset[Role]) -> Response:
    lang = request_language(request)
    names = t("or_word", lang).join(t(f"role_{r.value}", lang) for r in sorted(roles))
    return error_page(request, 403, t("needs_role", lang, roles=names))


def stale_form_page(request: Request) -> Response:
    return error_page(request, 403, t("stale_form", request_language(request)))
