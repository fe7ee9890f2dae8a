"""The steward bearer token that guards every state-changing catalog route.

With no token configured the routes are switched off (503) rather than left open. The
steward's web pages sign in with the same token and then carry a session cookie derived
from it (never the token itself), so changing the token signs every browser out.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request

from catalog.context import Context

STEWARD = "steward"


def require_steward(request: Request) -> str:
    """FastAPI dependency: the caller's actor name, or an HTTP error saying what to send."""
    ctx: Context = request.app.state.ctx
    token = ctx.settings.steward_token
    if not token:
        raise HTTPException(
            503,
            detail={
                "code": "steward_token_not_configured",
                "message": "editing is switched off because no steward token is configured; "
                "set FAIRGATE_STEWARD_TOKEN on the server and send it as 'Authorization: Bearer <token>'",
            },
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_matches(given, token):
        raise HTTPException(
            401,
            detail={
                "code": "unauthorized",
                "message": "send the steward token as 'Authorization: Bearer <token>' "
                "(the value of FAIRGATE_STEWARD_TOKEN)",
            },
            headers={"WWW-Authenticate": 'Bearer realm="fairgate"'},
        )
    return STEWARD


SESSION_COOKIE = "fairgate_steward"


def session_value(token: str) -> str:
    """The cookie value that proves a browser signed in with ``token``."""
    return hmac.new(token.encode(), b"fairgate steward session v1", hashlib.sha256).hexdigest()


def csrf_value(token: str) -> str:
    """The hidden form value every steward form posts back (the cookie alone is not enough)."""
    return hmac.new(token.encode(), b"fairgate steward form v1", hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    # compare_digest keeps the comparison time independent of where the strings differ.
    return hmac.compare_digest(given.strip().encode(), token.encode())


def has_session(request: Request) -> bool:
    """Whether the browser carries a valid steward session (always false with no token configured)."""
    ctx: Context = request.app.state.ctx
    token = ctx.settings.steward_token
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return False
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())
