"""The web pages' two interface languages: the strings, and which language a request wants.

Only interface text lives here; dataset text comes from the records' own language maps.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

LANGUAGES: Final = ("zh-Hant", "en")
DEFAULT_LANGUAGE: Final = "zh-Hant"
LANG_COOKIE: Final = "fairgate_lang"

#: HTML ``lang`` attribute per interface language.
HTML_LANG: Final = {"zh-Hant": "zh-Hant-TW", "en": "en"}
LANGUAGE_NAMES: Final = {"zh-Hant": "中文", "en": "English"}

_STRINGS: Final[dict[str, dict[str, str]]] = {
    "site_tagline": {
        "en": "Find health datasets, read their metadata, and see how each may be used.",
        "zh-Hant": "搜尋健康資料集、閱讀其詮釋資料，並了解每個資料集的使用方式。",
    },
    "skip_to_content": {"en": "Skip to content", "zh-Hant": "跳至主要內容"},
    "nav_datasets": {"en": "Datasets", "zh-Hant": "資料集"},
    "nav_api": {"en": "API", "zh-Hant": "API"},
    "nav_catalog_rdf": {"en": "DCAT catalog", "zh-Hant": "DCAT 目錄"},
    "switch_language": {"en": "Language", "zh-Hant": "語言"},
    "search_label": {"en": "Search datasets", "zh-Hant": "搜尋資料集"},
    "search_placeholder": {
        "en": "e.g. lung CT, 乳房, pathology",
        "zh-Hant": "例如：肺部 CT、乳房、病理",
    },
    "search_button": {"en": "Search", "zh-Hant": "搜尋"},
    "sort_by": {"en": "Sort by", "zh-Hant": "排序方式"},
    "sort_relevance": {"en": "Best match", "zh-Hant": "最相關"},
    "sort_newest": {"en": "Newest", "zh-Hant": "最新"},
    "sort_title": {"en": "Title", "zh-Hant": "標題"},
    "sort_cases": {"en": "Most cases", "zh-Hant": "案例數最多"},
    "also_searched": {"en": "Also searched for:", "zh-Hant": "同時搜尋："},
    "clear_filters": {"en": "Clear", "zh-Hant": "清除"},
    "filters": {"en": "Filter", "zh-Hant": "篩選"},
    "apply_filters": {"en": "Apply filters", "zh-Hant": "套用篩選"},
    "n_datasets": {"en": "{n} datasets", "zh-Hant": "共 {n} 個資料集"},
    "n_results": {"en": "{n} results", "zh-Hant": "找到 {n} 筆結果"},
    "no_results": {
        "en": "No dataset matches. Try fewer words or clear the filters.",
        "zh-Hant": "沒有符合的資料集。請減少關鍵字或清除篩選條件。",
    },
    "empty_catalog": {
        "en": "The catalog is empty. Load the sample catalog with `fairgate load-sample`.",
        "zh-Hant": "目錄目前是空的。可執行 `fairgate load-sample` 載入範例目錄。",
    },
    "next_page": {"en": "Next page", "zh-Hant": "下一頁"},
    "first_page": {"en": "First page", "zh-Hant": "第一頁"},
    "cases": {"en": "cases", "zh-Hant": "案例"},
    "total_cases": {"en": "Total cases", "zh-Hant": "案例總數"},
    "publisher": {"en": "Publisher", "zh-Hant": "發布者"},
    "building_team": {"en": "Building team", "zh-Hant": "建置團隊"},
    "access_rights": {"en": "Access rights", "zh-Hant": "取用權限"},
    "license": {"en": "Licence", "zh-Hant": "授權"},
    "languages": {"en": "Languages", "zh-Hant": "語言"},
    "issued": {"en": "Issued", "zh-Hant": "發布日期"},
    "modified": {"en": "Modified", "zh-Hant": "更新日期"},
    "version": {"en": "Version", "zh-Hant": "版本"},
    "keywords": {"en": "Keywords", "zh-Hant": "關鍵字"},
    "themes": {"en": "Themes", "zh-Hant": "主題"},
    "landing_page": {"en": "Landing page", "zh-Hant": "資料集網頁"},
    "contact": {"en": "Contact", "zh-Hant": "聯絡窗口"},
    "creators": {"en": "Creators", "zh-Hant": "建立者"},
    "custodians": {"en": "Custodians", "zh-Hant": "保管者"},
    "temporal": {"en": "Time covered", "zh-Hant": "涵蓋期間"},
    "spatial": {"en": "Places covered", "zh-Hant": "涵蓋地區"},
    "identifier": {"en": "Identifier", "zh-Hant": "識別碼"},
    "guid": {"en": "Persistent identifier (GUID)", "zh-Hant": "永久識別碼 (GUID)"},
    "cite_as": {"en": "Cite as", "zh-Hant": "引用網址"},
    "metadata_formats": {"en": "Metadata as", "zh-Hant": "詮釋資料格式"},
    "croissant": {"en": "Croissant (ML)", "zh-Hant": "Croissant（機器學習）"},
    "fair_assessment": {"en": "FAIR self-assessment", "zh-Hant": "FAIR 自我評估"},
    "fair_assessment_intro": {
        "en": "Scored per FAIR principle with the FAIRsFAIR (F-UJI) metrics, from this record and what fairgate "
        "serves for it.",
        "zh-Hant": "依 FAIRsFAIR（F-UJI）指標，就本紀錄及 fairgate 為其提供之服務，逐項 FAIR 原則計分。",
    },
    "fair_overall": {"en": "Overall", "zh-Hant": "總分"},
    "fair_principle": {"en": "Principle", "zh-Hant": "原則"},
    "fair_metric": {"en": "Metric", "zh-Hant": "指標"},
    "fair_points": {"en": "Points", "zh-Hant": "得分"},
    "fair_to_fix": {"en": "What to fix", "zh-Hant": "待改善項目"},
    "fair_nothing_to_fix": {"en": "Nothing: every check passes.", "zh-Hant": "無：所有檢查皆通過。"},
    "fair_report": {"en": "FAIR report of the catalog", "zh-Hant": "目錄 FAIR 報告"},
    "fair_report_intro": {
        "en": "For stewards: how FAIR the catalog's records are, metric by metric, and the fixes that would help "
        "the most records.",
        "zh-Hant": "供管理者參考：目錄紀錄逐項指標之 FAIR 程度，以及可改善最多紀錄之修正。",
    },
    "fair_records": {"en": "Records", "zh-Hant": "紀錄數"},
    "fair_mean": {"en": "Mean score", "zh-Hant": "平均分數"},
    "fair_by_metric": {"en": "Records passing each metric fully", "zh-Hant": "完全通過各指標之紀錄"},
    "fair_passing": {"en": "Passing", "zh-Hant": "通過"},
    "fair_top_fixes": {"en": "Fixes that help the most records", "zh-Hant": "可改善最多紀錄之修正"},
    "fair_weakest": {"en": "Records with the lowest scores", "zh-Hant": "分數最低之紀錄"},
    "description": {"en": "Description", "zh-Hant": "說明"},
    "in_other_language": {"en": "In Chinese", "zh-Hant": "英文版本"},
    "overview": {"en": "Overview", "zh-Hant": "概要"},
    "imaging": {"en": "Imaging", "zh-Hant": "影像資訊"},
    "modalities": {"en": "Modalities", "zh-Hant": "影像類型"},
    "body_sites": {"en": "Body sites", "zh-Hant": "身體部位"},
    "image_formats": {"en": "Image formats", "zh-Hant": "影像格式"},
    "annotation_formats": {"en": "Annotation formats", "zh-Hant": "標註格式"},
    "annotation_tools": {"en": "Annotation tools", "zh-Hant": "標註工具"},
    "annotation_status": {"en": "Annotation", "zh-Hant": "標註狀態"},
    "access_routes": {"en": "Access routes", "zh-Hant": "開放方式"},
    "access_channels": {"en": "Access channels", "zh-Hant": "使用管道"},
    "avg_images_per_case": {"en": "Average images per case", "zh-Hant": "平均每案影像數"},
    "est_annotated_images": {"en": "Estimated annotated images", "zh-Hant": "預估標註影像數"},
    "targets": {"en": "Case targets", "zh-Hant": "案例目標數"},
    "target_by": {"en": "By", "zh-Hant": "預定時間"},
    "case_counts": {"en": "Case counts", "zh-Hant": "案例數量"},
    "case_counts_caption": {
        "en": "Cases by annotation status, for the shared portion and the portion that is not shared",
        "zh-Hant": "依標註狀態區分之案例數：開放分享部分與不開放部分",
    },
    "shared": {"en": "Shared", "zh-Hant": "開放分享"},
    "not_shared": {"en": "Not shared", "zh-Hant": "不開放"},
    "total": {"en": "Total", "zh-Hant": "合計"},
    "image_only": {"en": "Images only", "zh-Hant": "僅影像"},
    "partially_annotated": {"en": "Partially annotated", "zh-Hant": "部分標註"},
    "fully_annotated": {"en": "Fully annotated", "zh-Hant": "完整標註"},
    "health": {"en": "Health data (HealthDCAT-AP)", "zh-Hant": "健康資料 (HealthDCAT-AP)"},
    "health_categories": {"en": "Health categories", "zh-Hant": "健康資料類別"},
    "health_themes": {"en": "Health themes", "zh-Hant": "健康主題"},
    "hdab": {"en": "Health data access body", "zh-Hant": "健康資料近用機構"},
    "number_of_records": {"en": "Records", "zh-Hant": "紀錄數"},
    "number_of_unique_individuals": {"en": "Unique individuals", "zh-Hant": "不重複個人數"},
    "typical_age": {"en": "Typical age", "zh-Hant": "典型年齡"},
    "population_coverage": {"en": "Population coverage", "zh-Hant": "涵蓋族群"},
    "coding_systems": {"en": "Coding systems", "zh-Hant": "編碼系統"},
    "purposes": {"en": "Purposes", "zh-Hant": "使用目的"},
    "legal_bases": {"en": "Legal bases", "zh-Hant": "法律依據"},
    "personal_data": {"en": "Personal data", "zh-Hant": "個人資料類型"},
    "retention_period": {"en": "Retention period", "zh-Hant": "保存期間"},
    "distributions": {"en": "Distributions", "zh-Hant": "資料發行"},
    "no_distributions": {"en": "No distribution is described.", "zh-Hant": "尚未描述任何資料發行。"},
    "format": {"en": "Format", "zh-Hant": "格式"},
    "media_type": {"en": "Media type", "zh-Hant": "媒體類型"},
    "access_url": {"en": "Access", "zh-Hant": "取用網址"},
    "download_url": {"en": "Download", "zh-Hant": "下載網址"},
    "byte_size": {"en": "Size", "zh-Hant": "大小"},
    "revisions": {"en": "Revisions", "zh-Hant": "修訂紀錄"},
    "revision": {"en": "Revision", "zh-Hant": "修訂版本"},
    "all_revisions": {"en": "All revisions", "zh-Hant": "所有修訂紀錄"},
    "when": {"en": "When (UTC)", "zh-Hant": "時間 (UTC)"},
    "activity": {"en": "Activity", "zh-Hant": "動作"},
    "actor": {"en": "By", "zh-Hant": "執行者"},
    "reason": {"en": "Reason", "zh-Hant": "原因"},
    "changed_fields": {"en": "Changed fields", "zh-Hant": "變更欄位"},
    "content_hash": {"en": "Content hash", "zh-Hant": "內容雜湊"},
    "back_to_dataset": {"en": "Back to the dataset", "zh-Hant": "回到資料集"},
    "back_to_catalog": {"en": "Back to the catalog", "zh-Hant": "回到目錄"},
    "quality_notes": {"en": "Quality notes", "zh-Hant": "品質註記"},
    "provenance": {"en": "Provenance", "zh-Hant": "來源說明"},
    "tombstone_title": {"en": "This dataset has been withdrawn", "zh-Hant": "此資料集已撤除"},
    "tombstone_text": {
        "en": "Its identifier still resolves so that citations keep working. "
        "The last published metadata is shown below.",
        "zh-Hant": "其識別碼仍可解析，以確保引用持續有效。以下為最後公開的詮釋資料。",
    },
    "withdrawn_on": {"en": "Withdrawn on", "zh-Hant": "撤除日期"},
    "last_metadata": {"en": "Last published metadata", "zh-Hant": "最後公開的詮釋資料"},
    "not_found_title": {"en": "Not found", "zh-Hant": "找不到頁面"},
    "error_title": {"en": "Something went wrong", "zh-Hant": "發生錯誤"},
    "search_unavailable": {
        "en": "Full-text search is not available on this server; showing every dataset.",
        "zh-Hant": "此伺服器未提供全文搜尋，以下列出所有資料集。",
    },
    "footer_text": {
        "en": "fairgate · FAIR catalog of health datasets · metadata follows DCAT-AP 3 and HealthDCAT-AP",
        "zh-Hant": "fairgate · 健康資料 FAIR 目錄 · 詮釋資料遵循 DCAT-AP 3 與 HealthDCAT-AP",
    },
    "nav_steward": {"en": "Steward", "zh-Hant": "管理者"},
    "steward_area": {"en": "Steward pages", "zh-Hant": "管理者頁面"},
    "steward_sign_in": {"en": "Steward sign-in", "zh-Hant": "管理者登入"},
    "steward_sign_in_text": {
        "en": "Enter the steward token configured on this server (FAIRGATE_STEWARD_TOKEN).",
        "zh-Hant": "請輸入此伺服器設定的管理者權杖（FAIRGATE_STEWARD_TOKEN）。",
    },
    "steward_token": {"en": "Steward token", "zh-Hant": "管理者權杖"},
    "steward_wrong_token": {
        "en": "That is not the steward token of this server; check FAIRGATE_STEWARD_TOKEN and try again.",
        "zh-Hant": "權杖不正確；請確認 FAIRGATE_STEWARD_TOKEN 後再試一次。",
    },
    "steward_sign_out": {"en": "Sign out", "zh-Hant": "登出"},
    "steward_off": {
        "en": "The steward pages are switched off because no steward token is configured; "
        "set FAIRGATE_STEWARD_TOKEN on the server and restart it.",
        "zh-Hant": "尚未設定管理者權杖，管理者頁面已關閉；請在伺服器設定 FAIRGATE_STEWARD_TOKEN 後重新啟動。",
    },
    "steward_stale_form": {
        "en": "This form was not sent from a current steward page; reload the page and send it again.",
        "zh-Hant": "此表單並非由目前的管理者頁面送出；請重新載入頁面後再送出。",
    },
    "harvest_sources": {"en": "Harvest sources", "zh-Hant": "匯集來源"},
    "no_sources": {
        "en": "No source is registered yet. Add one below, or with `fairgate harvest add`.",
        "zh-Hant": "尚未登錄任何來源。請在下方新增，或使用 `fairgate harvest add`。",
    },
    "source_name": {"en": "Name", "zh-Hant": "名稱"},
    "source_kind": {"en": "Kind", "zh-Hant": "類型"},
    "source_url": {"en": "URL or folder", "zh-Hant": "網址或資料夾"},
    "last_run": {"en": "Last run", "zh-Hant": "最近一次匯集"},
    "never_run": {"en": "Never run.", "zh-Hant": "尚未匯集。"},
    "running": {"en": "running", "zh-Hant": "匯集中"},
    "source_running": {
        "en": "A run of this source is in progress; a new run will be refused until it ends.",
        "zh-Hant": "此來源正在匯集中；結束前無法開始新的匯集。",
    },
    "add_source": {"en": "Add a source", "zh-Hant": "新增來源"},
    "add_source_hint": {
        "en": "ckan: the site's base URL · dcat: a Turtle, RDF/XML or JSON-LD document · datajson: a data.json URL · "
        "oaipmh: the OAI-PMH endpoint · local: a folder on the server.",
        "zh-Hant": "ckan：網站根網址 · dcat：Turtle、RDF/XML 或 JSON-LD 文件 · datajson：data.json 網址 · "
        "oaipmh：OAI-PMH 端點 · local：伺服器上的資料夾。",
    },
    "run_now": {"en": "Run now", "zh-Hant": "立即匯集"},
    "run_hint": {
        "en": "A full run also withdraws records that disappeared at the source; an incremental run asks only for "
        "changes since the last good run and never withdraws. The page returns when the run ends.",
        "zh-Hant": "完整匯集也會撤除來源已刪除的紀錄；增量匯集只取上次成功後的變更，且不撤除任何紀錄。"
        "匯集結束後頁面才會返回。",
    },
    "mode_full": {"en": "Full", "zh-Hant": "完整"},
    "mode_incremental": {"en": "Incremental", "zh-Hant": "增量"},
    "runs": {"en": "Runs", "zh-Hant": "匯集紀錄"},
    "run_mode": {"en": "Mode", "zh-Hant": "模式"},
    "run_status": {"en": "Status", "zh-Hant": "狀態"},
    "run_added": {"en": "Added", "zh-Hant": "新增"},
    "run_updated": {"en": "Updated", "zh-Hant": "更新"},
    "run_unchanged": {"en": "Unchanged", "zh-Hant": "未變更"},
    "run_withdrawn": {"en": "Withdrawn", "zh-Hant": "撤除"},
    "run_failed": {"en": "Failed", "zh-Hant": "失敗"},
    "status_succeeded": {"en": "succeeded", "zh-Hant": "成功"},
    "status_failed": {"en": "failed", "zh-Hant": "失敗"},
    "status_running": {"en": "running", "zh-Hant": "匯集中"},
    "status_skipped": {"en": "skipped", "zh-Hant": "略過"},
    "failed_records": {"en": "Failed records of run {run}", "zh-Hant": "第 {run} 次匯集的失敗紀錄"},
    "no_failed_records": {"en": "No record failed in this run.", "zh-Hant": "此次匯集沒有失敗的紀錄。"},
    "upstream_id": {"en": "Upstream id", "zh-Hant": "來源識別碼"},
    "stage": {"en": "Stage", "zh-Hant": "階段"},
    "yes": {"en": "Yes", "zh-Hant": "是"},
    "no": {"en": "No", "zh-Hant": "否"},
}


#: Dataset language codes (EU language authority) people read on the page.
_DATA_LANGUAGES: Final[dict[str, dict[str, str]]] = {
    "ZHO": {"en": "Chinese", "zh-Hant": "中文"},
    "ENG": {"en": "English", "zh-Hant": "英文"},
    "JPN": {"en": "Japanese", "zh-Hant": "日文"},
    "KOR": {"en": "Korean", "zh-Hant": "韓文"},
}


def data_language_label(code: str, lang: str) -> str:
    return _DATA_LANGUAGES.get(code, {}).get(lang, code)


def t(key: str, lang: str, **values: object) -> str:
    """The interface string ``key`` in ``lang``, with ``{placeholders}`` filled."""
    entry = _STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def normalise_language(value: str | None) -> str | None:
    """``zh-Hant``/``en`` from what a person might type (``zh``, ``zh-TW``, ``EN``…), else None."""
    if not value:
        return None
    v = value.strip().lower().replace("_", "-")
    if v.startswith("zh"):
        return "zh-Hant"
    if v.startswith("en"):
        return "en"
    return None


def _from_accept_language(header: str | None) -> str | None:
    best: tuple[float, str] | None = None
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalise_language(tag)
        if lang and q > 0 and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else None


def request_language(request: Request) -> str:
    """``?lang=`` first, then the cookie a previous switch set, then the browser's preference."""
    return (
        normalise_language(request.query_params.get("lang"))
        or normalise_language(request.cookies.get(LANG_COOKIE))
        or _from_accept_language(request.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )
