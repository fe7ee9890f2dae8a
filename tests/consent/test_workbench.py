"""The consent workbench's plain functions: uploads kept and refused, previews that list every bad row with
what to do, commits that write all or nothing, the paper form, the report CSV and the verify status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from consent import workbench as wb
from consent.audit import Actor
from consent.errors import BulkValidationError, NotFound, RowError
from consent.registry import ConsentRegistry
from schemas.consent import InstitutionReport
from tests.consent.subjects import DATASET, national_id

HEADER = "national_id,institution,dataset,category,case_ids,enrolled_on\n"


def _row(n: int, category: str = "C") -> str:
    return f"{national_id(n)},NTUH,{DATASET},{category},case-{n},2019-01-01\n"


def _store(root: Path, text: str, kind: wb.UploadKind = wb.UploadKind.ENROLMENTS, owner: str = "user:1") -> wb.Upload:
    return wb.store_upload(root, kind, "enrol.csv", "text/csv", [text.encode()], 10_000, owner)


def test_an_upload_is_kept_private_under_a_random_id_and_only_its_owner_opens_it(tmp_path: Path) -> None:
    upload = _store(tmp_path, HEADER + _row(1))
    assert wb.UPLOAD_ID.fullmatch(upload.upload_id)
    assert upload.path.stat().st_mode & 0o777 == 0o600
    assert wb.open_upload(tmp_path, upload.upload_id, "user:1").path == upload.path
    with pytest.raises(NotFound):
        wb.open_upload(tmp_path, upload.upload_id, "user:2")
    with pytest.raises(NotFound):
        wb.open_upload(tmp_path, "../" + upload.upload_id, "user:1")


@pytest.mark.parametrize(
    ("name", "ctype", "data", "code"),
    [
        ("a.xlsx", "text/csv", b"a,b\n", "not_csv"),
        ("a.csv", "image/png", b"a,b\n", "not_csv"),
        ("a.csv", "text/csv", b"PK\x03\x04rest", "spreadsheet"),
        ("a.csv", "text/csv", b"a,\x00b\n", "not_text"),
        ("a.csv", "text/csv", "a,b\n".encode("utf-16"), "not_text"),
        ("a.csv", "text/csv", b"\xff\xfeab", "not_utf8"),
        ("a.csv", "text/csv", b"  \n", "empty"),
    ],
)
def test_what_is_not_a_utf8_csv_file_is_refused_by_name_type_and_first_bytes(
    name: str, ctype: str, data: bytes, code: str
) -> None:
    with pytest.raises(wb.UploadRefused) as refused:
        wb.check_type(name, ctype, data)
    assert refused.value.code == code


def test_a_file_over_the_limit_is_refused_whole_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(wb.UploadRefused) as refused:
        wb.store_upload(tmp_path, wb.UploadKind.DEATHS, "d.csv", "text/csv", [b"a,b\n" * 100] * 100, 1000, "u")
    assert refused.value.code == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_stale_uploads_are_deleted(tmp_path: Path) -> None:
    old = wb.store_upload(
        tmp_path, wb.UploadKind.DEATHS, "d.csv", "text/csv", [b"a\n"], 100, "u", datetime(2020, 1, 1, tzinfo=UTC)
    )
    assert wb.purge_stale(tmp_path, datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=23)) == 0
    assert wb.purge_stale(tmp_path, datetime(2020, 1, 2, 1, tzinfo=UTC)) == 1
    assert not old.folder.exists()


def test_the_preview_lists_every_bad_row_with_its_line_column_and_advice(
    registry: ConsentRegistry, tmp_path: Path
) -> None:
    text = HEADER + _row(1) + f"A12,NTUH,{DATASET},C,case-2,2019-01-01\n" + _row(3, "Z") + _row(4)
    found = wb.preview(registry, _store(tmp_path, text))
    assert [(p.line, p.column, p.advice) for p in found.problems] == [
        (3, "national_id", "fix_identifier"),
        (4, "category", "use_category"),
    ]
    assert not found.ok and found.bad_rows == 2 and found.rows == 4
    assert found.counts == {"enrolments": 2, "subjects": 2, "cases": 2, "datasets": 1}


def test_a_file_with_a_bad_row_writes_nothing_and_stays_for_another_look(
    registry: ConsentRegistry, tmp_path: Path
) -> None:
    upload = _store(tmp_path, HEADER + _row(1) + _row(2, "Z"))
    with pytest.raises(BulkValidationError):
        wb.commit(registry, upload, "user:1")
    assert registry.enrolments_of(registry.pseudonymiser.subject(national_id(1))) == []
    assert upload.path.exists()


def test_a_good_file_is_written_once_and_its_identifiers_deleted(registry: ConsentRegistry, tmp_path: Path) -> None:
    upload = _store(tmp_path, HEADER + _row(1) + _row(2))
    done = wb.commit(registry, upload, "user:1")
    assert (done.written, done.subjects, done.letters) == (2, 2, False)
    assert not upload.path.exists()
    with pytest.raises(NotFound):
        wb.commit(registry, upload, "user:1")


def test_notices_sent_are_recorded_with_their_access_codes_and_letters_taken_once(
    registry: ConsentRegistry, tmp_path: Path
) -> None:
    wb.commit(registry, _store(tmp_path, HEADER + _row(1) + _row(2)), "user:1")
    mailing = "national_id,institution,sent_on,name\n" + "".join(
        f"{national_id(n)},NTUH,2020-02-01,P{n}\n" for n in (1, 2)
    )
    upload = _store(tmp_path, mailing, wb.UploadKind.NOTICES_SENT)
    done = wb.commit(registry, upload, "user:7")
    assert done.letters and done.written == 2
    letters = wb.take_letters(upload).decode().splitlines()
    assert letters[0] == "line,institution,sent_on,name,access_code" and national_id(1) not in "".join(letters)
    with pytest.raises(NotFound):
        wb.take_letters(upload)
    events = registry.events_of(registry.pseudonymiser.subject(national_id(1)))
    assert events[-1].actor == "user:7" and events[-1].evidence == "enrol.csv line 2"


def test_advice_names_what_to_do_for_registry_refusals() -> None:
    assert wb.advice_for(RowError(2, "national_id", "subject is not enrolled in any dataset; enrol them first")) == (
        "enrol_first"
    )
    assert wb.advice_for(RowError(1, "dataset", "required column is missing from the header")) == "fix_header"
    assert wb.advice_for(RowError(0, "*", "file is not UTF-8 text")) == "save_as_utf8_csv"
    assert wb.advice_for(RowError(5, "sent_on", "'x' is not a date (use YYYY-MM-DD)")) == "use_date_format"


def test_the_paper_form_gives_field_codes_and_never_the_identifier(registry: ConsentRegistry, tmp_path: Path) -> None:
    wb.commit(registry, _store(tmp_path, HEADER + _row(1)), "user:1")
    form = wb.PaperForm("A123", "not-a-guid", "nonsense", "2026-13-01", "")
    request, errors = wb.paper_request(registry, form, "user:1")
    assert request is None
    assert errors == {
        "national_id": "identifier_invalid",
        "dataset": "dataset_not_guid",
        "choice": "choice_missing",
        "signed_on": "date_format",
        "evidence": "evidence_missing",
    }
    unknown = wb.PaperForm(national_id(9), "", "opted_out", "2024-01-01", "box 1")
    assert wb.paper_request(registry, unknown, "u")[1] == {"national_id": "not_enrolled"}
    early = wb.PaperForm(national_id(1), DATASET, "opted_out", "2018-01-01", "box 1")
    assert wb.paper_request(registry, early, "u")[1] == {"signed_on": "before_enrolment"}
    future = wb.PaperForm(national_id(1), DATASET, "opted_out", "2024-01-02", "box 1")
    assert wb.paper_request(registry, future, "u", today=date(2024, 1, 1))[1] == {"signed_on": "date_future"}
    good, none = wb.paper_request(registry, wb.PaperForm(national_id(1), DATASET, "opted_out", "2024-01-01", "b"), "u")
    assert none == {} and good is not None and good.channel.value == "paper"
    assert good.subject == registry.pseudonymiser.subject(national_id(1))


def test_the_report_csv_has_table_7_columns() -> None:
    rows = [
        InstitutionReport(
            institution="NTUH", sent=10, undelivered=2, opted_out=1, deceased=0, opt_out_rate_percent="12.5"
        )
    ]
    assert wb.report_csv(rows) == (
        "institution,sent,undelivered,opted_out,deceased,opt_out_rate_percent\nNTUH,10,2,1,0,12.5\n"
    )


def test_the_ledger_status_shows_the_last_verification(registry: ConsentRegistry, tmp_path: Path) -> None:
    assert wb.ledger_status(registry).last_verification is None
    wb.commit(registry, _store(tmp_path, HEADER + _row(1)), "user:1")
    request, _ = wb.paper_request(registry, wb.PaperForm(national_id(1), "", "opted_out", "2024-01-01", "b"), "u")
    assert request is not None
    registry.append([request])
    registry.checkpoint()
    found = wb.verify_now(registry, Actor("user:3"))
    status = wb.ledger_status(registry)
    assert found.ok and status.last_verification is not None and status.last_verification.actor == "user:3"
    assert (status.events, status.chains, status.events_since_checkpoint) == (1, 1, 0)
    assert status.last_checkpoint is not None and len(status.recent_heads) == 1
