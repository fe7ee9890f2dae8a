"""SQLAlchemy tables of the consent registry's own database (never the catalog's).

Times are fixed-width ISO 8601 UTC strings (``schemas.consent.format_instant``) so that they sort,
compare and hash identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

GUID = String(200)
HEX = String(64)
INSTANT = String(27)

enrolments = Table(
    "consent_enrolments",
    metadata,
    Column("subject", HEX, primary_key=True),
    Column("dataset", GUID, primary_key=True),
    Column("institution", String(200), nullable=False),
    Column("category", String(1), nullable=False),
    Column("enrolled_at", INSTANT, nullable=False),
    Column("recorded_at", INSTANT, nullable=False),
    Index("ix_consent_enrolments_dataset", "dataset"),
)

cases = Table(
    "consent_cases",
    metadata,
    Column("dataset", GUID, primary_key=True),
    Column("case_id", String(200), primary_key=True),
    Column("subject", HEX, nullable=False),
    # The case's number in its dataset (from consent_case_numbers, never reused): releases store their
    # membership as bitmaps over these numbers (consent.membership). Set by every enrolment path.
    Column("case_no", BigInteger),
    # Facts of the case's enrolment and its subject's state that a release decides on, kept equal to
    # consent.case_facts.facts_of by the registry (times in epoch microseconds, see case_facts).
    Column("category", String(1)),
    Column("enrolled_us", BigInteger),
    Column("notice_sent_us", BigInteger),
    Column("notice_undelivered_us", BigInteger),
    Column("deceased", Boolean, nullable=False, server_default=false()),
    Column("choice_kind", String(32)),
    Column("choice_us", BigInteger),
    Column("choice_rank", SmallInteger),
    Column("choice_seq", Integer),
    Column("purpose_choice", Boolean, nullable=False, server_default=false()),
    Index("ix_consent_cases_subject", "subject"),
    Index("ux_consent_cases_dataset_case_no", "dataset", "case_no", unique=True),
)

case_numbers = Table(
    "consent_case_numbers",
    metadata,
    Column("dataset", GUID, primary_key=True),
    Column("next_case_no", BigInteger, nullable=False),  # the first number not yet given to a case
)

events = Table(
    "consent_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("subject", HEX, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("scope_dataset", GUID),
    Column("scope_purpose", String(32)),
    Column("effective_at", INSTANT, nullable=False),
    Column("recorded_at", INSTANT, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("evidence", Text),
    Column("institution", String(200)),
    Column("idempotency_key", String(200), unique=True),
    Column("request_hash", HEX),
    Column("prev_hash", HEX, nullable=False),
    Column("hash", HEX, nullable=False),
    UniqueConstraint("subject", "seq", name="uq_consent_events_subject_seq"),
    Index("ix_consent_events_kind_institution", "kind", "institution"),
)

chain_heads = Table(
    "consent_chain_heads",
    metadata,
    Column("subject", HEX, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", HEX, nullable=False),
)

state = Table(
    "consent_state",
    metadata,
    Column("subject", HEX, primary_key=True),
    Column("facet", String(32), primary_key=True),
    Column("scope_dataset", GUID, primary_key=True),
    Column("scope_purpose", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("effective_at", INSTANT, nullable=False),
    Column("seq", Integer, nullable=False),
)

# Table 7's counts, kept by every append (consent.report_counts): distinct subjects per (institution, kind)
# and, in the overall rows, per kind across institutions (a subject noticed at two counts once there).
report_counts = Table(
    "consent_report_counts",
    metadata,
    Column("slot", SmallInteger, primary_key=True),  # concurrent writers add to different rows; read sums them
    Column("overall", Boolean, primary_key=True),
    Column("institution", String(200), primary_key=True),  # '' for events filed under no institution
    Column("kind", String(32), primary_key=True),
    Column("subjects", BigInteger, nullable=False),
)

checkpoints = Table(
    "consent_checkpoints",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("created_at", INSTANT, nullable=False),
    Column("max_event_id", BigInteger, nullable=False),
    Column("head_count", Integer, nullable=False),
    Column("prev_hash", HEX, nullable=False),
    Column("hash", HEX, nullable=False),
    Column("scheme", String(16), nullable=True),  # None: heads-v1, made before checkpoints were signed
    Column("signature", String(128), nullable=True),
    Column("public_key", HEX, nullable=True),
)

access_codes = Table(
    "consent_access_codes",
    metadata,
    Column("code_hash", HEX, primary_key=True),
    Column("subject", HEX, nullable=False),
    Column("created_at", INSTANT, nullable=False),
    Column("used_at", INSTANT),  # a code signs in once
    Column("revoked_at", INSTANT),  # replaced by a re-issued code
    Index("ix_consent_access_codes_subject", "subject"),
)

portal_credentials = Table(
    "consent_portal_credentials",
    metadata,
    Column("subject", HEX, primary_key=True),
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("set_at", INSTANT, nullable=False),
)

portal_sessions = Table(
    "consent_portal_sessions",
    metadata,
    Column("token_hash", HEX, primary_key=True),  # SHA-256 of the cookie's token: a database leak opens nothing
    Column("subject", HEX, nullable=False),
    Column("created_at", INSTANT, nullable=False),
    Column("last_seen_at", INSTANT, nullable=False),
    Column("client", String(64), nullable=False),
    Column("needs_password", Boolean, nullable=False, server_default=false()),
    Column("ended_at", INSTANT),
)

portal_throttle = Table(
    "consent_portal_throttle",
    metadata,
    Column("key", String(80), primary_key=True),  # "id:<keyed hash of what was typed>" or "client:<address>"
    Column("failures", Integer, nullable=False),
    Column("first_failure_at", INSTANT, nullable=False),
    Column("locked_until", INSTANT),
)

releases = Table(
    "consent_releases",
    metadata,
    Column("release_id", String(200), primary_key=True),
    Column("application", String(200), nullable=False),
    Column("dataset", GUID, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("active_until", INSTANT, nullable=False),
    Column("created_at", INSTANT, nullable=False),
    Column("manifest", JSON, nullable=False),
    # A short number naming the release in its per-case membership rows (from the ":releases" series of
    # consent_case_numbers); a release whose membership is bitmaps has none (so do all before revision 0007).
    Column("release_no", Integer),
    Index("ux_consent_releases_release_no", "release_no", unique=True),
)

release_scopes = Table(
    "consent_release_scopes",
    metadata,
    Column("release_id", String(200), primary_key=True),
    Column("scope_purpose", String(32), primary_key=True),
)

release_chunks = Table(
    "consent_release_chunks",
    metadata,
    # A release's membership: for each run of 65,536 case numbers of its dataset holding a released case,
    # the run, as a sorted list when sparse or a compressed bitmap when dense (consent.membership). A
    # national release of 100 million cases is 1,526 rows of a few kilobytes, where a row per case cost
    # minutes and gigabytes; the release pseudonym is a keyed function of the case id, so it is recomputed
    # when a withdrawal notice names it.
    Column("release_id", String(200), primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("bits", LargeBinary, nullable=False),
)

release_cases = Table(
    "consent_release_cases",
    metadata,
    # The membership of a release of up to consent.membership.PER_CASE_UP_TO cases: a row per case, keyed
    # by the case so that a refusal finds the few releases holding its person's cases by index (with
    # bitmaps alone it read one run of every active release of the dataset). Keys are numbers, so a row is
    # about 20 bytes on SQLite: the dataset as a 32-bit hash of its GUID (consent.membership.dataset_key; a
    # collision costs extra rows read, never a wrong answer, as each release's dataset is checked), the
    # case number, and the release's number. Larger releases (a national cohort: few of them) keep
    # consent_release_chunks instead.
    Column("dataset_key", Integer, primary_key=True),
    Column("case_no", BigInteger, primary_key=True),
    Column("release_no", Integer, primary_key=True),
    sqlite_with_rowid=False,
)

withdrawal_notices = Table(
    "consent_withdrawal_notices",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("release_id", String(200), nullable=False, index=True),
    Column("created_at", INSTANT, nullable=False),
    Column("acknowledged_at", INSTANT),
    Column("acknowledged_by", String(200)),
    # The released pseudonyms the notice names, sorted and packed 16 bytes each (consent.notice_lists):
    # one row for a bulk opt-out's million, where a row per pseudonym wrote 200 MB.
    Column("pseudonyms", LargeBinary, nullable=False),
)

audit_log = Table(
    "consent_audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", INSTANT, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", HEX),
    Column("release_id", String(200)),
    Column("dataset", GUID),
    Column("purpose", String(32)),
    Column("request_id", String(64), nullable=False),
    Column("detail", Text),
    Column("client", String(64)),  # the client address, for portal requests
    Index("ix_consent_audit_log_subject", "subject", "id"),
    Index("ix_consent_audit_log_at", "at"),
)

APPEND_ONLY_TABLES = (
    "consent_events",
    "consent_checkpoints",
    "consent_releases",
    "consent_release_chunks",
    "consent_release_cases",
    "consent_audit_log",
)
