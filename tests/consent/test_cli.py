"""The steward CLI end to end on SQLite: bulk files, the Table 7 report, record, verify, releases."""

from __future__ import annotations

import csv
import json
import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consent import cli
from consent.registry import ConsentRegistry
from consent.settings import ConsentSettings
from schemas.consent import EventKind, EventRequest
from tests.consent.subjects import DATASET, national_id

runner = CliRunner()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(
        cli.consent_app if args[0] != "release" else cli.release_app,
        list(args[1:]) if args[0] == "release" else list(args),
    )
    return result.exit_code, result.output


def enrolment_rows(ids: range, institution: str = "NTU", category: str = "C") -> list[list[str]]:
    return [[national_id(n), institution, DATASET, category, f"case-{n}", "2019-01-01"] for n in ids]


ENROL_HEADER = ["national_id", "institution", "dataset", "category", "case_ids", "enrolled_on"]


def test_a_file_with_bad_rows_is_refused_whole_and_every_bad_row_is_listed(
    steward: ConsentSettings, tmp_path: Path
) -> None:
    rows = enrolment_rows(range(1, 4))
    bad_id = national_id(4)[:-1] + str((int(national_id(4)[-1]) + 1) % 10)
    rows.append([bad_id, "NTU", DATASET, "C", "case-4", "2019-01-01"])
    rows.append([national_id(5), "NTU", "not-a-guid", "Z", "case-5", "2019-01-01"])
    code, out = run("enrol", str(write_csv(tmp_path / "subjects.csv", ENROL_HEADER, rows)))
    assert code == 1
    assert "line 5, column national_id: national id fails its check digit" in out
    assert "line 6, column dataset" in out and "line 6, column category" in out
    assert bad_id not in out
    registry = ConsentRegistry.from_settings(steward)
    assert registry.known_datasets() == set()


def test_skip_invalid_imports_good_rows_and_writes_rejects_without_identifiers(
    steward: ConsentSettings, tmp_path: Path
) -> None:
    rows = enrolment_rows(range(1, 3))
    bad_id = national_id(3).replace("A1", "A3")
    rows.append([bad_id, "NTU", DATASET, "C", "case-3", "2019-01-01"])
    rejects = tmp_path / "rejects.csv"
    code, out = run(
        "enrol", str(write_csv(tmp_path / "s.csv", ENROL_HEADER, rows)), "--skip-invalid", "--rejects", str(rejects)
    )
    assert code == 0 and "2 written, 1 rejected" in out
    text = rejects.read_text()
    assert "4," in text and "second character" in text and bad_id not in text


def test_unknown_datasets_are_refused_when_a_known_list_is_given(steward: ConsentSettings, tmp_path: Path) -> None:
    known = tmp_path / "known.txt"
    known.write_text("dg.TEST/00000000-0000-0000-0000-000000000000\n")
    code, out = run(
        "enrol",
        str(write_csv(tmp_path / "s.csv", ENROL_HEADER, enrolment_rows(range(1, 2)))),
        "--known-datasets",
        str(known),
    )
    assert code == 1 and "unknown dataset" in out


def table7_scenario(steward: ConsentSettings, tmp_path: Path, seed_csv: Path) -> None:
    """Enrol, notify, and record returns, opt-outs and deaths team by team as in seed 003 Table 7."""
    teams = [r for r in csv.DictReader(seed_csv.open()) if r["team"] != "ALL"]
    start = 1
    enrol, sent, returned, deaths = [], [], [], []
    opt_outs: list[str] = []
    for team in teams:
        n_sent, n_und, n_opt, n_dead = (int(team[k]) for k in ("notices_sent", "undelivered", "opted_out", "deceased"))
        ids = [national_id(n) for n in range(start, start + n_sent)]
        start += n_sent
        enrol += [[i, team["team"], DATASET, "C", "", "2019-01-01"] for i in ids]
        sent += [[i, team["team"], "2019-06-01", f"addr {k}"] for k, i in enumerate(ids)]
        returned += [[i, team["team"], "2019-06-20"] for i in ids[:n_und]]
        opt_outs += ids[n_und : n_und + n_opt]
        deaths += [[i, team["team"], "2019-05-01"] for i in ids[n_und + n_opt : n_und + n_opt + n_dead]]
    assert run("enrol", str(write_csv(tmp_path / "enrol.csv", ENROL_HEADER, enrol)))[0] == 0
    code, out = run(
        "notices",
        "sent",
        str(write_csv(tmp_path / "sent.csv", ["national_id", "institution", "sent_on", "address"], sent)),
    )
    assert code == 0, out
    assert (
        run(
            "notices",
            "returned",
            str(write_csv(tmp_path / "ret.csv", ["national_id", "institution", "returned_on"], returned)),
        )[0]
        == 0
    )
    assert (
        run("deceased", str(write_csv(tmp_path / "dead.csv", ["national_id", "institution", "died_on"], deaths)))[0]
        == 0
    )
    registry = ConsentRegistry.from_settings(steward)
    registry.append(
        [
            EventRequest(subject=registry.pseudonymiser.subject(i), kind=EventKind.OPTED_OUT, channel="paper")
            for i in opt_outs
        ]
    )


def test_report_reproduces_table_7_of_the_seed(steward: ConsentSettings, tmp_path: Path, shared_fixtures: Path) -> None:
    seed_csv = shared_fixtures.parent / "data" / "consent_notices_2019.csv"
    table7_scenario(steward, tmp_path, seed_csv)
    code, out = run("report", "--json")
    assert code == 0
    rows = {r["institution"]: r for r in json.loads(out)}
    assert {k: rows[k]["opt_out_rate_percent"] for k in ("NTU", "TVGH", "TMU", "ALL")} == {
        "NTU": "2.1",
        "TVGH": "1.0",
        "TMU": "1.3",
        "ALL": "1.4",
    }
    assert (rows["ALL"]["sent"], rows["ALL"]["undelivered"], rows["ALL"]["opted_out"], rows["ALL"]["deceased"]) == (
        6642,
        664,
        84,
        391,
    )
    for seed_row in csv.DictReader(seed_csv.open()):
        ours = rows[seed_row["team"]]
        assert [ours["sent"], ours["undelivered"], ours["opted_out"], ours["deceased"]] == [
            int(seed_row[k]) for k in ("notices_sent", "undelivered", "opted_out", "deceased")
        ]
    assert run("verify")[0] == 0


def test_notices_sent_writes_a_letter_merge_with_access_codes_and_no_ids(
    steward: ConsentSettings, tmp_path: Path
) -> None:
    run("enrol", str(write_csv(tmp_path / "e.csv", ENROL_HEADER, enrolment_rows(range(1, 4)))))
    sent = write_csv(
        tmp_path / "sent.csv",
        ["national_id", "institution", "sent_on", "name"],
        [[national_id(n), "NTU", "2019-06-01", f"P{n}"] for n in range(1, 4)],
    )
    merge = tmp_path / "merge.csv"
    code, _ = run("notices", "sent", str(sent), "--out", str(merge))
    assert code == 0
    rows = list(csv.DictReader(merge.open()))
    assert [r["name"] for r in rows] == ["P1", "P2", "P3"] and len({r["access_code"] for r in rows}) == 3
    assert "national_id" not in rows[0] and national_id(1) not in merge.read_text()


def test_record_then_verify_and_a_release_with_withdrawal_notice_and_acknowledgement(
    steward: ConsentSettings, tmp_path: Path
) -> None:
    run("enrol", str(write_csv(tmp_path / "e.csv", ENROL_HEADER, enrolment_rows(range(1, 6), category="B"))))
    code, out = run(
        "record",
        "--subject-id",
        national_id(1),
        "--event",
        "withdrawn",
        "--scope",
        f"dataset={DATASET}",
        "--channel",
        "paper",
        "--evidence",
        "form 2019-044",
    )
    assert code == 0, out
    assert national_id(1) not in out
    cases = write_csv(tmp_path / "cases.csv", ["case_id"], [[f"case-{n}"] for n in range(1, 6)] + [["case-404"]])
    until = (date.today() + timedelta(days=180)).isoformat()
    code, out = run(
        "release",
        "create",
        "--application",
        "APP-1",
        "--dataset",
        DATASET,
        "--purpose",
        "HMB",
        "--cases",
        str(cases),
        "--out",
        str(tmp_path / "rel"),
        "--active-until",
        until,
    )
    assert code == 0, out
    manifest = json.loads((tmp_path / "rel" / "manifest.json").read_text())
    assert (manifest["cases_in"], manifest["cases_out"], manifest["excluded"], manifest["unknown_case_ids"]) == (
        6,
        4,
        {"withdrawn": 1},
        ["case-404"],
    )
    code, out = run("record", "--subject-id", national_id(2), "--event", "opted_out", "--scope", "purpose=DUO:0000042")
    assert code == 0, out
    registry = ConsentRegistry.from_settings(steward)
    (notice,) = registry.withdrawal_notices()
    released = dict(csv.reader((tmp_path / "rel" / "custodian_map.csv").open()))
    assert notice.release_pseudonyms == [released["case-2"]]
    code, out = run("release", "acknowledge", notice.notice_id, "--by", "holder@uni")
    assert code == 0 and registry.withdrawal_notices(pending_only=True) == []
    assert run("verify")[0] == 0


def test_no_raw_national_id_reaches_the_database_or_the_logs(
    steward: ConsentSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = [national_id(n) for n in range(1, 6)]
    bad = ids[0][:-1] + str((int(ids[0][-1]) + 3) % 10)
    rows = [*enrolment_rows(range(1, 6)), [bad, "NTU", DATASET, "C", "case-x", "2019-01-01"]]
    outputs = [run("enrol", str(write_csv(tmp_path / "e.csv", ENROL_HEADER, rows)), "--skip-invalid")[1]]
    outputs.append(run("record", "--subject-id", ids[1], "--event", "opted_out")[1])
    outputs.append(run("record", "--subject-id", bad, "--event", "opted_out")[1])
    outputs.append(
        run(
            "notices",
            "sent",
            str(
                write_csv(
                    tmp_path / "s.csv",
                    ["national_id", "institution", "sent_on"],
                    [[i, "NTU", "2019-06-01"] for i in ids],
                )
            ),
        )[1]
    )
    ConsentRegistry.from_settings(steward).engine.dispose()
    blobs = b"".join(p.read_bytes() for p in (steward.data_dir).rglob("*") if p.is_file())
    blobs += "".join(outputs).encode() + caplog.text.encode()
    blobs += b"".join(p.read_bytes() for p in tmp_path.glob("*.merge.csv"))
    for raw in [*ids, bad]:
        assert raw.encode() not in blobs and raw.lower().encode() not in blobs
    assert "national id fails its check digit" in outputs[2]


def test_command_line_appends_make_the_checkpoint_the_policy_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every 3 events: five notices make one due; one paper form after them does not, a third does.
    settings = ConsentSettings(data_dir=tmp_path / "var", checkpoint_every_events=3)
    monkeypatch.setattr(cli, "settings_factory", lambda: settings)
    assert run("enrol", str(write_csv(tmp_path / "e.csv", ENROL_HEADER, enrolment_rows(range(1, 6)))))[0] == 0
    sent = write_csv(
        tmp_path / "sent.csv",
        ["national_id", "institution", "sent_on"],
        [[national_id(n), "NTU", "2019-02-01"] for n in range(1, 6)],
    )
    code, out = run("notices", "sent", str(sent))
    registry = ConsentRegistry.from_settings(settings)
    try:
        assert code == 0, out
        assert "checkpoint" in out
        first = registry.checkpoints()
        assert len(first) == 1
        code, out = run("record", "--subject-id", national_id(1), "--event", "opted_out", "--channel", "paper")
        assert code == 0, out
        assert len(registry.checkpoints()) == 1  # one event since: not yet due
        for n in (2, 3):
            assert run("record", "--subject-id", national_id(n), "--event", "opted_out", "--channel", "paper")[0] == 0
        made = registry.checkpoints()
        assert len(made) == 2
        assert made[-1].max_event_id > first[-1].max_event_id
        assert registry.verify().ok
    finally:
        registry.engine.dispose()
