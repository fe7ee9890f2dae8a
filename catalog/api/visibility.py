"""Who may see an unpublished dataset: stewards and admins (signed in, or by bearer token) only.

Public routes call :func:`visible` on what they read; to anyone else an unpublished dataset is
answered as not found, exactly as a GUID that never existed (protocol feeds always do so).
"""

from __future__ import annotations

from fastapi import Request

from catalog.api.auth import STEWARD_ROLES, bearer_principal, session_principal
from catalog.changes import NotFound, StoredDataset


def sees_unpublished(request: Request) -> bool:
    """True when the caller is a steward or admin (session cookie or ``Authorization: Bearer``)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    principal = None
    if scheme.lower() == "bearer" and given:
        principal = bearer_principal(request.app.state.ctx, given)
    if principal is None:
        principal = session_principal(request)
    return principal is not None and principal.has_any(frozenset(STEWARD_ROLES))


def visible(request: Request, stored: StoredDataset) -> StoredDataset:
    """``stored``, unless it is unpublished and the caller is not a steward: then :class:`NotFound`."""
    if stored.is_unpublished and not sees_unpublished(request):
        raise NotFound(f"no dataset with GUID {stored.guid!r}; check the identifier or search the catalog")
    return stored
