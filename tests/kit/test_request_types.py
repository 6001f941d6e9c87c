"""The kit's request types: days and moments any service may take from a request."""

from datetime import UTC, date, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from services.kit.api import Day, Moment


@pytest.mark.parametrize("raw", ["0001-01-01", "0001-12-31", "9999-01-01", "9999-12-31"])
def test_a_day_too_near_the_ends_of_the_calendar_to_move_is_refused(raw):
    with pytest.raises(ValidationError, match="between 0002-01-01 and 9998-12-31"):
        TypeAdapter(Day).validate_python(raw)


@pytest.mark.parametrize("raw", ["0002-01-01", "2026-11-24", "9998-12-31"])
def test_any_other_day_is_a_day(raw):
    assert TypeAdapter(Day).validate_python(raw) == date.fromisoformat(raw)


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00+14:00",
                                 "9999-12-31T23:59:59.999999-14:00", "2026-11-24T10:00:00"])
def test_a_moment_needs_an_offset_and_room_to_move(raw):
    # The first three overflowed as soon as a view moved them to UTC or by a microsecond (a 500).
    with pytest.raises(ValidationError):
        TypeAdapter(Moment).validate_python(raw)


def test_a_moment_is_handed_over_in_utc():
    moment = TypeAdapter(Moment).validate_python("0002-01-01T00:00:00+14:00")
    assert moment == datetime(1, 12, 31, 10, tzinfo=UTC) and moment.tzinfo is UTC
