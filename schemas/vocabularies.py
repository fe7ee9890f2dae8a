"""Controlled vocabularies kept as data in ``schemas/vocab/*.json``.

Each vocabulary has a name, a base IRI and a set of codes with bilingual labels.
This module only reads those packaged files and answers look-ups; it never does I/O
beyond reading package data once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Vocabulary:
    """A closed list of codes, each with labels per language and optional extra data."""

    name: str
    base_iri: str
    source: str
    terms: dict[str, dict[str, str]] = field(default_factory=dict)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self.terms

    def codes(self) -> list[str]:
        return list(self.terms)

    def iri(self, code: str) -> str:
        return self.base_iri + code

    def code_for_iri(self, iri: str) -> str | None:
        """The code whose IRI is ``iri`` (or whose code is the IRI's last segment)."""
        if iri.startswith(self.base_iri):
            code = iri[len(self.base_iri) :]
            return code if code in self.terms else None
        tail = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
        return tail if tail in self.terms else None

    def label(self, code: str, lang: str = "en") -> str:
        labels = self.terms.get(code, {})
        return labels.get(lang) or labels.get("en") or code

    def normalise(self, value: str) -> str:
        """Return the canonical code for ``value`` (a code, any case, or an IRI).

        Raises ``ValueError`` naming the allowed codes when nothing matches.
        """
        if value in self.terms:
            return value
        upper = {c.upper(): c for c in self.terms}
        key = value.strip().upper().replace(" ", "_").replace("-", "_")
        if key in upper:
            return upper[key]
        if "://" in value:
            code = self.code_for_iri(value)
            if code is not None:
                return code
        raise ValueError(
            f"{value!r} is not in the {self.name} vocabulary; use one of: {', '.join(self.terms)}"
        )


@cache
def vocabulary(name: str) -> Vocabulary:
    """Load the packaged vocabulary ``name`` (for example ``"modality"``)."""
    path = resources.files("schemas") / "vocab" / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:  # pragma: no cover - programming error
        raise KeyError(f"no vocabulary named {name!r} in schemas/vocab") from exc
    return Vocabulary(
        name=data["name"], base_iri=data["base_iri"], source=data.get("source", ""), terms=data["terms"]
    )


def vocabulary_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json")
        for p in (resources.files("schemas") / "vocab").iterdir()
        if p.name.endswith(".json")
    )
