"""``service.clock.iso``: the wire's timestamps, formatted once per second and cached."""

from __future__ import annotations

import datetime as dt

from service.clock import iso, parse_iso


def plain(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def test_iso_matches_plain_formatting_across_second_boundaries_and_zones() -> None:
    start = dt.datetime(2026, 12, 31, 23, 59, 58, 999_000, tzinfo=dt.UTC)
    paris = dt.timezone(dt.timedelta(hours=1))
    for step in range(0, 3_000_000, 7_919):  # crosses seconds, a minute, a day and a year
        moment = start + dt.timedelta(microseconds=step)
        assert iso(moment) == plain(moment)
        assert iso(moment.astimezone(paris)) == plain(moment)  # the cache holds UTC seconds only


def test_iso_is_right_for_a_moment_before_the_cached_second_and_far_from_it() -> None:
    late = dt.datetime(2026, 12, 7, 10, 0, 5, 500_000, tzinfo=dt.UTC)
    for moment in (
        late,
        late - dt.timedelta(microseconds=600_000),  # the second before: behind the cached one
        late,
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 7, 10, 0, 5, tzinfo=dt.UTC),
    ):
        assert iso(moment) == plain(moment)


def test_iso_round_trips_through_parse_iso_to_the_millisecond() -> None:
    moment = dt.datetime(2026, 11, 25, 21, 5, 7, 123_456, tzinfo=dt.UTC)
    assert parse_iso(iso(moment)) == moment.replace(microsecond=123_000)
