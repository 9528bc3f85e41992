"""Chinese working days for statutory deadlines (答复期限, 拨付时限 …).

Statutory holidays and make-up working days (调休上班) come from the maintained `chinesecalendar`
library, which knows the years the State Council has published. A year it does not know yet is
entered by an administrator as `medaid.HolidayCalendarDay` rows (the same rows also correct the
library); until then such a year falls back to Monday–Friday and `missing_calendar_years` names
it, so that the dashboard can warn.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import chinese_calendar


def month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first and last day of a calendar month (a settlement, declaration or report period)."""
    start = dt.date(year, month, 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)


@lru_cache(maxsize=1)
def library_years() -> frozenset[int]:
    """The years the installed library has the State Council's arrangement for."""
    days = list(chinese_calendar.holidays) + list(chinese_calendar.workdays)
    return frozenset(range(min(days).year, max(days).year + 1))


def _overrides(start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    from medaid.core.models import HolidayCalendarDay

    return dict(
        HolidayCalendarDay.objects.filter(date__range=(start, end)).values_list(
            "date", "is_workday"
        )
    )


def _entered_years(years) -> set[int]:
    from medaid.core.models import HolidayCalendarDay

    return set(
        HolidayCalendarDay.objects.filter(date__year__in=list(years))
        .values_list("date__year", flat=True)
        .distinct()
    )


def _library_is_workday(day: dt.date) -> bool:
    if day.year in library_years():
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def is_working_day(day: dt.date) -> bool:
    override = _overrides(day, day).get(day)
    if override is not None:
        return override
    return _library_is_workday(day)


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The day `n` working days after `start` (start itself not counted): the deadline of a
    statute that says "within n working days" of `start`."""
    if n < 0:
        raise ValueError("n must not be negative")
    # Two months covers any run of holidays within a reasonable n; widen if needed.
    span = max(60, n * 3)
    overrides = _overrides(start, start + dt.timedelta(days=span))
    day = start
    left = n
    while left:
        day += dt.timedelta(days=1)
        if day > start + dt.timedelta(days=span):
            span *= 2
            overrides = _overrides(start, start + dt.timedelta(days=span))
        workday = overrides.get(day)
        if workday is None:
            workday = _library_is_workday(day)
        if workday:
            left -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    if end <= start:
        return 0
    overrides = _overrides(start, end)
    count = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        workday = overrides.get(day)
        if workday is None:
            workday = _library_is_workday(day)
        count += workday
    return count


def missing_calendar_years(years=None, *, today: dt.date | None = None) -> list[int]:
    """Years neither the library nor an administrator has a holiday arrangement for. By default
    this year and next: next year's arrangement is published each November or December, and
    deadlines that cross New Year need it."""
    today = today or dt.date.today()
    years = sorted(set(years) if years is not None else {today.year, today.year + 1})
    known = library_years() | _entered_years(years)
    return [year for year in years if year not in known]
