"""Release membership as compressed bitmaps over a dataset's case numbers, and the reads that use it.

Every case has a number in its dataset (``consent_cases.case_no``, handed out by
:func:`reserve_case_numbers`). A release stores which numbers it released: for each run of 65,536 numbers
holding any, one row of the run, encoded as roaring bitmaps do (``consent_release_chunks``, see
:func:`encode_run`). The release
pseudonym is a keyed function of the case id, so nothing per case is stored: a withdrawal notice or the
portal finds a person's cases through the subject index of ``consent_cases``, tests their bits, and
recomputes the pseudonyms with the release's secret and scheme.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, bindparam, select, text, tuple_

from consent import tables as t

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


def members(release_chunks: Iterable[tuple[int, bytes]]) -> np.ndarray:
    """Every case number of a release, ascending (for audits and tests; a national release is 100M)."""
    parts = [run_offsets(blob) + (chunk << CHUNK_BITS) for chunk, blob in sorted(release_chunks)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


_CASES_OF = text(
    "SELECT subject, dataset, case_id, case_no FROM consent_cases WHERE subject IN :subjects AND case_no IS NOT NULL"
).bindparams(bindparam("subjects", expanding=True))


def cases_of(conn: Connection, subjects: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """(subject, dataset, case id, case number) of every case of ``subjects`` (the subject index)."""
    found: list[tuple[str, str, str, int]] = []
    ordered = sorted(set(subjects))
    for start in range(0, len(ordered), 5000):
        found.extend(
            (str(s), str(d), str(c), int(n))
            for s, d, c, n in conn.execute(_CASES_OF, {"subjects": ordered[start : start + 5000]})
        )
    return found


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
    conn: Connection, cases: Sequence[tuple[str, str, str, int]], releases: dict[str, str]
) -> list[Held]:
    """Which of ``cases`` (as :func:`cases_of` gives them) each of ``releases`` (release id -> dataset) holds,
    per release. Reads only the bitmap rows of the runs those cases fall in, and tests the bits where they
    are packed: a withdrawal of 100,000 people against 1,000 releases reads 150,000 small rows."""
    rows: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for subject, dataset, case_id, case_no in cases:
        rows[dataset].append((subject, case_id, case_no))
    grouped = {dataset: _DatasetCases(r) for dataset, r in rows.items()}
    wanted: list[tuple[str, int]] = []
    for release_id, dataset in sorted(releases.items()):
        if dataset in grouped:
            wanted.extend((release_id, int(chunk)) for chunk in grouped[dataset].chunks)
    hits: dict[str, list[np.ndarray]] = defaultdict(list)
    c = t.release_chunks.c
    for start in range(0, len(wanted), 2000):
        q = select(c.release_id, c.chunk, c.bits).where(tuple_(c.release_id, c.chunk).in_(wanted[start : start + 2000]))
        for release_id, chunk, blob in conn.execute(q):
            group = grouped[releases[release_id]]
            first, last = group.bounds[int(chunk)]
            found = np.flatnonzero(run_holds(blob, group.numbers[first:last] & (CHUNK - 1)))
            if len(found):
                hits[release_id].append(found + first)
    out: list[Held] = []
    for release_id in sorted(hits):
        group = grouped[releases[release_id]]
        at = np.concatenate(hits[release_id])
        out.append(Held(release_id, releases[release_id], group.case_ids[at].tolist(), group.subjects[at].tolist()))
    return out
