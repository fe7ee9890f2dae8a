"""The steward bearer token that guards every state-changing catalog route.

With no token configured the routes are switched off (503) rather than left open.
"""

from __future__ import annotations

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
    # compare_digest keeps the comparison time independent of where the strings differ.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
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
