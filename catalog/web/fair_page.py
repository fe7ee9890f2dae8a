"""The stewards' catalog-wide FAIR report page (``/fair``): a thin view over
:func:`catalog.api.fair.report`; it changes nothing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from catalog.api.fair import report
from catalog.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/fair")
def fair_report_page(request: Request) -> Response:
    return render(request, "fair_report.html", {"report": report(request.app.state.ctx)})
