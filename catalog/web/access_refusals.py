"""The access rules' refusals in the page's language: ``refusal.<code>`` from the access message
catalogue, with the refusal's facts filled in (statuses and criteria named in that language, lists joined
its way). The rules themselves stay English-only (``access.refusals``); this is their other rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from access.commands import Refused
from access.refusals import Param, Refusal
from catalog.web.i18n import t

#: Parameters whose values are codes with a name of their own on the pages.
_TERMS: Mapping[str, str] = {
    "status": "ap_status_",
    "allowed": "ap_status_",
    "criterion": "ap_criterion_",
    "criteria": "ap_criterion_",
}
_LIST_JOIN: Mapping[str, str] = {"zh-Hant": "、", "en": ", "}
_PARTS_JOIN: Mapping[str, str] = {"zh-Hant": "；", "en": "; "}


def _value(name: str, value: Param, lang: str) -> str:
    if isinstance(value, tuple):
        return _LIST_JOIN.get(lang, ", ").join(_value(name, v, lang) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    prefix = _TERMS.get(name)
    return t(f"{prefix}{value}", lang) if prefix else str(value)


def say(refusal: Refusal, lang: str) -> str:
    """``refusal`` in ``lang``, its parts (a form's problems, the obligations that block) included."""
    values = {k: _value(k, v, lang) for k, v in refusal.params.items()}
    parts = _PARTS_JOIN.get(lang, "; ").join(say(p, lang) for p in refusal.parts)
    return t(f"refusal.{refusal.code}", lang, **values, parts=parts)


def say_problems(problems: Mapping[str, Refusal], lang: str) -> dict[str, str]:
    """A refused form's problems, field -> the rule in ``lang``."""
    return {name: say(r, lang) for name, r in problems.items()}


def said(exc: Exception, lang: str) -> str:
    """What to tell the user of a failed step: a rule in their language, anything else as it is."""
    return say(exc.refusal, lang) if isinstance(exc, Refused) else str(exc)
