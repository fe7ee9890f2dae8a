"""fairgate's one language: canonical pydantic models, controlled vocabularies and shapes.

Pure: no I/O beyond reading packaged data, no database, no network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.lazy_exports import lazy_getattr

if TYPE_CHECKING:
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
    from schemas.model import AIModel, PerformanceFigure
    from schemas.vocabularies import Vocabulary, vocabulary

#: Where each name lives. They are imported when first asked for, not with the package: a
#: process that only needs the vocabularies (the search indexer's child) skips the models.
_HOME = {
    "IRI": "dataset",
    "PRIMARY_LANGUAGES": "dataset",
    "Agent": "dataset",
    "CaseCounts": "dataset",
    "Catalog": "dataset",
    "Checksum": "dataset",
    "ContactPoint": "dataset",
    "Dataset": "dataset",
    "Distribution": "dataset",
    "HealthInfo": "dataset",
    "Identifier": "dataset",
    "ImagingInfo": "dataset",
    "LangMap": "dataset",
    "LicenseDocument": "dataset",
    "PeriodOfTime": "dataset",
    "QualityNote": "dataset",
    "text_in": "dataset",
    "AIModel": "model",
    "PerformanceFigure": "model",
    "Vocabulary": "vocabularies",
    "vocabulary": "vocabularies",
}

__all__ = [
    "IRI",
    "PRIMARY_LANGUAGES",
    "AIModel",
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
    "PerformanceFigure",
    "PeriodOfTime",
    "QualityNote",
    "Vocabulary",
    "text_in",
    "vocabulary",
]


__getattr__ = lazy_getattr(__name__, _HOME, globals())
