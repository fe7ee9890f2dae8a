"""A refusal of the access route as data: a stable code, the facts that break the rule, and the rule in
plain English as its default wording (what the CLI, the API and the logs say).

Pages in other languages render the same code and parameters from their own message catalogue
(``refusal.<code>``); nothing here knows about them. Parameter values are plain: a string, a number, a
date (ISO in every language) or a tuple of strings (a list the renderer joins in its own way).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Param = str | int | date | tuple[str, ...]

#: Every refusal's English wording; ``{parts}`` is where the parts of a composite refusal go.
ENGLISH: Mapping[str, str] = {
    # the application form
    "period_required": "choose a use period",
    "period_imaging": "imaging data is granted for 3, 6 or 12 months, not {months}",
    "period_pilot": "during the pilot imaging data is granted for at most {max} months, not {months}",
    "period_other": "data other than imaging is granted for 1 to {max} months, not {months}",
    "person_needs_proof": (
        "{name} belongs to {institution}, not the applicant's {applicant_institution}: "
        "upload proof of their role in the project"
    ),
    "title_required": "give the project a title",
    "purpose_not_allowed": (
        "data is released only for public health or medical care and research: choose DUO:0000006 "
        "(health or medical research), DUO:0000007 (disease-specific research) or DUO:0000043 (clinical care)"
    ),
    "applicant_type_required": (
        "say whether you apply as a government agency or a research institution (industry applies through one)"
    ),
    "institution_required": "name your institution",
    "irb_required": "an IRB approval is needed (unless the study is in the officially exempt category)",
    "irb_dates": "the IRB approval must expire after the day it was approved",
    "irb_expired": "the IRB approval expired on {expired_on}: attach a current one",
    "irb_document_required": "upload the IRB approval document (PDF)",
    "fields_required": "name the fields you need (data minimisation: only the fields the study uses)",
    "selection_required": "describe the selection criteria of the cases you need",
    "channel_required": "choose an access channel: on-site, VPN or download",
    "personnel_required": "name the people who will process the data",
    "personnel_too_many": "at most {max} people may process the data, not {count}",
    "form_incomplete": "the application is not complete: {parts}",
    # applying and submitting
    "datasets_required": "name at least one dataset to apply for",
    "blocked": "your next application is refused until these are settled: {parts}",
    "too_many_running": (
        "an applicant may have at most {max} applications running at once; yours are {running}: this one "
        "stays a draft and can be submitted when one of them ends"
    ),
    "not_applicant": "only the applicant ({applicant}) may do this on application {application}",
    "wrong_status": "application {application} is {status}; this is done while it is one of: {allowed}",
    "lapsed": (
        "the correction was due by {deadline} ({days} working days); the application has lapsed: "
        "start a new application"
    ),
    # review and decision
    "scores_missing": "score all five criteria; missing: {criteria}",
    "score_out_of_range": "scores run from {low} to {high}; {criterion} was given {score}",
    "not_reviewable": "only a submitted application can be reviewed or decided; this one is {status}",
    "reject_needs_reason": "a refusal must state its reasons",
    "return_needs_reason": "say what must be corrected",
    "approve_needs_review": "the committee decides after at least one review is scored",
    "self_review": "an applicant may not review their own application",
    "already_scored": "you have scored this application already",
    "output_report_unknown": "output-check report {report} was not run for application {application}",
    # after approval
    "release_not_approved": "only an approved application is released; this one is {status}",
    "release_ended": "access ended on {ended_on}; nothing more is released",
    "agreement_required": "record the signed data-use agreement first",
    "pledges_missing": "every person must sign a confidentiality pledge; missing: {missing}",
    "fee_unpaid": "the fee is not paid yet",
    "dataset_not_applied": "application {application} applied for {datasets}, not {dataset}",
    "download_ended": "access ended on {ended_on}; the release can no longer be downloaded",
    # while the project runs
    "not_running": "changes are made while the project runs; this application is {status}",
    "change_too_many_people": "a personnel change names at most {max} people, not {count}",
    "change_people_required": "name the people who will process the data after the change",
    "personnel_change_too_soon": (
        "personnel may change once every {months} months; the last change was on {last}, so the next may be "
        "asked from {next}"
    ),
    "change_fields_required": "name the fields to add",
    "change_files_required": "name the files to add",
    "fields_added_too_often": (
        "fields may be added at most {max} times; this application has added fields {count} times"
    ),
    "files_added_already": "files may be added once; they were added on {added_on}",
    "extension_too_late": "an extension must be asked before the period ends; it ended on {ended_on}",
    "report_text_required": "describe how the data was used in this period",
    "publication_title_required": "give the publication's title",
    "publication_unacknowledged": (
        "every publication must acknowledge the data source; add the acknowledgement and register it then"
    ),
    "notice_unknown": "withdrawal notice {notice} is not one of this application's releases",
    "notice_acknowledged": "withdrawal notice {notice} is already acknowledged",
    "destruction_too_early": "destruction is confirmed after access ends ({ends_on}); this application is {status}",
    # obligations: each blocks the applicant's next application
    "obligation_report_overdue": "{application}: the usage report due on {due} has not been filed",
    "obligation_deposit_late": "{application}: '{title}' (published {published_on}) was to be deposited by {due}",
    "obligation_withdrawal_unacknowledged": "{application}: withdrawal notice {notice} is not acknowledged",
    "obligation_destruction_missing": (
        "{application}: access ended on {ended_on} and destruction of the data is not confirmed"
    ),
    # the store
    "nothing_to_create": "nothing to create",
}


@dataclass(frozen=True)
class Refusal:
    """One refusal: ``code`` names the rule, ``params`` the facts; ``parts`` are the refusals a composite
    one gathers (the problems of a form, the obligations that block an application)."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)
    parts: tuple[Refusal, ...] = ()

    def __post_init__(self) -> None:
        if self.code not in ENGLISH:
            raise KeyError(f"refusal code {self.code!r} has no English wording in access.refusals.ENGLISH")

    @property
    def message(self) -> str:
        """The rule in plain English with the facts that break it."""
        values = {k: english(v) for k, v in self.params.items()}
        return ENGLISH[self.code].format(**values, parts="; ".join(p.message for p in self.parts))

    def __str__(self) -> str:
        return self.message

    def as_json(self) -> dict[str, Any]:
        """The machine-readable shape the API returns: code, parameters, parts."""
        found: dict[str, Any] = {"code": self.code, "params": {k: _json(v) for k, v in self.params.items()}}
        if self.parts:
            found["parts"] = [p.as_json() for p in self.parts]
        return found


def english(value: Param) -> str:
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _json(value: Param) -> str | int | list[str]:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
