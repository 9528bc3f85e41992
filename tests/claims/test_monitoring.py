import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from beneficiaries.models import Department, Person
from claims import services
from claims.models import Warning, WarningDispatch
from medaid.core import workdays
from tests.claims.conftest import make_person, make_user
from tests.claims.test_recompute import manual_claim

D = Decimal


def decide(*people):
    services.people_recompute(
        people=Person.objects.filter(pk__in=[p.pk for p in people]).values("id"),
        since=dt.date(2024, 1, 1),
        until_year=2024,
        reason="测试",
    )


@pytest.mark.django_db
def test_burdens_over_the_packs_thresholds_are_warned_once(hospital, county):
    key = make_person(county, "dibao", name="重点")  # 6 000 threshold (Pingshun Art.30)
    other = make_person(county, None, name="其他")  # 20 000
    small = make_person(county, None, name="未超")
    # 低保: out-of-catalogue 9 000 is all personal burden, plus 30 % of 4 000 self-pay.
    manual_claim(
        key,
        hospital,
        "K1",
        dt.date(2024, 3, 1),
        "10000",
        "6000",
        out_of_catalog_cost=D("9000"),
        total_cost=D("19000"),
    )
    manual_claim(other, hospital, "O1", dt.date(2024, 3, 1), "30000", "9000")
    manual_claim(small, hospital, "S1", dt.date(2024, 3, 1), "15000", "0")
    decide(key, other, small)
    created = services.burdens_monitor(today=dt.date(2024, 6, 30))
    warnings = {w.person.name: w for w in Warning.objects.select_related("person")}
    assert set(warnings) == {"重点", "其他"}
    assert created == 2
    assert warnings["重点"].group == Warning.Group.KEY
    assert warnings["重点"].threshold == D("6000")
    assert warnings["重点"].amount == D("10200.00")  # 9 000 + 4 000 − 2 800
    assert warnings["其他"].group == Warning.Group.OTHER
    assert warnings["其他"].amount == D("21000.00")
    # Nightly again: nothing new.
    assert services.burdens_monitor(today=dt.date(2024, 7, 1)) == 0
    assert Warning.objects.count() == 2


@pytest.mark.django_db
def test_lists_are_sent_to_each_department_with_a_working_day_deadline(hospital, county, settings):
    person = make_person(county, None)
    manual_claim(person, hospital, "O1", dt.date(2024, 3, 1), "30000", "0")
    decide(person)
    services.burdens_monitor(today=dt.date(2024, 9, 28))
    # Sent on the last working day before National Day: 5 working days end on 10 October.
    files = services.warning_lists_send(today=dt.date(2024, 9, 30))
    dispatches = WarningDispatch.objects.all()
    assert {d.department.kind for d in dispatches} == {
        "civil_affairs",
        "health",
        "rural_revitalization",
    }
    assert {d.due_on for d in dispatches} == {dt.date(2024, 10, 12)}
    assert len(files) == 3
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(files[0]["file"]).get_sheet_by_index(0).to_python()
    assert rows[1][0] == "姓名" and rows[2][0] == person.name
    assert any(str(r[0]).startswith("合计") for r in rows)
    # Sending again the same month adds nothing.
    services.warning_lists_send(today=dt.date(2024, 10, 8))
    assert WarningDispatch.objects.count() == 3


@pytest.mark.django_db
def test_department_answers_over_the_api_and_overdue_is_flagged(hospital, county):
    person = make_person(county, None)
    manual_claim(person, hospital, "O1", dt.date(2024, 3, 1), "30000", "0")
    decide(person)
    services.burdens_monitor(today=dt.date(2024, 6, 1))
    services.warning_lists_send(today=dt.date(2024, 6, 3))
    civil = Department.objects.get(county=county, kind="civil_affairs")
    health = Department.objects.get(county=county, kind="health")
    account = make_user("minzheng", county, department=civil)
    client = APIClient()
    client.force_authenticate(account)
    listed = client.get("/api/v1/warning-dispatches/").json()["results"]
    assert len(listed) == 1 and listed[0]["department"] == civil.pk
    assert listed[0]["warning"]["id_number"] == person.id_number
    answered = client.post(
        f"/api/v1/warning-dispatches/{listed[0]['id']}/answer/",
        {"outcome": "included", "answer": "已纳入低保边缘家庭"},
        format="json",
    )
    assert answered.status_code == 200, answered.content
    other = WarningDispatch.objects.get(department=health)
    assert (
        client.post(
            f"/api/v1/warning-dispatches/{other.pk}/answer/",
            {"outcome": "other", "answer": "x"},
            format="json",
        ).status_code
        == 404
    )
    from claims.selectors import dispatches_overdue

    overdue = dispatches_overdue(today=dt.date(2024, 6, 20))
    assert list(
        overdue.values_list("department__kind", flat=True).order_by("department__kind")
    ) == ["health", "rural_revitalization"]
    export = client.get("/api/v1/warning-dispatches/export/")
    assert export.status_code == 200
    assert export["Content-Disposition"].startswith("attachment")


@pytest.mark.django_db
def test_working_days_follow_the_statutory_calendar():
    # 2025 National Day: 1–8 October off, Saturday 11 October a make-up working day.
    assert workdays.add_working_days(dt.date(2025, 9, 30), 1) == dt.date(2025, 10, 9)
    assert workdays.add_working_days(dt.date(2025, 10, 9), 2) == dt.date(2025, 10, 11)
    assert not workdays.is_working_day(dt.date(2025, 10, 3))
    assert workdays.is_working_day(dt.date(2025, 9, 28))  # Sunday, make-up day
    assert workdays.working_days_between(dt.date(2025, 9, 30), dt.date(2025, 10, 11)) == 3


@pytest.mark.django_db
def test_a_year_the_library_lacks_is_named_and_can_be_entered():
    from medaid.core.models import HolidayCalendarDay

    last = max(workdays.library_years())
    missing = last + 1
    assert workdays.missing_calendar_years(today=dt.date(last, 11, 22)) == [missing]
    jan1 = dt.date(missing, 1, 1)
    # Until entered: Monday–Friday.
    assert workdays.is_working_day(jan1) == (jan1.weekday() < 5)
    HolidayCalendarDay.objects.create(date=jan1, is_workday=False, name="元旦")
    assert not workdays.is_working_day(jan1)
    assert workdays.missing_calendar_years(today=dt.date(last, 11, 22)) == []
