"""Interchange shapes: HL7 FHIR R5 ``Consent`` resources of a subject's choices, and consent receipts.

Pure functions of ledger events; receipts carry the Kantara Consent Receipt v1.1 / ISO/IEC TS 27560 fields.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from consent.checkpoints import Checkpoint
from consent.settings import ConsentSettings
from schemas.consent import CHOICES, GRANTS, Category, ConsentEvent, Enrolment, EventKind, purposes

PSEUDONYM_SYSTEM = "urn:fairgate:consent:pseudonym"
DATASET_SYSTEM = "urn:fairgate:dataset-guid"
DUO_SYSTEM = "http://purl.obolibrary.org/obo/duo.owl"
_CATEGORY = {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}
_METHODS = {
    "portal": "data-subject portal (web form)",
    "paper": "signed paper form",
    "phone": "telephone call recorded by a steward",
    "steward": "entered by a data steward",
}


def _iso(event: ConsentEvent) -> str:
    return event.effective_at.isoformat().replace("+00:00", "Z")


def _provision(event: ConsentEvent, end: ConsentEvent | None) -> dict[str, Any]:
    period: dict[str, str] = {"start": _iso(event)}
    if end is not None:
        period["end"] = _iso(end)
    provision: dict[str, Any] = {"period": period}
    if event.scope_dataset:
        provision["data"] = [
            {
                "meaning": "instance",
                "reference": {"identifier": {"system": DATASET_SYSTEM, "value": event.scope_dataset}},
            }
        ]
    if event.scope_purpose:
        vocab = purposes()
        provision["purpose"] = [
            {"system": DUO_SYSTEM, "code": event.scope_purpose, "display": vocab.label(event.scope_purpose)}
        ]
    return provision


def fhir_consents(
    subject: str, events: list[ConsentEvent], enrolments: list[Enrolment], settings: ConsentSettings
) -> dict[str, Any]:
    """A FHIR R5 ``Bundle`` of ``Consent`` resources: one per enrolment (the category's baseline) and
    one per choice; a superseded choice is ``inactive`` and its successor points to it
    (``sourceReference``)."""
    patient = {"identifier": {"system": PSEUDONYM_SYSTEM, "value": subject}}
    controller = [{"display": settings.consent_controller}]
    resources: list[dict[str, Any]] = []
    for enrolment in enrolments:
        baseline = "deny" if enrolment.category is Category.A else "permit"
        resources.append(
            {
                "resourceType": "Consent",
                "id": f"enrolment-{enrolment.dataset.replace('/', '-')}",
                "status": "active",
                "category": [_CATEGORY],
                "subject": patient,
                "date": enrolment.enrolled_at.date().isoformat(),
                "controller": controller,
                "decision": baseline,
                "policyText": [{"display": f"fairgate category {enrolment.category.value} baseline"}],
                "provision": [
                    {
                        "period": {"start": enrolment.enrolled_at.isoformat().replace("+00:00", "Z")},
                        "data": [
                            {
                                "meaning": "instance",
                                "reference": {"identifier": {"system": DATASET_SYSTEM, "value": enrolment.dataset}},
                            }
                        ],
                    }
                ],
            }
        )
    chains: dict[tuple[str | None, str | None], list[ConsentEvent]] = defaultdict(list)
    for event in sorted(events, key=lambda e: (e.effective_at, e.seq)):
        if event.kind in CHOICES:
            chains[(event.scope_dataset, event.scope_purpose)].append(event)
    for chain in chains.values():
        for index, event in enumerate(chain):
            successor = chain[index + 1] if index + 1 < len(chain) else None
            resource: dict[str, Any] = {
                "resourceType": "Consent",
                "id": event.event_id,
                "status": "inactive" if successor else "active",
                "category": [_CATEGORY],
                "subject": patient,
                "date": event.effective_at.date().isoformat(),
                "controller": controller,
                "decision": "permit" if event.kind in GRANTS else "deny",
                "provision": [_provision(event, successor)],
            }
            if index > 0:
                resource["sourceReference"] = [{"reference": f"Consent/{chain[index - 1].event_id}"}]
            resources.append(resource)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


_CONSENT_TYPE = {
    EventKind.CONSENT_GIVEN: "EXPLICIT",
    EventKind.RECONSENTED: "EXPLICIT",
    EventKind.CONSENT_DECLINED: "EXPLICIT-REFUSAL",
    EventKind.WITHDRAWN: "WITHDRAWAL",
    EventKind.OPTED_OUT: "OPT-OUT",
}


def consent_receipt(
    event: ConsentEvent, settings: ConsentSettings, checkpoint: Checkpoint | None = None
) -> dict[str, Any]:
    """The receipt of one change (Kantara CR v1.1 names; ISO/IEC TS 27560 state and withdrawal method), with
    the signed checkpoint that covers the event once one does (``ledgerCheckpoint``): with it a person can
    show later that their choice was in the ledger the registry signed."""
    vocab = purposes()
    purpose_code = event.scope_purpose
    purpose = {
        "purpose": vocab.label(purpose_code) if purpose_code else "medical and public-health research (all purposes)",
        "purposeCategory": [purpose_code] if purpose_code else ["DUO:0000006"],
        "consentType": _CONSENT_TYPE.get(event.kind, "NOTICE"),
        "piiCategory": ["medical images", "image annotations", "clinical case data"],
        "primaryPurpose": True,
        "termination": settings.withdrawal_method,
        "thirdPartyDisclosure": True,
        "thirdPartyName": "approved researchers (review committee)",
    }
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": settings.consent_jurisdiction,
        "consentTimestamp": int(event.recorded_at.timestamp()),
        "collectionMethod": _METHODS.get(event.channel.value, event.channel.value),
        "consentReceiptID": event.event_id,
        "language": "zh-Hant",
        "piiPrincipalId": event.subject,
        "piiControllers": [
            {"piiController": settings.consent_controller, "contact": settings.consent_controller_contact}
        ],
        "policyUrl": "",
        "services": [{"service": event.scope_dataset or "every dataset of the programme", "purposes": [purpose]}],
        "sensitive": True,
        "spiCat": ["health"],
        "consentState": event.kind.value,
        "effectiveTime": _iso(event),
        "withdrawalMethod": settings.withdrawal_method,
        "ledgerHash": event.hash,
    } | ({"ledgerCheckpoint": checkpoint.receipt_view()} if checkpoint is not None else {})
