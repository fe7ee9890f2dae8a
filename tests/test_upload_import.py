"""Uploaded files of dataset descriptions: parsed by the harvesters' parsers, SHACL-checked, kept
server-side under a random id until confirmed."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.upload_import import MAX_UPLOAD_BYTES, UploadError, discard, keep, parse_upload, read

TURTLE = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://data.example.org/ds/1> a dcat:Dataset ;
    dct:title "Lung CT"@en, "\xe8\x82\xba\xe9\x83\xa8 CT"@zh-Hant ;
    dct:description "Chest scans"@en .
"""


def test_a_turtle_file_gives_its_datasets_and_a_shacl_report() -> None:
    parsed = parse_upload("catalog.ttl", TURTLE)
    assert list(parsed.datasets) == ["https://data.example.org/ds/1"]
    assert parsed.datasets["https://data.example.org/ds/1"].title["zh-Hant"] == "肺部 CT"
    assert parsed.shacl  # no publisher, no access rights...: the shapes say so


def test_a_csv_in_the_projects_format_is_read_by_the_local_files_reader() -> None:
    parsed = parse_upload("list.csv", "id,title_zh,title_en\nknee,膝關節,Knee MRI\nbad,,\n".encode())
    assert list(parsed.datasets) == ["knee"] and parsed.datasets["knee"].title["en"] == "Knee MRI"
    assert [where for where, _ in parsed.errors] == ["bad"]


def test_broken_rdf_and_unknown_types_and_large_files_are_refused_with_a_reason() -> None:
    with pytest.raises(UploadError, match="line"):
        parse_upload("broken.ttl", b"<a> <b> .")
    with pytest.raises(UploadError, match="unknown type"):
        parse_upload("photo.png", b"\x89PNG")
    with pytest.raises(UploadError, match="at most"):
        parse_upload("big.csv", b"x" * (MAX_UPLOAD_BYTES + 1))


def test_a_kept_upload_is_found_by_its_id_only_until_discarded(tmp_path: Path) -> None:
    parsed = parse_upload("catalog.ttl", TURTLE)
    token = keep(tmp_path, parsed)
    kept = read(tmp_path, token)
    assert kept is not None and kept[0] == "catalog.ttl" and list(kept[1]) == list(parsed.datasets)
    assert read(tmp_path, "../" + token) is None
    discard(tmp_path, token)
    assert read(tmp_path, token) is None
