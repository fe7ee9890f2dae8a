"""Richly filled datasets and catalogs for the RDF tests (every model field set)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas import (
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
    LicenseDocument,
    PeriodOfTime,
    QualityNote,
)

EHDS = "http://data.europa.eu/eli/reg/2025/327/oj"


def agent(name: str, n: int, iri: bool = False) -> Agent:
    """An agent; one IRI names one agent, so its description must not vary with ``n``."""
    return Agent(
        name={"zh-Hant": f"{name}團隊", "en": f"{name} team"},
        iri=f"https://example.org/agent/{name.lower()}" if iri else None,
        email=f"{name.lower()}@example.org",
        homepage=f"https://example.org/{name.lower()}",
        type="http://purl.org/adms/publishertype/Academia-ScientificOrganisation",
        identifier=f"ORG-{name}",
    )


def rich_dataset(access: str = "RESTRICTED", n: int = 1, **overrides: Any) -> Dataset:
    """A dataset with every field the model holds filled, lists in a non-sorted order."""
    data: dict[str, Any] = dict(
        guid=f"dg.TW01/0000000{n}-aaaa-4bbb-8ccc-dddddddddddd",
        iri=f"https://upstream.example.org/dataset/{n}",
        identifier=f"IMG-2019-{n:03d}",
        title={"zh-Hant": f"冠狀動脈 CT 影像 {n}", "en": f"Coronary CT images {n}", "und": "CCTA"},
        description={"zh-Hant": "含標註之冠狀動脈電腦斷層影像。", "en": "Annotated coronary CT angiography."},
        keywords={"zh-Hant": ["心臟", "冠狀動脈"], "en": ["heart", "coronary", "CT"], "und": ["CCTA"]},
        themes=[
            "http://publications.europa.eu/resource/authority/data-theme/HEAL",
            "http://publications.europa.eu/resource/authority/data-theme/TECH",
        ],
        publisher=agent("NTU", n, iri=True),
        creators=[agent("TVGH", n), agent("TMU", n)],
        custodians=[agent("Custodian", n)],
        contact_points=[
            ContactPoint(
                name={"en": "Data desk", "zh-Hant": "資料窗口"},
                email="desk@example.org",
                url="https://example.org/contact",
                telephone="+886 2 2312 3456",
            ),
        ],
        issued=date(2019, 9, 15),
        modified=datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
        temporal=[PeriodOfTime(start=date(2010, 1, 1), end=date(2019, 8, 31)), PeriodOfTime(start=date(2021, 1, 1))],
        spatial=["http://publications.europa.eu/resource/authority/country/TWN", "Taipei City"],
        landing_page=f"https://example.org/datasets/{n}",
        access_rights=access,
        license=LicenseDocument(
            iri="https://example.org/licence/research-only", label={"en": "Research only", "zh-Hant": "僅限研究"}
        ),
        language=["ZHO", "ENG"],
        conforms_to=["https://www.dicomstandard.org/current", "http://healthdataportal.eu/ns/health"],
        version="2.1",
        version_notes={"en": "Second release", "zh-Hant": "第二版"},
        other_identifiers=[Identifier(notation=f"doi:10.1234/img.{n}", scheme="DOI"), Identifier(notation="X-1")],
        frequency="http://publications.europa.eu/resource/authority/frequency/ANNUAL",
        applicable_legislation=[EHDS, "http://data.europa.eu/eli/reg/2016/679/oj"],
        provenance={
            "en": "Collected at NTU Hospital, de-identified in two stages.",
            "zh-Hant": "臺大醫院收集，兩階段去識別。",
        },
        documentation=["https://example.org/docs/ccta.pdf", "Codebook in the secure room"],
        is_referenced_by=["https://doi.org/10.1000/xyz123"],
        relation=["https://example.org/datasets/99"],
        sample=["https://example.org/datasets/1/sample.zip"],
        type="http://publications.europa.eu/resource/authority/dataset-type/PERSONAL_DATA",
        distributions=[
            Distribution(
                iri=f"https://example.org/datasets/{n}/dist/dicom",
                title={"en": "DICOM images", "zh-Hant": "DICOM 影像"},
                description={"en": "On-site access only"},
                access_url="https://example.org/access",
                download_url="https://example.org/download/1.zip",
                access_service="https://example.org/api",
                format="DICOM",
                media_type="application/dicom",
                byte_size=123456789,
                checksum=Checksum(algorithm="sha256", value="ab" * 32),
                license=LicenseDocument(
                    iri="https://example.org/licence/research-only",
                    label={"en": "Research only", "zh-Hant": "僅限研究"},
                ),
                access_rights=access,
                issued=date(2019, 9, 15),
                modified=datetime(2019, 10, 1, 8, 0),
                language=["ZHO"],
                conforms_to=["https://www.dicomstandard.org/current"],
                status="http://publications.europa.eu/resource/authority/distribution-status/COMPLETED",
            ),
            Distribution(title={"en": "Annotations"}, access_url="https://example.org/access", format="CSV"),
        ],
        health=HealthInfo(
            health_categories=[
                "http://healthdataportal.eu/ns/health/category/IMAG",
                "http://healthdataportal.eu/ns/health/category/EHRS",
            ],
            health_themes=["http://www.wikidata.org/entity/Q12152"],
            hdab=agent("HDAB", n),
            number_of_records=52000,
            number_of_unique_individuals=4100,
            min_typical_age=20,
            max_typical_age=90,
            population_coverage={"en": "Adults referred for CCTA", "zh-Hant": "轉介心臟 CT 之成人"},
            coding_systems=["http://www.wikidata.org/entity/P494"],
            code_values=["https://icd.who.int/browse10/2019/en#/I25.1"],
            has_structured_data=True,
            variables=["age", "sex", "calcium_score"],
            retention_period=PeriodOfTime(start=date(2019, 1, 1), end=date(2029, 12, 31)),
            analytics=["https://example.org/datasets/1/analytics.pdf"],
            publisher_note={"en": "Hospital AI team", "zh-Hant": "醫院 AI 團隊"},
            publisher_type="http://purl.org/adms/publishertype/Academia-ScientificOrganisation",
            trusted_data_holder=False,
            purposes=["https://w3id.org/dpv#AcademicResearch"],
            legal_bases=["https://w3id.org/dpv#Consent"],
            personal_data=["https://w3id.org/dpv/dpv-pd#HealthRecord", "https://w3id.org/dpv/dpv-pd#Age"],
        ),
        imaging=ImagingInfo(
            modalities=["CT", "XA"],
            body_sites=["HEART", "CORONARYARTERY"],
            image_formats=["DICOM"],
            annotation_formats=["DICOM_SR", "AIM"],
            annotation_tools=["3D Slicer", "in-house tool"],
            shared=CaseCounts(image_only=100, partially_annotated=20, fully_annotated=7),
            not_shared=CaseCounts(image_only=5, partially_annotated=0, fully_annotated=1),
            target_cases={"2019-11": 200, "2020-11": 400},
            avg_images_per_case=312.5,
            est_annotated_images=8800,
            access_routes=["review", "collaboration"],
            access_channels=["vpn", "on_site"],
            building_team="NTU",
        ),
        extras={
            "http://purl.org/dc/terms/alternative": [{"@value": "CCTA-NTU", "@language": "en"}],
            "http://www.w3.org/ns/dcat#qualifiedRelation": [
                {"http://purl.org/dc/terms/relation": [{"@id": "https://example.org/x"}]}
            ],
            "ckan_extra": {"a": 1, "b": ["x", "y"]},
        },
        quality_notes=[
            QualityNote(
                severity="warning",
                message="licence label only in English",
                path="dct:license",
                focus=f"https://example.org/datasets/{n}",
            )
        ],
    )
    data.update(overrides)
    return Dataset.model_validate(data)


def conformant_dataset(access: str, n: int = 1) -> Dataset:
    """A rich dataset without the deliberately odd bits (extras, free-text references)."""
    return rich_dataset(
        access,
        n,
        extras={},
        quality_notes=[],
        documentation=["https://example.org/docs/ccta.pdf"],
        spatial=["http://publications.europa.eu/resource/authority/country/TWN"],
    )


def rich_catalog() -> Catalog:
    return Catalog(
        iri="http://127.0.0.1:8000/catalog",
        title={"zh-Hant": "fairgate 健康資料目錄", "en": "fairgate health data catalog"},
        description={"en": "Imaging datasets of the programme", "zh-Hant": "影像資料集"},
        publisher=agent("Office", 0, iri=True),
        homepage="http://127.0.0.1:8000/",
        language=["ZHO", "ENG"],
        license=LicenseDocument(iri="https://creativecommons.org/licenses/by/4.0/", label={"en": "CC BY 4.0"}),
        issued=date(2019, 9, 1),
        modified=datetime(2020, 1, 1, 0, 0, tzinfo=UTC),
        themes_taxonomy=["http://publications.europa.eu/resource/authority/data-theme"],
        applicable_legislation=[EHDS],
    )
