"""DCAT-US data.json source (Project Open Data metadata schema 1.1): fetch one document, map each dataset.

The document is spooled to a temporary file and read through once to check it is complete
JSON before any record is yielded, so a truncated download fails the run and changes nothing;
then datasets stream one at a time (bounded memory). A dataset that cannot be mapped fails
alone; problems in optional fields become quality notes and the raw values stay in extras.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import IO, Any

import httpx
from pydantic import BaseModel, ValidationError

from harvesters import retries
from harvesters.base import HarvestedRecord, SourceError, failed, validation_reason
from harvesters.json_stream import JsonStreamError, count_items, stream_array
from harvesters.upstream_values import file_format, language_code, parse_when, text_language
from schemas import Agent, ContactPoint, Dataset, Distribution, LicenseDocument, PeriodOfTime, QualityNote

#: Bumped whenever the mapping changes, so that unchanged-payload detection re-maps records.
MAPPING_VERSION = "datajson-1"

_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
_EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
_ACCESS_LEVELS = {"public": "PUBLIC", "restricted public": "RESTRICTED", "non-public": "NON_PUBLIC"}
# POD accrualPeriodicity (ISO 8601 repeating durations) → EU frequency authority codes.
_FREQUENCIES = {
    "R/P10Y": "DECENNIAL",
    "R/P4Y": "QUADRENNIAL",
    "R/P3Y": "TRIENNIAL",
    "R/P2Y": "BIENNIAL",
    "R/P1Y": "ANNUAL",
    "R/P6M": "ANNUAL_2",
    "R/P4M": "ANNUAL_3",
    "R/P3M": "QUARTERLY",
    "R/P2M": "BIMONTHLY",
    "R/P1M": "MONTHLY",
    "R/P0.5M": "MONTHLY_2",
    "R/P0.33M": "MONTHLY_3",
    "R/P2W": "BIWEEKLY",
    "R/P1W": "WEEKLY",
    "R/P3.5D": "WEEKLY_2",
    "R/P0.33W": "WEEKLY_3",
    "R/P1D": "DAILY",
    "R/PT1H": "HOURLY",
    "R/PT1S": "UPDATE_CONT",
    "IRREGULAR": "IRREG",
}
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T.*)?$")
# Fields the mapping reads; everything else a dataset carries is kept in extras.
_MAPPED = {
    "title",
    "description",
    "keyword",
    "modified",
    "issued",
    "publisher",
    "contactPoint",
    "identifier",
    "accessLevel",
    "license",
    "spatial",
    "temporal",
    "distribution",
    "landingPage",
    "language",
    "theme",
    "references",
    "accrualPeriodicity",
    "@type",
}


class _Mapper:
    """One POD dataset's mapping state: the notes taken and the raw values kept."""

    def __init__(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        self.notes: list[QualityNote] = []
        self.leftovers: dict[str, Any] = {}
        langs = [str(x).lower() for x in _as_list(pod.get("language"))]
        self.chinese_only = any(x.startswith("zh") for x in langs) and not any(x.startswith("en") for x in langs)

    def note(self, message: str, path: str) -> None:
        self.notes.append(QualityNote(severity="warning", message=message, path=path))

    def keep(self, key: str, value: Any, why: str | None = None) -> None:
        self.leftovers[key] = value
        if why:
            self.note(f"{key}: {why}; kept in extras", key)

    def text(self, value: Any) -> dict[str, str]:
        if isinstance(value, list):
            value = "\n".join(str(v) for v in value if v)
        text = "" if value is None else str(value).strip()
        return {text_language(text, chinese_only=self.chinese_only): text} if text else {}

    def build(self, model: type[BaseModel], data: dict[str, Any], path: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.keep(path, data, f"could not be used ({validation_reason(exc)})")
            return None


def pod_to_dataset(pod: dict[str, Any]) -> Dataset:
    """Map one data.json dataset to a :class:`Dataset`.

    Raises ``pydantic.ValidationError`` only when the dataset cannot make a record at all
    (no title); smaller problems become ``quality_notes`` with the raw value in ``extras``.
    """
    m = _Mapper(pod)
    data: dict[str, Any] = {"title": m.text(pod.get("title")), "description": m.text(pod.get("description"))}
    identifier = pod.get("identifier")
    if identifier not in (None, ""):
        data["identifier"] = str(identifier).strip()
        if _is_web_iri(data["identifier"]):
            data["iri"] = data["identifier"]
    keywords: dict[str, list[str]] = {}
    for word in _as_list(pod.get("keyword")):
        if isinstance(word, str) and word.strip():
            keywords.setdefault(text_language(word, chinese_only=m.chinese_only), []).append(word.strip())
    data["keywords"] = keywords
    data["modified"] = _date(m, "modified")
    data["issued"] = _date(m, "issued")
    data["publisher"] = _publisher(m)
    data["contact_points"] = _contacts(m)
    data["access_rights"] = _access_level(m)
    data["license"] = _license(m)
    spatial = pod.get("spatial")
    if isinstance(spatial, str) and spatial.strip():
        data["spatial"] = [spatial.strip()]
    elif spatial not in (None, "", [], {}):
        m.keep("spatial", spatial)  # GeoJSON and other structures: not a place name or IRI
    data["temporal"] = _temporal(m)
    data["distributions"] = _distributions(m)
    landing = pod.get("landingPage")
    if isinstance(landing, str) and _is_web_iri(landing.strip()):
        data["landing_page"] = landing.strip()
    elif landing not in (None, ""):
        m.keep("landingPage", landing, "not an http(s) URL")
    data["language"] = _languages(m)
    themes = [str(t).strip() for t in _as_list(pod.get("theme")) if isinstance(t, str) and t.strip()]
    data["themes"] = [t for t in themes if _is_web_iri(t)]
    if len(data["themes"]) < len(themes):  # POD themes are usually words, not concept IRIs
        m.keep("theme", [t for t in themes if not _is_web_iri(t)])
    data["documentation"] = [str(r).strip() for r in _as_list(pod.get("references")) if str(r).strip()]
    data["frequency"] = _frequency(m)
    extras = dict(m.leftovers)
    for key, value in pod.items():
        if key not in _MAPPED and value not in (None, "", [], {}):
            extras.setdefault(key, value)
    data["extras"] = extras
    data["quality_notes"] = m.notes
    return Dataset.model_validate({k: v for k, v in data.items() if v is not None})


def _naive(value: date | datetime | None) -> datetime | None:
    """A naive (UTC-less) datetime for comparing with the engine's ``since``."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def _is_web_iri(value: str) -> bool:
    return value.startswith(("http://", "https://")) and bool(_IRI.match(value))


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _date(m: _Mapper, key: str) -> date | datetime | None:
    value = m.pod.get(key)
    if value in (None, ""):
        return None
    parsed = parse_when(value)
    if parsed is None:  # e.g. a repeating interval "R/2019-01-01/P1M"
        m.keep(key, value, "not an ISO 8601 date")
    return parsed


def _publisher(m: _Mapper) -> Agent | None:
    pub = m.pod.get("publisher")
    if isinstance(pub, str):
        pub = {"name": pub}
    if not isinstance(pub, dict):
        return None
    agent = m.build(Agent, {"name": m.text(pub.get("name"))}, "publisher")
    if isinstance(agent, Agent) and pub.get("subOrganizationOf"):
        m.keep("publisher.subOrganizationOf", pub["subOrganizationOf"])
    return agent if isinstance(agent, Agent) else None


def _contacts(m: _Mapper) -> list[ContactPoint]:
    out: list[ContactPoint] = []
    for cp in _as_list(m.pod.get("contactPoint")):
        if not isinstance(cp, dict):
            m.keep("contactPoint", cp, "not an object with fn and hasEmail")
            continue
        data = {"name": m.text(cp.get("fn")), "email": cp.get("hasEmail") or None}
        contact = m.build(ContactPoint, {k: v for k, v in data.items() if v}, "contactPoint")
        if isinstance(contact, ContactPoint):
            out.append(contact)
    return out


def _access_level(m: _Mapper) -> str | None:
    value = m.pod.get("accessLevel")
    if value in (None, ""):
        return None
    code = _ACCESS_LEVELS.get(str(value).strip().lower())
    if code is None:
        m.keep("accessLevel", value, "not one of public, restricted public, non-public")
    if m.pod.get("rights"):
        m.keep("rights", m.pod["rights"])
    return code


def _license(m: _Mapper) -> LicenseDocument | None:
    value = m.pod.get("license")
    if value in (None, ""):
        return None
    if isinstance(value, str) and _IRI.match(value.strip()) and "://" in value:
        lic = m.build(LicenseDocument, {"iri": value.strip()}, "license")
        return lic if isinstance(lic, LicenseDocument) else None
    m.keep("license", value, "not a licence URL")
    return None


def _temporal(m: _Mapper) -> list[PeriodOfTime]:
    value = m.pod.get("temporal")
    if value in (None, ""):
        return []
    span = _interval(str(value))
    if span is None:
        m.keep("temporal", value, "not an ISO 8601 interval start/end")
        return []
    period = m.build(PeriodOfTime, span, "temporal")
    return [period] if isinstance(period, PeriodOfTime) else []


def _interval(value: str) -> dict[str, Any] | None:
    """``start/end``, ``start/duration`` or ``duration/end`` (ISO 8601) as period fields."""
    parts = value.strip().split("/")
    if len(parts) != 2:
        return None
    first, second = parts
    start, end = parse_when(first), parse_when(second)
    if start is not None and end is not None:
        return {"start": start, "end": end}
    if start is not None and second.startswith("P"):
        later = _shift(start, second, +1)
        return {"start": start, "end": later} if later is not None else {"start": start}
    if end is not None and first.startswith("P"):
        earlier = _shift(end, first, -1)
        return {"start": earlier, "end": end} if earlier is not None else {"end": end}
    return None


def _shift(when: date | datetime, duration: str, sign: int) -> date | datetime | None:
    match = _DURATION.match(duration)
    if match is None:
        return None
    years, months, weeks, days = (int(g or 0) for g in match.groups())
    month_index = when.month - 1 + sign * (years * 12 + months)
    year, month = when.year + month_index // 12, month_index % 12 + 1
    try:
        moved = when.replace(year=year, month=month)
    except ValueError:  # 31 January + 1 month: keep the period's start, drop the uncertain end
        return None
    return moved + sign * timedelta(weeks=weeks, days=days)


def _distributions(m: _Mapper) -> list[Distribution]:
    out: list[Distribution] = []
    for i, dist in enumerate(_as_list(m.pod.get("distribution"))):
        if not isinstance(dist, dict):
            m.keep(f"distribution[{i}]", dist, "not an object")
            continue
        data: dict[str, Any] = {
            "title": m.text(dist.get("title")),
            "description": m.text(dist.get("description")),
            "download_url": dist.get("downloadURL") or None,
            "access_url": dist.get("accessURL") or None,
            "media_type": dist.get("mediaType") or None,
            "conforms_to": [str(x) for x in _as_list(dist.get("conformsTo"))],
        }
        fmt = file_format(dist.get("format")) or file_format(dist.get("mediaType"))
        if fmt:
            data["format"] = fmt
        leftovers = {
            k: v
            for k, v in dist.items()
            if k in ("format", "describedBy", "describedByType") and v and not (k == "format" and fmt)
        }
        built = m.build(Distribution, {k: v for k, v in data.items() if v not in (None, [], {})}, f"distribution[{i}]")
        if isinstance(built, Distribution):
            out.append(built)
            if leftovers:
                m.keep(f"distribution[{i}]", leftovers)
    return out


def _languages(m: _Mapper) -> list[str]:
    out: list[str] = []
    for value in _as_list(m.pod.get("language")):
        try:
            code = language_code(str(value))
        except ValueError:
            m.keep("language", value, "not an ISO 639 / RFC 5646 language")
            continue
        if code not in out:
            out.append(code)
    return out


def _frequency(m: _Mapper) -> str | None:
    value = m.pod.get("accrualPeriodicity")
    if value in (None, ""):
        return None
    code = _FREQUENCIES.get(str(value).strip().upper())
    if code is None:
        m.keep("accrualPeriodicity", value, "not a Project Open Data frequency such as R/P1Y")
        return None
    return _EU_FREQUENCY + code


def payload_digest(payload: Any) -> str:
    """SHA-256 of the canonical JSON of one dataset plus the mapping version."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((MAPPING_VERSION + blob).encode("utf-8")).hexdigest()


class DataJsonSource:
    """A data.json catalog at ``url`` (its ``dataset`` array; a bare array of datasets is read too)."""

    kind = "datajson"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        attempts: int = retries.ATTEMPTS,
        backoff: float = retries.BACKOFF,
        is_known: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.is_known = is_known

    def records(self, since: datetime | None = None) -> Iterator[HarvestedRecord]:
        with tempfile.TemporaryFile() as spool:
            self._download(spool)
            text = io.TextIOWrapper(spool, encoding="utf-8-sig")
            try:
                total = count_items(text, "dataset")
            except (JsonStreamError, UnicodeDecodeError) as exc:
                raise SourceError(f"{self.url} is not a complete data.json document: {exc}") from exc
            text.seek(0)
            seen: set[str] = set()
            cutoff = since.replace(tzinfo=None) if since is not None else None
            for n, pod in enumerate(stream_array(text, "dataset")):
                rec = self._record(n, pod, total, seen)
                if cutoff is not None and rec.modified is not None and rec.modified < cutoff:
                    continue  # incremental: only what changed since the last good run
                yield rec

    def _download(self, spool: IO[bytes]) -> None:
        """Write the document into ``spool`` (retrying transient failures from the start)."""

        def once() -> None:
            spool.seek(0)
            spool.truncate()
            with (
                httpx.Client(timeout=self.timeout, follow_redirects=True) as client,
                client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code >= 500 or response.status_code == 429:
                    raise retries.RetryableHTTPStatus(f"{self.url} answered HTTP {response.status_code}")
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    spool.write(chunk)
            spool.seek(0)

        try:
            retries.retry(
                once,
                retry_on=(httpx.TransportError, retries.RetryableHTTPStatus),
                attempts=self.attempts,
                backoff=self.backoff,
            )
        except (httpx.HTTPError, retries.RetryableHTTPStatus) as exc:
            raise SourceError(
                f"could not fetch {self.url} after {self.attempts} attempts: {retries.describe(exc)}"
            ) from exc

    def _record(self, n: int, pod: Any, total: int, seen: set[str]) -> HarvestedRecord:
        if not isinstance(pod, dict):
            return failed(f"dataset[{n}]", "parse", f"dataset {n + 1} of data.json is not a JSON object", pod)
        raw_id = pod.get("identifier")
        if raw_id in (None, "") or isinstance(raw_id, dict | list):
            title = str(pod.get("title") or "")[:80]
            return failed(
                f"dataset[{n}]", "map", f"dataset {n + 1} ({title!r}) has no identifier; POD requires one", pod
            )
        upstream_id = str(raw_id).strip()
        when = _naive(parse_when(pod.get("modified")))
        if upstream_id in seen:
            return failed(
                f"{upstream_id}#{n}", "map", f"identifier {upstream_id!r} appears again (dataset {n + 1})", pod, when
            )
        seen.add(upstream_id)
        meta: dict[str, Any] = {"total": total}
        if self.is_known is not None:
            meta["digest"] = digest = payload_digest(pod)
            if self.is_known(upstream_id, digest):
                return HarvestedRecord(upstream_id, when, None, None, None, meta)
        try:
            ds = pod_to_dataset(pod)
        except ValidationError as exc:
            return failed(upstream_id, "validate", validation_reason(exc), pod, when)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return failed(upstream_id, "map", retries.describe(exc), pod, when)
        return HarvestedRecord(upstream_id, when, pod, ds, None, meta)
