"""Release membership over a dataset's case numbers, stored per case or as compressed bitmaps, and its reads.

Every case has a number in its dataset (``consent_cases.case_no``, handed out by
:func:`reserve_case_numbers`). A release stores which numbers it released, one of two ways (:func:`store`):

- up to :data:`PER_CASE_UP_TO` cases, a row per case keyed by (dataset, case number, release) in
  ``consent_release_cases``: a refusal finds the releases holding its person's cases by index, whatever
  the number of active releases;
- a larger release (a national cohort: few of them), for each run of 65,536 numbers holding any, one row
  of the run encoded as roaring bitmaps do (``consent_release_chunks``, see :func:`encode_run`): 1,526
  rows for 100 million cases, where a row per case cost minutes and gigabytes.

The release pseudonym is a keyed function of the case id, so no pseudonym is stored: a withdrawal notice or
the portal finds a person's cases through the subject index of ``consent_cases``, finds which releases hold
them, and recomputes the pseudonyms with each release's secret and scheme.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, select, text, tuple_

from consent import tables as t
from consent.database import bulk_insert, fetch_in

CHUNK_BITS = 16
CHUNK = 1 << CHUNK_BITS  # case numbers per bitmap row


def reserve_case_numbers(conn: Connection, dataset: str, count: int) -> int:
    """The first of ``count`` fresh case numbers of ``dataset`` (the block is this transaction's; on
    PostgreSQL the counter row stays locked until commit, so concurrent enrolments queue behind it)."""
    dialect = conn.dialect.name
    insert = (
        "INSERT INTO consent_case_numbers (dataset, next_case_no) VALUES (:d, :n) "
        "ON CONFLICT (dataset) DO UPDATE SET next_case_no = consent_case_numbers.next_case_no + :n "
        "RETURNING next_case_no"
    )
    if dialect not in ("sqlite", "postgresql"):  # pragma: no cover - the registry runs on these two
        raise ValueError(f"case numbers need SQLite or PostgreSQL, not {dialect}")
    after = int(conn.execute(text(insert), {"d": dataset, "n": int(count)}).scalar_one())
    return after - int(count)


class MembershipBuilder:
    """Collects the case numbers a release holds (one bit per number of the dataset)."""

    def __init__(self, numbers: int) -> None:
        self._bits = np.zeros(max(int(numbers), 1), dtype=np.bool_)
        self.count = 0

    def add(self, case_nos: np.ndarray) -> None:
        if len(case_nos) == 0:
            return
        top = int(case_nos.max())
        if top >= len(self._bits):  # a case enrolled while the release ran: grow
            grown = np.zeros(max(top + 1, 2 * len(self._bits)), dtype=np.bool_)
            grown[: len(self._bits)] = self._bits
            self._bits = grown
        self._bits[case_nos] = True
        self.count += len(case_nos)

    def numbers(self) -> np.ndarray:
        """Every case number collected, ascending."""
        return np.flatnonzero(self._bits)

    def chunks(self) -> Iterator[tuple[int, bytes]]:
        """(chunk number, encoded run) of every run holding a member (see :func:`encode_run`)."""
        padded = -len(self._bits) % CHUNK
        bits = np.concatenate([self._bits, np.zeros(padded, dtype=np.bool_)]) if padded else self._bits
        runs = bits.reshape(-1, CHUNK)
        counts = runs.sum(axis=1)
        for chunk in np.flatnonzero(counts):
            yield int(chunk), encode_run(runs[chunk], int(counts[chunk]))


ARRAY_UP_TO = 4096  # members a run holds as a sorted list (2 bytes each) rather than a bitmap (8 KiB)


def encode_run(bits: np.ndarray, count: int) -> bytes:
    """One run of 65,536 numbers as roaring bitmaps keep one: a sparse run as ``A`` and its members' sorted
    offsets (little-endian 16-bit), a dense one as ``B`` and its zlib-compressed bitmap. A release of 1% of
    its dataset is then 1.3 KB a run that reads without decompressing; a national release mostly ``B``."""
    if count <= ARRAY_UP_TO:
        return b"A" + np.flatnonzero(bits).astype("<u2").tobytes()
    return b"B" + zlib.compress(np.packbits(bits, bitorder="little").tobytes(), 1)


def run_offsets(blob: bytes) -> np.ndarray:
    """The members of an encoded run, as sorted offsets within it."""
    if blob[:1] == b"A":
        return np.frombuffer(blob, dtype="<u2", offset=1).astype(np.int64)
    packed = np.frombuffer(zlib.decompress(blob[1:]), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(packed, bitorder="little"))


def run_holds(blob: bytes, offsets: np.ndarray) -> np.ndarray:
    """Which of ``offsets`` (within the run) an encoded run holds."""
    if blob[:1] == b"A":
        members = np.frombuffer(blob, dtype="<u2", offset=1)
        at = np.searchsorted(members, offsets)
        at[at == len(members)] = 0
        return members[at] == offsets if len(members) else np.zeros(len(offsets), dtype=np.bool_)
    packed = np.frombuffer(zlib.decompress(blob[1:]), dtype=np.uint8)
    return ((packed[offsets >> 3] >> (offsets & 7)) & 1).astype(np.bool_)


def chunk_rows(release_id: str, builder: MembershipBuilder) -> list[dict[str, object]]:
    return [{"release_id": release_id, "chunk": c, "bits": b} for c, b in builder.chunks()]


PER_CASE_UP_TO = 1_000_000
"""The largest release whose membership is stored a row per case (an application's cohort); beyond it,
bitmaps. At 1,000 active releases of 100,000 cases, a refusal reads the few rows of its person's cases
where bitmaps read 1,000 runs; a national release of 100 million cases writes 1,526 rows, not 100 million."""

RELEASE_SERIES = ":releases"  # the consent_case_numbers series of release numbers (no dataset GUID starts so)


def reserve_release_number(conn: Connection) -> int:
    """A fresh release number (see ``consent_releases.release_no``)."""
    return reserve_case_numbers(conn, RELEASE_SERIES, 1) + 1


def dataset_key(dataset: str) -> int:
    """The 32-bit key of a dataset in per-case membership rows (signed, as SQL INTEGER holds it)."""
    return int.from_bytes(hashlib.sha256(dataset.encode()).digest()[:4], "big", signed=True)


def kept_per_case(builder: MembershipBuilder, per_case_up_to: int = PER_CASE_UP_TO) -> bool:
    """Whether a release of these members keeps them a row per case (then it needs a release number)."""
    return builder.count <= per_case_up_to


def store(conn: Connection, release_id: str, release_no: int | None, dataset: str, builder: MembershipBuilder) -> None:
    """Write a release's membership: a row per case when it has a release number (:func:`kept_per_case`),
    bitmap runs when it has none."""
    if release_no is not None:
        numbers = builder.numbers()
        rows = pa.table(
            {
                "dataset_key": pa.array(np.full(len(numbers), dataset_key(dataset), dtype=np.int32)),
                "case_no": pa.array(numbers, pa.int64()),
                "release_no": pa.array(np.full(len(numbers), release_no, dtype=np.int32)),
            }
        )
        bulk_insert(conn, t.release_cases.name, rows)
        return
    chunks = chunk_rows(release_id, builder)
    for start in range(0, len(chunks), 500):
        conn.execute(t.release_chunks.insert(), chunks[start : start + 500])


def release_members(conn: Connection, release_id: str) -> np.ndarray:
    """Every case number of a release, ascending, however it is stored (audits and tests)."""
    c = t.release_chunks.c
    runs = conn.execute(select(c.chunk, c.bits).where(c.release_id == release_id))
    bitmap = members((int(chunk), bytes(bits)) for chunk, bits in runs)
    r = t.releases.c
    found = conn.execute(select(r.release_no, r.dataset).where(r.release_id == release_id)).first()
    if found is None or found.release_no is None:
        return bitmap
    m = t.release_cases.c
    q = select(m.case_no).where(m.dataset_key == dataset_key(found.dataset), m.release_no == found.release_no)
    per_case = np.array(conn.execute(q).scalars().all(), dtype=np.int64)
    return np.sort(np.concatenate([bitmap, per_case]))


def members(release_chunks: Iterable[tuple[int, bytes]]) -> np.ndarray:
    """Every case number of a release, ascending (for audits and tests; a national release is 100M)."""
    parts = [run_offsets(blob) + (chunk << CHUNK_BITS) for chunk, blob in sorted(release_chunks)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


_CASES_OF = "SELECT subject, dataset, case_id, case_no FROM consent_cases WHERE case_no IS NOT NULL AND subject {in}"


def cases_of(conn: Connection, subjects: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """(subject, dataset, case id, case number) of every case of ``subjects`` (the subject index)."""
    rows: list[tuple[str, str, str, int]] = fetch_in(conn, _CASES_OF, (), sorted(set(subjects)), "text[]")
    return rows


class _DatasetCases:
    """One dataset's cases of the people asked about, grouped by bitmap run."""

    def __init__(self, rows: list[tuple[str, str, int]]) -> None:
        rows.sort(key=lambda r: r[2])
        self.subjects = np.array([r[0] for r in rows], dtype=object)
        self.case_ids = np.array([r[1] for r in rows], dtype=object)
        self.numbers = np.array([r[2] for r in rows], dtype=np.int64)
        runs = self.numbers >> CHUNK_BITS
        self.chunks, first = np.unique(runs, return_index=True)
        ends = [*first[1:].tolist(), len(rows)]
        self.bounds = {c: (f, e) for c, f, e in zip(self.chunks.tolist(), first.tolist(), ends, strict=True)}


@dataclass(frozen=True)
class Held:
    """The cases of the people asked about that one release holds (parallel lists)."""

    release_id: str
    dataset: str
    case_ids: list[str]
    subjects: list[str]


def held_by_release(
    conn: Connection,
    cases: Sequence[tuple[str, str, str, int]],
    releases: dict[str, str] | None = None,
    active_since: str | None = None,
) -> list[Held]:
    """Which of ``cases`` (as :func:`cases_of` gives them) each release holds, per release: of ``releases``
    (release id -> dataset) if given, else of every release of their datasets (active at ``active_since``
    if given). Reads the per-case rows of those cases by index, which name the releases holding them, then
    the bitmap runs those cases fall in of the releases stored as bitmaps (few), testing the bits where
    they are packed: the cost follows the releases that hold the cases, not all active releases."""
    rows: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for subject, dataset, case_id, case_no in cases:
        rows[dataset].append((subject, case_id, case_no))
    grouped = {dataset: _DatasetCases(r) for dataset, r in rows.items()}
    hits: dict[str, list[np.ndarray]] = defaultdict(list)
    found: dict[str, str] = {}
    _per_case_hits(conn, grouped, releases, active_since, hits, found)
    _bitmap_hits(conn, grouped, _bitmapped(conn, grouped, releases, active_since), hits, found)
    out: list[Held] = []
    for release_id in sorted(hits):
        group = grouped[found[release_id]]
        at = np.unique(np.concatenate(hits[release_id]))
        out.append(Held(release_id, found[release_id], group.case_ids[at].tolist(), group.subjects[at].tolist()))
    return out


_NAMED = "SELECT release_no, release_id, dataset FROM consent_releases WHERE active_until >= {p} AND release_no {in}"


def _per_case_hits(
    conn: Connection,
    grouped: dict[str, _DatasetCases],
    releases: dict[str, str] | None,
    active_since: str | None,
    hits: dict[str, list[np.ndarray]],
    found: dict[str, str],
) -> None:
    held = {
        dataset: _per_case_rows(conn, dataset_key(dataset), group.numbers.tolist())
        for dataset, group in grouped.items()
    }
    numbers = sorted({no for per_release in held.values() for no in per_release})
    named = {
        int(no): (str(release_id), str(dataset))
        for no, release_id, dataset in fetch_in(conn, _NAMED, (active_since or "",), numbers, "bigint[]")
    }
    for dataset, per_release in held.items():
        group = grouped[dataset]
        for release_no, case_nos in per_release.items():
            release_id, of = named.get(release_no, ("", ""))
            # the dataset key is a hash: a release of another dataset may share it
            if of == dataset and (releases is None or releases.get(release_id) == dataset):
                hits[release_id].append(np.searchsorted(group.numbers, np.sort(case_nos)))
                found[release_id] = dataset


# Grouped by release in the database: a bulk opt-out's million rows come back as one list per release
# and chunk, not a million tuples (whose allocation alone kept Python's collector busy for a second).
_PER_CASE = {
    "sqlite": "SELECT release_no, group_concat(case_no) FROM consent_release_cases "
    "WHERE dataset_key = {p} AND case_no {in} GROUP BY release_no",
    "postgresql": "SELECT release_no, string_agg(case_no::text, ',') FROM consent_release_cases "
    "WHERE dataset_key = {p} AND case_no {in} GROUP BY release_no",
}


def _per_case_rows(conn: Connection, key: int, numbers: list[int]) -> dict[int, np.ndarray]:
    """Release number -> the case numbers among ``numbers`` it holds, in the dataset keyed ``key``."""
    found: dict[int, list[np.ndarray]] = defaultdict(list)
    for release_no, listed in fetch_in(conn, _PER_CASE[conn.dialect.name], (key,), numbers, "bigint[]"):
        found[int(release_no)].append(np.array(listed.split(","), dtype=np.int64))
    return {release_no: np.concatenate(parts) for release_no, parts in found.items()}


def _bitmapped(
    conn: Connection, grouped: dict[str, _DatasetCases], releases: dict[str, str] | None, active_since: str | None
) -> dict[str, str]:
    """The releases stored as bitmaps (no release number) among ``releases``, or of the datasets."""
    r = t.releases.c
    q = select(r.release_id, r.dataset).where(r.release_no.is_(None), r.dataset.in_(sorted(grouped)))
    if active_since is not None:
        q = q.where(r.active_until >= active_since)
    return {
        str(release_id): str(dataset)
        for release_id, dataset in conn.execute(q)
        if releases is None or releases.get(str(release_id)) == dataset
    }


def _bitmap_hits(
    conn: Connection,
    grouped: dict[str, _DatasetCases],
    releases: dict[str, str],
    hits: dict[str, list[np.ndarray]],
    found: dict[str, str],
) -> None:
    c = t.release_chunks.c
    wanted = [(r, int(chunk)) for r in sorted(releases) for chunk in grouped[releases[r]].chunks]
    for start in range(0, len(wanted), 2000):
        q = select(c.release_id, c.chunk, c.bits).where(tuple_(c.release_id, c.chunk).in_(wanted[start : start + 2000]))
        for release_id, chunk, blob in conn.execute(q):
            group = grouped[releases[release_id]]
            first, last = group.bounds[int(chunk)]
            at = np.flatnonzero(run_holds(blob, group.numbers[first:last] & (CHUNK - 1)))
            if len(at):
                hits[release_id].append(at + first)
                found[release_id] = releases[release_id]
