"""The sample catalog: the imaging programme's 25 datasets of September 2019 (seed 003, tables 5-6).

The rows are packaged with fairgate (``imaging_datasets_2019.csv``), so the product never
reads ``../shared`` at run time. A dataset split into a shared and a not-shared portion
becomes one record with both portions' case counts.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from importlib import resources
from typing import Any

from catalog.store import NewRecord, SaveResult, Store
from schemas import Agent, CaseCounts, Dataset, ImagingInfo, PeriodOfTime, vocabulary

#: The harvest-source GUID suffix under which sample records are derived, so their GUIDs
#: are the same in every deployment with the same prefix.
SAMPLE_SOURCE_UUID = "6f1c2a52-8f3e-4f55-9a0e-2019091500aa"

TEAM_HOMEPAGES = {
    "NTU": "https://www.ntu.edu.tw/",
    "TVGH": "https://www.vghtpe.gov.tw/",
    "TMU": "https://www.tmu.edu.tw/",
}
#: Taiwan's Personal Data Protection Act, the law the programme's sharing rests on.
PDPA = "https://law.moj.gov.tw/ENG/LawClass/LawAll.aspx?pcode=I0050021"
#: The programme's data access committee acts as the health data access body (HDAB).
ACCESS_COMMITTEE = {"zh-Hant": "醫療影像資料審查委員會", "en": "Imaging data access committee"}
IMAGE_TYPE = "http://purl.org/dc/dcmitype/Image"

TEAMS: dict[str, dict[str, str]] = {
    "NTU": {"zh-Hant": "國立臺灣大學團隊", "en": "National Taiwan University team"},
    "TVGH": {"zh-Hant": "臺北榮民總醫院團隊", "en": "Taipei Veterans General Hospital team"},
    "TMU": {"zh-Hant": "臺北醫學大學團隊", "en": "Taipei Medical University team"},
}

# The seed's modality column uses "FFR" for pressure-wire data, which is not a DICOM
# modality; DICOM files those waveforms under HD (hemodynamic waveform).
_MODALITY = {"FFR": "HD"}

_BODY_SITES: dict[int, list[str]] = {
    1: ["HEART", "CORONARYARTERY"], 2: ["HEART"], 3: ["HEART", "CORONARYARTERY"],
    4: ["HEART", "CORONARYARTERY"], 5: ["HEART", "CORONARYARTERY"], 6: ["HEART", "CORONARYARTERY"],
    7: ["HEART", "CORONARYARTERY"], 8: ["HEART", "CORONARYARTERY"], 9: ["HEART"],
    10: ["BRAIN"], 11: ["BRAIN"], 12: ["BRAIN"], 13: ["BRAIN"], 14: ["BRAIN", "HEAD"],
    15: ["LUNG", "CHEST"], 16: ["LUNG"], 17: ["LUNG", "CHEST"], 18: ["CHEST", "LUNG"],
    19: ["NECK"], 20: ["EYE"], 21: ["EYE"], 22: ["LIVER"], 23: ["SPINE"], 24: ["TLSPINE"],
    25: ["HAND", "FOOT"],
}  # fmt: skip

_ANNOTATION_FORMATS: dict[str, list[str]] = {
    "": [],
    "none": ["NONE"],
    "DICOM": ["DICOM"],
    "DICOM RT": ["DICOM_RT"],
    "RTSS": ["RTSS"],
    "AIM": ["AIM"],
    "DICOM PR": ["DICOM_PR"],
    "DICOM SR": ["DICOM_SR"],
    "PNG": ["PNG"],
    "Excel": ["EXCEL"],
    "text file": ["TEXT"],
    "DICOM (lesion contours) + AIM (semantic labels)": ["DICOM", "AIM"],
}

_HEALTH_THEME = "http://publications.europa.eu/resource/authority/data-theme/HEAL"


def sample_rows() -> list[dict[str, str]]:
    """The packaged rows of tables 5 and 6, one per dataset portion."""
    text = (resources.files("catalog.samples") / "imaging_datasets_2019.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _counts(row: dict[str, str]) -> CaseCounts:
    return CaseCounts(
        image_only=int(row["image_only"] or 0),
        partially_annotated=int(row["partially_annotated"] or 0),
        fully_annotated=int(row["fully_annotated"] or 0),
    )


def _dataset(no: int, portions: list[dict[str, str]]) -> Dataset:
    first = portions[0]
    team = first["team"]
    shared = [p for p in portions if p["sharing"] == "shared"]
    not_shared = [p for p in portions if p["sharing"] in ("not_shared", "not_shared_portion")]
    shared_counts = _counts(shared[0]) if shared else None
    not_shared_counts = _counts(not_shared[0]) if not_shared else None
    modality = _MODALITY.get(first["modality"], first["modality"])
    target_2019 = sum(int(p["target_cases_2019_11"] or 0) for p in portions)
    targets = {"2019-11": target_2019}
    target_2020 = sum(int(p["target_cases_2020_11"] or 0) for p in portions)
    if target_2020:
        targets["2020-11"] = target_2020
    tools = [t.strip() for t in first["annotation_tool"].split(";") if t.strip()]
    annotation = _ANNOTATION_FORMATS[first["annotation_format"]]
    total = sum(_counts(p).total for p in portions)
    modality_vocab = vocabulary("modality")
    site_vocab = vocabulary("body_site")
    sites = _BODY_SITES[no]

    def describe(lang: str) -> str:
        c = (shared_counts or CaseCounts()) + (not_shared_counts or CaseCounts())
        name = first["name_zh"] if lang == "zh-Hant" else first["name_en"]
        team_name = TEAMS[team][lang]
        if lang == "zh-Hant":
            text = (
                f"{name}：{team_name}為醫療影像 AI 訓練建置之標註資料集"
                f"（{modality_vocab.label(modality, lang)}）。2019 年 9 月已建置 {total:,} 例"
                f"（僅影像 {c.image_only:,}、部分標註 {c.partially_annotated:,}、完整標註 {c.fully_annotated:,}）。"
                f"影像格式 {first['image_format']}"
            )
            if first["annotation_format"]:
                text += f"，標註格式 {first['annotation_format']}"
            if tools:
                text += f"，標註工具 {'、'.join(tools)}"
            text += "。"
            if not shared:
                text += "本資料集目前不開放分享。"
            elif not_shared:
                text += f"其中 {not_shared_counts.total if not_shared_counts else 0:,} 例不開放分享。"
            return text
        text = (
            f"{name}: an annotated dataset for medical-imaging AI built by the {team_name} "
            f"({modality_vocab.label(modality, lang)}). {total:,} cases by September 2019 "
            f"({c.image_only:,} images only, {c.partially_annotated:,} partially annotated, "
            f"{c.fully_annotated:,} fully annotated). Image format {first['image_format']}"
        )
        if first["annotation_format"]:
            text += f"; annotation format {first['annotation_format']}"
        if tools:
            text += f"; annotated with {', '.join(tools)}"
        text += "."
        if not shared:
            text += " This dataset is not shared at present."
        elif not_shared:
            text += f" {not_shared_counts.total if not_shared_counts else 0:,} of its cases are not shared."
        return text

    keywords = {
        "zh-Hant": [modality_vocab.label(modality, "zh-Hant"), *(site_vocab.label(s, "zh-Hant") for s in sites)],
        "en": [modality, modality_vocab.label(modality, "en"), *(site_vocab.label(s, "en") for s in sites)],
    }
    data: dict[str, Any] = {
        "identifier": f"MIAI-2019-{no:02d}",
        "title": {"zh-Hant": first["name_zh"], "en": first["name_en"]},
        "description": {"zh-Hant": describe("zh-Hant"), "en": describe("en")},
        "keywords": keywords,
        "themes": [_HEALTH_THEME],
        "publisher": Agent(name=TEAMS[team], homepage=TEAM_HOMEPAGES[team]),
        "creators": [Agent(name=TEAMS[team], homepage=TEAM_HOMEPAGES[team])],
        "contact_points": [{"name": TEAMS[team], "url": TEAM_HOMEPAGES[team]}],
        "type": IMAGE_TYPE,
        "applicable_legislation": [PDPA],
        "provenance": {
            "zh-Hant": f"{TEAMS[team]['zh-Hant']}於 2019 年醫療影像 AI 計畫中自院內影像建置；"
            "收案機構先去除或假名化直接識別資料，集中後再依再識別風險評估進行第二階段去識別化。",
            "en": f"Built by the {TEAMS[team]['en']} from its own imaging archive in the 2019 medical-imaging "
            "AI programme; direct identifiers removed or pseudonymised at the source, then de-identified a "
            "second time after a re-identification risk assessment.",
        },
        "distributions": [
            {
                "title": {"zh-Hant": "經審查後取用", "en": "Access after review"},
                "access_url": f"{TEAM_HOMEPAGES[team]}",
                "format": first["image_format"],
                "access_rights": "RESTRICTED" if shared else "NON_PUBLIC",
            }
        ],
        "issued": "2019-09-15",
        "temporal": [PeriodOfTime(start="2018-12-01", end="2019-09-15")],
        "access_rights": "RESTRICTED" if shared else "NON_PUBLIC",
        "language": ["ZHO", "ENG"],
        "health": {
            "health_categories": [vocabulary("health_category").iri("IMAG")],
            "number_of_records": total,
            "hdab": Agent(name=ACCESS_COMMITTEE, homepage="https://www.mohw.gov.tw/"),
            "has_structured_data": False,
            "purposes": ["https://w3id.org/dpv#AcademicResearch"],
        },
        "imaging": ImagingInfo(
            modalities=[modality],
            body_sites=sites,
            image_formats=[first["image_format"]],
            annotation_formats=annotation,
            annotation_tools=tools,
            shared=shared_counts,
            not_shared=not_shared_counts,
            target_cases=targets,
            avg_images_per_case=float(first["avg_images_per_case"]),
            est_annotated_images=sum(int(p["est_annotated_images"] or 0) for p in portions),
            access_routes=["collaboration", "review"] if shared else ["not_shared"],
            access_channels=["on_site", "vpn", "download"] if shared else [],
            building_team=team,
        ),
    }
    return Dataset.model_validate(data)


def sample_datasets() -> list[Dataset]:
    """The 25 sample datasets, in the seed's order."""
    portions: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in sample_rows():
        portions[int(row["no"])].append(row)
    return [_dataset(no, rows) for no, rows in sorted(portions.items())]


def sample_source_guid(prefix: str) -> str:
    return f"{prefix}/{SAMPLE_SOURCE_UUID}"


def load_sample(store: Store) -> list[SaveResult]:
    """Load (or refresh) the sample catalog; GUIDs are stable across runs and machines."""
    records = [NewRecord(ds, upstream_id=ds.identifier) for ds in sample_datasets()]
    return store.save_many(
        records,
        actor="fairgate sample loader",
        activity="load-sample",
        reason="sample catalog of the 2019 imaging programme (seed 003, tables 5-6)",
        source_guid=sample_source_guid(store.guid_prefix),
    )
