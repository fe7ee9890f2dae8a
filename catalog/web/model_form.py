"""The steward's AI-model form as plain data: form fields to an :class:`~schemas.AIModel` and back, and
pydantic's error locations to the field each message belongs beside. Pure: no request, no store.

Field names: ``name__zh-Hant``, ``name__en``, ``description__…``, ``reciprocity__…``, ``sharing_class``,
``channels`` (several), ``task``, ``modalities`` (several), ``training_datasets`` (GUIDs, one a line),
``perf-<n>-metric|value|dataset``, ``licence``, ``version``, ``access_url``, ``regulatory_approval``,
``clinical_use``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from schemas.dataset import PRIMARY_LANGUAGES
from schemas.model import AIModel
from schemas.vocabularies import vocabulary

#: ``{name: text}`` for single fields, ``{name: [values]}`` for the checkbox groups.
Values = dict[str, Any]
TEXTS = ("name", "description", "reciprocity")
MULTI = ("channels", "modalities")
FORM_LANGS = PRIMARY_LANGUAGES
_GUID_LIKE = re.compile(r"^[A-Za-z0-9._-]+/[0-9a-fA-F-]{36}$")


def looks_like_guid(value: str) -> bool:
    return bool(_GUID_LIKE.match(value))


def values_of_form(items: list[tuple[str, str]]) -> Values:
    """The posted fields as the form's values (checkbox groups as lists)."""
    values: Values = {k: [] for k in MULTI}
    for key, value in items:
        if key in MULTI:
            values[key].append(value)
        else:
            values[key] = value
    return values


def values_of_model(model: AIModel) -> Values:
    """The form's values for an existing entry."""
    values: Values = {
        "sharing_class": model.sharing_class,
        "channels": list(model.channels),
        "task": model.task,
        "modalities": list(model.modalities),
        "training_datasets": "\n".join(model.training_datasets),
        "version": model.version,
        "access_url": model.access_url or "",
        "regulatory_approval": model.regulatory_approval or "",
        "clinical_use": "on" if model.clinical_use else "",
        "licence": "",
    }
    for field in TEXTS:
        for lang in FORM_LANGS:
            values[f"{field}__{lang}"] = getattr(model, field).get(lang, "")
    if model.license is not None:
        values["licence"] = vocabulary("licence").code_for_iri(model.license.iri) or model.license.iri
    for i, fig in enumerate(model.performance):
        values[f"perf-{i}-metric"] = fig.metric
        values[f"perf-{i}-value"] = f"{fig.value:g}"
        values[f"perf-{i}-dataset"] = fig.dataset_guid or fig.dataset_label or ""
    return values


def figure_rows(values: Values) -> int:
    """How many performance rows the form shows: every filled one, and one blank."""
    filled = [int(m.group(1)) for k in values if (m := re.match(r"perf-(\d+)-", k)) and str(values[k]).strip()]
    return max(filled, default=-1) + 2


def _text(values: Values, key: str) -> str:
    return str(values.get(key) or "").strip()


def model_data(values: Values) -> tuple[dict[str, Any], list[int]]:
    """The JSON the form describes, and for each performance figure in it the form row it came from."""
    data: dict[str, Any] = {}
    for field in TEXTS:
        data[field] = {
            lang: _text(values, f"{field}__{lang}") for lang in FORM_LANGS if _text(values, f"{field}__{lang}")
        }
    for key in ("sharing_class", "task", "version", "access_url", "regulatory_approval"):
        if _text(values, key):
            data[key] = _text(values, key)
    data["channels"] = list(values.get("channels") or [])
    data["modalities"] = list(values.get("modalities") or [])
    data["training_datasets"] = [g.strip() for g in _text(values, "training_datasets").splitlines() if g.strip()]
    data["clinical_use"] = _text(values, "clinical_use") == "on"
    licence = _text(values, "licence")
    if licence in vocabulary("licence"):
        v = vocabulary("licence")
        data["license"] = {"iri": v.iri(licence), "label": {lang: v.label(licence, lang) for lang in FORM_LANGS}}
    elif licence:
        data["license"] = {"iri": licence}
    figures: list[dict[str, Any]] = []
    rows: list[int] = []
    for i in range(figure_rows(values)):
        metric, value, dataset = (_text(values, f"perf-{i}-{part}") for part in ("metric", "value", "dataset"))
        if not (metric or value or dataset):
            continue
        fig: dict[str, Any] = {"metric": metric, "value": value or None}
        if _GUID_LIKE.match(dataset):
            fig["dataset_guid"] = dataset
        elif dataset:
            fig["dataset_label"] = dataset
        figures.append(fig)
        rows.append(i)
    data["performance"] = figures
    return data, rows


def named_datasets(values: Values) -> list[str]:
    """Every dataset GUID the form names (training list and figures), as typed."""
    data, _ = model_data(values)
    return [*data["training_datasets"], *(f["dataset_guid"] for f in data["performance"] if "dataset_guid" in f)]


def parse(values: Values) -> tuple[AIModel | None, dict[str, str]]:
    """The entry, or the messages keyed by form field (message *codes* ``md_err_…`` or pydantic's text)."""
    data, rows = model_data(values)
    try:
        return AIModel.model_validate(data), {}
    except ValidationError as exc:
        return None, errors_of(exc, values, rows)


def errors_of(exc: ValidationError, values: Values, rows: list[int]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors(include_input=False):
        loc = [str(p) for p in e["loc"]]
        head = loc[0] if loc else ""
        message = str(e["msg"]).removeprefix("Value error, ")
        if head in TEXTS:
            empty = [lang for lang in FORM_LANGS if not _text(values, f"{head}__{lang}")] or [FORM_LANGS[0]]
            name, message = f"{head}__{empty[0]}", "md_err_both_languages"
        elif head == "performance" and len(loc) >= 3:
            part = {"metric": "metric", "value": "value"}.get(loc[2], "dataset")
            name = f"perf-{rows[int(loc[1])]}-{part}"
            if part == "value":
                message = "md_err_number"
            elif e["type"] in ("missing", "string_too_short"):
                message = "md_err_required"
        elif head == "license":
            name = "licence"
        elif head == "training_datasets":
            name, message = head, "md_err_not_guid"
        elif head in ("sharing_class", "task", "channels") and e["type"] in ("missing", "literal_error", "too_short"):
            name, message = head, "md_err_choose"
        elif head == "channels":
            name, message = head, "md_err_channels"
        else:
            name = head or "form"
            if e["type"] in ("missing", "string_too_short"):
                message = "md_err_required"
        errors.setdefault(name, message)
    return errors
