"""DCAT RDF source: fetch documents over HTTP (Turtle, RDF/XML, JSON-LD, N-Triples) and follow hydra paging.

The syntax is chosen by Content-Type, then by the URL's extension, then by sniffing. A page
that does not parse is one failed record (with its line) and leaves a gap, so a full run
withdraws nothing; a repeated page ends the paging. SHACL violations of each dataset's input
become its quality notes (:mod:`harvesters.quality`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
from rdflib import BNode, Graph, URIRef

from harvesters import retries
from harvesters.base import HarvestedRecord, RecordError, SourceError, failed
from harvesters.dcat_parse import RdfParseError, load_graph, normalise_format, parse_graph

_EXTENSIONS = {".ttl": "turtle", ".rdf": "xml", ".xml": "xml", ".owl": "xml", ".jsonld": "json-ld", ".nt": "nt"}
_ACCEPT = "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.8, application/n-triples;q=0.7, */*;q=0.1"


def format_of(content_type: str | None, url: str) -> str | None:
    """The rdflib format for a response, or None to sniff the content."""
    if content_type:
        try:
            return normalise_format(content_type)
        except ValueError:
            pass  # text/plain, application/octet-stream, …: try the extension
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    for ext, fmt in _EXTENSIONS.items():
        if path.endswith(ext):
            return fmt
    return None


class DcatRdfSource:
    """One or more pages of DCAT RDF starting at ``url``."""

    kind = "dcat"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        attempts: int = retries.ATTEMPTS,
        backoff: float = retries.BACKOFF,
        shacl: bool = True,
        max_pages: int = 100_000,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.shacl = shacl
        self.max_pages = max_pages

    def records(self, since: datetime | None = None) -> Iterator[HarvestedRecord]:
        seen: set[str] = set()
        url: str | None = self.url
        with httpx.Client(timeout=self.timeout, follow_redirects=True, headers={"Accept": _ACCEPT}) as client:
            while url and url not in seen and len(seen) < self.max_pages:
                seen.add(url)
                try:
                    response = retries.get(client, url, attempts=self.attempts, backoff=self.backoff)
                except httpx.HTTPError as exc:
                    raise SourceError(f"could not fetch {url}: {retries.describe(exc)}") from exc
                fmt = format_of(response.headers.get("content-type"), url)
                try:
                    graph = load_graph(response.content, fmt, base=url)
                except RdfParseError as exc:
                    yield HarvestedRecord(url, None, None, None, RecordError("parse", str(exc)), {"gap": True})
                    return  # the next page is named inside the document we could not read
                yield from self._page(graph, since)
                url = _next_page(graph)

    def _page(self, graph: Graph, since: datetime | None) -> Iterator[HarvestedRecord]:
        doc = parse_graph(graph)
        for rec in doc.records:
            if rec.error is not None or rec.dataset is None:
                yield failed(rec.subject, "validate", rec.error or "not a dataset")
                continue
            ds = rec.dataset
            # Blank-node labels change on every parse; an identifier is the stable name then.
            upstream_id = rec.subject if not rec.subject.startswith("_:") else (ds.identifier or rec.subject)
            modified = _as_datetime(ds.modified)
            if since is not None and modified is not None and modified < since.replace(tzinfo=None):
                continue
            if self.shacl:
                notes = _shacl_notes(graph, rec.subject)
                if notes:
                    ds = ds.model_copy(update={"quality_notes": [*ds.quality_notes, *notes]})
            yield HarvestedRecord(upstream_id, modified, None, ds)


def _next_page(graph: Graph) -> str | None:
    from harvesters.dcat_parse import next_page

    return next_page(graph)


def _shacl_notes(graph: Graph, subject: str) -> list[Any]:
    from harvesters.quality import quality_notes, validate_dataset

    node = BNode(subject[2:]) if subject.startswith("_:") else URIRef(subject)
    return quality_notes(validate_dataset(graph, node))


def _as_datetime(value: date | datetime | None) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None
