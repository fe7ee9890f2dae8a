"""The sample AI-model entries (``catalog/samples/ai_models.yaml``) and model entries read from YAML files.

A sample names its datasets ``sample:<identifier>``; their GUIDs are those the sample catalog derives,
and each sample model's GUID is derived from its ``id`` the same way, so reloading changes nothing.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from catalog import guid as guids
from catalog.models.store import ModelSaveResult, ModelStore
from catalog.samples import sample_source_guid
from schemas.model import AIModel

#: Under which the sample models' GUIDs are derived (like the sample datasets' source).
SAMPLE_MODELS_UUID = "0b7d9a3e-4c1f-4e8a-9d2b-2019091500ab"


def _resolve_samples(value: Any, prefix: str) -> Any:
    if isinstance(value, str) and value.startswith("sample:"):
        return guids.derive(prefix, sample_source_guid(prefix), value.removeprefix("sample:"))
    if isinstance(value, list):
        return [_resolve_samples(v, prefix) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_samples(v, prefix) for k, v in value.items()}
    return value


def models_from_yaml(text: str, prefix: str) -> list[tuple[str | None, AIModel]]:
    """``(id or None, entry)`` for each model in a YAML document (one mapping, or a list of them)."""
    loaded = yaml.safe_load(text)
    items = loaded if isinstance(loaded, list) else [loaded]
    out: list[tuple[str | None, AIModel]] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each model in the file must be a mapping of fields (name, description, …)")
        data = _resolve_samples(dict(item), prefix)
        key = data.pop("id", None)
        out.append((str(key) if key is not None else None, AIModel.model_validate(data)))
    return out


def load_sample_models(models: ModelStore) -> list[ModelSaveResult]:
    """Load (or refresh) the sample models; the sample datasets must be loaded first."""
    prefix = models.guid_prefix
    text = (resources.files("catalog.samples") / "ai_models.yaml").read_text(encoding="utf-8")
    source = f"{prefix}/{SAMPLE_MODELS_UUID}"
    results = []
    for key, model in models_from_yaml(text, prefix):
        guid = guids.derive(prefix, source, key or "")
        results.append(models.save(model.model_copy(update={"guid": guid}), actor="fairgate sample loader"))
    return results


def read_model_file(path: Path, prefix: str) -> list[tuple[str | None, AIModel]]:
    return models_from_yaml(path.read_text(encoding="utf-8"), prefix)
