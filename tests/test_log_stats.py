"""The stats' periods (issue 12, point 1): the last N times 24 hours against the N before,
whatever the time of day, so the change compares like with like."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from retrieval.log_stats import LoggedAsk, compute

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _ask(n: int, hours_ago: float, answered: bool = True, user: int = 1) -> LoggedAsk:
    return LoggedAsk(n, NOW - timedelta(hours=hours_ago), user, answered, 10.0 * n)


def test_the_period_is_the_last_days_up_to_now_and_the_one_before_as_long():
    asks = [
        _ask(1, 0),  # this moment: in
        _ask(2, 1, answered=False, user=2),
        _ask(3, 7 * 24 - 0.5),  # 6 days 23.5 hours ago: in (a calendar week would miss it)
        _ask(4, 7 * 24),  # exactly 7 days ago: the period before
        _ask(5, 10 * 24, user=3),
        _ask(6, 14 * 24),  # exactly 14 days ago: in neither
        _ask(7, -1),  # after "now" (a clock between two machines): in neither
    ]
    votes = {1: [True, False], 4: [True]}
    stats = compute(asks, votes, 7, NOW)
    now, before = stats.current, stats.previous
    assert (now.questions, now.askers, now.answered) == (3, 2, 2)
    assert (now.votes, now.helpful, now.median_ms) == (2, 1, 20.0)
    assert (before.questions, before.askers, before.votes, before.helpful) == (2, 2, 1, 1)
    assert stats.since == NOW - timedelta(days=7)
    # The chart: every calendar day the period touches, its questions on the day asked.
    assert stats.per_day[0][0] == date(2026, 11, 20)
    assert stats.per_day[-1] == (date(2026, 11, 27), 1, 1)
    assert sum(a + u for _, a, u in stats.per_day) == now.questions


def test_an_empty_period_has_no_shares():
    stats = compute([], {}, 1, NOW)
    assert stats.current.answered_share is None and stats.current.median_ms is None
    assert [d for d, _, _ in stats.per_day] == [date(2026, 11, 26), date(2026, 11, 27)]
