"""Consent models shared by the registry, its API and the catalog: events, enrolments, decisions, releases.

Pure data and the DUO purpose hierarchy read from ``schemas/vocab/duo.json``; no database and no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Category(StrEnum):
    """Data-subject categories of the seed (003, 參-四-(二))."""

    A = "A"  # seen after the project started: needs explicit consent
    B = "B"  # already gave broad consent: in unless withdrawn
    C = "C"  # never consented: in unless opted out, once the notice period has passed


class EventKind(StrEnum):
    CONSENT_GIVEN = "consent_given"
    CONSENT_DECLINED = "consent_declined"
    WITHDRAWN = "withdrawn"
    OPTED_OUT = "opted_out"
    RECONSENTED = "reconsented"
    NOTICE_SENT = "notice_sent"
    NOTICE_UNDELIVERED = "notice_undelivered"
    DECEASED = "deceased"


GRANTS = frozenset({EventKind.CONSENT_GIVEN, EventKind.RECONSENTED})
REFUSALS = frozenset({EventKind.CONSENT_DECLINED, EventKind.WITHDRAWN, EventKind.OPTED_OUT})
CHOICES = GRANTS | REFUSALS
NOTICES = frozenset({EventKind.NOTICE_SENT, EventKind.NOTICE_UNDELIVERED})


class Channel(StrEnum):
    PORTAL = "portal"
    PAPER = "paper"
    PHONE = "phone"
    STEWARD = "steward"


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive input is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    """Fixed-width ISO 8601 UTC text: sorts like time, hashes the same on every database."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# --- purposes (GA4GH DUO) -------------------------------------------------------------------------


@dataclass(frozen=True)
class PurposeVocabulary:
    """DUO purposes with their broader terms; answers which event scopes cover a use."""

    labels: dict[str, dict[str, str]]
    kinds: dict[str, str]
    broader: dict[str, list[str]]

    def normalise(self, value: str) -> str:
        """The CURIE for ``value`` (CURIE, ``DUO_0000042``, abbreviation like ``GRU`` or IRI).

        Raises ``ValueError`` listing the allowed codes when nothing matches.
        """
        text = value.strip()
        tail = text.rstrip("/").rsplit("/", 1)[-1].replace("_", ":")
        for candidate in (text, tail, text.upper()):
            if candidate in self.labels:
                return candidate
        by_abbr = {labels.get("abbr", "").upper(): code for code, labels in self.labels.items()}
        if text.upper() in by_abbr:
            return by_abbr[text.upper()]
        allowed = ", ".join(f"{code} ({labels.get('abbr', '')})" for code, labels in self.labels.items())
        raise ValueError(f"unknown purpose code {text!r}; use a DUO code: {allowed}")

    def iri(self, code: str) -> str:
        return "http://purl.obolibrary.org/obo/" + code.replace(":", "_")

    def label(self, code: str, lang: str = "en") -> str:
        labels = self.labels.get(code, {})
        return labels.get(lang) or labels.get("en") or code

    def is_modifier(self, code: str) -> bool:
        return self.kinds.get(code) == "modifier"

    def ancestors_or_self(self, code: str) -> frozenset[str]:
        seen: set[str] = set()
        todo = [code]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.broader.get(current, []))
        return frozenset(seen)

    def covering_scopes(self, purpose: str, modifiers: frozenset[str] = frozenset()) -> frozenset[str]:
        """Purpose scopes whose events apply to a use for ``purpose`` that declares ``modifiers``.

        A permission scope covers its own purpose and every narrower one, so refusing HMB refuses DS.
        A modifier scope (NCU, NPU) stands for the uses that modifier excludes, so it covers every
        use that does not declare the modifier: opting out of NCU refuses commercial use.
        """
        declared: set[str] = set()
        for modifier in modifiers:
            declared |= self.ancestors_or_self(modifier)
        covering = set(self.ancestors_or_self(purpose))
        covering |= {code for code, kind in self.kinds.items() if kind == "modifier" and code not in declared}
        return frozenset(covering)


@cache
def purposes() -> PurposeVocabulary:
    """The packaged DUO purpose vocabulary."""
    data = json.loads((resources.files("schemas") / "vocab" / "duo.json").read_text(encoding="utf-8"))
    return PurposeVocabulary(labels=data["terms"], kinds=data["kind"], broader=data["broader"])


# --- models -----------------------------------------------------------------------------------------


class Policy(BaseModel):
    """The knobs of the decision; its version goes into every release manifest."""

    model_config = ConfigDict(frozen=True)

    version: str = "fairgate-consent-policy/1"
    notice_period_days: int = Field(default=30, ge=0)
    undelivered_notice_denies: bool = True
    deceased_permits: bool = True


class Enrolment(BaseModel):
    """A subject's place in one dataset: category and institution."""

    model_config = ConfigDict(frozen=True)

    subject: str
    dataset: str
    institution: str
    category: Category
    enrolled_at: datetime

    @field_validator("enrolled_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)


class ConsentEvent(BaseModel):
    """One immutable ledger entry; ``hash`` covers every other field and the previous hash."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    subject: str
    seq: int = Field(ge=1)
    kind: EventKind
    scope_dataset: str | None = None
    scope_purpose: str | None = None
    effective_at: datetime
    recorded_at: datetime
    channel: Channel = Channel.STEWARD
    actor: str = "steward"
    evidence: str | None = None
    institution: str | None = None
    prev_hash: str = ""
    hash: str = ""

    @field_validator("effective_at", "recorded_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)

    def hash_payload(self) -> dict[str, Any]:
        """The fields the hash covers, in a form that is identical on every backend."""
        return {
            "event_id": self.event_id,
            "subject": self.subject,
            "seq": self.seq,
            "kind": self.kind.value,
            "scope_dataset": self.scope_dataset,
            "scope_purpose": self.scope_purpose,
            "effective_at": format_instant(self.effective_at),
            "recorded_at": format_instant(self.recorded_at),
            "channel": self.channel.value,
            "actor": self.actor,
            "evidence": self.evidence,
            "institution": self.institution,
            "prev_hash": self.prev_hash,
        }


class EventRequest(BaseModel):
    """What a steward (CLI or API) asks to append; the registry assigns seq, times and hashes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(description="the subject's pseudonym (64 hex characters)", pattern=r"^[0-9a-f]{64}$")
    kind: EventKind
    scope_dataset: str | None = Field(default=None, description="one dataset GUID, or none for all")
    scope_purpose: str | None = Field(default=None, description="one DUO purpose code, or none for all")
    effective_at: datetime | None = Field(default=None, description="when it took effect; default now")
    channel: Channel = Channel.STEWARD
    actor: str = "steward"
    evidence: str | None = None
    institution: str | None = None


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    permit: bool
    reason: str = Field(description="why: the deciding event kind or the category default")

    @classmethod
    def allow(cls, reason: str) -> Decision:
        return cls(permit=True, reason=reason)

    @classmethod
    def deny(cls, reason: str) -> Decision:
        return cls(permit=False, reason=reason)


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    application: str
    dataset: str
    purpose: str
    modifiers: list[str] = Field(default_factory=list, description="DUO modifiers the use declares, e.g. NCU")
    active_until: date
    case_ids: list[str]


class ReleaseProject(BaseModel):
    """The approved access application a release serves, as the data-subject portal shows it."""

    model_config = ConfigDict(frozen=True)

    title: str
    institution: str
    purpose_text: str = ""
    starts_on: date
    ends_on: date


class ReleaseManifest(BaseModel):
    """Kept forever: enough to reproduce and audit the release."""

    release_id: str
    application: str
    dataset: str
    purpose: str
    modifiers: list[str]
    policy: Policy
    decided_at: datetime
    active_until: date
    ledger_checkpoint_hash: str
    cases_in: int
    cases_out: int
    excluded: dict[str, int]
    unknown_case_ids: list[str]
    output_file: str
    output_sha256: str
    pseudonym_scheme: str = Field(
        default="hmac-sha256-128",
        description=(
            "how cases were re-keyed (now aes128-cmac-128; earlier: sha256-k128-128, sha256-prefix-128, "
            "hmac-sha256-128)"
        ),
    )
    project: ReleaseProject | None = Field(default=None, description="the access application released for")


class WithdrawalNotice(BaseModel):
    notice_id: str
    release_id: str
    created_at: datetime
    release_pseudonyms: list[str]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


class AuditEntry(BaseModel):
    """One access to a person's data or a release: who, when, what, under which request id."""

    id: int
    at: datetime
    actor: str = Field(description="steward (bearer token), cli:<os user>, process:<os user>")
    action: str = Field(description="e.g. subject.lookup, subject.events, release.create, withdrawals.list")
    subject: str | None = Field(default=None, description="subject pseudonym, where one person was concerned")
    release_id: str | None = None
    dataset: str | None = None
    purpose: str | None = None
    request_id: str = Field(description="correlation id of the request (X-Request-ID) or CLI run")
    detail: str | None = None
    client: str | None = Field(default=None, description="client address of a portal request")


class InstitutionReport(BaseModel):
    institution: str
    sent: int
    undelivered: int
    opted_out: int
    deceased: int
    opt_out_rate_percent: str = Field(description="opted out / (sent - undelivered), one decimal, half up")
