"""Rules of a sensible itinerary, beyond each field's own format (``schemas``):
an activity ends after it starts, and no two days of a trip share a date.

Pure: the decider calls these with the trip as it is and the update's data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from domain.errors import invalid
from domain.trip_model import Trip


def check_times(values: Mapping[str, Any], field: str) -> None:
    """``HH:MM`` strings compare in time order; an end at or before the start is refused."""
    start, end = values.get("startTime"), values.get("endTime")
    if isinstance(start, str) and isinstance(end, str) and end <= start:
        raise invalid(field, f"must be after startTime ({start})")


def check_dates_apart(dates: Iterable[str], field: str) -> None:
    seen: set[str] = set()
    for date in dates:
        if date in seen:
            raise invalid(field, f"two days may not share the date {date}")
        seen.add(date)


def check_new_days(days: Iterable[Mapping[str, Any]]) -> None:
    """A new trip's days: dates apart, and every activity's times in order."""
    days = list(days)
    check_dates_apart((day["date"] for day in days), "days")
    for day in days:
        for activity in day.get("activities", ()):
            check_times(activity, "days.activities.endTime")


def check_update(state: Trip, update_type: str, data: Mapping[str, Any]) -> None:
    """One trip update against the trip it would change."""
    match update_type:
        case "day_added":
            check_dates_apart([*(day.date for day in state.days), data["day"]["date"]], "day.date")
        case "activity_added":
            check_times(data["activity"], "activity.endTime")
        case "day_updated":
            date = data["changes"].get("date")
            if date is not None:
                others = (day.date for day in state.days if day.day_id != data["dayId"])
                check_dates_apart([*others, date], "changes.date")
        case "activity_updated":
            changes = data["changes"]
            if "startTime" not in changes and "endTime" not in changes:
                return  # an old activity with odd times can still be renamed
            day = state.day(data["dayId"])
            found = day.find(data["activityId"]) if day is not None else None
            current = dict(found.fields) if found is not None else {}
            check_times({**current, **changes}, "changes.endTime")
