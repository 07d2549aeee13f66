"""What the query log says about a period: how many questions, from how many people, how many
answered and found helpful, how fast; against the period before; and a chart of each day.

Figures are computed from the log's rows (`compute`), so the command line and Discord show the
same; the chart (`chart_png`) is drawn with matplotlib, imported only when a chart is drawn
(a second of imports that `citebot ask` and most commands never need).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median


@dataclass(frozen=True, slots=True)
class LoggedAsk:
    """One logged question, as the statistics read it."""

    query_id: int
    asked_at: datetime
    user_id: int | None
    answered: bool
    latency_ms: float


@dataclass(frozen=True, slots=True)
class PeriodStats:
    questions: int
    askers: int  # distinct people (the command line counts as one)
    answered: int
    votes: int
    helpful: int
    median_ms: float | None

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    @property
    def helpful_share(self) -> float | None:
        return self.helpful / self.votes if self.votes else None


@dataclass(frozen=True, slots=True)
class LogStats:
    """The period is the last `days` times 24 hours up to the moment it was computed, and it
    is compared with the same length of time just before it: both are whole periods, so a
    change says something whatever the time of day (a calendar "today so far" against full
    days would not). The chart's days are the calendar days (UTC) the period touches: its first
    and last are partial."""

    days: int
    since: datetime  # the period's start (UTC); it ends at the moment computed
    current: PeriodStats
    previous: PeriodStats  # the same length of time just before
    per_day: tuple[tuple[date, int, int], ...]  # (day, answered, unanswered), every day

    def to_json(self) -> dict[str, object]:
        def period(p: PeriodStats) -> dict[str, object]:
            return {
                "questions": p.questions,
                "askers": p.askers,
                "answered": p.answered,
                "answered_share": p.answered_share,
                "votes": p.votes,
                "helpful": p.helpful,
                "helpful_share": p.helpful_share,
                "median_ms": p.median_ms,
            }

        return {
            "days": self.days,
            "since": self.since.isoformat(timespec="seconds"),
            "current": period(self.current),
            "previous": period(self.previous),
            "per_day": [
                {"day": d.isoformat(), "answered": a, "unanswered": u} for d, a, u in self.per_day
            ],
        }


def _period(asks: Sequence[LoggedAsk], votes: Mapping[int, list[bool]]) -> PeriodStats:
    cast = [v for a in asks for v in votes.get(a.query_id, ())]
    return PeriodStats(
        questions=len(asks),
        askers=len({a.user_id for a in asks}),
        answered=sum(a.answered for a in asks),
        votes=len(cast),
        helpful=sum(cast),
        median_ms=median(a.latency_ms for a in asks) if asks else None,
    )


def compute(
    asks: Iterable[LoggedAsk],
    votes: Mapping[int, list[bool]],
    days: int,
    now: datetime | None = None,
) -> LogStats:
    """The statistics of the `days` days up to `now` (its moment included) and of the `days`
    before; `votes`: each question's votes (True: helpful)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    since = now - timedelta(days=days)
    before = since - timedelta(days=days)
    current: list[LoggedAsk] = []
    previous: list[LoggedAsk] = []
    first = since.date()
    per_day = {first + timedelta(days=i): [0, 0] for i in range((now.date() - first).days + 1)}
    for ask in asks:
        moment = ask.asked_at.astimezone(UTC)
        if since < moment <= now:
            current.append(ask)
            per_day[moment.date()][0 if ask.answered else 1] += 1
        elif before < moment <= since:
            previous.append(ask)
    return LogStats(
        days=days,
        since=since,
        current=_period(current, votes),
        previous=_period(previous, votes),
        per_day=tuple((d, a, u) for d, (a, u) in sorted(per_day.items())),
    )


def chart_png(stats: LogStats, title: str = "Questions per day") -> bytes:
    """A PNG: questions per day, answered and unanswered stacked."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: draw to memory
    from matplotlib.figure import Figure

    days = [d for d, _, _ in stats.per_day]
    answered = [a for _, a, _ in stats.per_day]
    unanswered = [u for _, _, u in stats.per_day]
    figure = Figure(figsize=(8, 3.2), dpi=100)
    axes = figure.add_subplot()
    axes.bar(days, answered, color="#5865F2", label="answered")
    axes.bar(days, unanswered, bottom=answered, color="#B5BAC1", label="unanswered")
    axes.set_title(title)
    axes.set_ylabel("questions")
    axes.legend(loc="upper left", frameon=False)
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.autofmt_xdate()
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
