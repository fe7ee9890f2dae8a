"""The web pages' two interface languages: the strings, and which language a request wants.

Only interface text lives here; dataset text comes from the records' own language maps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from starlette.requests import Request

LANGUAGES: Final = ("zh-Hant", "en")
DEFAULT_LANGUAGE: Final = "zh-Hant"
LANG_COOKIE: Final = "fairgate_lang"

#: HTML ``lang`` attribute per interface language.
HTML_LANG: Final = {"zh-Hant": "zh-Hant-TW", "en": "en"}
LANGUAGE_NAMES: Final = {"zh-Hant": "中文", "en": "English"}

#: The message catalogues: ``messages/<room>.<language>.json``, one file per room and language, merged.
#: A room (core, accounts, portal, access, …) keeps its own file so that rooms do not edit one list.
MESSAGES_DIR: Final = Path(__file__).resolve().parent / "messages"


def load_catalogues(folder: Path = MESSAGES_DIR) -> dict[str, dict[str, str]]:
    """Every language's strings; a key defined by two rooms is an error (say which)."""
    catalogues: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    origin: dict[tuple[str, str], str] = {}
    for path in sorted(folder.glob("*.json")):
        _room, _, lang = path.stem.partition(".")
        if lang not in catalogues:
            raise ValueError(f"{path.name}: name message files <room>.<language>.json, language one of {LANGUAGES}")
        for key, text in json.loads(path.read_text(encoding="utf-8")).items():
            if (lang, key) in origin:
                raise ValueError(f"message {key!r} ({lang}) is defined in {origin[lang, key]} and {path.name}")
            origin[lang, key] = path.name
            catalogues[lang][key] = text
    return catalogues


_CATALOGUES: Final = load_catalogues()


#: Dataset language codes (EU language authority) people read on the page.
_DATA_LANGUAGES: Final[dict[str, dict[str, str]]] = {
    "ZHO": {"en": "Chinese", "zh-Hant": "中文"},
    "ENG": {"en": "English", "zh-Hant": "英文"},
    "JPN": {"en": "Japanese", "zh-Hant": "日文"},
    "KOR": {"en": "Korean", "zh-Hant": "韓文"},
}


def data_language_label(code: str, lang: str) -> str:
    return _DATA_LANGUAGES.get(code, {}).get(lang, code)


def t(key: str, lang: str, **values: object) -> str:
    """The interface string ``key`` in ``lang``, with ``{placeholders}`` filled."""
    text = _CATALOGUES.get(lang, {}).get(key) or _CATALOGUES["en"].get(key)
    if text is None:
        return key
    return text.format(**values) if values else text


def normalise_language(value: str | None) -> str | None:
    """``zh-Hant``/``en`` from what a person might type (``zh``, ``zh-TW``, ``EN``…), else None."""
    if not value:
        return None
    v = value.strip().lower().replace("_", "-")
    if v.startswith("zh"):
        return "zh-Hant"
    if v.startswith("en"):
        return "en"
    return None


def _from_accept_language(header: str | None) -> str | None:
    best: tuple[float, str] | None = None
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalise_language(tag)
        if lang and q > 0 and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else None


def request_language(request: Request) -> str:
    """``?lang=`` first, then the cookie a previous switch set, then the browser's preference."""
    return (
        normalise_language(request.query_params.get("lang"))
        or normalise_language(request.cookies.get(LANG_COOKIE))
        or _from_accept_language(request.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )
