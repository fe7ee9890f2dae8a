"""The steward's consent workbench pages: upload, preview with every bad row, all-or-nothing commit, the
letter merge once, the paper form (pseudonym only), the report with its CSV and verify; refusals."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from catalog.context import Context
from consent.api import registry_for
from tests.consent.subjects import national_id
from tests.web.conftest import add_user, csrf_of, sign_in


def _dataset(add: Any) -> str:
    guid: str = add("Consent test set")
    return guid


def _enrolments(guid: str, bad: bool = False) -> bytes:
    lines = ["national_id,institution,dataset,category,case_ids,enrolled_on"]
    for n in range(1, 6):
        lines.append(f"{national_id(n)},NTUH,{guid},C,case-{n},2019-01-01")
    if bad:
        lines[2] = f"A123,NTUH,{guid},C,case-2,2019-01-01"
        lines[4] = f"{national_id(4)},NTUH,{guid},Z,case-4,2019-01-01"
    return ("\n".join(lines) + "\n").encode()


def _upload(client: TestClient, kind: str, data: bytes, name: str = "enrol.csv", ctype: str = "text/csv") -> Any:
    csrf = csrf_of(client.get("/steward/consent/upload").text)
    return client.post(
        "/steward/consent/upload?lang=en",
        data={"csrf": csrf, "kind": kind},
        files={"file": (name, data, ctype)},
        follow_redirects=False,
    )


def test_bad_rows_are_listed_with_row_column_and_advice_and_nothing_is_written(
    steward_client: TestClient, add: Any, ctx: Context
) -> None:
    guid = _dataset(add)
    r = _upload(steward_client, "enrolments", _enrolments(guid, bad=True))
    assert r.status_code == 303
    page = steward_client.get(r.headers["location"] + "?lang=en")
    assert page.status_code == 200
    assert 'data-line="3" data-column="national_id"' in page.text
    assert 'data-line="5" data-column="category"' in page.text
    assert "Write A, B or C." in page.text
    assert 'id="commit-form"' not in page.text
    assert national_id(1) not in page.text and "A123" not in page.text
    rejects = steward_client.get(r.headers["location"] + "/rejects.csv")
    assert rejects.status_code == 200 and national_id(2) not in rejects.text and "category" in rejects.text
    assert registry_for(ctx.settings).report()[-1].sent == 0


def test_a_good_file_is_committed_once_and_the_upload_is_deleted(
    steward_client: TestClient, add: Any, ctx: Context
) -> None:
    guid = _dataset(add)
    location = _upload(steward_client, "enrolments", _enrolments(guid)).headers["location"]
    page = steward_client.get(location + "?lang=en")
    assert 'data-count="enrolments">5<' in page.text and 'data-count="cases">5<' in page.text
    done = steward_client.post(location + "/commit?lang=en", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and 'id="committed"' in done.text
    again = steward_client.post(location + "/commit", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 404
    assert not list((ctx.settings.data_dir / "uploads" / "consent").iterdir())
    registry = registry_for(ctx.settings)
    assert len(registry.enrolments_of(registry.pseudonymiser.subject(national_id(3)))) == 1


def test_notices_sent_commit_offers_the_letter_merge_once_and_the_report_counts_them(
    steward_client: TestClient, add: Any
) -> None:
    guid = _dataset(add)
    enrol = _upload(steward_client, "enrolments", _enrolments(guid)).headers["location"]
    csrf = csrf_of(steward_client.get(enrol).text)
    steward_client.post(enrol + "/commit", data={"csrf": csrf})
    notices = "national_id,institution,sent_on,address\n" + "".join(
        f"{national_id(n)},NTUH,2020-01-0{n},street {n}\n" for n in range(1, 4)
    )
    location = _upload(steward_client, "notices-sent", notices.encode(), "mailing.csv").headers["location"]
    done = steward_client.post(location + "/commit?lang=en", data={"csrf": csrf})
    assert 'id="letters-form"' in done.text
    letters = steward_client.post(location + "/letters", data={"csrf": csrf})
    assert letters.status_code == 200 and letters.headers["content-disposition"].endswith('mailing.merge.csv"')
    rows = letters.text.strip().splitlines()
    assert rows[0] == "line,institution,sent_on,address,access_code" and len(rows) == 4
    assert national_id(1) not in letters.text
    assert steward_client.post(location + "/letters", data={"csrf": csrf}).status_code == 404
    report = steward_client.get("/steward/consent/report?lang=en")
    assert '<tr data-institution="NTUH">' in report.text and 'data-col="sent">3<' in report.text
    assert "<svg" in report.text and 'role="img"' in report.text
    csv_text = steward_client.get("/steward/consent/report.csv").text
    assert csv_text.splitlines()[0] == "institution,sent,undelivered,opted_out,deceased,opt_out_rate_percent"
    assert "NTUH,3,0,0,0,0.0" in csv_text


def test_uploads_are_type_checked_and_size_limited(steward_client: TestClient, ctx: Context) -> None:
    assert _upload(steward_client, "enrolments", b"PK\x03\x04xxxx", "book.csv").status_code == 400
    assert _upload(steward_client, "enrolments", b"a,b\n", "book.xlsx").status_code == 400
    assert _upload(steward_client, "enrolments", b"a,b\n", "x.csv", "image/png").status_code == 400
    big = b"x" * (ctx.settings.max_upload_bytes + 100_000)
    assert _upload(steward_client, "enrolments", big, "big.csv").status_code == 413


def test_the_paper_form_never_echoes_the_national_id_and_shows_the_pseudonym(
    steward_client: TestClient, add: Any, ctx: Context
) -> None:
    guid = _dataset(add)
    enrol = _upload(steward_client, "enrolments", _enrolments(guid)).headers["location"]
    csrf = csrf_of(steward_client.get(enrol).text)
    steward_client.post(enrol + "/commit", data={"csrf": csrf})
    form = {"csrf": csrf, "national_id": national_id(2), "dataset": guid, "choice": "opted_out", "evidence": "box 7"}
    bad = steward_client.post("/steward/consent/record?lang=en", data={**form, "signed_on": "3000-01-01"})
    assert bad.status_code == 400 and 'id="e-signed_on"' in bad.text and national_id(2) not in bad.text
    ok = steward_client.post("/steward/consent/record?lang=en", data={**form, "signed_on": "2024-05-01"})
    assert ok.status_code == 200 and national_id(2) not in ok.text
    pseudonym = registry_for(ctx.settings).pseudonymiser.subject(national_id(2))
    assert f'id="pseudonym" class="break">{pseudonym}<' in ok.text
    report = steward_client.get("/steward/consent/report")
    assert 'data-col="opted_out">1<' in report.text


def test_verify_now_is_shown_on_the_report(steward_client: TestClient) -> None:
    page = steward_client.get("/steward/consent/report?lang=en")
    assert "Never verified." in page.text
    r = steward_client.post("/steward/consent/verify", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert 'data-ok="true"' in steward_client.get("/steward/consent/report").text


def test_a_researcher_and_a_forged_form_are_refused(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "r@ntu.edu.tw", "researcher")
    sign_in(client, "r@ntu.edu.tw")
    for path in ("/steward/consent/upload", "/steward/consent/record", "/steward/consent/report"):
        assert client.get(path).status_code == 403, path
    assert client.post("/steward/consent/upload", files={"file": ("a.csv", b"a\n")}).status_code == 403
    add_user(ctx, "s@ntu.edu.tw", "steward")
    sign_in(client, "s@ntu.edu.tw")
    assert client.post("/steward/consent/verify", data={"csrf": "forged"}).status_code == 403
    r = client.post(
        "/steward/consent/upload", data={"csrf": "forged", "kind": "enrolments"}, files={"file": ("a.csv", b"a\n")}
    )
    assert r.status_code == 403
