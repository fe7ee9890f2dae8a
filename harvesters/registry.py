"""The source kinds fairgate can harvest, and how to open one from its registered options."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from harvesters.base import Source

KINDS: dict[str, str] = {
    "ckan": "a CKAN site (its base URL)",
    "dcat": "DCAT RDF documents (Turtle, RDF/XML, JSON-LD, N-Triples), paged by hydra:next",
    "datajson": "a DCAT-US / Project Open Data 1.1 data.json catalog (its URL)",
    "oaipmh": "an OAI-PMH repository (base URL; options metadata_prefix=oai_dc|oai_datacite, set=…)",
    "local": "a folder of YAML/JSON/CSV dataset descriptions",
}


def check_location(kind: str, url: str) -> None:
    """Raise ``ValueError`` early for a location that cannot work for ``kind``."""
    if kind == "local":
        if not Path(url).is_dir():
            raise ValueError(f"{url!r} is not a folder; a local source is a folder of YAML/JSON/CSV files")
    elif not (url.startswith("http://") or url.startswith("https://")):
        raise ValueError(f"{url!r} is not an http(s) URL; a {kind} source needs one")


def check_options(kind: str, options: dict[str, Any]) -> None:
    """Raise ``ValueError`` early for registered options that cannot work for ``kind``."""
    if kind == "oaipmh":
        from harvesters.oaipmh import PREFIXES

        prefix = str(options.get("metadata_prefix", "oai_dc"))
        if prefix not in PREFIXES:
            raise ValueError(f"metadata_prefix {prefix!r} is not supported; use one of: {', '.join(PREFIXES)}")


def _retry_options(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, cast in (("attempts", int), ("backoff", float), ("timeout", float)):
        if key in options:
            out[key] = cast(options[key])
    return out


def open_source(
    kind: str, url: str, options: dict[str, Any], *, is_known: Callable[[str, str], bool] | None = None
) -> Source:
    """A source object of ``kind`` reading ``url`` with the registered ``options``."""
    common = _retry_options(options)
    if kind == "ckan":
        from harvesters.ckan import CkanSource

        extra: dict[str, Any] = {}
        if "rows" in options:
            extra["rows"] = int(options["rows"])
        if "margin_minutes" in options:
            extra["margin"] = timedelta(minutes=float(options["margin_minutes"]))
        return CkanSource(url, api_key=options.get("api_key"), is_known=is_known, **common, **extra)
    if kind == "dcat":
        from harvesters.dcat_rdf import DcatRdfSource

        return DcatRdfSource(url, **common)
    if kind == "datajson":
        from harvesters.datajson import DataJsonSource

        return DataJsonSource(url, is_known=is_known, **common)
    if kind == "oaipmh":
        from harvesters.oaipmh import OaiPmhSource

        oai: dict[str, Any] = {"metadata_prefix": str(options.get("metadata_prefix", "oai_dc"))}
        if options.get("set"):
            oai["set_spec"] = str(options["set"])
        if "margin_minutes" in options:
            oai["margin"] = timedelta(minutes=float(options["margin_minutes"]))
        return OaiPmhSource(url, is_known=is_known, **oai, **common)
    if kind == "local":
        from harvesters.local_files import LocalFilesSource

        return LocalFilesSource(Path(url))
    raise ValueError(f"unknown source kind {kind!r}; use one of: {', '.join(sorted(KINDS))}")
