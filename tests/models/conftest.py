"""Shared data of the AI-model tests: a valid entry of each sharing class, trained on given datasets."""

from __future__ import annotations

from typing import Any

from catalog.store import Store
from schemas import Dataset

# The web tests' function-scoped fixtures, used here too. Not their browser: a second session-scoped
# Playwright would start while theirs runs, in the same thread.
from tests.web.conftest import client, ctx, steward_client, web_settings  # noqa: F401


def model_json(sharing_class: str = "base_tool", training: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    channels = {"base_tool": ["open_source"], "application_model": ["federated_learning"],
                "validated_software": ["cloud"]}[sharing_class]  # fmt: skip
    body: dict[str, Any] = {
        "name": {"zh-Hant": "肺結節偵測", "en": "Lung nodule detector"},
        "description": {"zh-Hant": "以肺部 CT 訓練。", "en": "Trained on lung CT."},
        "sharing_class": sharing_class,
        "channels": channels,
        "task": "detection",
        "modalities": ["CT"],
        "training_datasets": training or [],
        "version": "1.0",
    }
    if sharing_class == "application_model":
        body["reciprocity"] = {"zh-Hant": "每季回饋評估結果。", "en": "Evaluation results back every quarter."}
    return {**body, **extra}


def a_dataset(store: Store, title: str = "Lung CT") -> str:
    ds = Dataset.model_validate({"title": {"en": title, "zh-Hant": f"{title}（中文）"}})
    return store.save(ds, actor="test").guid
