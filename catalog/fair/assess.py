"""A FAIR self-assessment of one record: a score per FAIR principle, computed from the record
and from what fairgate serves for every record, with what to fix, in both languages.

Metric identifiers and names follow the FAIRsFAIR data object assessment metrics (v0.5) that
F-UJI implements (``FsF-F1-01D`` …). Where ours differ, each metric's ``differs`` says how:
F-UJI probes a landing page from outside; we know the record and the services that publish
it, so the service-level metrics (resolvable GUID, open protocols, RDF, tombstones) pass for
every record that fairgate serves, and the record-level ones look at the fields themselves.
Pure: data in, data out; no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas import Dataset

LangText = dict[str, str]

#: File formats the imaging and health-data communities recommend for sharing (R1.3-02D).
COMMUNITY_FORMATS = frozenset(
    {
        "DICOM",
        "NIFTI",
        "NRRD",
        "CSV",
        "TSV",
        "JSON",
        "JSON_LD",
        "XML",
        "RDF_TURTLE",
        "RDF_XML",
        "PARQUET",
        "HDF5",
        "TIFF",
        "PNG",
        "ZIP",
        "TAR",
        "GZIP",
    }
)
#: Licence IRIs with a machine-readable, widely recognised deed.
_RECOGNISED_LICENCES = ("creativecommons.org/", "opendatacommons.org/", "spdx.org/licenses/", "data.gov.tw/license")


@dataclass
class Check:
    """One thing a metric looks for, and whether the record has it."""

    name: LangText
    passed: bool
    fix: LangText | None = None


@dataclass
class MetricResult:
    id: str
    principle: str
    name: LangText
    checks: list[Check]
    differs: LangText | None = None

    @property
    def score(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def max_score(self) -> int:
        return len(self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "principle": self.principle,
            "name": self.name,
            "score": self.score,
            "max": self.max_score,
            "checks": [{"name": c.name, "passed": c.passed} for c in self.checks],
            "fix": [c.fix for c in self.checks if not c.passed and c.fix],
            "differs_from_fuji": self.differs,
        }


@dataclass
class Assessment:
    guid: str
    metrics: list[MetricResult] = field(default_factory=list)

    def principle_scores(self) -> dict[str, dict[str, int]]:
        """Per principle (F1 … R1.3): earned and maximum points."""
        out: dict[str, dict[str, int]] = {}
        for m in self.metrics:
            p = out.setdefault(m.principle, {"score": 0, "max": 0})
            p["score"] += m.score
            p["max"] += m.max_score
        return out

    def area_percent(self) -> dict[str, int]:
        """F, A, I and R as whole percentages."""
        totals: dict[str, list[int]] = {}
        for m in self.metrics:
            t = totals.setdefault(m.principle[0], [0, 0])
            t[0] += m.score
            t[1] += m.max_score
        return {k: round(100 * s / mx) if mx else 0 for k, (s, mx) in totals.items()}

    @property
    def percent(self) -> int:
        earned = sum(m.score for m in self.metrics)
        total = sum(m.max_score for m in self.metrics)
        return round(100 * earned / total) if total else 0

    def fixes(self) -> list[LangText]:
        return [c.fix for m in self.metrics for c in m.checks if not c.passed and c.fix]

    def as_json(self) -> dict[str, Any]:
        return {
            "guid": self.guid,
            "metric_set": "FAIRsFAIR data object assessment metrics v0.5 (as F-UJI implements them)",
            "percent": self.percent,
            "areas": self.area_percent(),
            "principles": self.principle_scores(),
            "metrics": [m.as_json() for m in self.metrics],
            "fix": self.fixes(),
        }


def _t(en: str, zh: str) -> LangText:
    return {"en": en, "zh-Hant": zh}


def _check(en: str, zh: str, passed: bool, fix_en: str, fix_zh: str) -> Check:
    return Check(_t(en, zh), bool(passed), _t(fix_en, fix_zh))


_SERVICE = _t(
    "F-UJI tests this from outside over HTTP; fairgate serves it for every record, so it is scored from the service.",
    "F-UJI 由外部經 HTTP 檢測；fairgate 為每筆紀錄提供此服務，故依服務計分。",
)


def _f1(ds: Dataset, guid: str) -> list[MetricResult]:
    return [
        MetricResult(
            "FsF-F1-01D",
            "F1",
            _t("Data is assigned a globally unique identifier", "資料具全域唯一識別碼"),
            [_check("fairgate GUID", "fairgate GUID", bool(guid), "", "")],
            _SERVICE,
        ),
        MetricResult(
            "FsF-F1-02D",
            "F1",
            _t("Data is assigned a persistent identifier", "資料具永久識別碼"),
            [
                _check(
                    "GUID resolves at /guid/ and never dies (tombstones)",
                    "GUID 可於 /guid/ 解析且永不失效（墓碑）",
                    bool(guid),
                    "",
                    "",
                )
            ],
            _SERVICE,
        ),
    ]


def _bilingual(text: dict[str, str]) -> bool:
    return bool(text.get("en")) and bool(text.get("zh-Hant"))


def _f2(ds: Dataset) -> MetricResult:
    checks = [
        _check(
            "title in English and Chinese",
            "中英文標題",
            _bilingual(ds.title),
            "Give the title in both zh-Hant and English.",
            "請提供中文（zh-Hant）與英文標題。",
        ),
        _check(
            "description in English and Chinese",
            "中英文描述",
            _bilingual(ds.description),
            "Write a description in both zh-Hant and English.",
            "請撰寫中文與英文描述。",
        ),
        _check(
            "creator or publisher",
            "建立者或發布者",
            bool(ds.creators or ds.publisher),
            "Name the publisher (and the creators).",
            "請填寫發布者（及建立者）。",
        ),
        _check("keywords", "關鍵字", bool(ds.keywords), "Add keywords in both languages.", "請加入中英文關鍵字。"),
        _check(
            "publication date",
            "發布日期",
            ds.issued is not None,
            "Add the date the dataset was first published (issued).",
            "請填寫資料集首次發布日期（issued）。",
        ),
        _check(
            "dataset identifier",
            "資料集識別碼",
            bool(ds.identifier or ds.other_identifiers),
            "Add the dataset's own identifier (dct:identifier), e.g. its DOI.",
            "請填寫資料集本身的識別碼（如 DOI）。",
        ),
    ]
    return MetricResult(
        "FsF-F2-01M", "F2", _t("Metadata includes descriptive core elements", "詮釋資料包含核心描述項目"), checks
    )


def _f3(ds: Dataset) -> MetricResult:
    located = any(d.download_url or d.access_url for d in ds.distributions)
    return MetricResult(
        "FsF-F3-01M",
        "F3",
        _t("Metadata includes the identifier of the data it describes", "詮釋資料包含所描述資料之識別"),
        [
            _check(
                "a distribution with an access or download URL",
                "具取用或下載網址之發行版本",
                located,
                "Add a distribution whose access URL says where to ask for (or download) the data.",
                "請加入發行版本並提供取用網址（申請或下載資料之處）。",
            )
        ],
    )


def _f4(ds: Dataset) -> MetricResult:
    return MetricResult(
        "FsF-F4-01M",
        "F4",
        _t("Metadata is offered in a way that can be retrieved and indexed by machines", "詮釋資料可被機器擷取與索引"),
        [
            _check(
                "schema.org JSON-LD in the page; CKAN, OAI-PMH and DCAT listings",
                "頁面內嵌 schema.org JSON-LD；CKAN、OAI-PMH 與 DCAT 目錄",
                True,
                "",
                "",
            )
        ],
        _t(
            "F-UJI also asks DataCite and search engines whether they index the record; we count our own "
            "harvestable listings.",
            "F-UJI 另查詢 DataCite 與搜尋引擎是否收錄；我們計入本站可被收割之目錄。",
        ),
    )


def _a1(ds: Dataset) -> list[MetricResult]:
    conditions = ds.access_rights == "PUBLIC" or bool(
        (ds.imaging and (ds.imaging.access_routes or ds.imaging.access_channels)) or ds.contact_points or ds.health.hdab
    )
    urls = [u for d in ds.distributions for u in (d.download_url, d.access_url) if u]
    return [
        MetricResult(
            "FsF-A1-01M",
            "A1",
            _t("Metadata contains access level and access conditions of the data", "詮釋資料載明資料之取用層級與條件"),
            [
                _check(
                    "access rights (EU vocabulary)",
                    "取用權限（EU 詞彙）",
                    ds.access_rights is not None,
                    "Set access rights: PUBLIC, RESTRICTED or NON_PUBLIC.",
                    "請設定取用權限：PUBLIC、RESTRICTED 或 NON_PUBLIC。",
                ),
                _check(
                    "how to get access (route, contact or access body)",
                    "取用方式（途徑、聯絡人或審查單位）",
                    conditions,
                    "Say how to get access: an access route, a contact point or the data access body.",
                    "請說明如何取得資料：取用途徑、聯絡窗口或資料審查單位。",
                ),
            ],
        ),
        MetricResult(
            "FsF-A1-02M",
            "A1",
            _t("Metadata is accessible through a standardized communication protocol", "詮釋資料可經標準通訊協定取得"),
            [
                _check(
                    "HTTP(S) with content negotiation, OAI-PMH, CKAN API",
                    "HTTP(S) 內容協商、OAI-PMH、CKAN API",
                    True,
                    "",
                    "",
                )
            ],
            _SERVICE,
        ),
        MetricResult(
            "FsF-A1-03D",
            "A1",
            _t("Data is accessible through a standardized communication protocol", "資料可經標準通訊協定取得"),
            [
                _check(
                    "access or download URL over HTTP(S)",
                    "以 HTTP(S) 提供取用或下載網址",
                    bool(urls) and all(u.startswith(("https://", "http://")) for u in urls),
                    "Give the data's access or download URL over HTTPS.",
                    "請以 HTTPS 提供資料之取用或下載網址。",
                )
            ],
        ),
    ]


def _a2(ds: Dataset) -> MetricResult:
    return MetricResult(
        "FsF-A2-01M",
        "A2",
        _t("Metadata remains available, even if the data is no longer available", "即使資料不再提供，詮釋資料仍保留"),
        [
            _check(
                "withdrawn records stay as tombstones (HTTP 410 with the last metadata)",
                "撤下之紀錄保留為墓碑（HTTP 410 附最後詮釋資料）",
                True,
                "",
                "",
            )
        ],
        _SERVICE,
    )


def _i(ds: Dataset) -> list[MetricResult]:
    iris = [*ds.themes, *ds.health.health_categories, *ds.health.health_themes, *ds.health.coding_systems]
    coded = bool(ds.language) or bool(ds.imaging and (ds.imaging.modalities or ds.imaging.body_sites))
    links = [
        *ds.relation,
        *ds.is_referenced_by,
        *ds.documentation,
        *ds.sample,
        *(a.iri for a in ds.creators if a.iri),
        *(
            [ds.publisher.iri or ds.publisher.homepage]
            if ds.publisher and (ds.publisher.iri or ds.publisher.homepage)
            else []
        ),
    ]
    return [
        MetricResult(
            "FsF-I1-01M",
            "I1",
            _t(
                "Metadata is represented using a formal knowledge representation language",
                "詮釋資料以正式知識表示語言呈現",
            ),
            [
                _check(
                    "RDF (Turtle, JSON-LD, RDF/XML) under DCAT-AP 3 / HealthDCAT-AP",
                    "RDF（Turtle、JSON-LD、RDF/XML），依 DCAT-AP 3 / HealthDCAT-AP",
                    True,
                    "",
                    "",
                )
            ],
            _SERVICE,
        ),
        MetricResult(
            "FsF-I2-01M",
            "I2",
            _t("Metadata uses semantic resources", "詮釋資料使用語意資源（詞彙）"),
            [
                _check(
                    "themes or health categories as vocabulary IRIs",
                    "主題或健康類別使用詞彙 IRI",
                    bool(iris),
                    "Add themes (EU data themes) or HealthDCAT-AP health categories.",
                    "請加入主題（EU data theme）或 HealthDCAT-AP 健康類別。",
                ),
                _check(
                    "coded languages, modalities or body sites",
                    "語言、影像類型或部位使用代碼",
                    coded,
                    "Give the dataset's languages (and modalities / body sites for images).",
                    "請填寫資料語言（影像資料另填影像類型與部位）。",
                ),
            ],
        ),
        MetricResult(
            "FsF-I3-01M",
            "I3",
            _t("Metadata includes links between the data and its related entities", "詮釋資料包含與相關實體之連結"),
            [
                _check(
                    "related resources, publications, documentation or agent IRIs",
                    "相關資源、文獻、文件或機構 IRI",
                    bool(links),
                    "Link related publications, documentation, or the publisher's and creators' IRIs.",
                    "請連結相關文獻、文件，或發布者與建立者之 IRI。",
                )
            ],
        ),
    ]


def _r1(ds: Dataset) -> list[MetricResult]:
    content = bool(
        ds.health.variables
        or ds.health.number_of_records
        or ds.health.number_of_unique_individuals
        or (ds.imaging and ds.imaging.total_cases)
    )
    formats = {d.format for d in ds.distributions if d.format} | set(ds.imaging.image_formats if ds.imaging else [])
    licence = ds.license.iri if ds.license else ""
    return [
        MetricResult(
            "FsF-R1-01MD",
            "R1",
            _t("Metadata specifies the content of the data", "詮釋資料說明資料內容"),
            [
                _check(
                    "size or variables (records, individuals, cases)",
                    "規模或變項（筆數、人數、案例數）",
                    content,
                    "Say how many records, individuals or cases the data hold, or list its variables.",
                    "請說明資料之筆數、人數或案例數，或列出變項。",
                ),
                _check(
                    "file formats",
                    "檔案格式",
                    bool(formats),
                    "Give each distribution's file format.",
                    "請填寫每個發行版本之檔案格式。",
                ),
            ],
        ),
        MetricResult(
            "FsF-R1.1-01M",
            "R1.1",
            _t("Metadata includes license information under which data can be reused", "詮釋資料包含資料再利用之授權"),
            [
                _check(
                    "a licence",
                    "授權",
                    bool(licence),
                    "Choose a licence (e.g. CC BY 4.0) and give its IRI.",
                    "請選擇授權（如 CC BY 4.0）並提供其 IRI。",
                ),
                _check(
                    "a recognised, machine-readable licence",
                    "公認且機器可讀之授權",
                    any(x in licence for x in _RECOGNISED_LICENCES),
                    "Use a licence with a recognised IRI (Creative Commons, Open Data Commons or SPDX).",
                    "請使用具公認 IRI 之授權（Creative Commons、Open Data Commons 或 SPDX）。",
                ),
            ],
        ),
        MetricResult(
            "FsF-R1.2-01M",
            "R1.2",
            _t(
                "Metadata includes provenance information about data creation or generation",
                "詮釋資料包含資料產生之來源資訊",
            ),
            [
                _check(
                    "a provenance statement",
                    "來源說明",
                    bool(ds.provenance),
                    "Say how the data were collected or generated (provenance).",
                    "請說明資料如何收集或產生（來源）。",
                ),
                _check("creators", "建立者", bool(ds.creators), "Name the creators.", "請填寫建立者。"),
                _check(
                    "dates of change or a version",
                    "更新日期或版本",
                    bool(ds.modified or ds.version),
                    "Give the last modification date or a version.",
                    "請填寫最後更新日期或版本。",
                ),
            ],
        ),
        MetricResult(
            "FsF-R1.3-01M",
            "R1.3",
            _t(
                "Metadata follows a standard recommended by the target research community",
                "詮釋資料遵循目標研究社群建議之標準",
            ),
            [
                _check(
                    "HealthDCAT-AP health properties (category, access body or population)",
                    "HealthDCAT-AP 健康屬性（類別、審查單位或族群）",
                    bool(ds.health.health_categories or ds.health.hdab or ds.health.population_coverage),
                    "Fill the HealthDCAT-AP properties: health category, the data access body, population coverage.",
                    "請填寫 HealthDCAT-AP 屬性：健康類別、資料審查單位、涵蓋族群。",
                )
            ],
            _t(
                "F-UJI checks the metadata standard a repository declares; every fairgate record is published as "
                "HealthDCAT-AP, so we check that the record fills its health properties.",
                "F-UJI 檢查儲存庫宣告之標準；fairgate 皆以 HealthDCAT-AP 發布，故檢查紀錄是否填寫其健康屬性。",
            ),
        ),
        MetricResult(
            "FsF-R1.3-02D",
            "R1.3",
            _t(
                "Data is available in a file format recommended by the target research community",
                "資料以社群建議之檔案格式提供",
            ),
            [
                _check(
                    "a community file format (DICOM, NIfTI, CSV, …)",
                    "社群建議格式（DICOM、NIfTI、CSV …）",
                    bool(formats & COMMUNITY_FORMATS),
                    "Offer the data in a community format such as DICOM, NIfTI or CSV.",
                    "請以社群建議格式（如 DICOM、NIfTI、CSV）提供資料。",
                )
            ],
        ),
    ]


_PARTS: list[Callable[[Dataset], list[MetricResult] | MetricResult]] = [_f2, _f3, _f4, _a1, _a2, _i, _r1]


def assess(ds: Dataset, guid: str) -> Assessment:
    """The self-assessment of ``ds`` as fairgate serves it under ``guid``."""
    metrics = _f1(ds, guid)
    for part in _PARTS:
        got = part(ds)
        metrics.extend(got if isinstance(got, list) else [got])
    order = ["F1", "F2", "F3", "F4", "A1", "A2", "I1", "I2", "I3", "R1", "R1.1", "R1.2", "R1.3"]
    metrics.sort(key=lambda m: order.index(m.principle))
    return Assessment(guid, metrics)


#: Metric ids in the order an assessment lists them (the report's row order).
_METRIC_ORDER = [m.id for m in assess(Dataset.model_validate({"title": {"en": "-"}}), "-").metrics]


@dataclass(frozen=True)
class RecordSummary:
    """What the catalog report needs of one record's assessment: small, kept per record by the cache."""

    guid: str
    percent: int
    #: Per metric: (id, principle, name, score, max), in the assessment's order.
    metrics: tuple[tuple[str, str, LangText, int, int], ...]
    fixes: tuple[LangText, ...]

    @classmethod
    def of(cls, a: Assessment) -> RecordSummary:
        return cls(
            a.guid,
            a.percent,
            tuple((m.id, m.principle, m.name, m.score, m.max_score) for m in a.metrics),
            tuple(a.fixes()),
        )


class ReportTally:
    """The catalog report's sums, kept so that one record can be added or taken out again without
    reading the others (:mod:`catalog.fair.cache` keeps one current as records change)."""

    def __init__(self) -> None:
        self.records: dict[str, RecordSummary] = {}
        self._percent = 0
        self._metrics: dict[str, dict[str, Any]] = {}
        self._fixes: dict[str, dict[str, Any]] = {}

    def add(self, s: RecordSummary) -> None:
        self.discard(s.guid)
        self.records[s.guid] = s
        self._count(s, 1)

    def discard(self, guid: str) -> None:
        old = self.records.pop(guid, None)
        if old is not None:
            self._count(old, -1)

    def _count(self, s: RecordSummary, sign: int) -> None:
        self._percent += sign * s.percent
        for mid, principle, name, score, mx in s.metrics:
            row = self._metrics.setdefault(
                mid, {"id": mid, "principle": principle, "name": name, "passed": 0, "score": 0, "max": 0}
            )
            row["passed"] += sign * (score == mx)
            row["score"] += sign * score
            row["max"] += sign * mx
        for fix in s.fixes:
            entry = self._fixes.setdefault(fix["en"], {"fix": fix, "records": 0})
            entry["records"] += sign
            if entry["records"] == 0:
                del self._fixes[fix["en"]]

    def report(self) -> dict[str, Any]:
        count = len(self.records)
        order = {m: i for i, m in enumerate(_METRIC_ORDER)}
        metrics = sorted(
            (dict(m) for m in self._metrics.values()), key=lambda m: (order.get(m["id"], len(order)), m["id"])
        )
        fixes = sorted(self._fixes.values(), key=lambda f: (-f["records"], f["fix"]["en"]))[:10]
        weakest = heapq.nsmallest(20, ((s.percent, s.guid) for s in self.records.values()))
        return {
            "records": count,
            "mean_percent": round(self._percent / count) if count else 0,
            "metrics": metrics if count else [],
            "top_fixes": [{"fix": f["fix"], "records": f["records"]} for f in fixes],
            "weakest": [{"guid": g, "percent": p} for p, g in weakest],
        }


def catalog_report(assessments: Iterable[Assessment]) -> dict[str, Any]:
    """Catalog-wide figures: records, mean percent, per metric how many records pass it fully,
    and the fixes that would help the most records (ties by their English text)."""
    tally = ReportTally()
    for a in assessments:
        tally.add(RecordSummary.of(a))
    return tally.report()
