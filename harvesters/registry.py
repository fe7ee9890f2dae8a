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
    "local": "a folder of YAML/JSON/CSV dataset descriptions",
}


def check_location(kind: str, url: str) -> None:
    """Raise ``ValueError`` early for a location that cannot work for ``kind``."""
    if kind == "local":
        if not Path(url).is_dir():
            raise ValueError(f"{url!r} is not a folder; a local source is a folder of YAML/JSON/CSV files")
    elif not (url.startswith("http://") or url.startswith("https://")):
        raise ValueError(f"{url!r} is not an http(s) URL; a {kind} source needs one")


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
    if kind == "local":
        from harvesters.local_files import LocalFilesSource

        return LocalFilesSource(Path(url))
    raise ValueError(f"unknown source kind {kind!r}; use one of: {', '.join(sorted(KINDS))}")
