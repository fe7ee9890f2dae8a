"""A tiny ASGI app for the serving tests: answers every request with the worker's process id."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def _pid(_: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))


def create() -> Starlette:
    return Starlette(routes=[Route("/pid", _pid)])
