"""Language maps (language tag -> text): choosing the text to show for a language.

Apart from the models so that code reading stored records as plain data (the search
indexer's child process) can use it without importing them. Pure: no I/O.
"""

from __future__ import annotations

__all__ = ["text_in"]


def text_in(value: dict[str, str], lang: str = "en") -> str:
    """Pick the best text of a language map for ``lang``, falling back sensibly."""
    if not value:
        return ""
    if lang in value:
        return value[lang]
    base = lang.split("-")[0]
    for tag, text in value.items():
        if tag.split("-")[0] == base:
            return text
    for fallback in ("en", "zh-Hant", "zh"):
        if fallback in value:
            return value[fallback]
    return next(iter(value.values()))
