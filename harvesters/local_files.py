"""Local source: a folder of dataset descriptions written by stewards (YAML, JSON or CSV).

Format: see ``harvesters/README_local_format.md``. Each file is read on its own, so a file
that does not parse fails alone (and leaves a gap: nothing is withdrawn that run).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harvesters.base import HarvestedRecord, RecordError, failed, validation_reason
from schemas import Dataset

_SUFFIXES = {".yaml", ".yml", ".json", ".csv"}
_LANGS = {"zh": "zh-Hant", "en": "en"}
_LIST_SEP = ";"


def csv_row_to_description(row: dict[str, str]) -> dict[str, Any]:
    """Turn a CSV row (``title_zh``, ``title_en``, ``keywords_en`` = "a; b", …) into Dataset fields."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None or not value.strip():
            continue
        value = value.strip()
        base, _, suffix = key.rpartition("_")
        if suffix in _LANGS and base in ("title", "description", "provenance"):
            out.setdefault(base, {})[_LANGS[suffix]] = value
        elif suffix in _LANGS and base == "keywords":
            out.setdefault("keywords", {})[_LANGS[suffix]] = [w.strip() for w in value.split(_LIST_SEP)]
        elif suffix in _LANGS and base == "publisher":
            out.setdefault("publisher", {"name": {}})["name"][_LANGS[suffix]] = value
        elif key in ("language", "themes", "spatial"):
            out[key] = [v.strip() for v in value.split(_LIST_SEP) if v.strip()]
        elif key == "license":
            out["license"] = {"iri": value}
        elif key == "contact_email":
            out["contact_points"] = [{"email": value}]
        else:
            out[key] = value
    return out


class LocalFilesSource:
    """Every ``*.yaml``, ``*.yml``, ``*.json`` and ``*.csv`` under ``folder`` (sorted, recursive)."""

    kind = "local"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def records(self, since: datetime | None = None) -> Iterator[HarvestedRecord]:
        for path in sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file()):
            rel = path.relative_to(self.folder).as_posix()
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            try:
                entries = self._entries(path)
            except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
                reason = f"{rel} could not be read: {exc}"
                yield HarvestedRecord(rel, modified, None, None, RecordError("parse", reason), {"gap": True})
                continue
            if since is not None and modified < since:
                for n, entry in enumerate(entries):
                    yield HarvestedRecord(self._id(rel, n, entry, len(entries)), modified, None, None, None)
                continue
            for n, entry in enumerate(entries):
                upstream_id = self._id(rel, n, entry, len(entries))
                if not isinstance(entry, dict):
                    yield failed(upstream_id, "parse", f"entry {n} of {rel} is not a mapping of fields", entry)
                    continue
                fields = {k: v for k, v in entry.items() if k != "id"}
                try:
                    ds = Dataset.model_validate(fields)
                except ValidationError as exc:
                    yield failed(upstream_id, "validate", f"{rel}: {validation_reason(exc)}", entry, modified)
                    continue
                yield HarvestedRecord(upstream_id, modified, entry, ds)

    @staticmethod
    def _id(rel: str, n: int, entry: Any, count: int) -> str:
        if isinstance(entry, dict) and entry.get("id"):
            return str(entry["id"])
        return rel if count == 1 else f"{rel}#{n + 1}"

    @staticmethod
    def _entries(path: Path) -> list[Any]:
        text = path.read_text(encoding="utf-8-sig")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return [csv_row_to_description(row) for row in csv.DictReader(io.StringIO(text))]
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        if isinstance(data, dict) and isinstance(data.get("datasets"), list):
            return list(data["datasets"])
        return data if isinstance(data, list) else [data]
