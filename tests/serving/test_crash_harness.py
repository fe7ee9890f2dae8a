"""The crash harness, small: clients append over HTTP to ``fairgate serve --workers 2``, the process group is
SIGKILLed at a random moment and restarted; every acknowledged event is found, verify passes, nothing is
half-written (``python -m bench.crash_harness`` runs it 20 times per database with 32 clients)."""

from __future__ import annotations

import os

import pytest

from bench.crash_harness import run
from tests.conftest import DEFAULT_PG


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_no_acknowledged_event_is_lost_when_the_server_is_killed(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgresql":
        request.getfixturevalue("pg_database_factory")  # skips (or fails under CI) without a server
    (outcome,) = run(kind, 1, os.environ.get("FAIRGATE_TEST_POSTGRES_URL", DEFAULT_PG), seed=7, clients=8, quiet=True)
    assert outcome.acknowledged > 0  # the kill came while clients were being answered
    assert (outcome.lost, outcome.verify_ok, outcome.half_written) == (0, True, 0)
