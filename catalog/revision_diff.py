"""Field-by-field differences between two revisions of a dataset's content.

Pure: takes two content dictionaries (the canonical model as JSON) and returns the changed fields,
each language of a text field as its own row, so a steward sees the zh-Hant and en changes apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Keys under which a dict is a language map (tag -> text) or keywords per language.
_LANG_KEYS = frozenset(
    {"title", "description", "provenance", "version_notes", "population_coverage", "publisher_note", "name",
     "label", "keywords"}
)  # fmt: skip


@dataclass(frozen=True)
class FieldChange:
    """One changed field: its dotted path, the language (for text fields), before and after as text."""

    path: str
    lang: str | None
    before: str
    after: str

    @property
    def kind(self) -> str:
        if not self.before:
            return "added"
        if not self.after:
            return "removed"
        return "changed"


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(content: Any, prefix: str = "") -> dict[tuple[str, str | None], str]:
    """``(path, language) -> text`` for every leaf; lists of plain values become one leaf."""
    out: dict[tuple[str, str | None], str] = {}
    if isinstance(content, dict):
        last = prefix.rsplit(".", 1)[-1].split("[", 1)[0]
        if last in _LANG_KEYS and all(isinstance(v, (str, list)) for v in content.values()):
            for lang, text in content.items():
                out[(prefix, lang)] = _show(text)
            return out
        for key, value in content.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(content, list) and any(isinstance(v, dict) for v in content):
        for i, value in enumerate(content):
            out.update(flatten(value, f"{prefix}[{i + 1}]"))
        return out
    text = _show(content)
    if text:
        out[(prefix, None)] = text
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Every field whose text differs, in the order the fields first appear (after, then before)."""
    old, new = flatten(before), flatten(after)
    keys = list(dict.fromkeys([*new, *old]))
    return [
        FieldChange(path, lang, old.get((path, lang), ""), new.get((path, lang), ""))
        for path, lang in keys
        if old.get((path, lang), "") != new.get((path, lang), "")
    ]
