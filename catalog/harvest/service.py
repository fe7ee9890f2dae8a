"""Register harvest sources and run them into the store by the rules of a run.

A run streams records from a :class:`harvesters.base.Source` and writes them in batches
through :meth:`Store.save_many` (GUID = uuid5(source GUID, upstream id); identical content
writes nothing). A record that fails is recorded with its stage and reason and keeps its
previous good version. Only a *full* run whose listing completed withdraws (tombstones)
records gone upstream; a run whose listing fails withdraws nothing and is marked failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from catalog import guid as guids
from catalog.db import make_sessionmaker
from catalog.harvest.collector import fewer_collections
from catalog.harvest.duplicates import link_duplicates
from catalog.harvest.readahead import read_ahead
from catalog.harvest.tables import (
    DuplicateLinkRow,
    HarvestErrorRow,
    HarvestLockRow,
    HarvestRecordRow,
    HarvestRunRow,
    HarvestSourceRow,
)
from catalog.store import DeliveryError, NewRecord, NotFound, Store, StoreError
from harvesters import registry
from harvesters.base import HarvestedRecord, Source, SourceError
from harvesters.retries import describe

WITHDRAWN_REASON = "withdrawn at source"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
#: Option keys that are credentials: stored, used, never shown.
SECRET_OPTIONS = frozenset({"api_key", "apikey", "token", "password"})

Progress = Callable[[int, int | None], None]


class UnknownSource(NotFound):
    code = "unknown_source"


class SourceBusy(StoreError):
    """The source is being run right now (HTTP 409)."""

    code = "source_busy"


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    source: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    failed: int = 0
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "mode": self.mode,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "withdrawn": self.withdrawn,
            "failed": self.failed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SourceInfo:
    name: str
    guid: str
    kind: str
    url: str
    options: dict[str, Any]
    created_at: datetime
    last_success_at: datetime | None
    running: bool
    last_run: RunSummary | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "guid": self.guid,
            "kind": self.kind,
            "url": self.url,
            "options": self.options,
            "created_at": self.created_at.isoformat(),
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "running": self.running,
            "last_run": self.last_run.as_dict() if self.last_run else None,
        }


@dataclass(frozen=True)
class RecordErrorInfo:
    run_id: int
    upstream_id: str
    stage: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "upstream_id": self.upstream_id, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True)
class DuplicateInfo:
    guid: str
    other_guid: str
    basis: str
    value: str

    def as_dict(self) -> dict[str, Any]:
        return {"guid": self.guid, "other_guid": self.other_guid, "basis": self.basis, "value": self.value}


@dataclass
class _Tally:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    failed: int = 0
    seen: set[str] = field(default_factory=set)
    gaps: list[str] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _public_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if k in SECRET_OPTIONS else v) for k, v in options.items()}


class HarvestService:
    """Harvest sources, runs and errors over one store (and its database)."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 500,
        index_batch: int = 2000,
        stale_after: timedelta = timedelta(hours=6),
        source_factory: Callable[[HarvestSourceRow, Callable[[str, str], bool] | None], Source] | None = None,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        # Changes handed to the store's subscribers (the search index) at once during a run:
        # larger means fewer index commits, smaller means less memory (Store.publishing_behind).
        self.index_batch = index_batch
        self.stale_after = stale_after
        self._sessions = make_sessionmaker(store.engine)
        self._source_factory = source_factory or _open_source

    # --- sources ----------------------------------------------------------------------------

    def add_source(self, kind: str, url: str, *, name: str, options: dict[str, Any] | None = None) -> SourceInfo:
        """Register a source; its GUID is minted once and namespaces its records' GUIDs."""
        if not _NAME.match(name):
            raise StoreError(
                f"source name {name!r} is not usable: use lower-case letters, digits, '.', '_' or '-' "
                "(at most 100 characters), e.g. 'depositar'"
            )
        if kind not in registry.KINDS:
            raise StoreError(f"unknown source kind {kind!r}; use one of: {', '.join(sorted(registry.KINDS))}")
        try:
            registry.check_location(kind, url)
            registry.check_options(kind, dict(options or {}))
        except ValueError as exc:
            raise StoreError(str(exc)) from exc
        row = HarvestSourceRow(
            guid=guids.mint(self.store.guid_prefix),
            name=name,
            kind=kind,
            url=url,
            options=dict(options or {}),
            created_at=_now(),
        )
        try:
            with self._sessions.begin() as s:
                s.add(row)
        except IntegrityError as exc:
            raise StoreError(f"a source named {name!r} exists already; pick another name") from exc
        return self.source(name)

    def sources(self) -> list[SourceInfo]:
        with self._sessions() as s:
            rows = list(s.scalars(select(HarvestSourceRow).order_by(HarvestSourceRow.name)))
            return [self._info(s, r) for r in rows]

    def source(self, name: str) -> SourceInfo:
        with self._sessions() as s:
            return self._info(s, self._row(s, name))

    def set_schedule(self, name: str, schedule: str | None) -> SourceInfo:
        """Give a source a schedule (``daily 02:00``, ``hourly``, ``every 30 minutes``) or none."""
        from catalog.harvest.schedule import parse_schedule

        text = None
        if schedule and schedule.strip():
            try:
                text = parse_schedule(schedule).text
            except ValueError as exc:
                raise StoreError(str(exc)) from exc
        with self._sessions.begin() as s:
            row = self._row(s, name)
            options = dict(row.options or {})
            options.pop("schedule", None)
            if text:
                options["schedule"] = text
            row.options = options
        return self.source(name)

    def update_source(self, name: str, *, url: str) -> SourceInfo:
        """Point a source at another location of the same kind; its GUID (and so its records' GUIDs) stays."""
        with self._sessions.begin() as s:
            row = self._row(s, name)
            try:
                registry.check_location(row.kind, url)
            except ValueError as exc:
                raise StoreError(str(exc)) from exc
            row.url = url
        return self.source(name)

    def remove_source(self, name: str) -> None:
        """Forget a source's bookkeeping; its records stay in the catalog."""
        with self._sessions.begin() as s:
            s.delete(self._row(s, name))

    def _row(self, s: Any, name: str) -> HarvestSourceRow:
        row = s.scalar(select(HarvestSourceRow).where(HarvestSourceRow.name == name))
        if row is None:
            raise UnknownSource(f"no harvest source named {name!r}; list them with `fairgate harvest list`")
        return row

    def _info(self, s: Any, row: HarvestSourceRow) -> SourceInfo:
        last = s.scalar(
            select(HarvestRunRow).where(HarvestRunRow.source_id == row.id).order_by(HarvestRunRow.id.desc()).limit(1)
        )
        lock = s.get(HarvestLockRow, row.id)
        return SourceInfo(
            name=row.name,
            guid=row.guid,
            kind=row.kind,
            url=row.url,
            options=_public_options(row.options or {}),
            created_at=_aware(row.created_at) or _now(),
            last_success_at=_aware(row.last_success_at),
            running=lock is not None and not self._stale(lock),
            last_run=_summary(last, row.name) if last is not None else None,
        )

    # --- runs, errors, duplicates -------------------------------------------------------------

    def runs(self, name: str, *, limit: int = 20) -> list[RunSummary]:
        with self._sessions() as s:
            row = self._row(s, name)
            q = (
                select(HarvestRunRow)
                .where(HarvestRunRow.source_id == row.id)
                .order_by(HarvestRunRow.id.desc())
                .limit(max(1, min(limit, 500)))
            )
            return [_summary(r, name) for r in s.scalars(q)]

    def run_summary(self, run_id: int) -> RunSummary:
        with self._sessions() as s:
            run = s.get(HarvestRunRow, run_id)
            if run is None:
                raise NotFound(f"no harvest run {run_id}; list a source's runs to find one")
            src = s.get(HarvestSourceRow, run.source_id)
            return _summary(run, src.name if src else "?")

    def errors(self, *, name: str | None = None, run_id: int | None = None) -> list[RecordErrorInfo]:
        """Failed records of ``run_id``, or of the latest run of source ``name``."""
        with self._sessions() as s:
            if run_id is None:
                if name is None:
                    raise StoreError("say which source or run to list errors of")
                row = self._row(s, name)
                run_id = s.scalar(
                    select(HarvestRunRow.id)
                    .where(HarvestRunRow.source_id == row.id)
                    .order_by(HarvestRunRow.id.desc())
                    .limit(1)
                )
                if run_id is None:
                    return []
            elif s.get(HarvestRunRow, run_id) is None:
                raise NotFound(f"no harvest run {run_id}; list a source's runs to find one")
            rows = s.scalars(
                select(HarvestErrorRow).where(HarvestErrorRow.run_id == run_id).order_by(HarvestErrorRow.id)
            )
            return [RecordErrorInfo(r.run_id, r.upstream_id, r.stage, r.reason) for r in rows]

    def duplicates(self, guid: str | None = None) -> list[DuplicateInfo]:
        """Duplicate links (of one record, or all): shown to stewards, never merged."""
        with self._sessions() as s:
            q = select(DuplicateLinkRow).order_by(DuplicateLinkRow.id)
            if guid is not None:
                q = q.where(DuplicateLinkRow.guid == guid)
            return [DuplicateInfo(r.guid, r.other_guid, r.basis, r.value) for r in s.scalars(q)]

    # --- running ------------------------------------------------------------------------------

    def run_all(self, *, full: bool = True, progress: Callable[[str], Progress] | None = None) -> list[RunSummary]:
        """Run every source once; a source still running elsewhere is skipped (status ``skipped``)."""
        out: list[RunSummary] = []
        for info in self.sources():
            try:
                out.append(self.run(info.name, full=full, progress=progress(info.name) if progress else None))
            except SourceBusy as exc:
                now = _now()
                out.append(
                    RunSummary(0, info.name, "full" if full else "incremental", "skipped", now, now, reason=str(exc))
                )
        return out

    def run(
        self,
        name: str,
        *,
        full: bool = True,
        progress: Progress | None = None,
        source: Source | None = None,
        force: bool = False,
        on_started: Callable[[], None] | None = None,
    ) -> RunSummary:
        """Run source ``name`` once. ``full=False`` asks only for changes since the last good run.

        ``force`` re-maps every record even when its upstream payload is unchanged (use after
        a mapping fix). ``source`` replaces the registered source object (tests, tools).
        ``on_started`` is called once the run is recorded as running (its lock taken).
        """
        with self._sessions() as s:
            src = self._row(s, name)
            s.expunge(src)
        since = None if full else _aware(src.last_success_at)
        mode = "full" if since is None else "incremental"
        run_id, started = self._lock(src, mode)
        if on_started is not None:
            on_started()
        tally = _Tally()
        status, reason = "failed", None
        try:
            # The source's active records when the run starts: what a full run withdraws is the
            # part of these it did not see (every record this run saves, it has seen).
            active = self.store.guids_of_source(src.guid)
            known = self._known(src, active)
            is_known = None if force else (lambda uid, digest: known.get(uid) == digest)
            stream = source if source is not None else self._source_factory(src, is_known)
            # The search index (a store subscriber) catches up in a child process while the
            # next batches are fetched, mapped and written; it is current when the block ends.
            with fewer_collections(), self.store.publishing_behind(max_changes=self.index_batch, queued=2):
                self._consume(src, run_id, stream, since, tally, progress)
                # Deletions the source announced are facts, not inferences: applied in any mode.
                if tally.deleted:  # looked up now: a record this run saved may be among them
                    current = self.store.guids_of_source(src.guid)
                    tally.withdrawn = self._withdraw(src, {u: current[u] for u in tally.deleted if u in current})
                    active = {u: g for u, g in active.items() if u not in tally.deleted}
                if mode == "full":
                    if tally.gaps:
                        reason = (
                            f"{len(tally.gaps)} part(s) of the source could not be read "
                            f"({tally.gaps[0]}); nothing was withdrawn this run"
                        )
                    else:
                        seen = tally.seen
                        tally.withdrawn += self._withdraw(src, {u: g for u, g in active.items() if u not in seen})
            status = "succeeded"
        except (SourceError, DeliveryError) as exc:
            # A delivery error: every record is stored, but the search index missed some.
            reason = "; ".join([str(exc), *getattr(exc, "__notes__", ())])
        except Exception as exc:  # a crash in our own code must still close the run and lock
            reason = f"run stopped by an unexpected error: {describe(exc)}"
            raise
        finally:
            self._finish(src, run_id, started, status, reason, tally)
        return self.run_summary(run_id)

    def _lock(self, src: HarvestSourceRow, mode: str) -> tuple[int, datetime]:
        now = _now()
        try:
            with self._sessions.begin() as s:
                lock = s.get(HarvestLockRow, src.id, with_for_update=True)
                if lock is not None and not self._stale(lock):
                    raise SourceBusy(
                        f"source {src.name!r} is being harvested (run {lock.run_id} since "
                        f"{_aware(lock.locked_at)}); wait for it or retry later"
                    )
                if lock is not None:  # its run died; mark that run failed and take over
                    s.execute(
                        update(HarvestRunRow)
                        .where(HarvestRunRow.id == lock.run_id, HarvestRunRow.status == "running")
                        .values(status="failed", finished_at=now, reason="run died (lock went stale)")
                    )
                    s.delete(lock)
                    s.flush()
                run = HarvestRunRow(source_id=src.id, mode=mode, status="running", started_at=now)
                for count in ("added", "updated", "unchanged", "withdrawn", "failed"):
                    setattr(run, count, 0)
                s.add(run)
                s.flush()
                s.add(HarvestLockRow(source_id=src.id, run_id=run.id, locked_at=now))
                return run.id, now
        except IntegrityError as exc:  # another process took the lock between our read and insert
            raise SourceBusy(f"source {src.name!r} is being harvested; retry later") from exc

    def _stale(self, lock: HarvestLockRow) -> bool:
        locked = _aware(lock.locked_at) or _now()
        return _now() - locked > self.stale_after

    def _known(self, src: HarvestSourceRow, active: dict[str, str]) -> dict[str, str]:
        """``upstream id -> payload digest`` of the records whose stored version is current and
        active (``active``: the source's active records, ``upstream id -> GUID``)."""
        q = select(HarvestRecordRow.upstream_id, HarvestRecordRow.digest).where(HarvestRecordRow.source_id == src.id)
        with self.store.engine.connect() as conn:
            return {u: d for u, d in conn.execute(q).all() if d is not None and u in active}

    def _consume(
        self,
        src: HarvestSourceRow,
        run_id: int,
        stream: Source,
        since: datetime | None,
        tally: _Tally,
        progress: Progress | None,
    ) -> None:
        batch: list[HarvestedRecord] = []
        errors: list[HarvestErrorRow] = []
        records = read_ahead(iter(stream.records(since)), size=2 * self.batch_size)
        for done, rec in enumerate(records, start=1):
            deleted = bool(rec.meta.get("deleted"))  # withdrawn once the listing has completed
            (tally.deleted if deleted else tally.seen).add(rec.upstream_id)
            (tally.seen if deleted else tally.deleted).discard(rec.upstream_id)
            if deleted:
                pass
            elif rec.dataset is not None and rec.error is None:
                batch.append(rec)
            elif rec.error is not None:
                tally.failed += 1
                errors.append(
                    HarvestErrorRow(
                        run_id=run_id, upstream_id=rec.upstream_id, stage=rec.error.stage, reason=rec.error.reason
                    )
                )
                if rec.meta.get("gap"):
                    tally.gaps.append(rec.error.reason)
            else:  # the source saw the payload is the one we already hold
                tally.unchanged += 1
            if len(batch) >= self.batch_size or len(errors) >= self.batch_size:
                self._flush(src, run_id, batch, errors, tally)
                batch, errors = [], []
            if progress is not None:
                total = rec.meta.get("total")
                progress(done, total if isinstance(total, int) else None)
        self._flush(src, run_id, batch, errors, tally)

    def _flush(
        self,
        src: HarvestSourceRow,
        run_id: int,
        batch: list[HarvestedRecord],
        errors: list[HarvestErrorRow],
        tally: _Tally,
    ) -> None:
        saved: list[tuple[HarvestedRecord, str]] = []
        if batch:
            actor = f"harvest:{src.name}"
            try:
                results = self.store.save_many(
                    [NewRecord(r.dataset, r.upstream_id) for r in batch if r.dataset is not None],
                    actor=actor,
                    activity="harvest",
                    source_guid=src.guid,
                )
                pairs = list(zip(batch, results, strict=True))
            except Exception:
                # One bad record must not sink its batch: retry one by one to isolate it.
                pairs = []
                for rec in batch:
                    assert rec.dataset is not None
                    try:
                        result = self.store.save(
                            rec.dataset,
                            actor=actor,
                            activity="harvest",
                            source_guid=src.guid,
                            upstream_id=rec.upstream_id,
                        )
                    except Exception as exc:
                        tally.failed += 1
                        errors.append(
                            HarvestErrorRow(
                                run_id=run_id, upstream_id=rec.upstream_id, stage="store", reason=describe(exc)
                            )
                        )
                        continue
                    pairs.append((rec, result))
            for rec, result in pairs:
                if result.status == "created":
                    tally.added += 1
                elif result.status in ("updated", "restored"):
                    tally.updated += 1
                else:
                    tally.unchanged += 1
                saved.append((rec, result.guid))
        with self._sessions.begin() as s:
            s.add_all(errors)
            if saved:
                self._remember(s, src, saved)
                link_duplicates(s, src.id, [(g, r.dataset) for r, g in saved if r.dataset is not None])
            s.execute(
                update(HarvestRunRow)
                .where(HarvestRunRow.id == run_id)
                .values(added=tally.added, updated=tally.updated, unchanged=tally.unchanged, failed=tally.failed)
            )
            s.execute(update(HarvestLockRow).where(HarvestLockRow.source_id == src.id).values(locked_at=_now()))

    def _remember(self, s: Any, src: HarvestSourceRow, saved: Sequence[tuple[HarvestedRecord, str]]) -> None:
        """Upsert the bookkeeping rows of saved records (Core statements: a batch is hundreds of rows)."""
        rows: dict[str, dict[str, Any]] = {}
        for rec, guid in saved:
            ds, digest = rec.dataset, rec.meta.get("digest")
            rows[rec.upstream_id] = {
                "guid": guid,
                "digest": digest if isinstance(digest, str) else None,
                "identifier": (ds.identifier or None) if ds else None,
                "landing_page": (ds.landing_page or None) if ds else None,
            }
        ids = list(rows)
        conn = s.connection()
        existing: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            q = select(HarvestRecordRow.upstream_id, HarvestRecordRow.id).where(
                HarvestRecordRow.source_id == src.id, HarvestRecordRow.upstream_id.in_(ids[start : start + 500])
            )
            existing.update({u: i for u, i in conn.execute(q)})
        fresh = [{"source_id": src.id, "upstream_id": u, **v} for u, v in rows.items() if u not in existing]
        known = [{"b_id": existing[u], **v} for u, v in rows.items() if u in existing]
        if fresh:
            conn.execute(insert(HarvestRecordRow), fresh)
        if known:
            conn.execute(
                update(HarvestRecordRow)
                .where(HarvestRecordRow.id == bindparam("b_id"))
                .values({k: bindparam(k) for k in ("guid", "digest", "identifier", "landing_page")}),
                known,
            )

    def _withdraw(self, src: HarvestSourceRow, gone: dict[str, str]) -> int:
        """Tombstone ``gone`` (``upstream id -> GUID``); the number that were still active."""
        withdrawn = 0
        items = sorted(gone.items())
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            results = self.store.tombstone_many(
                [g for _, g in chunk], reason=WITHDRAWN_REASON, actor=f"harvest:{src.name}"
            )
            # One another writer tombstoned meanwhile is left as it is and not counted.
            withdrawn += sum(r.status == "updated" for r in results)
            with self._sessions.begin() as s:
                s.execute(
                    delete(HarvestRecordRow).where(
                        HarvestRecordRow.source_id == src.id,
                        HarvestRecordRow.upstream_id.in_([u for u, _ in chunk]),
                    )
                )
        return withdrawn

    def _finish(
        self, src: HarvestSourceRow, run_id: int, started: datetime, status: str, reason: str | None, tally: _Tally
    ) -> None:
        with self._sessions.begin() as s:
            s.execute(
                update(HarvestRunRow)
                .where(HarvestRunRow.id == run_id)
                .values(
                    status=status,
                    reason=reason,
                    finished_at=_now(),
                    added=tally.added,
                    updated=tally.updated,
                    unchanged=tally.unchanged,
                    withdrawn=tally.withdrawn,
                    failed=tally.failed,
                )
            )
            if status == "succeeded":
                s.execute(update(HarvestSourceRow).where(HarvestSourceRow.id == src.id).values(last_success_at=started))
            s.execute(delete(HarvestLockRow).where(HarvestLockRow.source_id == src.id))


def _summary(run: HarvestRunRow, name: str) -> RunSummary:
    return RunSummary(
        run_id=run.id,
        source=name,
        mode=run.mode,
        status=run.status,
        started_at=_aware(run.started_at) or _now(),
        finished_at=_aware(run.finished_at),
        added=run.added,
        updated=run.updated,
        unchanged=run.unchanged,
        withdrawn=run.withdrawn,
        failed=run.failed,
        reason=run.reason,
    )


def _open_source(row: HarvestSourceRow, is_known: Callable[[str, str], bool] | None) -> Source:
    return registry.open_source(row.kind, row.url, dict(row.options or {}), is_known=is_known)


def summarise(runs: Iterable[RunSummary]) -> dict[str, int]:
    """Totals over several runs (for ``harvest run --all``)."""
    out = {"added": 0, "updated": 0, "unchanged": 0, "withdrawn": 0, "failed": 0}
    for r in runs:
        for key in out:
            out[key] += getattr(r, key)
    return out
