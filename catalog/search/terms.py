"""The bilingual search vocabulary (``schemas/vocab/search_terms.json``) as a matcher.

Each concept has English and Traditional Chinese forms; a text or a query is scanned
left to right for the longest form at each position (so 電腦斷層 is "CT", not "brain"
because of 腦). Stewards add concepts or forms in ``<data_dir>/search_terms.json``
(same format), merged over the packaged file. This module reads files only when asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from catalog.search.text import analyse

#: File name of the steward extension, looked up in the deployment's data directory.
STEWARD_FILE = "search_terms.json"


@dataclass(frozen=True)
class Concept:
    id: str
    labels: dict[str, str]
    forms: tuple[str, ...]
    modalities: tuple[str, ...] = ()
    body_sites: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConceptMatch:
    """Units ``start:end`` of a token stream spell a form of ``concepts``."""

    start: int
    end: int
    concepts: frozenset[str]


@dataclass
class Terms:
    """Concepts and the longest-match lookup over analysed forms."""

    concepts: dict[str, Concept] = field(default_factory=dict)
    # first unit -> [(form units, concept ids)], longest form first
    _by_first: dict[str, list[tuple[tuple[str, ...], frozenset[str]]]] = field(default_factory=dict)
    _by_modality: dict[str, set[str]] = field(default_factory=dict)
    _by_body_site: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_data(cls, documents: Iterable[dict[str, Any]]) -> Terms:
        merged: dict[str, dict[str, Any]] = {}
        for doc in documents:
            for cid, entry in doc.get("terms", {}).items():
                into = merged.setdefault(cid, {"labels": {}, "forms": [], "modality": [], "body_site": []})
                for key, value in entry.items():
                    if not isinstance(value, str):
                        continue
                    parts = [p.strip() for p in value.split("|") if p.strip()]
                    if key in ("modality", "body_site"):
                        into[key].extend(parts)
                    elif key.endswith("_alt"):
                        into["forms"].extend(parts)
                    elif key != "group":
                        into["labels"].setdefault(key, value)
                        into["forms"].append(value)
        terms = cls()
        for cid, data in merged.items():
            terms._add(
                Concept(
                    id=cid,
                    labels=data["labels"],
                    forms=tuple(dict.fromkeys(data["forms"])),
                    modalities=tuple(data["modality"]),
                    body_sites=tuple(data["body_site"]),
                )
            )
        terms._finish()
        return terms

    def _add(self, concept: Concept) -> None:
        self.concepts[concept.id] = concept
        for code in concept.modalities:
            self._by_modality.setdefault(code, set()).add(concept.id)
        for code in concept.body_sites:
            self._by_body_site.setdefault(code, set()).add(concept.id)

    def _finish(self) -> None:
        forms: dict[tuple[str, ...], set[str]] = {}
        for concept in self.concepts.values():
            for form in concept.forms:
                units = tuple(analyse(form).units)
                if units:
                    forms.setdefault(units, set()).add(concept.id)
        by_first: dict[str, list[tuple[tuple[str, ...], frozenset[str]]]] = {}
        for units, ids in forms.items():
            by_first.setdefault(units[0], []).append((units, frozenset(ids)))
        for entries in by_first.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._by_first = by_first

    def find(self, units: Sequence[str]) -> list[ConceptMatch]:
        """Leftmost-longest, non-overlapping concept matches in a unit stream."""
        out: list[ConceptMatch] = []
        n = len(units)
        by_first = self._by_first
        # Runs per indexed text: look only at units that start some form (few of them),
        # found by one comprehension, not a Python step per unit.
        after = 0
        for i in [i for i, u in enumerate(units) if u in by_first]:
            if i < after:  # inside the previous match
                continue
            for form, ids in by_first[units[i]]:
                end = i + len(form)
                if end <= n and (len(form) == 1 or tuple(units[i:end]) == form):
                    out.append(ConceptMatch(i, end, ids))
                    after = end
                    break
        return out

    def for_modality(self, code: str) -> set[str]:
        return self._by_modality.get(code, set())

    def for_body_site(self, code: str) -> set[str]:
        return self._by_body_site.get(code, set())

    def forms_of(self, concept_id: str) -> tuple[str, ...]:
        concept = self.concepts.get(concept_id)
        return concept.forms if concept else ()


def document_concepts(
    title_units: Sequence[str], other_units: Sequence[Sequence[str]], modalities: Iterable[str],
    body_sites: Iterable[str], terms: Terms,
) -> tuple[set[str], set[str]]:
    """Concepts a record mentions: (in its title, anywhere incl. coded modality/body site)."""
    title = {c for m in terms.find(title_units) for c in m.concepts}
    other = {c for units in other_units for m in terms.find(units) for c in m.concepts}
    for code in modalities:
        other |= terms.for_modality(code)
    for code in body_sites:
        other |= terms.for_body_site(code)
    return title, other | title


def _packaged() -> dict[str, Any]:
    path = resources.files("schemas") / "vocab" / "search_terms.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _steward(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"steward search vocabulary {path} is not valid JSON ({exc}); fix it or remove the file"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("terms"), dict):
        raise ValueError(
            f"steward search vocabulary {path} needs a top-level object with a 'terms' object, "
            "like schemas/vocab/search_terms.json"
        )
    return data


@cache
def _load(extra: tuple[str, ...]) -> Terms:
    documents = [_packaged()]
    for p in extra:
        path = Path(p)
        if path.is_file():
            documents.append(_steward(path))
    return Terms.from_data(documents)


def load_terms(data_dir: Path | str | None = None) -> Terms:
    """The packaged vocabulary merged with ``<data_dir>/search_terms.json`` when present."""
    extra = (str(Path(data_dir) / STEWARD_FILE),) if data_dir is not None else ()
    return _load(extra)
