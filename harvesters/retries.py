"""Retrying network calls with exponential backoff, for every source that talks to a server.

Only transient failures are retried (connection problems, timeouts, HTTP 5xx and 429);
a 4xx answer is the server's final word and is raised at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")

#: Default policy: 4 attempts, waiting 0.5 s, 1 s, 2 s between them.
ATTEMPTS = 4
BACKOFF = 0.5


class RetryableHTTPStatus(Exception):
    """A server answered with a status worth retrying (5xx, 429)."""


def retry(
    call: Callable[[], T],
    *,
    retry_on: tuple[type[BaseException], ...],
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
) -> T:
    """Call ``call`` until it succeeds or ``attempts`` are spent; re-raise the last error."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except retry_on:
            if attempt == attempts:
                raise
            time.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def get(
    client: httpx.Client,
    url: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
) -> httpx.Response:
    """GET ``url`` with retries; returns a 2xx response or raises ``httpx.HTTPError``."""

    def once() -> httpx.Response:
        response = client.get(url, params=params, headers=headers)
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableHTTPStatus(f"{url} answered HTTP {response.status_code}")
        response.raise_for_status()
        return response

    try:
        return retry(once, retry_on=(httpx.TransportError, RetryableHTTPStatus), attempts=attempts, backoff=backoff)
    except RetryableHTTPStatus as exc:
        raise httpx.HTTPError(f"{exc} after {attempts} attempts") from exc


def describe(exc: BaseException, limit: int = 300) -> str:
    """A short readable reason for an exception (servers sometimes send whole pages back)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
