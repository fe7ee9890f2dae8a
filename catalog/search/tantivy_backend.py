"""The tantivy search backend: a Rust inverted index with BM25, phrase queries and fast-field facets.

Why this shape (measured on these machines): SQLite FTS5 scores every match before it can
return a top 20, which is slow when a query matches tens of thousands of records; tantivy
keeps a top-k heap and counts facets over columnar fast fields in Rust. Text is analysed
by ``text.py`` (normalisation, Simplified→Traditional, stemming) into words and single
CJK characters, handed to tantivy space-separated, so its whitespace tokenizer yields those
units at consecutive positions and a Chinese word is a phrase query over them (tantivy's
own ngram tokenizer puts every gram at position 0, which breaks phrases). Queries are
built with the Query API from analysed tokens only: user text never meets a query parser.

Files: ``<dir>/CURRENT-tantivy`` names the live ``tantivy-<n>/`` index directory and its
``tantivy-<n>.labels.json`` (facet value labels); a rebuild writes a new directory and
swaps the pointer, so readers never see a half-built index.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from catalog.changes import StoredDataset
from catalog.search.document import SearchDocument
from catalog.search.embedded import RELAX_BELOW, hit_of
from catalog.search.index import Progress, Suggestion, active, document_of
from catalog.search.plan import Clause, QueryPlan, concept_token, plan_query
from catalog.search.query import (
    FACETS,
    Facet,
    Hit,
    SearchQuery,
    SearchResults,
    decode_cursor,
    encode_cursor,
    facet_of,
)
from catalog.search.terms import Terms, document_concepts, load_terms
from catalog.search.text import analyse, normalise, piece_starts

POINTER = "CURRENT-tantivy"
TOKENIZER = "fairgate_units"
#: Bigram fields hold space-separated CJK bigrams: a 2-character word is one rare term there
#: instead of a phrase over two common characters (phrase queries were the slow part).
BIGRAM_TOKENIZER = "fairgate_bigrams"
#: Field boosts of phrases (quoted words, CJK bigrams, the query said verbatim): title
#: above keywords above description. Single words are scored by ``Ranking.words``.
TEXT_BOOSTS = {"t": 10.0, "k": 5.0, "d": 1.0}
BIGRAM_BOOSTS = {"tb": 10.0, "kb": 5.0, "db": 1.0}
#: A phrase of words across CJK runs ("心臟 CT" said verbatim) scores in title and description.
UNIT_PHRASE_BOOSTS = {"t": 10.0, "d": 1.0}
#: Vocabulary concepts score below the literal words (a word in ``a`` scores about 1-10).
CONCEPT_BOOSTS = {"ct": 0.75, "cd": 0.15}
#: An exact phrase scores on top of its scattered units, so it ranks above them; measured
#: on the judged sets, a larger factor let phrases in titles outrank better records.
PHRASE_BOOST = 0.45
_SORT_FIELDS = {"newest": "modified", "cases": "cases"}
_SUGGEST_SEP = "\x1f"
#: ``json.dumps(display, ensure_ascii=False)`` without building an encoder per document or
#: looking for cycles (a display is plain data built by ``build_document``).
_DISPLAY_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)
_WRITER_HEAP = 32_000_000
_REBUILD_HEAP = 256_000_000
Occur = tantivy.Occur


def _facet_field(name: str) -> str:
    return "f_" + name


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("guid", stored=True, tokenizer_name="raw", index_option="basic")
    for name in TEXT_BOOSTS:
        sb.add_text_field(name, tokenizer_name=TOKENIZER, index_option="position")
    # Every unit of t, k and d once more, unscored: which records match is one posting
    # list per unit here instead of a union of three (facet counts run the match again).
    sb.add_text_field("a", tokenizer_name=TOKENIZER, index_option="freq")
    for name in BIGRAM_BOOSTS:
        sb.add_text_field(name, tokenizer_name=BIGRAM_TOKENIZER, index_option="position")
    for name in CONCEPT_BOOSTS:
        sb.add_text_field(name, tokenizer_name=TOKENIZER, index_option="freq")
    sb.add_bytes_field("display", stored=True)
    for facet in FACETS:
        sb.add_text_field(_facet_field(facet), fast=True, tokenizer_name="raw", index_option="basic")
    for name in ("modified", "title_en", "title_zh"):
        sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("cases", fast=True, indexed=True)
    sb.add_text_field("sg_title", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("sg_kw", tokenizer_name="raw", index_option="basic")
    return sb.build()


SCHEMA = _schema()


def _analyzer() -> tantivy.TextAnalyzer:
    # The text fields hold analysed units joined by spaces (a unit never contains white
    # space), so splitting on white space gives back exactly those units. A regex that split
    # CJK characters once more did the same work again and was half of tantivy's indexing time.
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


def _suggest_rows(doc: SearchDocument) -> Iterator[tuple[str, str, str]]:
    """(normalised text, display text, kind): whole titles and keywords, and title tails that
    start at a later word, so "glauc" and "青光" both find 眼底照片 (青光眼)."""
    seen: set[tuple[str, str]] = set()
    for title in doc.display.get("title", {}).values():
        norm = normalise(title)
        starts = [0, *(p for p in piece_starts(norm) if p > 0)]
        for s in starts[:12]:
            tail = norm[s:].strip()
            if tail and (tail, title) not in seen:
                seen.add((tail, title))
                yield tail, title, "title"
    seen_kw: set[str] = set()
    for kw in doc.display.get("keywords", []):
        norm = normalise(kw).strip()
        if norm and norm not in seen_kw:
            seen_kw.add(norm)
            yield norm, kw, "keyword"


def to_tantivy(doc: SearchDocument, terms: Terms) -> tantivy.Document:
    """The tantivy document of ``doc``: analysed text, concepts, facets, sort keys, display.

    Hot path of indexing: each text is analysed once, and the document is built by one
    constructor call from lists (a call per value cost about as much as the analysis).
    """
    title = analyse(doc.title_text)
    keywords = analyse(doc.keyword_text)
    description = analyse(doc.description_text)
    title_concepts, other = document_concepts(
        title.units, [keywords.units, description.units], doc.modalities, doc.body_sites, terms
    )
    t, k, d = " ".join(title.units), " ".join(keywords.units), " ".join(description.units)
    fields: dict[str, list[Any]] = {
        "guid": [doc.guid],
        "t": [t],
        "k": [k],
        "d": [d],
        # One value, not three: "a" keeps no positions, so its term frequencies are the same.
        "a": [f"{t} {k} {d}"],
        "tb": [" ".join(title.bigrams)],
        "kb": [" ".join(keywords.bigrams)],
        "db": [" ".join(description.bigrams)],
        "ct": [" ".join(concept_token(c) for c in sorted(title_concepts))],
        "cd": [" ".join(concept_token(c) for c in sorted(other))],
        "display": [_DISPLAY_JSON.encode(doc.display).encode("utf-8")],
    }
    for facet, values in doc.facets.items():
        if facet in FACETS and values:
            fields[_facet_field(facet)] = list(values)
    # Absent sort keys sort last in either direction, which is where undated or untitled
    # records belong.
    if doc.modified:
        fields["modified"] = [doc.modified]
    for lang, name in (("en", "title_en"), ("zh-Hant", "title_zh")):
        if doc.title_sort.get(lang):
            fields[name] = [doc.title_sort[lang]]
    if doc.cases is not None:
        fields["cases"] = [doc.cases]
    sg_title: list[str] = []
    sg_kw: list[str] = []
    for norm, display, kind in _suggest_rows(doc):
        (sg_title if kind == "title" else sg_kw).append(norm + _SUGGEST_SEP + display)
    if sg_title:
        fields["sg_title"] = sg_title
    if sg_kw:
        fields["sg_kw"] = sg_kw
    return tantivy.Document(**fields)


# --- query compilation: analysed tokens -> tantivy Query objects ---------------------------


def _term(field: str, token: str) -> tantivy.Query:
    return tantivy.Query.term_query(SCHEMA, field, token)


def _phrase(field: str, tokens: Sequence[str]) -> tantivy.Query:
    if len(tokens) == 1:  # tantivy refuses one-term phrases
        return _term(field, tokens[0])
    return tantivy.Query.phrase_query(SCHEMA, field, list(tokens))


def _any(queries: Sequence[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(Occur.Should, q) for q in queries])


def _all(queries: Sequence[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(Occur.Must, q) for q in queries])


def _boosted_fields(make: Any, boosts: dict[str, float], factor: float = 1.0) -> tantivy.Query:
    return _any([tantivy.Query.boost_query(make(field), boost * factor) for field, boost in boosts.items()])


def _clause_core(clause: Clause, ranking: Ranking) -> tantivy.Query:
    """What a record must match for ``clause`` (its units, or one of its concepts), scored."""
    if clause.adjacent:
        literal = _boosted_fields(lambda f: _phrase(f, clause.units), TEXT_BOOSTS)
    else:
        words = dict(ranking.words)
        literal = _all([_boosted_fields(lambda f, u=u: _term(f, u), words) for u in clause.units])
    if not clause.concepts or not ranking.concepts:
        return literal
    tokens = [concept_token(c) for c in sorted(clause.concepts)]
    return _any([literal, _boosted_fields(lambda f: _any([_term(f, t) for t in tokens]), CONCEPT_BOOSTS)])


def _clause_phrases(clause: Clause) -> list[tantivy.Query]:
    """The optional phrases of ``clause``, one query per field (each only adds score)."""
    out: list[tantivy.Query] = []
    for kind, tokens in clause.phrases:
        if kind == "bigrams" and tokens:
            boosts = BIGRAM_BOOSTS
        elif len(tokens) > 1:
            boosts = UNIT_PHRASE_BOOSTS
        else:
            continue
        out.extend(tantivy.Query.boost_query(_phrase(f, tokens), b * PHRASE_BOOST) for f, b in boosts.items())
    return out


@dataclass(frozen=True)
class Ranking:
    """How a multi-word query is matched and scored (measured on the judged sets; see
    bench/bench_ranking.py and docs/ARCHITECTURE.md for the figures behind each choice).

    ``require_all`` False: a record matches when it has *some* clause (word, CJK run or
    vocabulary concept), and is scored by the BM25 sums of the clauses it has, so a rare
    word weighs more than a common one and a relevant record missing one word of a long
    query still ranks. ``coordination`` adds that constant for every clause a record has,
    which keeps records with more of the query above those with fewer, all else alike.
    ``require_all`` True is the older all-words-then-any-word behaviour (kept for measuring).
    """

    require_all: bool = False
    coordination: float = 3.0
    #: Fields (and boosts) a word is scored in. ``a`` is title, keywords and description as
    #: one bag of words: one BM25 saturation and length norm per record, as in the textbook.
    #: Scoring t, k and d apart (boosts 10, 5, 1) saturated a word once per field and let a
    #: title that names the query's second word outrank records about its first: it cost
    #: 0.10 nDCG@10 on the English judged set and gained nothing on the bilingual one.
    words: tuple[tuple[str, float], ...] = (("a", 1.0),)
    phrases: bool = True
    concepts: bool = True


RANKING = Ranking()


def compile_plan(
    plan: QueryPlan,
    filters: Sequence[tantivy.Query] = (),
    ranking: Ranking | None = None,
    *,
    strict: bool | None = None,
) -> tantivy.Query:
    """The scored tantivy query of a plan (built only from analysed tokens, never parsed text),
    restricted to ``filters``. ``strict`` overrides ``ranking.require_all`` (the relaxed pass).

    Every phrase implies the units of its clause, so phrases never change which records
    match, only their scores: each is an optional clause on a level of its own above
    everything required (words and filters). tantivy then checks a phrase's positions only
    on records that match anyway; an optional *union* of phrases (or a phrase among a
    clause's alternatives) was walked over every record having the phrase's terms, which
    was most of the time of multi-character Chinese queries. Scores are the same sums.
    """
    ranking = ranking or RANKING
    require_all = ranking.require_all if strict is None else strict
    cores = [_clause_core(c, ranking) for c in plan.clauses]
    if require_all or len(cores) == 1:
        text = _all(cores)
    else:
        parts = [(Occur.Should, core) for core in cores]
        if ranking.coordination:
            # The cheap unscored match of each clause (one field) as a constant: its score
            # counts the clauses a record has; it matches nothing its core does not.
            weight = ranking.coordination
            parts += [
                (Occur.Should, tantivy.Query.const_score_query(_clause_match(c, ranking.concepts), weight))
                for c in plan.clauses
            ]
        text = tantivy.Query.boolean_query(parts)
    query = _all([text, *filters])
    if ranking.phrases:
        for clause in plan.clauses:
            for phrase in _clause_phrases(clause):
                query = tantivy.Query.boolean_query([(Occur.Must, query), (Occur.Should, phrase)])
    return query


def _clause_match(clause: Clause, concepts: bool = True) -> tantivy.Query:
    if clause.adjacent:
        literal = _any([_phrase(f, clause.units) for f in TEXT_BOOSTS])
    else:
        literal = _all([_term("a", u) for u in clause.units])
    if not clause.concepts or not concepts:
        return literal
    return _any([literal, *(_term("cd", concept_token(c)) for c in sorted(clause.concepts))])


def match_plan(plan: QueryPlan, require_all: bool | None = None) -> tantivy.Query:
    """The records ``compile_plan`` finds, unscored and cheaper: phrases there only add score,
    and one unit is one term of the combined field ``a`` (for facet counts)."""
    every = RANKING.require_all if require_all is None else require_all
    clauses = [_clause_match(c, RANKING.concepts) for c in plan.clauses]
    return _all(clauses) if every else _any(clauses)


def _facet_filter(facet: str, values: list[str]) -> tantivy.Query:
    # Term queries, not a term-set query: a term set collects every posting of its values
    # into a bitset before intersecting (about 0.5 ms per execution for a common value at
    # 100k records), a term query is skipped through. The constant score 1.0 is what the
    # term-set query scored, so rankings and scores stay as they were.
    field = _facet_field(facet)
    terms = [_term(field, v) for v in values]
    return tantivy.Query.const_score_query(_any(terms), 1.0)


def _filter_query(filters: dict[str, list[str]], skip: str | None = None) -> list[tantivy.Query]:
    return [_facet_filter(facet, values) for facet, values in filters.items() if facet != skip]


def _with_filters(base: tantivy.Query | None, filters: list[tantivy.Query]) -> tantivy.Query:
    parts = ([base] if base is not None else []) + filters
    if not parts:
        return tantivy.Query.all_query()
    if len(parts) == 1 and base is not None:
        return base
    return tantivy.Query.boolean_query([(Occur.Must, q) for q in parts])


class TantivyIndex:
    """The default embedded backend: a directory holding a tantivy index."""

    backend = "tantivy"

    def __init__(self, location: Path, terms: Terms) -> None:
        self.location = location
        self.terms = terms
        self._lock = threading.RLock()
        self._index: tantivy.Index | None = None
        self._dir: Path | None = None
        self._pointer_stamp: int | None = None
        self._labels: dict[tuple[str, str], dict[str, str]] = {}
        self._labels_stamp: int | None = None

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, location: str | Path, *, data_dir: str | Path | None = None) -> TantivyIndex:
        path = Path(location)
        path.mkdir(parents=True, exist_ok=True)
        index = cls(path, load_terms(data_dir))
        with index._lock:
            index._reopen()
        return index

    def _current_dir(self) -> Path:
        pointer = self.location / POINTER
        if pointer.is_file():
            name = pointer.read_text(encoding="utf-8").strip()
            if name:
                return self.location / name
        return self.location / "tantivy-1"

    def _reopen(self) -> None:
        directory = self._current_dir()
        self._index = _open_tantivy(directory)
        self._dir = directory
        pointer = self.location / POINTER
        if not pointer.exists():
            _write_atomic(pointer, directory.name + "\n")
        self._pointer_stamp = pointer.stat().st_mtime_ns
        self._load_labels()

    def _labels_file(self) -> Path:
        assert self._dir is not None
        return self._dir.with_name(self._dir.name + ".labels.json")

    def _load_labels(self) -> None:
        path = self._labels_file()
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            self._labels, self._labels_stamp = {}, None
            return
        rows = json.loads(path.read_text(encoding="utf-8"))
        self._labels = {(f, v): lab for f, v, lab in rows}
        self._labels_stamp = stamp

    def _save_labels(self, labels: dict[tuple[str, str], dict[str, str]], directory: Path) -> None:
        path = directory.with_name(directory.name + ".labels.json")
        rows = [[f, v, lab] for (f, v), lab in sorted(labels.items())]
        _write_atomic(path, json.dumps(rows, ensure_ascii=False))

    def _refresh(self) -> tantivy.Index:
        """Notice a rebuild (pointer swapped) or new labels written by another process."""
        pointer = self.location / POINTER
        try:
            stamp: int | None = pointer.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp != self._pointer_stamp:
            with self._lock:
                self._reopen()
        else:
            try:
                labels_stamp: int | None = self._labels_file().stat().st_mtime_ns
            except FileNotFoundError:
                labels_stamp = None
            if labels_stamp != self._labels_stamp:
                with self._lock:
                    self._load_labels()
        return self._ix

    @property
    def _ix(self) -> tantivy.Index:
        assert self._index is not None, "index is closed"
        return self._index

    def close(self) -> None:
        with self._lock:
            self._index = None

    def count(self) -> int:
        return int(self._refresh().searcher().num_docs)

    def notice_outside_writes(self) -> None:
        """Reload the reader now: another process (the bulk indexer) has committed. Left to
        itself, tantivy notices a commit only after a polling delay."""
        self._refresh().reload()

    # --- writing -------------------------------------------------------------------------

    def _writer(self, index: tantivy.Index, heap: int = _WRITER_HEAP, threads: int = 1) -> tantivy.IndexWriter:
        # One writer per index across processes: another process may be writing right now.
        deadline = time.monotonic() + 30
        while True:
            try:
                return index.writer(heap, threads)
            except ValueError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _remember_labels(self, new: dict[tuple[str, str], dict[str, str]]) -> None:
        if new:
            merged = {**self._labels, **new}
            assert self._dir is not None
            self._save_labels(merged, self._dir)
            self._labels = merged
            self._labels_stamp = self._labels_file().stat().st_mtime_ns

    def upsert(self, documents: Iterable[SearchDocument]) -> None:
        self._write(documents, ())

    def remove(self, guids: Sequence[str]) -> None:
        self._write((), guids)

    def apply_group(self, documents: Iterable[SearchDocument], gone: Sequence[str], new: frozenset[str]) -> None:
        """Bring the index to the state after a group of store changes (one commit, or a group
        of them from a bulk writer), with one writer and one commit: delete ``gone``, replace
        ``documents``. A record the store has just created (``new``) cannot be in the index,
        so it needs no delete of an older version (a delete is a term lookup in every segment
        at commit time)."""
        self._write(documents, gone, new)

    def _write(
        self, documents: Iterable[SearchDocument], gone: Sequence[str], new: frozenset[str] = frozenset()
    ) -> None:
        """Delete ``gone``, then replace each of ``documents`` (adding those in ``new`` without
        a delete first), in one commit."""
        with self._lock:
            index = self._refresh()
            if new and _holds_any(index, new):
                # An index out of step with the store (a store recreated under an old index
                # folder) may hold a "new" GUID: then every document replaces as usual.
                new = frozenset()
            writer: tantivy.IndexWriter | None = None
            labels: dict[tuple[str, str], dict[str, str]] = {}
            try:
                for guid in gone:
                    writer = writer or self._writer(index)
                    writer.delete_documents_by_term("guid", guid)
                for doc in documents:
                    tdoc = to_tantivy(doc, self.terms)
                    writer = writer or self._writer(index)
                    if doc.guid not in new:
                        writer.delete_documents_by_term("guid", doc.guid)
                    writer.add_document(tdoc)
                    for key, lab in doc.labels.items():
                        if self._labels.get(key) != lab:
                            labels[key] = lab
                if writer is None:
                    return
                self._remember_labels(labels)
                writer.commit()
            except BaseException:
                if writer is not None:
                    writer.rollback()
                    del writer
                raise
            _finish(writer)
            index.reload()

    def rebuild(self, records: Iterable[StoredDataset], progress: Progress | None = None) -> int:
        """Build a fresh index directory beside the live one, then swap the pointer to it."""
        with self._lock:
            current = self._current_dir()
            tail = current.name.rsplit("-", 1)[-1]
            target = self.location / f"tantivy-{int(tail) + 1 if tail.isdigit() else 1}"
            shutil.rmtree(target, ignore_errors=True)
            index = _open_tantivy(target)
            writer = self._writer(index, _REBUILD_HEAP, 0)
            labels: dict[tuple[str, str], dict[str, str]] = {}
            written = 0
            try:
                for stored in active(records):
                    doc = document_of(stored)
                    writer.add_document(to_tantivy(doc, self.terms))
                    labels.update(doc.labels)
                    written += 1
                    if progress and written % 500 == 0:
                        progress(written)
                writer.commit()
                writer.wait_merging_threads()
            except BaseException:
                del writer
                shutil.rmtree(target, ignore_errors=True)
                raise
            if progress:
                progress(written)
            self._save_labels(labels, target)
            _write_atomic(self.location / POINTER, target.name + "\n")
            self._reopen()
            if current != target:
                # Other processes notice the pointer and reopen; on POSIX their open files
                # stay readable until then.
                shutil.rmtree(current, ignore_errors=True)
                current.with_name(current.name + ".labels.json").unlink(missing_ok=True)
            return written

    def size_bytes(self) -> int:
        with self._lock:
            assert self._dir is not None
            return sum(p.stat().st_size for p in self._dir.rglob("*") if p.is_file())

    # --- reading -------------------------------------------------------------------------

    def plan(self, q: str) -> QueryPlan:
        return plan_query(q, self.terms)

    def raw_top(self, query: tantivy.Query, limit: int) -> list[tuple[float, Any]]:
        """The engine alone: a compiled query's BM25 top ``limit`` (benchmarks' baseline)."""
        return list(self._ix.searcher().search(query, limit, count=False).hits)

    def search(self, query: SearchQuery) -> SearchResults:
        index = self._refresh()
        searcher = index.searcher()
        after = decode_cursor(query)
        plan = self.plan(query.q)
        offset = int(after.get("o", 0)) if after else 0
        filters = _filter_query(query.filters)
        # Facet counts start at once on other threads (tantivy releases the GIL) over the
        # records the query matches, while this thread ranks and highlights the page; under
        # the all-words ranking, when too few have every word (relaxed below) they are
        # counted again, rarely.
        strict_match = None if plan.empty else match_plan(plan)
        counting = self._count_facets(searcher, query, strict_match) if query.facet_limit else []

        strict: tantivy.Query | None = None
        loose: tantivy.Query | None = None
        if not plan.empty:
            strict = compile_plan(plan, filters)
            if RANKING.require_all and len(plan.clauses) > 1:
                loose = compile_plan(plan, filters, strict=False)
        relaxed = False
        page: list[tuple[float | None, Any]]
        if strict is None or query.sort != "relevance":
            page, total, relaxed = self._sorted(searcher, query, plan, filters, offset)
        else:
            first = searcher.search(strict, offset + query.limit + 1)
            total = _count(first)
            page = [(s, a) for s, a in first.hits]
            if total < RELAX_BELOW and loose is not None:
                # Few records have every word: also list those with some of them, ranked
                # below every record that has them all.
                relaxed = True
                page, total = self._relaxed(searcher, page, loose, offset + query.limit + 1)
            page = page[offset:]
        more = len(page) > query.limit
        page = page[: query.limit]
        hits = self._hits(searcher, page, plan)
        cursor = encode_cursor(query, {"o": offset + len(page)}) if more else None
        if relaxed and query.facet_limit:
            for started in counting:  # counts of the strict match are not wanted after all
                started.cancel()
            counting = self._count_facets(searcher, query, match_plan(plan, require_all=False))
        facets = self._facet_list(query, [c.result() for c in counting]) if query.facet_limit else []
        expanded = [{"id": c, **self.terms.concepts[c].labels} for c in plan.concepts if c in self.terms.concepts]
        return SearchResults(total=total, hits=hits, facets=facets, next_cursor=cursor, expanded=expanded)

    def _sorted(
        self,
        searcher: tantivy.Searcher,
        query: SearchQuery,
        plan: QueryPlan,
        filters: list[tantivy.Query],
        offset: int,
    ) -> tuple[list[tuple[float | None, Any]], int, bool]:
        """A page in field order; a field order needs no scores, so the cheap match runs."""
        text = None if plan.empty else match_plan(plan)
        relaxed = False
        if (
            text is not None
            and RANKING.require_all
            and len(plan.clauses) > 1
            and _count(searcher.search(_with_filters(text, filters), 1)) < RELAX_BELOW
        ):
            text, relaxed = match_plan(plan, False), True
        sort = "newest" if query.sort == "relevance" else query.sort
        field = _SORT_FIELDS.get(sort) or ("title_zh" if query.lang == "zh-Hant" else "title_en")
        order = tantivy.Order.Asc if sort == "title" else tantivy.Order.Desc
        # tantivy returns the sort value, not a score: results sorted by a field have none.
        result = searcher.search(
            _with_filters(text, filters), query.limit + 1, order_by_field=field, offset=offset, order=order
        )
        return [(None, addr) for _, addr in result.hits], _count(result), relaxed

    def _relaxed(
        self,
        searcher: tantivy.Searcher,
        strict_hits: list[tuple[float | None, Any]],
        loose: tantivy.Query,
        needed: int,
    ) -> tuple[list[tuple[float | None, Any]], int]:
        strict_keys = {(a.segment_ord, a.doc) for _, a in strict_hits}
        result = searcher.search(loose, needed + len(strict_hits))
        lowest = min((s for s, _ in strict_hits if s is not None), default=0.0)
        rest = [(s, a) for s, a in result.hits if (a.segment_ord, a.doc) not in strict_keys]
        top = max((s for s, _ in rest), default=0.0)
        shift = top - lowest + 1.0 if strict_hits else 0.0
        merged: list[tuple[float | None, Any]] = [*strict_hits, *((s - shift, a) for s, a in rest)]
        return merged, _count(result)

    def _hits(self, searcher: tantivy.Searcher, page: list[tuple[float | None, Any]], plan: QueryPlan) -> list[Hit]:
        terms = tuple(plan.highlight)
        out: list[Hit] = []
        for score, addr in page:
            doc = searcher.doc(addr)
            display = json.loads(bytes(doc.get_first("display") or b"{}").decode("utf-8"))
            out.append(hit_of(str(doc.get_first("guid")), display, terms, score))
        return out

    def _count_facets(
        self, searcher: tantivy.Searcher, query: SearchQuery, text: tantivy.Query | None
    ) -> list[Future[dict[str, Any]]]:
        """Start the facet aggregations of ``query`` over ``text`` on the worker threads: one
        request per selected facet, and one for the rest unless they ride along in one."""
        size = query.facet_limit + 20
        # Facets nobody selected are counted over every filter; a selected facet is counted
        # over the other facets' filters only (multi-select), one request per selected facet.
        plain = {f: _terms_agg(f, size) for f in FACETS if f not in query.filters}
        # When a selected facet has one chosen value, that value's bucket in its request
        # holds exactly the records under every filter: the unselected facets are counted
        # there, as its sub-aggregations, which saves matching the words once more.
        host = next((f for f, values in query.filters.items() if len(values) == 1), None)
        requests: list[tuple[tantivy.Query, dict[str, Any]]] = []
        if plain and host is None:
            requests.append((_with_filters(text, _filter_query(query.filters)), plain))
        for facet, values in query.filters.items():
            chosen = _terms_agg(facet, len(values), include=values)
            if facet == host and plain:
                chosen["aggs"] = plain
            agg = {facet: _terms_agg(facet, size), "+" + facet: chosen}
            requests.append((_with_filters(text, _filter_query(query.filters, skip=facet)), agg))
        pool = _workers()
        return [pool.submit(searcher.aggregate, q, aggs) for q, aggs in requests]

    def _facet_list(self, query: SearchQuery, results: list[dict[str, Any]]) -> list[Facet]:
        counts: dict[str, dict[str, int]] = {}

        def take(name: str, body: dict[str, Any]) -> None:
            into = counts.setdefault(name.lstrip("+"), {})
            for bucket in body.get("buckets", []):
                into[str(bucket["key"])] = int(bucket["doc_count"])
                for sub, inner in bucket.items():  # unselected facets counted inside a bucket
                    if isinstance(inner, dict) and "buckets" in inner:
                        take(sub, inner)

        for result in results:
            for name, body in result.items():
                take(name, body)
        out: list[Facet] = []
        for facet in FACETS:
            out.append(
                facet_of(
                    facet,
                    counts.get(facet, {}),
                    query.filters.get(facet, []),
                    query.facet_limit,
                    self._labels,
                )
            )
        return out

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        norm = normalise(prefix).strip()[:200]
        if not norm:
            return []
        limit = max(1, min(limit, 50))
        searcher = self._refresh().searcher()
        alive = tantivy.Query.all_query()
        grouped: dict[tuple[str, str], tuple[int, str]] = {}
        for field, kind in (("sg_title", "title"), ("sg_kw", "keyword")):
            for term, n in searcher.terms_with_prefix(field, norm, filter_query=alive, limit=2000):
                display = term.split(_SUGGEST_SEP, 1)[-1]
                count, first = grouped.get((kind, display), (0, term))
                grouped[(kind, display)] = (count + n, first)
        ranked = sorted(grouped.items(), key=lambda kv: (kv[0][0] == "keyword", -kv[1][0], len(kv[0][1]), kv[0][1]))
        out: list[Suggestion] = []
        for (kind, display), (n, term) in ranked[:limit]:
            guid = None
            if kind == "title" and n == 1:
                hits = searcher.search(_term("sg_title", term), 1, count=False).hits
                if hits:
                    guid = str(searcher.doc(hits[0][1]).get_first("guid"))
            out.append(Suggestion(text=display, kind=kind, count=n, guid=guid))
        return out


_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """Threads for facet aggregations, one pool per process: a forked child (uvicorn
    workers) cannot use its parent's threads, so it starts its own. tantivy's Searcher is
    shared between threads safely and ``aggregate`` runs without the GIL."""
    global _POOL
    pid = os.getpid()
    pool = _POOL
    if pool is None or pool[0] != pid:
        with _POOL_LOCK:  # requests run on several threads: start exactly one pool
            if _POOL is None or _POOL[0] != pid:
                _POOL = (pid, ThreadPoolExecutor(max_workers=4, thread_name_prefix="fairgate-facets"))
            pool = _POOL
    return pool[1]


def _finish(writer: tantivy.IndexWriter) -> None:
    """Release the writer after letting the merges its commit started finish: a writer
    dropped at once abandons them, and every small batch would stay a segment of its own
    (a hundred segments made each query several times slower)."""
    writer.wait_merging_threads()


def _holds_any(index: tantivy.Index, guids: Iterable[str]) -> bool:
    query = tantivy.Query.term_set_query(SCHEMA, "guid", list(guids))
    return _count(index.searcher().search(query, 1)) > 0


def _count(result: tantivy.SearchResult) -> int:
    return int(result.count)  # type: ignore[attr-defined]  # present at runtime, missing from the stubs


def _terms_agg(facet: str, size: int, include: list[str] | None = None) -> dict[str, Any]:
    # segment_size covers every value so counts are exact across segments, not estimates.
    body: dict[str, Any] = {"field": _facet_field(facet), "size": max(size, 1), "segment_size": 65_000}
    if include is not None:
        body["include"] = include
    return {"terms": body}


def _open_tantivy(directory: Path) -> tantivy.Index:
    directory.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(SCHEMA, path=str(directory), reuse=True)
    index.register_tokenizer(TOKENIZER, _analyzer())
    index.register_tokenizer(BIGRAM_TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    return index


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
