"""Set-based release filtering agrees with decide(); releases are reproducible and unlinkable."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.decide import Use, decide
from consent.pseudonyms import release_pseudonym
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release import audit_release, create_release
from consent.release_filter import STATE_SCHEMA, filter_release
from consent.state import fold
from schemas.consent import Category, Enrolment, EventKind, EventRequest, Policy, format_instant
from tests.consent.subjects import DATASET, T0, national_id
from tests.consent.test_decide import History, day, histories, policies, uses


def state_table(subject: str, h: History) -> list[dict[str, object]]:
    return [
        {
            "subject": subject,
            "facet": k.facet,
            "scope_dataset": k.scope_dataset,
            "scope_purpose": k.scope_purpose,
            "kind": e.kind.value,
            "effective_at": format_instant(e.effective_at),
            "seq": e.seq,
        }
        for k, e in fold(h.events).items()
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(histories(), st.sampled_from(list(Category))), min_size=1, max_size=8),
    uses,
    policies,
)
def test_the_set_based_filter_decides_every_case_as_decide_does(
    subjects: list[tuple[History, Category]], use: Use, policy: Policy
) -> None:
    now = day(1000)
    rows, members, enrolments, expected = [], [], [], {}
    for n, (h, category) in enumerate(subjects):
        subject = f"{n:064x}"
        events = [e.model_copy(update={"subject": subject}) for e in h.events]
        rows += state_table(subject, _with(events))
        members.append({"case_id": f"case-{n}", "subject": subject})
        enrolments.append({"subject": subject, "category": category.value, "enrolled_at": format_instant(T0)})
        enrolment = Enrolment(subject=subject, dataset=DATASET, institution="X", category=category, enrolled_at=T0)
        expected[f"case-{n}"] = decide(events, enrolment, policy, use, now)
    out = filter_release(
        pa.table({"case_id": [*expected, "case-unknown"]}),
        pa.Table.from_pylist(members),
        pa.Table.from_pylist(enrolments),
        pa.Table.from_pylist(rows, schema=STATE_SCHEMA),
        DATASET,
        use.covering_scopes(),
        policy,
        now,
        b"s" * 32,
    )
    got = {r["case_id"]: (r["permit"], r["reason"], r["release_pseudonym"]) for r in out.to_pylist()}
    assert got.pop("case-unknown")[1] == "unknown_case"
    for case_id, decision in expected.items():
        permit, reason, pseudonym = got[case_id]
        assert (permit, reason) == (decision.permit, decision.reason)
        assert pseudonym == (release_pseudonym(b"s" * 32, case_id) if permit else None)


def _with(events: list) -> History:
    h = History()
    h.events = events
    return h


def _registry_with_release(registry: ConsentRegistry, tmp_path: Path, name: str) -> tuple[str, pa.Table]:
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 7)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.B, T0, (f"case-{i}",)) for i, s in enumerate(subjects)])
    registry.append([EventRequest(subject=subjects[0], kind=EventKind.WITHDRAWN)])
    cases = pa.table({"case_id": [f"case-{i}" for i in range(6)]})
    manifest = create_release(
        registry, "APP-1", DATASET, "GRU", cases, tmp_path / name, date.today() + timedelta(days=30)
    )
    return manifest.release_id, cases


def test_an_audit_reproduces_a_past_release_exactly_despite_later_choices(
    registry: ConsentRegistry, tmp_path: Path
) -> None:
    release_id, cases = _registry_with_release(registry, tmp_path, "r1")
    later = registry.pseudonymiser.subject(national_id(3))
    registry.append([EventRequest(subject=later, kind=EventKind.OPTED_OUT)])
    manifest, decided = audit_release(registry, release_id, cases)
    released = (
        decided.filter(decided.column("permit")).sort_by("release_pseudonym").column("release_pseudonym").to_pylist()
    )
    file_lines = (tmp_path / "r1" / "released_cases.csv").read_text().split()[1:]
    assert [p.strip('"') for p in file_lines] == released
    assert manifest.cases_out == len(released) == 5


def test_two_releases_of_the_same_cases_cannot_be_joined(registry: ConsentRegistry, tmp_path: Path) -> None:
    _registry_with_release(registry, tmp_path, "r1")
    cases = pa.table({"case_id": [f"case-{i}" for i in range(6)]})
    create_release(registry, "APP-2", DATASET, "GRU", cases, tmp_path / "r2", date.today() + timedelta(days=30))
    first = set((tmp_path / "r1" / "released_cases.csv").read_text().split()[1:])
    second = set((tmp_path / "r2" / "released_cases.csv").read_text().split()[1:])
    assert len(first) == len(second) == 5 and first.isdisjoint(second)


def test_withdrawal_after_release_lists_only_covered_releases(registry: ConsentRegistry, tmp_path: Path) -> None:
    release_id, _cases = _registry_with_release(registry, tmp_path, "r1")
    subject = registry.pseudonymiser.subject(national_id(2))
    registry.append([EventRequest(subject=subject, kind=EventKind.OPTED_OUT, scope_purpose="DUO:0000007")])
    assert registry.withdrawal_notices() == []  # refusing DS does not touch a GRU release
    registry.append([EventRequest(subject=subject, kind=EventKind.OPTED_OUT, scope_purpose="DUO:0000042")])
    (notice,) = registry.withdrawal_notices(release_id)
    assert notice.release_pseudonyms == [release_pseudonym(registry.pseudonymiser.release_secret(release_id), "case-1")]
    registry.append([EventRequest(subject=subject, kind=EventKind.WITHDRAWN)])
    assert len(registry.withdrawal_notices()) == 1  # already notified pseudonyms are not repeated


def test_releases_made_with_the_earlier_hmac_scheme_are_reproduced_with_it() -> None:
    member = {"case_id": "case-1", "subject": "1" * 64}
    enrolment = {"subject": "1" * 64, "category": "B", "enrolled_at": format_instant(T0)}
    args = (
        pa.table({"case_id": ["case-1"]}),
        pa.Table.from_pylist([member]),
        pa.Table.from_pylist([enrolment]),
        STATE_SCHEMA.empty_table(),
        DATASET,
        frozenset({"DUO:0000042"}),
        Policy(),
        day(1000),
        b"s" * 32,
    )
    for scheme in ("hmac-sha256-128", "sha256-prefix-128", "sha256-k128-128"):
        (row,) = filter_release(*args, scheme=scheme).to_pylist()
        assert row["release_pseudonym"] == release_pseudonym(b"s" * 32, "case-1", scheme)
    assert release_pseudonym(b"s" * 32, "case-1", "hmac-sha256-128") != release_pseudonym(b"s" * 32, "case-1")


def test_repeated_case_ids_are_decided_once_and_unknown_ones_reported_once() -> None:
    members = [{"case_id": f"case-{n}", "subject": f"{n:064x}"} for n in range(3)]
    enrolments = [{"subject": m["subject"], "category": "B", "enrolled_at": format_instant(T0)} for m in members]
    requested = ["case-0", "case-1", "case-0", "nobody", "nobody", "case-2", "case-1"]
    out = filter_release(
        pa.table({"case_id": requested}),
        pa.Table.from_pylist(members),
        pa.Table.from_pylist(enrolments),
        STATE_SCHEMA.empty_table(),
        DATASET,
        frozenset({"DUO:0000042"}),
        Policy(),
        day(1000),
        b"s" * 32,
    )
    rows = sorted((r["case_id"], r["reason"], r["permit"]) for r in out.to_pylist())
    assert rows == [
        ("case-0", "category_b_default", True),
        ("case-1", "category_b_default", True),
        ("case-2", "category_b_default", True),
        ("nobody", "unknown_case", False),
    ]
