"""The canonical AI-model entry (MLDCAT-AP's ``MachineLearningModel``) and seed 004's three sharing classes.

A model is a catalog entry of its own with a GUID, like a dataset; its training datasets are named by
GUID, which is the dataset→model lineage. Pure: no I/O; whether a GUID names a dataset in the catalog
is the store's question, not the model's.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from schemas.dataset import IRI, PRIMARY_LANGUAGES, Agent, LangMap, LicenseDocument, _Model, _vocab_list

#: Seed 004's classes of shared AI models.
SharingClass = Literal["base_tool", "application_model", "validated_software"]
SHARING_CLASSES: tuple[str, ...] = ("base_tool", "application_model", "validated_software")
#: How a model reaches its users (MLDCAT-AP ``methodOfDistribution``).
Channel = Literal["open_source", "api", "federated_learning", "cloud", "download"]
CHANNELS: tuple[str, ...] = ("open_source", "api", "federated_learning", "cloud", "download")
#: The channels each class is shared through (seed 004, 伍).
CLASS_CHANNELS: dict[str, tuple[str, ...]] = {
    "base_tool": ("open_source", "api"),
    "application_model": ("api", "federated_learning"),
    "validated_software": ("cloud", "download"),
}
#: Base tools are free; validated software is paid; application models are shared reciprocally.
CLASS_TERMS: dict[str, str] = {"base_tool": "free", "application_model": "reciprocal", "validated_software": "paid"}
#: What a model does (a small list; the web and RDF name each in both languages).
TASKS: tuple[str, ...] = (
    "classification",
    "detection",
    "segmentation",
    "regression",
    "registration",
    "report_generation",
    "other",
)

_GUID = re.compile(r"^[A-Za-z0-9._-]+/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _bilingual(value: dict[str, str], what: str) -> dict[str, str]:
    missing = [lang for lang in PRIMARY_LANGUAGES if not value.get(lang)]
    if missing:
        raise ValueError(f"{what} is needed in {' and '.join(missing)}")
    return value


def _guid(value: str) -> str:
    value = value.strip()
    if not _GUID.match(value):
        raise ValueError(f"{value!r} is not a fairgate GUID of the form <prefix>/<uuid>")
    return value


class PerformanceFigure(_Model):
    """One reported figure: a metric, its value, and the dataset it was measured on (a GUID, when in the catalog)."""

    metric: str = Field(min_length=1, max_length=100)
    value: float
    dataset_guid: str | None = None
    #: Where the dataset is not in this catalog, what it is (e.g. "external test set, 2021").
    dataset_label: str | None = None

    @field_validator("dataset_guid")
    @classmethod
    def _is_guid(cls, v: str | None) -> str | None:
        return _guid(v) if v else None


class AIModel(_Model):
    """An AI model shared through the catalog, in one of seed 004's three sharing classes."""

    guid: str | None = None
    name: LangMap
    description: LangMap
    sharing_class: SharingClass
    channels: list[Channel] = Field(min_length=1)
    task: Literal[
        "classification", "detection", "segmentation", "regression", "registration", "report_generation", "other"
    ]
    modalities: list[str] = Field(default_factory=list)
    training_datasets: list[str] = Field(default_factory=list)
    performance: list[PerformanceFigure] = Field(default_factory=list)
    license: LicenseDocument | None = None
    version: str = Field(min_length=1, max_length=50)
    publisher: Agent | None = None
    access_url: IRI | None = None
    #: Application models: what users give back (evaluation feedback) and to whom.
    reciprocity: LangMap = Field(default_factory=dict, validate_default=True)
    #: Validated software: the regulatory approval that allows clinical use (e.g. a TFDA licence number).
    regulatory_approval: str | None = None
    clinical_use: bool = False

    @field_validator("name")
    @classmethod
    def _name_both(cls, v: dict[str, str]) -> dict[str, str]:
        return _bilingual(v, "the name")

    @field_validator("description")
    @classmethod
    def _description_both(cls, v: dict[str, str]) -> dict[str, str]:
        return _bilingual(v, "the description")

    @field_validator("channels")
    @classmethod
    def _channels_of_class(cls, v: list[str], info: ValidationInfo) -> list[str]:
        klass = info.data.get("sharing_class")
        allowed = CLASS_CHANNELS.get(klass or "", CHANNELS)
        wrong = [c for c in v if c not in allowed]
        if wrong:
            raise ValueError(f"a {klass} is shared by {' or '.join(allowed)}, not by {', '.join(wrong)}")
        return list(dict.fromkeys(v))

    @field_validator("modalities")
    @classmethod
    def _modalities(cls, v: list[str]) -> list[str]:
        return _vocab_list("modality", v)

    @field_validator("training_datasets")
    @classmethod
    def _training(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(_guid(g) for g in v if g.strip()))

    @field_validator("reciprocity")
    @classmethod
    def _reciprocity(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.data.get("sharing_class") == "application_model" and not v:
            raise ValueError(
                "an application model is shared reciprocally: say what evaluation feedback users give back"
            )
        return v

    @field_validator("clinical_use")
    @classmethod
    def _clinical(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("sharing_class") != "validated_software":
            raise ValueError("only validated software may be used clinically")
        if v and not info.data.get("regulatory_approval"):
            raise ValueError("clinical use needs the regulatory approval; give its number")
        return v

    @property
    def terms(self) -> str:
        """``free``, ``reciprocal`` or ``paid``: what the sharing class means for its users."""
        return CLASS_TERMS[self.sharing_class]

    def content(self) -> dict[str, Any]:
        """What counts as the entry's content (for hashing): everything but the GUID."""
        return self.model_dump(mode="json", exclude={"guid"}, exclude_defaults=True)
