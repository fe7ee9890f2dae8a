"""fairgate's OAI-PMH 2.0 provider at ``/oai``: the six verbs, ``oai_dc`` and ``oai_datacite``,
sets by publisher and by access route, ``from``/``until``, resumption tokens, and tombstones
as ``status="deleted"`` records (``deletedRecord`` is ``persistent``: GUIDs never die).

Records are walked in the store's insertion order; a resumption token carries the request's
arguments and the last row id seen, so it stays valid however long a harvester pauses and
pages never overlap. Metadata is made by :mod:`catalog.oai.metadata`. Read-only.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from catalog.ckan.package import slug
from catalog.context import Context
from catalog.dcat import dataset_iri
from catalog.oai.metadata import FORMATS, metadata
from catalog.search.attach import search_index
from catalog.search.query import SearchQuery
from catalog.store import StoredDataset
from schemas.langmap import text_in

router = APIRouter(tags=["oai-pmh"])

OAI = "http://www.openarchives.org/OAI/2.0/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
#: Records per ListRecords / ListIdentifiers response.
PAGE_SIZE = 100
_SCAN = 500  # rows read per store call while looking for members of a set
_ARGS = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
}
# A prefix, not the default namespace: registering "" would change how every other user of
# ElementTree in this process writes OAI elements (and ElementTree's per-call default namespace
# refuses the unqualified attributes OAI-PMH uses).
ET.register_namespace("oai", OAI)
ET.register_namespace("xsi", _XSI)


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _q(tag: str) -> str:
    return f"{{{OAI}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, _q(tag), attrs)
    if text is not None:
        el.text = text
    return el


def datestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- identifiers and sets -------------------------------------------------------------------


def oai_identifier(guid: str) -> str:
    """``oai:<prefix>:<uuid>`` for ``<prefix>/<uuid>`` (the oai-identifier scheme's shape)."""
    prefix, _, local = guid.partition("/")
    return f"oai:{prefix}:{local}"


def guid_of(identifier: str, prefix: str) -> str | None:
    head = f"oai:{prefix}:"
    return f"{prefix}/{identifier[len(head):]}" if identifier.startswith(head) else None


def set_specs(stored: StoredDataset) -> list[str]:
    ds = stored.dataset
    specs = []
    if ds.publisher is not None:
        specs.append(f"publisher:{slug(text_in(ds.publisher.name, 'en'))}")
    for route in ds.imaging.access_routes if ds.imaging else []:
        specs.append(f"access_route:{route}")
    return specs


def _sets(ctx: Context) -> list[tuple[str, str, dict[str, str]]]:
    """(setSpec, setName, labels) for every publisher and access route the catalog has."""
    facets = {f.name: f for f in search_index(ctx).search(SearchQuery(limit=1, facet_limit=200)).facets}
    out: list[tuple[str, str, dict[str, str]]] = [
        ("publisher", "Datasets by publisher", {"zh-Hant": "依發布者", "en": "Datasets by publisher"}),
        ("access_route", "Datasets by access route", {"zh-Hant": "依取用方式", "en": "Datasets by access route"}),
    ]
    for name in ("publisher", "access_route"):
        for v in facets[name].values if name in facets else []:
            spec = f"publisher:{slug(v.value)}" if name == "publisher" else f"access_route:{v.value}"
            labels = v.label or {"en": v.value}
            out.append((spec, labels.get("en") or v.value, labels))
    return out


def _in_set(stored: StoredDataset, spec: str | None) -> bool:
    if not spec:
        return True
    return any(s == spec or s.startswith(spec + ":") for s in set_specs(stored))


# --- arguments ------------------------------------------------------------------------------


@dataclass
class Listing:
    prefix: str
    set_spec: str | None = None
    low: datetime | None = None  # inclusive
    high: datetime | None = None  # exclusive
    after_id: int = 0
    cursor: int = 0
    size: int | None = None
    granularity_from: str = ""
    granularity_until: str = ""

    def token(self, after_id: int, cursor: int) -> str:
        blob = {
            "p": self.prefix,
            "s": self.set_spec,
            "f": self.low.isoformat() if self.low else None,
            "u": self.high.isoformat() if self.high else None,
            "a": after_id,
            "c": cursor,
            "n": self.size,
        }
        raw = json.dumps(blob, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> Listing:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return cls(
                prefix=str(data["p"]),
                set_spec=data["s"],
                low=datetime.fromisoformat(data["f"]) if data["f"] else None,
                high=datetime.fromisoformat(data["u"]) if data["u"] else None,
                after_id=int(data["a"]),
                cursor=int(data["c"]),
                size=data["n"],
            )
        except Exception as exc:
            raise OaiError(
                "badResumptionToken",
                "the resumption token is not one this repository handed out; start the list again without it",
            ) from exc


def _moment(value: str, name: str) -> tuple[datetime, str]:
    v = value.strip()
    try:
        if len(v) == 10:
            return datetime.strptime(v, "%Y-%m-%d").replace(tzinfo=UTC), "day"
        return datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), "second"
    except ValueError:
        raise OaiError(
            "badArgument", f"{name}={value!r} is not a UTC datestamp; write YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ"
        ) from None


def _listing(args: dict[str, str]) -> Listing:
    if "resumptionToken" in args:
        if len(args) > 2:  # verb + token: the token is exclusive
            raise OaiError("badArgument", "resumptionToken is an exclusive argument; send it alone with the verb")
        return Listing.from_token(args["resumptionToken"])
    prefix = args.get("metadataPrefix", "")
    if prefix not in FORMATS:
        raise OaiError(
            "cannotDisseminateFormat", f"metadataPrefix {prefix!r} is not offered; use one of: {', '.join(FORMATS)}"
        )
    listing = Listing(prefix=prefix, set_spec=args.get("set") or None)
    low_g = high_g = None
    if "from" in args:
        listing.low, low_g = _moment(args["from"], "from")
    if "until" in args:
        high, high_g = _moment(args["until"], "until")
        listing.high = high + (timedelta(days=1) if high_g == "day" else timedelta(seconds=1))
    if low_g and high_g and low_g != high_g:
        raise OaiError("badArgument", "from and until must have the same granularity (both days or both seconds)")
    if listing.low and listing.high and listing.low >= listing.high:
        raise OaiError("badArgument", "from is later than until; swap them")
    return listing


def _arguments(request: Request) -> dict[str, str]:
    items = list(request.query_params.multi_items())
    names = [k for k, _ in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if "verb" in repeated:
        raise OaiError("badVerb", "the verb argument is repeated; send exactly one verb")
    args = dict(items)
    verb = args.get("verb")
    if verb not in _ARGS:
        raise OaiError(
            "badVerb", f"verb {verb!r} is not an OAI-PMH verb; use one of: {', '.join(_ARGS)}"
            if verb else f"no verb was given; use one of: {', '.join(_ARGS)}"
        )
    if repeated:
        raise OaiError("badArgument", f"argument(s) {', '.join(repeated)} repeated; send each once")
    required, optional = _ARGS[verb]
    given = set(args) - {"verb"}
    unknown = given - required - optional
    if unknown:
        raise OaiError("badArgument", f"{verb} does not take {', '.join(sorted(unknown))}")
    missing = required - given
    if missing and not (verb.startswith("List") and "resumptionToken" in given):
        raise OaiError("badArgument", f"{verb} needs {', '.join(sorted(missing))}")
    return args


# --- verbs ------------------------------------------------------------------------------------


def _header(parent: ET.Element, stored: StoredDataset) -> None:
    header = _sub(parent, "header", **({"status": "deleted"} if stored.is_tombstone else {}))
    _sub(header, "identifier", oai_identifier(stored.guid))
    _sub(header, "datestamp", datestamp(stored.updated_at))
    for spec in set_specs(stored):
        _sub(header, "setSpec", spec)


def _record(parent: ET.Element, stored: StoredDataset, prefix: str, base_url: str) -> None:
    rec = _sub(parent, "record")
    _header(rec, stored)
    if not stored.is_tombstone:
        md = _sub(rec, "metadata")
        md.append(
            metadata(prefix, stored.dataset, stored.guid, dataset_iri(stored.guid, base_url), stored.created_at)
        )


def _identify(ctx: Context, body: ET.Element, base: str) -> None:
    s = ctx.settings
    ident = _sub(body, "Identify")
    _sub(ident, "repositoryName", f"{s.catalog_title_en} / {s.catalog_title_zh}")
    _sub(ident, "baseURL", base)
    _sub(ident, "protocolVersion", "2.0")
    _sub(ident, "adminEmail", s.oai_admin_email)
    earliest = ctx.store.earliest_change() or datetime.now(UTC)
    _sub(ident, "earliestDatestamp", datestamp(earliest))
    _sub(ident, "deletedRecord", "persistent")
    _sub(ident, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    desc = _sub(ident, "description")
    ET.register_namespace("oai-identifier", _ID_NS)
    oid = ET.SubElement(
        desc,
        f"{{{_ID_NS}}}oai-identifier",
        {f"{{{_XSI}}}schemaLocation": f"{_ID_NS} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"},
    )
    for tag, text in (
        ("scheme", "oai"),
        ("repositoryIdentifier", s.guid_prefix),
        ("delimiter", ":"),
        ("sampleIdentifier", f"oai:{s.guid_prefix}:6f1c2a52-8f3e-4f55-9a0e-2019091500aa"),
    ):
        ET.SubElement(oid, f"{{{_ID_NS}}}{tag}").text = text


def _get(ctx: Context, identifier: str) -> StoredDataset:
    guid = guid_of(identifier, ctx.store.guid_prefix)
    found = ctx.store.find(guid) if guid else None
    if found is None or found.is_unpublished:  # unpublished: not in any public feed
        raise OaiError(
            "idDoesNotExist",
            f"{identifier!r} is not an identifier of this repository; "
            f"they look like oai:{ctx.store.guid_prefix}:<uuid>",
        )
    return found


def _formats(ctx: Context, body: ET.Element, args: dict[str, str]) -> None:
    if "identifier" in args:
        _get(ctx, args["identifier"])
    el = _sub(body, "ListMetadataFormats")
    for fmt in FORMATS.values():
        f = _sub(el, "metadataFormat")
        _sub(f, "metadataPrefix", fmt.prefix)
        _sub(f, "schema", fmt.schema)
        _sub(f, "metadataNamespace", fmt.namespace)


def _list_sets(ctx: Context, body: ET.Element, args: dict[str, str]) -> None:
    if "resumptionToken" in args:
        raise OaiError("badResumptionToken", "ListSets answers in one response; ask again without a token")
    el = _sub(body, "ListSets")
    for spec, name, labels in _sets(ctx):
        s = _sub(el, "set")
        _sub(s, "setSpec", spec)
        _sub(s, "setName", name)
        if labels.get("zh-Hant") and labels.get("zh-Hant") != name:
            desc = _sub(s, "setDescription")
            dc = ET.SubElement(desc, "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc")
            title = ET.SubElement(dc, "{http://purl.org/dc/elements/1.1/}title")
            title.text = labels["zh-Hant"]
            title.set("{http://www.w3.org/XML/1998/namespace}lang", "zh-Hant")


def _page(ctx: Context, listing: Listing) -> tuple[list[StoredDataset], int | None]:
    """The next page of the listing and the row id to resume after (None at the end)."""
    store = ctx.store
    found: list[StoredDataset] = []
    after = listing.after_id
    batch = _SCAN if listing.set_spec else PAGE_SIZE + 1
    while True:
        rows = store.listing(
            after_id=after,
            limit=batch,
            modified_from=listing.low,
            modified_before=listing.high,
            include_tombstones=True,
        )
        for row_id, stored in rows:
            if _in_set(stored, listing.set_spec):
                if len(found) == PAGE_SIZE:
                    return found, after
                found.append(stored)
            after = row_id
        if len(rows) < batch:
            return found, None


def _list(ctx: Context, body: ET.Element, verb: str, args: dict[str, str], base_url: str) -> None:
    listing = _listing(args)
    if listing.set_spec and not any(listing.set_spec == s or s.startswith(listing.set_spec + ":")
                                    for s, _, _ in _sets(ctx)):
        raise OaiError("noRecordsMatch", f"no record is in set {listing.set_spec!r}; ListSets names the sets")
    if listing.size is None and not listing.set_spec and listing.after_id == 0:
        listing.size = ctx.store.count_listing(
            modified_from=listing.low, modified_before=listing.high, include_tombstones=True
        )
    records, resume = _page(ctx, listing)
    if not records and listing.after_id == 0:
        raise OaiError("noRecordsMatch", "no record matches these from/until/set arguments")
    el = _sub(body, verb)
    for stored in records:
        if verb == "ListRecords":
            _record(el, stored, listing.prefix, base_url)
        else:
            _header(el, stored)
    if resume is not None or listing.after_id:
        attrs = {"cursor": str(listing.cursor)}
        if listing.size is not None:
            attrs["completeListSize"] = str(listing.size)
        token = _sub(el, "resumptionToken", **attrs)
        if resume is not None:
            token.text = listing.token(resume, listing.cursor + len(records))


def _respond(
    request: Request, args: dict[str, str], error: OaiError | None, parts: list[ET.Element] | None = None
) -> Response:
    ctx = _ctx(request)
    base = f"{ctx.settings.base_url}/oai"
    root = ET.Element(
        _q("OAI-PMH"), {f"{{{_XSI}}}schemaLocation": f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"}
    )
    _sub(root, "responseDate", datestamp(datetime.now(UTC)))
    # The request element echoes the arguments only when they were valid (OAI-PMH 3.2).
    echo = {} if error is not None and error.code in ("badVerb", "badArgument") else args
    _sub(root, "request", base, **echo)
    if error is not None:
        _sub(root, "error", str(error), code=error.code)
    elif parts is not None:
        root.extend(parts)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="text/xml; charset=utf-8")


@router.get("/oai", summary="OAI-PMH 2.0 provider", response_class=Response)
@router.post("/oai", include_in_schema=False, response_class=Response)
async def oai(request: Request) -> Response:
    if request.method == "POST":
        form = await request.form()
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        request = _with_query(request, pairs)
    try:
        args = _arguments(request)
    except OaiError as exc:
        return _respond(request, {}, exc)
    ctx = _ctx(request)
    verb = args["verb"]
    base = f"{ctx.settings.base_url}/oai"

    def fill(root: ET.Element) -> None:
        if verb == "Identify":
            _identify(ctx, root, base)
        elif verb == "ListMetadataFormats":
            _formats(ctx, root, args)
        elif verb == "ListSets":
            _list_sets(ctx, root, args)
        elif verb == "GetRecord":
            prefix = args["metadataPrefix"]
            if prefix not in FORMATS:
                raise OaiError("cannotDisseminateFormat", f"metadataPrefix {prefix!r} is not offered; use one of: "
                               f"{', '.join(FORMATS)}")
            stored = _get(ctx, args["identifier"])
            _record(_sub(root, "GetRecord"), stored, prefix, ctx.settings.base_url)
        else:
            _list(ctx, root, verb, args, ctx.settings.base_url)

    # Verbs are answered into a scratch root first, so an error raised half-way leaves no partial body.
    scratch = ET.Element("scratch")
    try:
        fill(scratch)
    except OaiError as exc:
        return _respond(request, args, exc)
    return _respond(request, args, None, list(scratch))


def _with_query(request: Request, pairs: list[tuple[str, str]]) -> Request:
    scope = dict(request.scope)
    scope["query_string"] = urlencode(pairs).encode()
    return Request(scope, request.receive)
