"""JSON Schema export of the canonical models (for API clients and steward tooling)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.dataset import Agent, Catalog, ContactPoint, Dataset, Distribution, PeriodOfTime
from schemas.model import AIModel

EXPORTED: tuple[type[BaseModel], ...] = (Dataset, Distribution, Agent, ContactPoint, PeriodOfTime, Catalog, AIModel)


def export_json_schemas() -> dict[str, dict[str, Any]]:
    """``{model name: JSON Schema}`` for every exported model."""
    return {model.__name__: model.model_json_schema() for model in EXPORTED}
