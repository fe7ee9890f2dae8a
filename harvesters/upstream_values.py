"""Loose values as upstream catalogs send them (dates, file formats, languages, script) turned into model values.

Shared by the sources that read JSON and XML metadata; pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from schemas.dataset import normalise_language
from schemas.vocabularies import vocabulary

#: Han characters: text containing them is Chinese (tagged ``zh-Hant``; scripts are never converted).
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")

# Language keys seen in the wild → the BCP 47 tags of our language maps.
_LANG_KEYS = {
    "zh": "zh-Hant",
    "zh_tw": "zh-Hant",
    "zh-tw": "zh-Hant",
    "zh_hant": "zh-Hant",
    "zh-hant": "zh-Hant",
    "zho": "zh-Hant",
    "zh_cn": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh_hans": "zh-Hans",
    "zh-hans": "zh-Hans",
    "chi": "zh-Hant",
    "eng": "en",
}

_FORMAT_ALIASES = {
    "JPG": "JPEG",
    "TIF": "TIFF",
    "GZ": "GZIP",
    "TAR.GZ": "GZIP",
    "TGZ": "GZIP",
    "TEXT": "TXT",
    "TTL": "RDF_TURTLE",
    "TURTLE": "RDF_TURTLE",
    "JSONLD": "JSON_LD",
    "JSON-LD": "JSON_LD",
    "RDF": "RDF_XML",
    "RDF/XML": "RDF_XML",
    "DCM": "DICOM",
    "NII": "NIFTI",
    "NII.GZ": "NIFTI",
    "NETCDF": "NETCDF",
    "NC": "NETCDF",
    "HTM": "HTML",
}
_MEDIA_FORMATS = {
    "text/csv": "CSV",
    "application/json": "JSON",
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/tiff": "TIFF",
    "application/zip": "ZIP",
    "text/html": "HTML",
    "application/xml": "XML",
    "text/xml": "XML",
    "text/plain": "TXT",
    "text/turtle": "RDF_TURTLE",
    "application/ld+json": "JSON_LD",
    "application/rdf+xml": "RDF_XML",
    "application/dicom": "DICOM",
    "application/geo+json": "GEOJSON",
}


def parse_when(value: Any) -> date | datetime | None:
    """A date or datetime from ISO 8601 text (also ``YYYY`` and ``YYYY-MM``); None when unreadable."""
    if isinstance(value, datetime | date):
        return value
    if not isinstance(value, str):
        return None
    s = value.strip().replace("Z", "+00:00")
    try:
        if len(s) == 10:
            return date.fromisoformat(s)
        return datetime.fromisoformat(s)
    except ValueError:
        if re.fullmatch(r"\d{4}", s):
            return date(int(s), 1, 1)
        if re.fullmatch(r"\d{4}-\d{2}", s):
            return date(int(s[:4]), int(s[5:]), 1)
        return None


def file_format(value: Any) -> str | None:
    """The EU file-type code for a format name, media type or file-type IRI; None when unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip()
    if "/" in v and "://" not in v:
        return _MEDIA_FORMATS.get(v.lower())
    if "://" in v:
        return vocabulary("file_type").code_for_iri(v)
    key = v.lstrip(".").upper()
    key = _FORMAT_ALIASES.get(key, key)
    return key if key in vocabulary("file_type") else None


# ISO 639-1 → 639-3 beyond the handful the schema knows, for the languages CKAN sites declare.
_ISO_639_1 = {
    "es": "SPA",
    "ca": "CAT",
    "it": "ITA",
    "pt": "POR",
    "sv": "SWE",
    "da": "DAN",
    "fi": "FIN",
    "no": "NOR",
    "nb": "NOB",
    "pl": "POL",
    "cs": "CES",
    "el": "ELL",
    "hu": "HUN",
    "ro": "RON",
    "bg": "BUL",
    "hr": "HRV",
    "sk": "SLK",
    "sl": "SLV",
    "et": "EST",
    "lv": "LAV",
    "lt": "LIT",
    "ga": "GLE",
    "mt": "MLT",
    "eu": "EUS",
    "gl": "GLG",
    "ru": "RUS",
    "uk": "UKR",
    "tr": "TUR",
    "ar": "ARA",
    "he": "HEB",
    "hi": "HIN",
    "th": "THA",
    "vi": "VIE",
    "id": "IND",
    "ms": "MSA",
}


def language_code(value: str) -> str:
    """An EU language-authority code (``ZHO``, ``ENG``, ``SPA``) for a CKAN language value."""
    base = value.strip().rsplit("/", 1)[-1].split("-")[0].split("_")[0].lower()
    if base in _ISO_639_1:
        return _ISO_639_1[base]
    return normalise_language(value)


def text_language(text: str, *, chinese_only: bool = False) -> str:
    """``zh-Hant`` for text with Han characters (or any text of a Chinese-only record), else ``en``."""
    return "zh-Hant" if chinese_only or HAN.search(text) else "en"


def lang_tag(key: str) -> str:
    """The BCP 47 tag of a language-map key such as ``zh_TW``, ``zho`` or ``eng``."""
    k = str(key).strip()
    return _LANG_KEYS.get(k.lower(), k.replace("_", "-"))
