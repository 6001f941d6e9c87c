"""Runs of one day take turns through the lease beside its manifest (moto S3's conditional writes)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from lambdas.analytics_export.lease import EXPIRY_MARGIN, LEASE_NAME, DayBusy, DayLease
from lambdas.analytics_export.sinks import day_prefix
from tests.analytics.conftest import BUCKET

DAY = date(2026, 11, 23)
RUN_TIME = timedelta(minutes=15)
WAIT = timedelta(minutes=5)


class Clock:
    """A clock that moves only when someone sleeps; `during_sleep` runs while it does."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 17, tzinfo=UTC)
        self.slept = 0.0
        self.during_sleep = lambda: None

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.slept += seconds
        self.during_sleep()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def run(s3, clock: Clock, run_id: str, day: date = DAY, **options) -> DayLease:
    options.setdefault("deadline", clock.now + RUN_TIME)
    return DayLease(s3, BUCKET, day, run_id=run_id, trigger="date", clock=clock, sleep=clock.sleep, **options)


def stored(s3, day: date = DAY) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=day_prefix(day) + LEASE_NAME)["Body"].read())


def test_a_run_holds_the_day_while_it_exports_and_frees_it_after(s3, clock):
    first = run(s3, clock, "first")
    with first.held(WAIT):
        assert stored(s3) | {"acquiredAt": None} == {
            "runId": "first",
            "trigger": "date",
            "acquiredAt": None,
            "expiresAt": "2026-11-24T17:16:00.000Z",  # its deadline plus a minute
            "released": False,
        }
    assert stored(s3)["released"] is True

    run(s3, clock, "second").acquire(WAIT)
    assert stored(s3)["runId"] == "second" and clock.slept == 0


def test_a_second_run_waits_until_the_first_has_finished(s3, clock):
    first = run(s3, clock, "first")
    first.acquire(WAIT)
    clock.during_sleep = lambda: clock.slept >= 30 and first.release()

    run(s3, clock, "second").acquire(WAIT)

    assert stored(s3) | {"released": False} == stored(s3)
    assert stored(s3)["runId"] == "second"
    assert 30 <= clock.slept < 60


def test_a_run_that_waited_in_vain_names_the_holder_and_leaves_its_lease(s3, clock):
    run(s3, clock, "first").acquire(WAIT)

    holder = r"run first \(date, since 2026-11-24T17:00:00.000Z\)"
    with pytest.raises(DayBusy, match=holder + " is exporting 2026-11-23; try again once it has finished"):
        run(s3, clock, "second").acquire(WAIT)

    assert clock.slept == WAIT.total_seconds()
    assert stored(s3)["runId"] == "first" and stored(s3)["released"] is False


def test_a_run_killed_at_its_timeout_frees_the_day_a_minute_after_its_deadline(s3, clock):
    deadline = clock.now + RUN_TIME
    run(s3, clock, "killed", deadline=deadline).acquire(WAIT)  # and never released

    clock.now = deadline + EXPIRY_MARGIN - timedelta(seconds=1)
    with pytest.raises(DayBusy):
        run(s3, clock, "too early").acquire(timedelta(0))
    clock.now = deadline + EXPIRY_MARGIN
    run(s3, clock, "retry").acquire(timedelta(0))

    assert stored(s3)["runId"] == "retry"


def test_of_two_runs_that_find_the_day_free_only_one_takes_it(s3, clock):
    """Both read the released lease; the first write wins, the second's ETag no longer matches."""
    with run(s3, clock, "earlier").held(WAIT):
        pass
    winner = run(s3, clock, "winner")
    loser = run(s3, clock, "loser")
    read = s3.get_object

    def read_then_let_the_winner_in(**request):
        answer = read(**request)
        winner.acquire(timedelta(0))
        return answer

    loser.client = _Proxy(s3, get_object=read_then_let_the_winner_in)
    with pytest.raises(DayBusy):
        loser.acquire(timedelta(0))

    assert stored(s3)["runId"] == "winner" and stored(s3)["released"] is False


def test_a_late_release_does_not_free_the_run_that_took_over(s3, clock):
    late = run(s3, clock, "late", deadline=clock.now)
    late.acquire(WAIT)
    clock.now += EXPIRY_MARGIN
    run(s3, clock, "next").acquire(timedelta(0))

    late.release()

    assert stored(s3)["runId"] == "next" and stored(s3)["released"] is False


def test_an_export_that_fails_frees_the_day(s3, clock):
    with pytest.raises(RuntimeError), run(s3, clock, "failing").held(WAIT):
        raise RuntimeError("FilterLogEvents kept throttling")

    assert stored(s3)["released"] is True
    run(s3, clock, "retry").acquire(timedelta(0))


def test_other_days_are_not_held_up(s3, clock):
    run(s3, clock, "one day").acquire(WAIT)
    run(s3, clock, "the next day", day=DAY + timedelta(days=1)).acquire(timedelta(0))
    assert clock.slept == 0


def test_an_object_that_is_not_a_lease_is_taken_over(s3, clock):
    s3.put_object(Bucket=BUCKET, Key=day_prefix(DAY) + LEASE_NAME, Body=b"{not json")
    run(s3, clock, "first").acquire(timedelta(0))
    assert stored(s3)["runId"] == "first"


class _Proxy:
    """The client, with some of its calls replaced."""

    def __init__(self, client, **replaced) -> None:
        self._client = client
        self._replaced = replaced

    def __getattr__(self, name: str):
        return self._replaced.get(name) or getattr(self._client, name)
