"""DCAT-US data.json (Project Open Data 1.1) harvesting from a real HTTP server, including broken documents."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from catalog.cli import app as cli
from catalog.harvest import HarvestService
from catalog.store import Store
from catalog.tables import RevisionRow
from harvesters.datajson import pod_to_dataset
from tests.harvest.servers import serve

FAST = {"attempts": 2, "backoff": 0.01}
EU = "http://publications.europa.eu/resource/authority/"

DATASETS: list[dict[str, Any]] = [
    {
        "@type": "dcat:Dataset",
        "title": "Hospital discharge records 2015-2019",
        "description": "Aggregated inpatient discharges by diagnosis group.",
        "keyword": ["hospital", "discharge", "住院"],
        "modified": "2020-03-04",
        "issued": "2016-01-10",
        "publisher": {"@type": "org:Organization", "name": "Department of Health", "subOrganizationOf": {"name": "X"}},
        "contactPoint": {"@type": "vcard:Contact", "fn": "Jane Doe", "hasEmail": "mailto:jane.doe@health.example.gov"},
        "identifier": "https://data.example.gov/id/discharges",
        "accessLevel": "public",
        "license": "https://creativecommons.org/publicdomain/zero/1.0/",
        "spatial": "United States",
        "temporal": "2015-01-01/2019-12-31",
        "distribution": [
            {
                "@type": "dcat:Distribution",
                "title": "CSV extract",
                "downloadURL": "https://data.example.gov/files/discharges.csv",
                "mediaType": "text/csv",
            },
            {"@type": "dcat:Distribution", "accessURL": "https://api.example.gov/discharges", "format": "API"},
        ],
        "landingPage": "https://data.example.gov/discharges",
        "language": ["en-US"],
        "theme": ["Health", "https://example.gov/themes/hospitals"],
        "references": ["https://data.example.gov/discharges/codebook.pdf"],
        "accrualPeriodicity": "R/P1Y",
        "bureauCode": ["009:00"],
        "programCode": ["009:020"],
    },
    {
        "title": "Cancer registry extract",
        "description": "Case-level extract available on application.",
        "keyword": ["cancer"],
        "modified": "2021-06-30T12:00:00Z",
        "publisher": {"name": "Cancer Registry"},
        "contactPoint": {"fn": "Registry desk", "hasEmail": "mailto:registry@example.gov"},
        "identifier": "cancer-registry-extract",
        "accessLevel": "restricted public",
        "rights": "Apply through the registry's data access committee.",
        "temporal": "2010-01-01/P5Y",
        "accrualPeriodicity": "irregular",
    },
    {
        "title": "Staff directory",
        "description": "Internal only.",
        "keyword": ["staff"],
        "modified": "2019-01-01",
        "publisher": {"name": "Department of Health"},
        "contactPoint": {"fn": "HR", "hasEmail": "mailto:hr@example.gov"},
        "identifier": "staff-directory",
        "accessLevel": "non-public",
        "temporal": "R/2019-01-01/P1M",
    },
    {
        "description": "This one forgot its title.",
        "keyword": ["broken"],
        "modified": "2020-01-01",
        "publisher": {"name": "Department of Health"},
        "contactPoint": {"fn": "Desk", "hasEmail": "mailto:desk@example.gov"},
        "identifier": "no-title",
        "accessLevel": "public",
    },
]


class DataJsonServer:
    """Serves ``catalog`` as /data.json; ``truncate`` cuts the document in half."""

    def __init__(self, datasets: list[dict[str, Any]]) -> None:
        self.datasets = datasets
        self.truncate = False

    def __call__(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path != "/data.json":
            return 404, "text/plain", b"not here"
        doc = {
            "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
            "@type": "dcat:Catalog",
            "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
            "dataset": self.datasets,
        }
        payload = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
        if self.truncate:
            payload = payload[: len(payload) // 2]
        return 200, "application/json", payload


def _revisions(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(RevisionRow)) or 0)


def test_datasets_are_mapped_and_one_missing_its_title_fails_alone(service: HarvestService, store: Store) -> None:
    with serve(DataJsonServer(copy.deepcopy(DATASETS))) as url:
        info = service.add_source("datajson", f"{url}/data.json", name="pod", options=FAST)
        run = service.run("pod")
    assert (run.status, run.added, run.failed) == ("succeeded", 3, 1)
    [error] = service.errors(name="pod")
    assert (error.upstream_id, error.stage) == ("no-title", "validate")
    assert "title" in error.reason
    ds = store.get(store.derive_guid(info.guid, "https://data.example.gov/id/discharges")).dataset
    assert ds.title == {"en": "Hospital discharge records 2015-2019"}
    assert ds.keywords == {"en": ["hospital", "discharge"], "zh-Hant": ["住院"]}
    assert ds.publisher is not None and ds.publisher.name == {"en": "Department of Health"}
    assert [(c.name, c.email) for c in ds.contact_points] == [({"en": "Jane Doe"}, "jane.doe@health.example.gov")]
    assert ds.iri == ds.identifier == "https://data.example.gov/id/discharges"
    assert ds.license is not None and ds.license.iri == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert ds.spatial == ["United States"] and ds.language == ["ENG"]
    assert [(p.start, p.end) for p in ds.temporal] == [(date(2015, 1, 1), date(2019, 12, 31))]
    assert [(d.download_url, d.access_url, d.format) for d in ds.distributions] == [
        ("https://data.example.gov/files/discharges.csv", None, "CSV"),
        (None, "https://api.example.gov/discharges", None),
    ]
    assert ds.landing_page == "https://data.example.gov/discharges"
    assert ds.themes == ["https://example.gov/themes/hospitals"] and ds.extras["theme"] == ["Health"]
    assert ds.documentation == ["https://data.example.gov/discharges/codebook.pdf"]
    assert ds.frequency == EU + "frequency/ANNUAL"
    assert (ds.modified, ds.issued) == (date(2020, 3, 4), date(2016, 1, 10))
    assert ds.extras["bureauCode"] == ["009:00"] and ds.extras["distribution[1]"] == {"format": "API"}


def test_access_levels_become_public_restricted_and_non_public(service: HarvestService, store: Store) -> None:
    with serve(DataJsonServer(copy.deepcopy(DATASETS))) as url:
        info = service.add_source("datajson", f"{url}/data.json", name="pod", options=FAST)
        service.run("pod")
    rights = {u: store.get(g).dataset.access_rights for u, g in store.guids_of_source(info.guid).items()}
    assert rights == {
        "https://data.example.gov/id/discharges": "PUBLIC",
        "cancer-registry-extract": "RESTRICTED",
        "staff-directory": "NON_PUBLIC",
    }


def test_unreadable_optional_values_become_quality_notes_and_stay_in_extras() -> None:
    ds = pod_to_dataset(DATASETS[2])
    assert ds.temporal == [] and ds.extras["temporal"] == "R/2019-01-01/P1M"
    assert any(n.path == "temporal" for n in ds.quality_notes)
    registry = pod_to_dataset(DATASETS[1])
    assert [(p.start, p.end) for p in registry.temporal] == [(date(2010, 1, 1), date(2015, 1, 1))]
    assert registry.frequency == EU + "frequency/IRREG"
    assert registry.extras["rights"].startswith("Apply through")


def test_unchanged_rerun_writes_nothing_and_a_dataset_gone_upstream_is_withdrawn(
    service: HarvestService, store: Store
) -> None:
    datasets = copy.deepcopy(DATASETS)
    with serve(DataJsonServer(datasets)) as url:
        info = service.add_source("datajson", f"{url}/data.json", name="pod", options=FAST)
        service.run("pod")
        revisions = _revisions(store)
        again = service.run("pod")
        assert (again.added, again.updated, again.unchanged, _revisions(store)) == (0, 0, 3, revisions)
        del datasets[2]
        later = service.run("pod")
    assert (later.status, later.withdrawn) == ("succeeded", 1)
    staff = store.get(store.derive_guid(info.guid, "staff-directory"))
    assert staff.is_tombstone and staff.tombstone_reason == "withdrawn at source"


def test_a_truncated_document_fails_the_run_and_leaves_every_record_as_it_was(
    service: HarvestService, store: Store
) -> None:
    datasets = copy.deepcopy(DATASETS)
    server = DataJsonServer(datasets)
    with serve(server) as url:
        info = service.add_source("datajson", f"{url}/data.json", name="pod", options=FAST)
        service.run("pod")
        before = {u: store.get(g).revision for u, g in store.guids_of_source(info.guid).items()}
        datasets[0]["title"] = "Changed upstream, but the document arrives cut in half"
        del datasets[2]
        server.truncate = True
        run = service.run("pod")
    assert (run.status, run.added, run.updated, run.withdrawn) == ("failed", 0, 0, 0)
    assert "not a complete data.json document" in (run.reason or "") and "line" in (run.reason or "")
    assert {u: store.get(g).revision for u, g in store.guids_of_source(info.guid).items()} == before
    assert service.source("pod").last_success_at == service.runs("pod")[1].started_at


def test_a_server_error_fails_the_run_with_the_status_in_the_reason(service: HarvestService) -> None:
    def broken(method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        return 500, "text/html", b"<html>oops</html>"

    with serve(broken) as url:
        service.add_source("datajson", f"{url}/data.json", name="pod", options=FAST)
        run = service.run("pod")
    assert run.status == "failed" and "HTTP 500" in (run.reason or "")


def test_cli_registers_a_datajson_source_and_runs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRGATE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    with serve(DataJsonServer(copy.deepcopy(DATASETS))) as url:
        added = runner.invoke(cli, ["harvest", "add", "datajson", f"{url}/data.json", "--name", "x"])
        assert added.exit_code == 0, added.output
        ran = runner.invoke(cli, ["harvest", "run", "x"])
    assert ran.exit_code == 0, ran.output
    assert "added 3 / updated 0 / unchanged 0 / withdrawn 0 / failed 1" in ran.output
