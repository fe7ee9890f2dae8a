"""The canonical dataset model, aligned with DCAT-AP 3 and HealthDCAT-AP Release 8.

Harvesters map *into* these models and serialisers map *out of* them; there is no
second shape of a dataset anywhere in fairgate. Every human-readable text is a
:data:`LangMap` (language tag -> text). The models are pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from schemas.langmap import text_in
from schemas.vocabularies import vocabulary

_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$")

#: Languages fairgate writes for every record it authors itself.
PRIMARY_LANGUAGES = ("zh-Hant", "en")


def _check_langmap(value: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for tag, text in value.items():
        if not _LANG_TAG.match(tag):
            raise ValueError(f"language tag {tag!r} is not a BCP 47 tag such as 'zh-Hant' or 'en'")
        text = text.strip()
        if text:
            cleaned[tag] = text
    return cleaned


def _strip_mailto(value: str | None) -> str | None:
    """E-mail addresses are kept bare; RDF writes them as ``mailto:`` IRIs."""
    if value is None:
        return None
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    return value or None


def _check_iri(value: str) -> str:
    value = value.strip()
    if not _IRI.match(value):
        raise ValueError(f"{value!r} is not an absolute IRI (expected something like https://…)")
    return value


#: Text in several languages: ``{"zh-Hant": "肺部 CT", "en": "Lung CT"}``.
LangMap = Annotated[dict[str, str], AfterValidator(_check_langmap)]
IRI = Annotated[str, AfterValidator(_check_iri)]
#: Keywords per language: ``{"en": ["lung", "CT"]}``.
LangList = dict[str, list[str]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=False)


def _vocab_list(name: str, values: list[str]) -> list[str]:
    vocab = vocabulary(name)
    out: list[str] = []
    for v in values:
        code = vocab.normalise(v)
        if code not in out:
            out.append(code)
    return out


class Agent(_Model):
    """A foaf:Agent: publisher, creator, HDAB or custodian."""

    name: LangMap
    iri: IRI | None = None
    email: str | None = None
    homepage: IRI | None = None
    type: IRI | None = None
    identifier: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _strip_mailto(v)

    @field_validator("name")
    @classmethod
    def _name_needed(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("an agent needs a name in at least one language")
        return v


class ContactPoint(_Model):
    """A vcard:Kind contact point."""

    name: LangMap = Field(default_factory=dict)
    email: str | None = None
    url: IRI | None = None
    telephone: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _strip_mailto(v)

    @model_validator(mode="after")
    def _reachable(self) -> ContactPoint:
        if not (self.email or self.url or self.telephone):
            raise ValueError("a contact point needs an email, a URL or a telephone number")
        return self


class PeriodOfTime(_Model):
    start: date | datetime | None = None
    end: date | datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PeriodOfTime:
        if self.start is None and self.end is None:
            raise ValueError("a period needs a start, an end, or both")
        if self.start is not None and self.end is not None:
            s = self.start.date() if isinstance(self.start, datetime) else self.start
            e = self.end.date() if isinstance(self.end, datetime) else self.end
            if e < s:
                raise ValueError(f"period ends ({e}) before it starts ({s})")
        return self


class Identifier(_Model):
    """An adms:Identifier (another identifier of the same dataset)."""

    notation: str
    scheme: str | None = None


class LicenseDocument(_Model):
    iri: IRI
    label: LangMap = Field(default_factory=dict)


class Checksum(_Model):
    algorithm: Literal["md5", "sha1", "sha256", "sha512"] = "sha256"
    value: str


class Distribution(_Model):
    """A dcat:Distribution: one way to get the data."""

    iri: IRI | None = None
    title: LangMap = Field(default_factory=dict)
    description: LangMap = Field(default_factory=dict)
    access_url: IRI | None = None
    download_url: IRI | None = None
    access_service: IRI | None = None
    format: str | None = None
    media_type: str | None = None
    byte_size: int | None = Field(default=None, ge=0)
    checksum: Checksum | None = None
    license: LicenseDocument | None = None
    access_rights: str | None = None
    issued: date | datetime | None = None
    modified: date | datetime | None = None
    language: list[str] = Field(default_factory=list)
    conforms_to: list[IRI] = Field(default_factory=list)
    status: IRI | None = None

    @field_validator("format")
    @classmethod
    def _format(cls, v: str | None) -> str | None:
        """EU file-type code, or any IRI (DCAT-AP allows other format vocabularies)."""
        if v is None or not v.strip():
            return None
        if "://" in v:
            code = vocabulary("file_type").code_for_iri(v)
            return code or _check_iri(v)
        return vocabulary("file_type").normalise(v)

    @field_validator("access_rights")
    @classmethod
    def _rights(cls, v: str | None) -> str | None:
        return None if v is None else vocabulary("access_rights").normalise(v)


class CaseCounts(_Model):
    """Cases split by annotation status (seed 003, table 5)."""

    image_only: int = Field(default=0, ge=0)
    partially_annotated: int = Field(default=0, ge=0)
    fully_annotated: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        return self.image_only + self.partially_annotated + self.fully_annotated

    def __add__(self, other: CaseCounts) -> CaseCounts:
        return CaseCounts(
            image_only=self.image_only + other.image_only,
            partially_annotated=self.partially_annotated + other.partially_annotated,
            fully_annotated=self.fully_annotated + other.fully_annotated,
        )


class ImagingInfo(_Model):
    """What imaging-AI users need beyond HealthDCAT-AP (seed 003, tables 5 and 6)."""

    modalities: list[str] = Field(default_factory=list)
    body_sites: list[str] = Field(default_factory=list)
    image_formats: list[str] = Field(default_factory=list)
    annotation_formats: list[str] = Field(default_factory=list)
    annotation_tools: list[str] = Field(default_factory=list)
    shared: CaseCounts | None = None
    not_shared: CaseCounts | None = None
    target_cases: dict[str, int] = Field(default_factory=dict)
    avg_images_per_case: float | None = Field(default=None, ge=0)
    est_annotated_images: int | None = Field(default=None, ge=0)
    access_routes: list[str] = Field(default_factory=list)
    access_channels: list[str] = Field(default_factory=list)
    building_team: str | None = None

    @field_validator("modalities")
    @classmethod
    def _modalities(cls, v: list[str]) -> list[str]:
        return _vocab_list("modality", v)

    @field_validator("body_sites")
    @classmethod
    def _sites(cls, v: list[str]) -> list[str]:
        return _vocab_list("body_site", v)

    @field_validator("image_formats")
    @classmethod
    def _image_formats(cls, v: list[str]) -> list[str]:
        return _vocab_list("file_type", v)

    @field_validator("annotation_formats")
    @classmethod
    def _annotation_formats(cls, v: list[str]) -> list[str]:
        return _vocab_list("annotation_format", v)

    @field_validator("access_routes")
    @classmethod
    def _routes(cls, v: list[str]) -> list[str]:
        return _vocab_list("access_route", v)

    @field_validator("access_channels")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        return _vocab_list("access_channel", v)

    @field_validator("target_cases")
    @classmethod
    def _targets(cls, v: dict[str, int]) -> dict[str, int]:
        for when, n in v.items():
            if not re.match(r"^\d{4}-\d{2}$", when):
                raise ValueError(f"target date {when!r} must be YYYY-MM")
            if n < 0:
                raise ValueError(f"target for {when} is negative ({n})")
        return v

    @property
    def total_cases(self) -> int:
        return sum(c.total for c in (self.shared, self.not_shared) if c is not None)

    def annotation_statuses(self) -> list[str]:
        """Which annotation statuses have at least one case (a search facet)."""
        counts = [c for c in (self.shared, self.not_shared) if c is not None]
        out = []
        for status in ("image_only", "partially_annotated", "fully_annotated"):
            if any(getattr(c, status) for c in counts):
                out.append(status)
        return out


class HealthInfo(_Model):
    """HealthDCAT-AP Release 8 properties of a dataset."""

    health_categories: list[IRI] = Field(default_factory=list)
    health_themes: list[IRI] = Field(default_factory=list)
    hdab: Agent | None = None
    number_of_records: int | None = Field(default=None, ge=0)
    number_of_unique_individuals: int | None = Field(default=None, ge=0)
    min_typical_age: int | None = Field(default=None, ge=0)
    max_typical_age: int | None = Field(default=None, ge=0)
    population_coverage: LangMap = Field(default_factory=dict)
    coding_systems: list[IRI] = Field(default_factory=list)
    code_values: list[IRI] = Field(default_factory=list)
    has_structured_data: bool | None = None
    variables: list[str] = Field(default_factory=list)
    retention_period: PeriodOfTime | None = None
    analytics: list[IRI] = Field(default_factory=list)
    publisher_note: LangMap = Field(default_factory=dict)
    publisher_type: IRI | None = None
    trusted_data_holder: bool | None = None
    purposes: list[IRI] = Field(default_factory=list)
    legal_bases: list[IRI] = Field(default_factory=list)
    personal_data: list[IRI] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ages(self) -> HealthInfo:
        lo, hi = self.min_typical_age, self.max_typical_age
        if lo is not None and hi is not None and hi < lo:
            raise ValueError(f"max_typical_age ({hi}) is below min_typical_age ({lo})")
        return self

    def is_empty(self) -> bool:
        return self == HealthInfo()


class QualityNote(_Model):
    """A problem found in the input (for example a SHACL violation); shown to stewards."""

    severity: Literal["violation", "warning", "info"] = "violation"
    message: str
    path: str | None = None
    focus: str | None = None


class Dataset(_Model):
    """A dcat:Dataset with HealthDCAT-AP and imaging-programme properties."""

    guid: str | None = Field(default=None, description="fairgate GUID, assigned by the store")
    iri: IRI | None = Field(default=None, description="the upstream IRI of the dataset, if any")
    identifier: str | None = Field(default=None, description="dct:identifier")
    title: LangMap
    description: LangMap = Field(default_factory=dict)
    keywords: LangList = Field(default_factory=dict)
    themes: list[IRI] = Field(default_factory=list)
    publisher: Agent | None = None
    creators: list[Agent] = Field(default_factory=list)
    custodians: list[Agent] = Field(default_factory=list)
    contact_points: list[ContactPoint] = Field(default_factory=list)
    issued: date | datetime | None = None
    modified: date | datetime | None = None
    temporal: list[PeriodOfTime] = Field(default_factory=list)
    spatial: list[str] = Field(default_factory=list)
    landing_page: IRI | None = None
    access_rights: str | None = None
    license: LicenseDocument | None = None
    language: list[str] = Field(default_factory=list)
    conforms_to: list[IRI] = Field(default_factory=list)
    version: str | None = None
    version_notes: LangMap = Field(default_factory=dict)
    other_identifiers: list[Identifier] = Field(default_factory=list)
    frequency: IRI | None = None
    applicable_legislation: list[IRI] = Field(default_factory=list)
    provenance: LangMap = Field(default_factory=dict)
    documentation: list[str] = Field(default_factory=list)
    is_referenced_by: list[str] = Field(default_factory=list)
    relation: list[str] = Field(default_factory=list)
    sample: list[str] = Field(default_factory=list)
    type: str | None = None
    distributions: list[Distribution] = Field(default_factory=list)
    health: HealthInfo = Field(default_factory=HealthInfo)
    imaging: ImagingInfo | None = None
    extras: dict[str, Any] = Field(default_factory=dict, description="upstream fields we do not map")
    quality_notes: list[QualityNote] = Field(default_factory=list)

    @field_validator("title")
    @classmethod
    def _title_needed(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("a dataset needs a title in at least one language")
        return v

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for tag, words in v.items():
            _check_langmap({tag: "x"})
            seen: list[str] = []
            for w in words:
                w = w.strip()
                if w and w not in seen:
                    seen.append(w)
            if seen:
                out[tag] = seen
        return out

    @field_validator("access_rights")
    @classmethod
    def _rights(cls, v: str | None) -> str | None:
        return None if v is None else vocabulary("access_rights").normalise(v)

    @field_validator("language")
    @classmethod
    def _language(cls, v: list[str]) -> list[str]:
        return [normalise_language(x) for x in v]

    def title_in(self, lang: str = "en") -> str:
        return text_in(self.title, lang)

    def description_in(self, lang: str = "en") -> str:
        return text_in(self.description, lang)

    def all_keywords(self) -> list[str]:
        # Every keyword once, in first-seen order (a dict keeps order and makes the check O(1)).
        return list(dict.fromkeys(w for words in self.keywords.values() for w in words))

    def content(self) -> dict[str, Any]:
        """What counts as the record's content (for hashing): everything but the GUID."""
        return self.model_dump(mode="json", exclude={"guid"}, exclude_defaults=True)


_EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
_ISO_639_1_TO_3 = {"zh": "ZHO", "en": "ENG", "ja": "JPN", "ko": "KOR", "fr": "FRA", "de": "DEU", "nl": "NLD"}


def normalise_language(value: str) -> str:
    """Dataset languages are EU language-authority codes (ISO 639-3, upper case)."""
    v = value.strip()
    if v.startswith(_EU_LANGUAGE):
        v = v[len(_EU_LANGUAGE) :]
    base = v.split("-")[0].split("_")[0].lower()
    if base in _ISO_639_1_TO_3:
        return _ISO_639_1_TO_3[base]
    if re.match(r"^[A-Za-z]{3}$", base):
        return base.upper()
    raise ValueError(f"language {value!r} is not an ISO 639 code or an EU language IRI (e.g. ZHO, ENG)")


def language_iri(code: str) -> str:
    return _EU_LANGUAGE + code


class Catalog(_Model):
    """A dcat:Catalog: fairgate's own, or one it harvests."""

    iri: IRI
    title: LangMap
    description: LangMap = Field(default_factory=dict)
    publisher: Agent | None = None
    homepage: IRI | None = None
    language: list[str] = Field(default_factory=list)
    license: LicenseDocument | None = None
    issued: date | datetime | None = None
    modified: date | datetime | None = None
    themes_taxonomy: list[IRI] = Field(default_factory=list)
    applicable_legislation: list[IRI] = Field(
        default_factory=list, description="dcatap:applicableLegislation (HealthDCAT-AP requires one)"
    )

    @field_validator("language")
    @classmethod
    def _language(cls, v: list[str]) -> list[str]:
        return [normalise_language(x) for x in v]
