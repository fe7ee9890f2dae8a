"""Who is acting: the roles of fairgate's user accounts and the principal a request acts as.

Pure data: the catalog authenticates and builds a :class:`Principal`; ``consent`` and ``access``
read it (they never import ``catalog``).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    RESEARCHER = "researcher"
    STEWARD = "steward"
    REVIEWER = "reviewer"
    CHAIR = "chair"  # the review committee's chair: decides (approve, reject, return) and sees the queue
    ADMIN = "admin"


ROLES: tuple[Role, ...] = tuple(Role)


class Principal(BaseModel):
    """An authenticated caller: a user (signed in or through a personal token) or the bootstrap token.

    ``actor`` is the one string written to every audit record and revision: ``user:<id>`` or
    ``token:<id>`` (a personal token of that user), or ``steward-token`` (the settings' bootstrap token).
    """

    model_config = ConfigDict(frozen=True)

    kind: str  # "user" | "token" | "bootstrap"
    user_id: int | None = None
    token_id: int | None = None
    email: str | None = None
    display_name: str = ""
    institution: str = ""
    roles: frozenset[Role] = frozenset()

    @property
    def actor(self) -> str:
        if self.kind == "bootstrap":
            return "steward-token"
        if self.kind == "token":
            return f"token:{self.token_id}"
        return f"user:{self.user_id}"

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


BOOTSTRAP_STEWARD = Principal(kind="bootstrap", display_name="steward token", roles=frozenset({Role.STEWARD}))
