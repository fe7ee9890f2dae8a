from datetime import date

from access.figures import figures
from access.fold import fold
from schemas.access import Decided, Decision
from tests.access.history import at, released, submitted


def test_figures_count_states_median_review_days_and_approval_rate() -> None:
    approved = fold(released())  # submitted 2026-03-02, approved 2026-03-12: 10 days
    rejected = fold(
        [
            *submitted("app-2"),
            Decided(application_id="app-2", at=at("2026-03-06"), actor="u", decision=Decision.REJECT, reason="r"),
        ]
    )  # 4 days
    waiting = fold(submitted("app-3"))
    result = figures([approved, rejected, waiting], date(2026, 5, 1))
    assert (result.per_state["active"], result.per_state["rejected"], result.per_state["submitted"]) == (1, 1, 1)
    assert result.median_review_days == 7.0
    assert result.approval_rate == 0.5
    assert result.decided == 2


def test_no_decision_yet_gives_no_rate_rather_than_zero() -> None:
    result = figures([fold(submitted())], date(2026, 3, 3))
    assert result.approval_rate is None and result.median_review_days is None
