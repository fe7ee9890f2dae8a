"""fairgate's one language: canonical pydantic models, controlled vocabularies and shapes.

Pure: no I/O beyond reading packaged data, no database, no network.
"""

from schemas.dataset import (
    IRI,
    PRIMARY_LANGUAGES,
    Agent,
    CaseCounts,
    Catalog,
    Checksum,
    ContactPoint,
    Dataset,
    Distribution,
    HealthInfo,
    Identifier,
    ImagingInfo,
    LangMap,
    LicenseDocument,
    PeriodOfTime,
    QualityNote,
    text_in,
)
from schemas.vocabularies import Vocabulary, vocabulary

__all__ = [
    "IRI",
    "PRIMARY_LANGUAGES",
    "Agent",
    "CaseCounts",
    "Catalog",
    "Checksum",
    "ContactPoint",
    "Dataset",
    "Distribution",
    "HealthInfo",
    "Identifier",
    "ImagingInfo",
    "LangMap",
    "LicenseDocument",
    "PeriodOfTime",
    "QualityNote",
    "Vocabulary",
    "text_in",
    "vocabulary",
]
