"""CKAN ``package_search`` parameters (Solr-style ``fq``, ``sort``, ``facet.field``) read into
fairgate's own search terms. Pure: parsing only; what is unsupported is refused with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from harvesters.ckan import LICENSE_IRIS
from harvesters.upstream_values import parse_when

#: CKAN facet / fq field -> fairgate search facet. Our own facet names are accepted as they are.
CKAN_FIELDS: dict[str, str] = {
    "tags": "keyword",
    "organization": "publisher",
    "res_format": "format",
    "license_id": "license",
    "groups": "modality",
}
#: package_search's default facet fields (CKAN's ``search.facets`` default).
DEFAULT_FACETS = ("organization", "groups", "tags", "res_format", "license_id")
MAX_ROWS = 1000  # CKAN's ckan.search.rows_max default
_EPSILON = timedelta(microseconds=1)

_TERM = re.compile(
    r'\s*[+]?(?P<field>[A-Za-z_][A-Za-z0-9_.]*):'
    r'(?:"(?P<quoted>[^"]*)"|\((?P<group>[^)]*)\)|\[(?P<range>[^\]]*)\]|(?P<bare>[^\s"()\[\]]+))'
)


class CkanQueryError(ValueError):
    """The request cannot be answered as asked; CKAN answers these with 409 "Search Query Error"."""


@dataclass
class CkanQuery:
    q: str = ""
    #: fairgate facet -> values, any of which may match; CKAN field names already translated.
    filters: dict[str, list[str]] = field(default_factory=dict)
    #: ``metadata_modified:[low TO high]`` bounds (inclusive low, exclusive high; ``None`` open).
    modified_from: datetime | None = None
    modified_before: datetime | None = None
    sort: Literal["relevance", "newest", "title", "created"] = "relevance"
    rows: int = 10
    start: int = 0
    facet_fields: list[str] = field(default_factory=list)
    facet_limit: int = 50


def _values(m: re.Match[str]) -> list[str]:
    if m.group("quoted") is not None:
        return [m.group("quoted")]
    if m.group("group") is not None:
        parts = re.split(r"\s+OR\s+", m.group("group").strip())
        return [p.strip().strip('"') for p in parts if p.strip()]
    return [m.group("bare")]


def _when(text: str, where: str) -> datetime | None:
    t = text.strip()
    if t == "*":
        return None
    t = re.sub(r"(?i)NOW.*", "", t) or datetime.now(UTC).isoformat()
    parsed = parse_when(t)
    if parsed is None:
        raise CkanQueryError(f"{where}: {text!r} is not an ISO 8601 time such as 2024-01-31T00:00:00Z or *")
    if not isinstance(parsed, datetime):
        parsed = datetime(parsed.year, parsed.month, parsed.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_fq(fq: str, facets: set[str]) -> tuple[dict[str, list[str]], datetime | None, datetime | None]:
    """Read ``fq`` (terms ANDed: ``field:value``, ``field:"two words"``, ``field:(a OR b)``,
    ``metadata_modified:[low TO high]``) into facet filters and modification bounds."""
    filters: dict[str, list[str]] = {}
    low = high = None
    pos = 0
    text = fq.strip()
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None:
            rest = text[pos:].strip()
            if not rest:
                break
            raise CkanQueryError(
                f"fq: cannot read {rest[:60]!r}; write field:value terms such as tags:CT or "
                'organization:"some-org" (space-separated terms must all match)'
            )
        pos = m.end()
        name = m.group("field")
        if name == "metadata_modified":
            if m.group("range") is None:
                raise CkanQueryError("fq: metadata_modified takes a range such as [2024-01-01T00:00:00Z TO *]")
            lo, sep, hi = m.group("range").partition(" TO ")
            if not sep:
                raise CkanQueryError("fq: write the metadata_modified range as [low TO high]")
            low, high = _when(lo, "fq metadata_modified"), _when(hi, "fq metadata_modified")
            if high is not None:
                high = high + _EPSILON  # Solr's ] is inclusive
            continue
        if m.group("range") is not None:
            raise CkanQueryError(f"fq: ranges are supported on metadata_modified only, not on {name}")
        if name in ("dataset_type", "type"):  # ckanext-harvest sends +dataset_type:dataset
            if _values(m) != ["dataset"]:
                raise CkanQueryError(f"fq: {name} can only be dataset here (fairgate lists datasets only)")
            continue
        facet = CKAN_FIELDS.get(name, name)
        if facet not in facets:
            known = ", ".join([*CKAN_FIELDS, "metadata_modified", *sorted(facets)])
            raise CkanQueryError(f"fq: cannot filter on {name!r}; use one of: {known}")
        values = _values(m)
        if name == "license_id":
            values = [LICENSE_IRIS.get(v.lower(), v) for v in values]
        filters.setdefault(facet, []).extend(values)
    return filters, low, high


def parse_sort(sort: str | None) -> Literal["relevance", "newest", "title", "created"]:
    """CKAN sort text -> ``relevance`` | ``newest`` | ``title`` | ``created``."""
    s = re.sub(r"\s+", " ", (sort or "").strip().lower())
    if not s:
        return "relevance"
    first = s.split(",")[0].strip()
    if first in ("score desc", "rank desc", "relevance"):
        return "relevance"
    if first in ("metadata_modified desc",):
        return "newest"
    if first in ("title_string asc", "name asc", "title asc"):
        return "title"
    if first in ("metadata_created asc", "id asc", "metadata_modified asc"):
        return "created"
    raise CkanQueryError(
        f"sort {sort!r} is not supported; use one of: score desc, metadata_modified desc, "
        "title_string asc, name asc, metadata_created asc"
    )


def _int(params: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise CkanQueryError(f"{key}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise CkanQueryError(f"{key}: {value} must be between {low} and {high}")
    return value


def _facet_fields(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return list(DEFAULT_FACETS)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise CkanQueryError('facet.field must be a JSON list such as ["tags", "organization"]') from None
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise CkanQueryError('facet.field must be a JSON list such as ["tags", "organization"]')
    return list(raw)


def parse_params(params: dict[str, Any], facets: set[str]) -> CkanQuery:
    """A ``package_search`` data dict (GET parameters or POSTed JSON) as a :class:`CkanQuery`."""
    q = str(params.get("q") or "").strip()
    if q in ("*:*", "*"):
        q = ""
    fq = params.get("fq") or ""
    fq_list = params.get("fq_list") or []
    if isinstance(fq_list, str):
        fq_list = [fq_list]
    filters, low, high = parse_fq(" ".join([str(fq), *map(str, fq_list)]), facets)
    wants_facets = str(params.get("facet", "true")).lower() != "false"
    fields = _facet_fields(params.get("facet.field")) if wants_facets else []
    for name in fields:
        if CKAN_FIELDS.get(name, name) not in facets:
            raise CkanQueryError(f"facet.field: unknown field {name!r}; use one of: {', '.join(CKAN_FIELDS)}")
    return CkanQuery(
        q=q,
        filters={k: list(dict.fromkeys(v)) for k, v in filters.items()},
        modified_from=low,
        modified_before=high,
        sort=parse_sort(params.get("sort")),
        rows=_int(params, "rows", 10, 0, MAX_ROWS),
        start=_int(params, "start", 0, 0, 10_000_000),
        facet_fields=fields,
        facet_limit=_int(params, "facet.limit", 50, -1, 200),
    )

