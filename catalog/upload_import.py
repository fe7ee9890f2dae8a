"""Uploaded dataset descriptions (DCAT Turtle / JSON-LD / RDF/XML, or the project's YAML / JSON / CSV):
parse with the harvesters' own parsers, check DCAT against the SHACL shapes, and keep the parsed result
under the data folder keyed by a random id until the steward confirms.

Nothing here writes to the store; the page that confirms does, in one batch.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harvesters.dcat_parse import RdfParseError, load_graph, parse_graph
from harvesters.local_files import LocalFilesSource
from harvesters.quality import validate_graph
from schemas import Dataset

#: The largest upload accepted (bytes).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
RDF_SUFFIXES = {".ttl": "turtle", ".jsonld": "json-ld", ".rdf": "xml", ".xml": "xml", ".owl": "xml", ".nt": "nt"}
LOCAL_SUFFIXES = {".yaml", ".yml", ".csv", ".json"}
#: GUIDs of uploaded records are derived from this namespace and the record's id, so uploading the
#: same file again changes the records it made instead of making new ones.
UPLOAD_NAMESPACE = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/fairgate/upload"))
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class UploadError(ValueError):
    """The upload cannot be read: wrong type, too large, or not parseable."""


@dataclass
class ParsedUpload:
    """What a file holds: datasets by their id in the file, the records that failed, the SHACL report."""

    filename: str
    datasets: dict[str, Dataset] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    shacl: list[tuple[str, str, str]] = field(default_factory=list)


def upload_source_guid(guid_prefix: str) -> str:
    """The pseudo source GUID that namespaces uploaded records' GUIDs in a deployment."""
    return f"{guid_prefix}/{UPLOAD_NAMESPACE}"


def parse_upload(filename: str, data: bytes) -> ParsedUpload:
    """Parse one uploaded file by its suffix (``UploadError`` when it cannot be taken at all)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is {len(data):,} bytes; at most {MAX_UPLOAD_BYTES:,} are accepted")
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix in RDF_SUFFIXES:
        return _parse_rdf(name, data, RDF_SUFFIXES[suffix])
    if suffix in LOCAL_SUFFIXES:
        if suffix == ".json" and b'"@context"' in data[:4096]:
            return _parse_rdf(name, data, "json-ld")
        return _parse_local(name, data, suffix)
    allowed = ", ".join(sorted({*RDF_SUFFIXES, *LOCAL_SUFFIXES}))
    raise UploadError(f"{name or 'the file'}: unknown type {suffix or '(none)'}; upload one of {allowed}")


def _parse_rdf(name: str, data: bytes, fmt: str) -> ParsedUpload:
    try:
        graph = load_graph(data, fmt)
    except RdfParseError as exc:
        raise UploadError(str(exc)) from exc
    doc = parse_graph(graph)
    out = ParsedUpload(name)
    for rec in doc.records:
        if rec.dataset is not None:
            out.datasets[rec.subject] = rec.dataset
        else:
            out.errors.append((rec.subject, rec.error or "not a dataset"))
    out.errors.extend(("catalog", e) for e in doc.catalog_errors)
    out.shacl = [(v.focus, v.path or "", v.message) for v in validate_graph(graph)]
    return out


def _parse_local(name: str, data: bytes, suffix: str) -> ParsedUpload:
    out = ParsedUpload(name)
    with tempfile.TemporaryDirectory() as folder:
        # The harvester's own reader takes a folder; one file named by its suffix only (never the
        # uploader's path) is all it sees.
        (Path(folder) / f"upload{suffix}").write_bytes(data)
        for rec in LocalFilesSource(Path(folder)).records():
            upstream = rec.upstream_id.replace(f"upload{suffix}", name)
            if rec.dataset is not None:
                out.datasets[upstream] = rec.dataset
            elif rec.error is not None:
                out.errors.append((upstream, rec.error.reason.replace(f"upload{suffix}", name)))
    return out


# --- kept server-side between preview and confirm ----------------------------------------------------


def keep(folder: Path, parsed: ParsedUpload) -> str:
    """Write the parsed datasets under ``folder`` and return the random id that names them."""
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    body = {"filename": parsed.filename, "datasets": {k: v.model_dump(mode="json") for k, v in parsed.datasets.items()}}
    (folder / f"{token}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return token


def read(folder: Path, token: str) -> tuple[str, dict[str, Dataset]] | None:
    """The kept upload named ``token`` (None when unknown or already confirmed)."""
    if not _TOKEN.match(token):
        return None
    path = folder / f"{token}.json"
    try:
        body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return body["filename"], {k: Dataset.model_validate(v) for k, v in body["datasets"].items()}


def discard(folder: Path, token: str) -> None:
    """Forget a kept upload (after it was written, or when the steward cancels)."""
    if _TOKEN.match(token):
        (folder / f"{token}.json").unlink(missing_ok=True)
