"""Every parser of outside input, fed what hypothesis makes: it returns a result or refuses with its own
declared error (a pydantic ``ValidationError``, a ``ValueError`` with a reason, a bulk error naming the row),
never an unhandled exception. The inputs are shaped like the real thing (known field names, nested JSON)
so the mappers' inner paths are reached, not only their first type check."""

from __future__ import annotations

import contextlib
import string
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from consent.errors import BulkValidationError, ConsentError
from consent.imports import parse_enrolments, parse_events
from consent.registry import ConsentRegistry
from harvesters.ckan import package_to_dataset
from harvesters.datajson import pod_to_dataset
from harvesters.oaipmh import datacite_to_dataset, dc_to_dataset
from schemas.consent import EventKind

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

CKAN_KEYS = [
    "id",
    "name",
    "title",
    "notes",
    "description",
    "url",
    "license_id",
    "license_title",
    "license_url",
    "metadata_modified",
    "metadata_created",
    "tags",
    "groups",
    "organization",
    "extras",
    "resources",
    "language",
    "frequency",
    "temporal_start",
    "temporal_end",
    "spatial",
    "issued",
    "modified",
    "version",
    "contact",
    "publisher",
    "access_rights",
    "imaging",
    "hdab",
    "keywords",
    "title_translated",
    "notes_translated",
    "conforms_to",
    "identifier",
    "alternate_identifier",
    "documentation",
    "is_referenced_by",
    "private",
    "state",
    "type",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
]
RESOURCE_KEYS = [
    "url",
    "format",
    "mimetype",
    "name",
    "description",
    "size",
    "hash",
    "hash_algorithm",
    "access_url",
    "download_url",
    "created",
]
POD_KEYS = [
    "title",
    "description",
    "keyword",
    "modified",
    "publisher",
    "contactPoint",
    "identifier",
    "accessLevel",
    "license",
    "rights",
    "spatial",
    "temporal",
    "distribution",
    "accrualPeriodicity",
    "conformsTo",
    "landingPage",
    "language",
    "theme",
    "references",
    "issued",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["2020-01-01", "2020-13-45", "R/P1Y", "2019-01-01/2020-01-01", "zh-TW", "CT", "http://x/y"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(CKAN_KEYS + RESOURCE_KEYS + POD_KEYS + ["key", "value"]), inner, max_size=5),
    ),
    max_leaves=20,
)


def _package(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=12)


@FUZZ
@given(_package(CKAN_KEYS), st.lists(_package(RESOURCE_KEYS), max_size=3))
def test_ckan_package_mapper_never_raises_an_unhandled_exception(pkg: dict[str, Any], resources: list[Any]) -> None:
    if resources:
        pkg["resources"] = resources
    with contextlib.suppress(ValidationError, ValueError):
        package_to_dataset(pkg, "https://ckan.example.org")


@FUZZ
@given(_package(POD_KEYS), st.lists(_package(["downloadURL", "accessURL", "mediaType", "format", "title"]), max_size=3))
def test_data_json_mapper_never_raises_an_unhandled_exception(pod: dict[str, Any], distribution: list[Any]) -> None:
    if distribution:
        pod["distribution"] = distribution
    with contextlib.suppress(ValidationError, ValueError):
        pod_to_dataset(pod)


DC = "http://purl.org/dc/elements/1.1/"
DATACITE = "http://datacite.org/schema/kernel-4"
xml_text = st.text(alphabet=string.ascii_letters + string.digits + " -:/.T中文", max_size=20)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "title",
                    "description",
                    "subject",
                    "creator",
                    "date",
                    "identifier",
                    "language",
                    "rights",
                    "publisher",
                    "type",
                    "format",
                    "coverage",
                    "relation",
                    "contributor",
                    "source",
                ]
            ),
            xml_text,
            st.sampled_from([None, "en", "zh-Hant", "xx"]),
        ),
        max_size=10,
    )
)
def test_oai_dc_mapper_never_raises_an_unhandled_exception(fields: list[tuple[str, str, str | None]]) -> None:
    dc = ET.Element(f"{{{DC}}}dc")
    for name, text, lang in fields:
        el = ET.SubElement(dc, f"{{{DC}}}{name}")
        el.text = text
        if lang:
            el.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
    with contextlib.suppress(ValidationError, ValueError):
        dc_to_dataset(dc, "oai:example:1")


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "titles",
                    "descriptions",
                    "subjects",
                    "creators",
                    "dates",
                    "identifier",
                    "publisher",
                    "publicationYear",
                    "rightsList",
                    "language",
                    "relatedIdentifiers",
                    "contributors",
                    "formats",
                    "geoLocations",
                ]
            ),
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [
                            "title",
                            "description",
                            "subject",
                            "creator",
                            "creatorName",
                            "date",
                            "rights",
                            "nameIdentifier",
                            "relatedIdentifier",
                            "geoLocationPlace",
                        ]
                    ),
                    xml_text,
                ),
                max_size=3,
            ),
            xml_text,
        ),
        max_size=8,
    )
)
def test_datacite_mapper_never_raises_an_unhandled_exception(fields: list[Any]) -> None:
    resource = ET.Element(f"{{{DATACITE}}}resource")
    for name, children, text in fields:
        el = ET.SubElement(resource, f"{{{DATACITE}}}{name}")
        el.text = text
        for child, child_text in children:
            ET.SubElement(el, f"{{{DATACITE}}}{child}").text = child_text
    with contextlib.suppress(ValidationError, ValueError):
        datacite_to_dataset(resource, "oai:example:1")


csv_cell = st.text(alphabet=string.ascii_letters + string.digits + ' ;,"-:/\n\r\t中', max_size=15)
ENROL_COLUMNS = ["national_id", "local_id", "institution", "dataset", "category", "case_ids", "enrolled_on", "extra"]
EVENT_COLUMNS = ["national_id", "local_id", "institution", "dataset", "date", "purpose"]


def _csv(columns: list[str]) -> st.SearchStrategy[str]:
    header = st.lists(st.sampled_from(columns), min_size=0, max_size=len(columns), unique=True)
    return header.flatmap(
        lambda cols: st.lists(st.lists(csv_cell, min_size=0, max_size=len(cols) + 1), max_size=5).map(
            lambda rows: "\n".join([",".join(cols), *(",".join(f'"{c}"' if "," in c else c for c in r) for r in rows)])
        )
    )


@FUZZ
@given(_csv(ENROL_COLUMNS), st.binary(max_size=8))
def test_enrolment_csv_never_raises_an_unhandled_exception(
    registry: ConsentRegistry, tmp_path: Path, text: str, garbage: bytes
) -> None:
    path = tmp_path / "enrol.csv"
    path.write_bytes(text.encode() + garbage)
    with contextlib.suppress(BulkValidationError, ConsentError):
        parse_enrolments(registry, path)


@FUZZ
@given(_csv(EVENT_COLUMNS), st.binary(max_size=8))
def test_event_csv_never_raises_an_unhandled_exception(
    registry: ConsentRegistry, tmp_path: Path, text: str, garbage: bytes
) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(text.encode() + garbage)
    with contextlib.suppress(BulkValidationError, ConsentError):
        parse_events(registry, path, EventKind.OPTED_OUT, "date")
