"""Every refusal the access route can give has its words in both page languages, with the same facts.

The codes are read from the source itself (every ``Refusal("<code>", …)`` in ``access/`` and the catalog's
application code), so a new rule without messages fails here.
"""

from __future__ import annotations

import ast
import json
import string
from datetime import date
from pathlib import Path

import pytest

from access.refusals import ENGLISH, Refusal
from catalog.web.access_refusals import say
from catalog.web.i18n import LANGUAGES, MESSAGES_DIR

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "access").glob("*.py")),
    *sorted((ROOT / "catalog" / "applications").glob("*.py")),
    *sorted((ROOT / "catalog" / "web").glob("access_*.py")),
    ROOT / "catalog" / "api" / "applications.py",
]


def _codes_in_source() -> dict[str, list[str]]:
    """code -> where it is used; a ``Refusal(...)`` whose code is not a literal is reported as ``?``."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name != "Refusal":
                continue
            for arg in (node.args[0],) if node.args else ():
                # ``Refusal("a" if … else "b")`` names two literal codes
                candidates = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
                for c in candidates:
                    code = c.value if isinstance(c, ast.Constant) and isinstance(c.value, str) else "?"
                    found.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


USED = _codes_in_source()


def _catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES_DIR / f"access.{lang}.json").read_text(encoding="utf-8"))
    return data


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_source_names_every_refusal_by_a_literal_code() -> None:
    assert "?" not in USED, f"a Refusal without a literal code at {USED.get('?')}"
    assert len(USED) >= 25  # the walk found the rules (a broken walk would find nothing and pass)


def test_every_refusal_code_in_the_source_has_english_wording_and_no_wording_is_unused() -> None:
    assert set(USED) - set(ENGLISH) == set()
    assert set(ENGLISH) - set(USED) == set(), "wording for a refusal no code gives"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_refusal_code_in_the_source_has_a_message_in_each_language(lang: str) -> None:
    messages = _catalogue(lang)
    missing = sorted(f"refusal.{c} (used at {USED[c][0]})" for c in USED if f"refusal.{c}" not in messages)
    assert missing == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_fills_in_the_same_facts_as_the_english_wording(lang: str) -> None:
    messages = _catalogue(lang)
    for code, english in ENGLISH.items():
        assert _fields(messages[f"refusal.{code}"]) == _fields(english), code


def test_the_pages_english_is_the_rules_own_wording() -> None:
    messages = _catalogue("en")
    assert {c: messages[f"refusal.{c}"] for c in ENGLISH} == dict(ENGLISH)


def test_a_refusal_is_rendered_in_chinese_with_its_facts_and_names_of_states() -> None:
    soon = Refusal("personnel_change_too_soon", {"months": 6, "last": date(2026, 8, 1), "next": date(2027, 2, 1)})
    assert (
        say(soon, "zh-Hant")
        == "資料處理人員每 6 個月只能變更一次；上次變更日期為 2026-08-01，最早可於 2027-02-01 再提出申請"
    )
    assert say(soon, "en") == soon.message
    wrong = Refusal("wrong_status", {"application": "A-1", "status": "submitted", "allowed": ("draft", "returned")})
    assert say(wrong, "zh-Hant") == "申請案 A-1 目前為「審查中」；此操作僅限下列狀態：草稿、退回補正"
    blocked = Refusal(
        "blocked",
        parts=(
            Refusal("obligation_report_overdue", {"application": "A-1", "due": date(2026, 10, 1)}),
            Refusal("obligation_withdrawal_unacknowledged", {"application": "A-1", "notice": "n-1"}),
        ),
    )
    assert say(blocked, "zh-Hant") == (
        "下列事項處理完畢前，您的新申請不予受理：A-1：應於 2026-10-01 繳交的使用情形報告尚未繳交；"
        "A-1：撤回通知 n-1 尚未確認"
    )
