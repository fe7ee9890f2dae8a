"""The steward's dataset form <-> the canonical ``schemas.Dataset``: flat form values in, a valid model
or messages per form field out.

Pure: no request, no store, no templates. Fields the form does not show (creators, extras, a
distribution's checksum…) are kept from the record being edited, so an edit never loses them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas import Dataset
from schemas.vocabularies import vocabulary

#: The languages every text field is written in, in tab order.
FORM_LANGS = ("zh-Hant", "en")

#: Text fields in both languages: form name -> path in the model.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "description": ("description",),
    "provenance": ("provenance",),
    "version_notes": ("version_notes",),
    "population_coverage": ("health", "population_coverage"),
}
LONG_TEXT = frozenset({"description", "provenance", "version_notes", "population_coverage"})

#: Pickers: form name -> (vocabulary, path in the model, whether the model holds IRIs).
VOCAB_FIELDS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "modalities": ("modality", ("imaging", "modalities"), False),
    "body_sites": ("body_site", ("imaging", "body_sites"), False),
    "annotation_formats": ("annotation_format", ("imaging", "annotation_formats"), False),
    "access_routes": ("access_route", ("imaging", "access_routes"), False),
    "access_channels": ("access_channel", ("imaging", "access_channels"), False),
    "health_categories": ("health_category", ("health", "health_categories"), True),
}
#: Single-choice pickers: form name -> vocabulary.
SELECT_FIELDS = {"access_rights": "access_rights", "licence": "licence"}
PLAIN_FIELDS = ("identifier", "version", "landing_page", "issued", "publisher_email")

DIST_FIELDS = ("access_url", "download_url", "format", "media_type")
CONTACT_FIELDS = ("email", "url", "telephone")
PORTIONS = ("shared", "not_shared")
STATUSES = ("image_only", "partially_annotated", "fully_annotated")
#: Repeatable blocks: prefix -> key in the model.
BLOCKS = {"dist": "distributions", "contact": "contact_points"}

Values = dict[str, Any]


@dataclass
class FormResult:
    """What a posted form became: a dataset (when valid) or messages by form field name."""

    values: Values
    dataset: Dataset | None = None
    errors: dict[str, str] = field(default_factory=dict)


def name(base: str, lang: str) -> str:
    """The form name of one language of a text field (``title__zh-Hant``)."""
    return f"{base}__{lang}"


def row_name(prefix: str, index: int, part: str) -> str:
    return f"{prefix}-{index}-{part}"


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = data
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    cur = data
    for key in path[:-1]:
        nxt = cur.get(key)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[key] = nxt
        cur = nxt
    cur[path[-1]] = value


def _codes(vocab_name: str, values: Iterable[str], iris: bool) -> list[str]:
    vocab = vocabulary(vocab_name)
    out = []
    for v in values:
        code = vocab.code_for_iri(v) if iris else v
        out.append(code or v)
    return out


# --- model -> form ------------------------------------------------------------------------------


def values_from_dataset(ds: Dataset | None) -> Values:
    """The form's values for ``ds`` (empty ones for a new dataset)."""
    data = ds.model_dump(mode="json") if ds is not None else {}
    values: Values = {}
    for base, path in TEXT_FIELDS.items():
        texts = _get(data, path) or {}
        for lang in FORM_LANGS:
            values[name(base, lang)] = texts.get(lang, "")
    keywords = data.get("keywords") or {}
    for lang in FORM_LANGS:
        values[name("keywords", lang)] = ", ".join(keywords.get(lang, []))
    for form_name, (vocab_name, path, iris) in VOCAB_FIELDS.items():
        values[form_name] = _codes(vocab_name, _get(data, path) or [], iris)
    values["health_themes"] = "\n".join(_get(data, ("health", "health_themes")) or [])
    values["identifier"] = data.get("identifier") or ""
    values["version"] = data.get("version") or ""
    values["landing_page"] = data.get("landing_page") or ""
    values["issued"] = str(data.get("issued") or "")[:10]
    values["access_rights"] = data.get("access_rights") or ""
    licence = data.get("license") or {}
    values["licence"] = (vocabulary("licence").code_for_iri(licence["iri"]) or licence["iri"]) if licence else ""
    publisher = data.get("publisher") or {}
    for lang in FORM_LANGS:
        values[name("publisher", lang)] = (publisher.get("name") or {}).get(lang, "")
    values["publisher_email"] = publisher.get("email") or ""
    for i, dist in enumerate(data.get("distributions") or []):
        for lang in FORM_LANGS:
            values[row_name("dist", i, name("title", lang))] = (dist.get("title") or {}).get(lang, "")
        for part in DIST_FIELDS:
            values[row_name("dist", i, part)] = dist.get(part) or ""
    values["dist_rows"] = str(len(data.get("distributions") or []) + 1)
    for i, cp in enumerate(data.get("contact_points") or []):
        for lang in FORM_LANGS:
            values[row_name("contact", i, name("name", lang))] = (cp.get("name") or {}).get(lang, "")
        for part in CONTACT_FIELDS:
            values[row_name("contact", i, part)] = cp.get(part) or ""
    values["contact_rows"] = str(len(data.get("contact_points") or []) + 1)
    imaging = data.get("imaging") or {}
    for portion in PORTIONS:
        counts = imaging.get(portion) or {}
        for status in STATUSES:
            n = counts.get(status)
            values[f"cases-{portion}-{status}"] = "" if n is None or not counts else str(n)
    return values


def values_from_post(items: Iterable[tuple[str, str]]) -> Values:
    """Posted ``(name, value)`` pairs as form values: pickers are lists, everything else text."""
    values: Values = {form_name: [] for form_name in VOCAB_FIELDS}
    for key, value in items:
        if key in VOCAB_FIELDS:
            values[key].append(value)
        elif key not in ("csrf",):
            values[key] = value
    return values


def row_count(values: Values, prefix: str) -> int:
    """How many rows of a repeatable block to show: every filled row, the asked-for count, at least one."""
    seen = [int(m.group(1)) for k in values if (m := re.match(rf"^{prefix}-(\d+)-", k))]
    asked = _int(str(values.get(f"{prefix}_rows", "")), 1)
    return max(asked, (max(seen) + 1) if seen else 0, 1)


def add_row(values: Values, prefix: str) -> Values:
    """The same values with one more blank row of ``prefix`` (the "add another" button)."""
    return {**values, f"{prefix}_rows": str(min(row_count(values, prefix) + 1, 50))}


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


# --- form -> model ------------------------------------------------------------------------------


def _text(values: Values, key: str) -> str:
    v = values.get(key, "")
    return v.strip() if isinstance(v, str) else ""


def _langmap(values: Values, base: str) -> dict[str, str]:
    return {lang: t for lang in FORM_LANGS if (t := _text(values, name(base, lang)))}


def _merge_langmap(old: Any, new: dict[str, str]) -> dict[str, str]:
    # Languages the form does not show (ja, an upstream "und") are kept.
    kept = {k: v for k, v in (old or {}).items() if k not in FORM_LANGS}
    return {**new, **kept}


def dataset_from_values(values: Values, base: Dataset | None = None) -> FormResult:
    """Build the dataset the form describes on top of ``base``; on any error, the messages by field."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = base.model_dump(mode="json", exclude_defaults=True) if base is not None else {}
    for base_name, path in TEXT_FIELDS.items():
        merged = _merge_langmap(_get(data, path), _langmap(values, base_name))
        _put(data, path, merged)
    keywords = {k: v for k, v in (data.get("keywords") or {}).items() if k not in FORM_LANGS}
    for lang in FORM_LANGS:
        words = [w.strip() for w in re.split(r"[,，、\n]", _text(values, name("keywords", lang))) if w.strip()]
        if words:
            keywords[lang] = words
    data["keywords"] = keywords
    for form_name, (vocab_name, path, iris) in VOCAB_FIELDS.items():
        chosen = [c for c in values.get(form_name, []) if isinstance(c, str) and c]
        vocab = vocabulary(vocab_name)
        bad = [c for c in chosen if c not in vocab and not (iris and "://" in c)]
        if bad:
            errors[form_name] = f"{', '.join(bad)}: not in the {vocab_name} vocabulary"
            continue
        _put(data, path, [vocab.iri(c) if iris and c in vocab else c for c in chosen])
    themes = [line.strip() for line in _text(values, "health_themes").splitlines() if line.strip()]
    _put(data, ("health", "health_themes"), themes)
    for key in ("identifier", "version", "landing_page", "issued"):
        data[key] = _text(values, key) or None
    data["access_rights"] = _text(values, "access_rights") or None
    licence = _text(values, "licence")
    if not licence:
        data["license"] = None
    elif licence in vocabulary("licence"):
        data["license"] = {
            "iri": vocabulary("licence").iri(licence),
            "label": {lang: vocabulary("licence").label(licence, lang) for lang in FORM_LANGS},
        }
    elif "://" in licence:
        data["license"] = {**(data.get("license") or {}), "iri": licence}
    else:
        errors["licence"] = f"{licence}: not in the licence vocabulary"
    publisher_name = _merge_langmap((data.get("publisher") or {}).get("name"), _langmap(values, "publisher"))
    email = _text(values, "publisher_email")
    if publisher_name or email:
        data["publisher"] = {**(data.get("publisher") or {}), "name": publisher_name, "email": email or None}
    else:
        data["publisher"] = None
    placed: dict[str, list[int]] = {}
    data["distributions"] = _rows(values, "dist", data.get("distributions") or [], _dist_row, placed)
    data["contact_points"] = _rows(values, "contact", data.get("contact_points") or [], _contact_row, placed)
    _case_counts(values, data, errors)
    # Validated even when the form's own checks failed, so every wrong field gets its message at once.
    try:
        ds = Dataset.model_validate(data)
    except ValidationError as exc:
        return FormResult(values, None, {**errors_by_field(exc, placed), **errors})
    if errors:
        return FormResult(values, None, errors)
    return FormResult(values, ds, {})


def _dist_row(values: Values, i: int, old: dict[str, Any]) -> dict[str, Any] | None:
    title = _merge_langmap(old.get("title"), {
        lang: t for lang in FORM_LANGS if (t := _text(values, row_name("dist", i, name("title", lang))))
    })  # fmt: skip
    parts = {p: _text(values, row_name("dist", i, p)) or None for p in DIST_FIELDS}
    if not title and not any(parts.values()):
        return None
    return {**old, "title": title, **parts}


def _contact_row(values: Values, i: int, old: dict[str, Any]) -> dict[str, Any] | None:
    cname = _merge_langmap(old.get("name"), {
        lang: t for lang in FORM_LANGS if (t := _text(values, row_name("contact", i, name("name", lang))))
    })  # fmt: skip
    parts = {p: _text(values, row_name("contact", i, p)) or None for p in CONTACT_FIELDS}
    if not cname and not any(parts.values()):
        return None
    return {**old, "name": cname, **parts}


def _rows(
    values: Values, prefix: str, old: list[dict[str, Any]], build: Any, placed: dict[str, list[int]]
) -> list[dict[str, Any]]:
    """The filled rows of a block (blank ones dropped); ``placed[prefix]`` maps each kept row to the
    form row it came from, so a message lands beside the row the steward typed in."""
    out: list[dict[str, Any]] = []
    placed[prefix] = []
    for i in range(row_count(values, prefix)):
        row = build(values, i, old[i] if i < len(old) else {})
        if row is not None:
            placed[prefix].append(i)
            out.append(row)
    return out


def _case_counts(values: Values, data: dict[str, Any], errors: dict[str, str]) -> None:
    imaging = dict(data.get("imaging") or {})
    for portion in PORTIONS:
        counts: dict[str, int] = {}
        for status in STATUSES:
            key = f"cases-{portion}-{status}"
            text = _text(values, key)
            if not text:
                continue
            if not re.fullmatch(r"\d{1,12}", text):
                errors[key] = f"{text!r} is not a whole number of cases (0 or more)"
                continue
            counts[status] = int(text)
        imaging[portion] = counts or None
    if any(v for v in imaging.values()):
        data["imaging"] = imaging
    else:
        data["imaging"] = None


def errors_by_field(exc: ValidationError, placed: Mapping[str, list[int]] | None = None) -> dict[str, str]:
    """pydantic's errors as messages keyed by the form field that holds the wrong value."""
    out: dict[str, str] = {}
    for err in exc.errors():
        key = field_of(tuple(err["loc"]), placed or {})
        message = str(err["msg"]).removeprefix("Value error, ")
        out.setdefault(key, message)
    return out


_PATH_TO_FIELD = {path: form_name for form_name, path in TEXT_FIELDS.items()}
_PATH_TO_FIELD.update({path: form_name for form_name, (_, path, _) in VOCAB_FIELDS.items()})


def field_of(loc: tuple[Any, ...], placed: Mapping[str, list[int]] | None = None) -> str:
    """The form field for a pydantic error location (the nearest one the form shows)."""
    if not loc:
        return "title"
    head = loc[0]
    if head in ("distributions", "contact_points") and len(loc) > 1 and isinstance(loc[1], int):
        prefix = "dist" if head == "distributions" else "contact"
        rest = [p for p in loc[2:] if isinstance(p, str)]
        part = rest[0] if rest else ("access_url" if prefix == "dist" else "email")
        if part in ("title", "name"):
            part = name(part, FORM_LANGS[0])
        elif prefix == "dist" and part not in DIST_FIELDS:
            part = "access_url"
        elif prefix == "contact" and part not in CONTACT_FIELDS:
            part = "email"
        rows = (placed or {}).get(prefix) or []
        index = int(loc[1])
        return row_name(prefix, rows[index] if index < len(rows) else index, part)
    for size in (2, 1):
        key = tuple(str(p) for p in loc[:size])
        if key in _PATH_TO_FIELD:
            form_name = _PATH_TO_FIELD[key]
            return name(form_name, FORM_LANGS[0]) if form_name in TEXT_FIELDS else form_name
    if head == "imaging" and len(loc) > 1 and loc[1] in PORTIONS:
        status = loc[2] if len(loc) > 2 and loc[2] in STATUSES else STATUSES[0]
        return f"cases-{loc[1]}-{status}"
    if head == "publisher":
        return "publisher_email" if "email" in loc else name("publisher", FORM_LANGS[0])
    if head == "license":
        return "licence"
    if head == "health" and len(loc) > 1 and loc[1] == "health_themes":
        return "health_themes"
    if head in PLAIN_FIELDS or head in SELECT_FIELDS:
        return str(head)
    return name("title", FORM_LANGS[0])
