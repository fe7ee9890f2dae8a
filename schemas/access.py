"""Access applications: the events of one application's life and the state they fold into (REMS style).

Pure data. ``access.fold`` computes :class:`Application` from the events; ``access.rules`` judges them.
No database, no clock: every event carries its own time.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class ApplicantType(StrEnum):
    GOVERNMENT = "government"  # government agency
    ACADEMIC = "academic"  # academic or other professional research institution
    INDUSTRY_VIA_INSTITUTION = "industry_via_institution"  # industry, only through one of the above


class Channel(StrEnum):
    ON_SITE = "on_site"
    VPN = "vpn"
    DOWNLOAD = "download"


class IrbRole(StrEnum):
    PI = "pi"
    CO_PI = "co_pi"


class Criterion(StrEnum):
    """The five review criteria of the imaging programme (seed 003)."""

    SCIENTIFIC_BASIS = "scientific_basis"
    INTERPRETATION = "interpretation"  # the team's ability to interpret the data
    USE_SECURITY = "use_security"  # reasonableness and security of the use
    SOCIAL_IMPACT = "social_impact"
    RECIPROCITY = "reciprocity"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"  # return for correction


class ChangeKind(StrEnum):
    PERSONNEL = "personnel"
    FIELDS = "fields"
    FILES = "files"


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"  # waiting for the applicant's correction
    LAPSED = "lapsed"  # the correction window passed
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"  # released: the project runs
    EXPIRED = "expired"  # the end date passed; destruction to be confirmed
    CLOSED = "closed"  # destruction confirmed


# An applicant's application counts against the limit of concurrent applications in these states.
CONCURRENT_STATUSES = frozenset({Status.SUBMITTED, Status.RETURNED, Status.APPROVED, Status.ACTIVE})


class Person(BaseModel):
    """Someone who will process the data."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=200)
    institution: str = Field(min_length=1, max_length=300)
    role_proof: str | None = None  # stored document id, needed when the institution differs


class Irb(BaseModel):
    board: str = Field(min_length=1, max_length=300)
    number: str = Field(min_length=1, max_length=100)
    approved_on: date
    expires_on: date
    applicant_role: IrbRole
    document: str | None = None  # stored document id of the approval (PDF)


class ApplicationForm(BaseModel):
    """What the applicant fills in; every field optional until submission checks it."""

    title: str = ""
    purpose: str = ""  # DUO purpose code, e.g. DUO:0000006
    modifiers: list[str] = Field(default_factory=list)
    purpose_text: str = ""
    applicant_type: ApplicantType | None = None
    institution: str = ""
    irb: Irb | None = None
    irb_exempt: bool = False
    fields: list[str] = Field(default_factory=list)
    selection_criteria: str = ""
    imaging: bool = True
    period_months: int | None = None
    channel: Channel | None = None
    personnel: list[Person] = Field(default_factory=list)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    application_id: str = Field(min_length=1, max_length=100)
    at: datetime
    actor: str = Field(min_length=1, max_length=100)  # the audit string of who did it


class Created(_Event):
    type: Literal["created"] = "created"
    applicant: str  # actor string of the researcher, e.g. user:7
    applicant_institution: str = ""
    datasets: list[str] = Field(min_length=1)


class DraftSaved(_Event):
    type: Literal["draft_saved"] = "draft_saved"
    form: ApplicationForm


class Submitted(_Event):
    type: Literal["submitted"] = "submitted"


class Returned(_Event):
    """Returned for correction before the committee's decision (e.g. missing documents)."""

    type: Literal["returned"] = "returned"
    reason: str = Field(min_length=1)


class Resubmitted(_Event):
    type: Literal["resubmitted"] = "resubmitted"
    form: ApplicationForm


class Reviewed(_Event):
    type: Literal["reviewed"] = "reviewed"
    scores: dict[Criterion, int]
    comment: str = ""
    conflict_of_interest: bool = False  # the reviewer shares the applicant's institution


class OutputCheckRef(BaseModel):
    """An output-check report attached to a decision: what it found, and the id of the stored report
    (``sha256:<hex>`` of its bytes, kept with the application) to read it whole."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    table: str
    threshold: int
    ok: bool  # no finding: the table may be released
    findings: int
    flagged_cells: int


class Decided(_Event):
    type: Literal["decided"] = "decided"
    decision: Decision
    conditions: list[str] = Field(default_factory=list)
    reason: str = ""
    output_checks: list[OutputCheckRef] = Field(default_factory=list)  # reports the chair attached


class AgreementRecorded(_Event):
    type: Literal["agreement_recorded"] = "agreement_recorded"
    signed_on: date
    pledges: list[str]  # names of the people whose confidentiality pledge is on file
    fee_paid: bool


class Released(_Event):
    type: Literal["released"] = "released"
    release_id: str
    dataset: str
    starts_on: date
    ends_on: date
    cases_out: int


class ChangeRequested(_Event):
    type: Literal["change_requested"] = "change_requested"
    kind: ChangeKind
    personnel: list[Person] = Field(default_factory=list)  # the new list, for a personnel change
    fields: list[str] = Field(default_factory=list)  # added fields
    files: list[str] = Field(default_factory=list)  # added files
    reason: str = ""


class Extended(_Event):
    type: Literal["extended"] = "extended"
    months: int
    ends_on: date  # the new end date


class ReportFiled(_Event):
    type: Literal["report_filed"] = "report_filed"
    text: str = Field(min_length=1)


class PublicationRegistered(_Event):
    type: Literal["publication_registered"] = "publication_registered"
    title: str = Field(min_length=1)
    reference: str = ""  # DOI or URL
    published_on: date
    deposited_on: date | None = None
    acknowledges_source: bool


class WithdrawalAcknowledged(_Event):
    type: Literal["withdrawal_acknowledged"] = "withdrawal_acknowledged"
    notice_id: str


class Expired(_Event):
    type: Literal["expired"] = "expired"


class DestructionConfirmed(_Event):
    type: Literal["destruction_confirmed"] = "destruction_confirmed"
    statement: str = ""


Event = Annotated[
    Created
    | DraftSaved
    | Submitted
    | Returned
    | Resubmitted
    | Reviewed
    | Decided
    | AgreementRecorded
    | Released
    | ChangeRequested
    | Extended
    | ReportFiled
    | PublicationRegistered
    | WithdrawalAcknowledged
    | Expired
    | DestructionConfirmed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class Application(BaseModel):
    """The state of one application: a fold of its events (``access.fold.fold``)."""

    id: str
    applicant: str
    applicant_institution: str
    datasets: list[str]
    created_at: datetime
    status: Status = Status.DRAFT
    form: ApplicationForm = Field(default_factory=ApplicationForm)
    submitted_at: datetime | None = None  # first submission
    returned_at: datetime | None = None  # the latest return for correction, while it stands
    return_reason: str = ""
    reviews: list[Reviewed] = Field(default_factory=list)
    decided_at: datetime | None = None
    output_checks: list[OutputCheckRef] = Field(default_factory=list)  # attached to its decisions
    conditions: list[str] = Field(default_factory=list)
    reject_reason: str = ""
    agreement: AgreementRecorded | None = None
    releases: list[Released] = Field(default_factory=list)
    starts_on: date | None = None
    ends_on: date | None = None
    changes: list[ChangeRequested] = Field(default_factory=list)
    extensions: list[Extended] = Field(default_factory=list)
    reports: list[ReportFiled] = Field(default_factory=list)
    publications: list[PublicationRegistered] = Field(default_factory=list)
    acknowledged_notices: list[str] = Field(default_factory=list)
    destruction_confirmed_at: datetime | None = None
    events: int = 0
