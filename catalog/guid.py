"""GUID minting: ``<prefix>/<uuid>``; harvested records get ``uuid5(source GUID, upstream id)``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

_GUID = re.compile(r"^[A-Za-z0-9._-]+/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def mint(prefix: str) -> str:
    """A new random GUID under ``prefix``."""
    return f"{prefix}/{uuid.uuid4()}"


def derive(prefix: str, source_guid: str, upstream_id: str) -> str:
    """The GUID of ``upstream_id`` harvested from ``source_guid``: the same on every run."""
    return deriver(prefix, source_guid)(upstream_id)


def deriver(prefix: str, source_guid: str) -> Callable[[str], str]:
    """:func:`derive` for many records of one source (a harvest batch): the source GUID is
    checked and parsed once, not once per record."""
    namespace = uuid.UUID(uuid_part(source_guid))
    return lambda upstream_id: f"{prefix}/{uuid.uuid5(namespace, upstream_id)}"


def uuid_part(guid: str) -> str:
    if not is_guid(guid):
        raise ValueError(f"{guid!r} is not a fairgate GUID of the form <prefix>/<uuid>")
    return guid.rsplit("/", 1)[1]


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))
